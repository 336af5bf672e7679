"""A worklist section's first rows and count (dashboard.capped): several lists read together give
what each read alone gives, in the same order, with the whole count, in two queries."""

import pytest

from dashboard import capped, selectors
from participants.models import Participant
from schedule.models import Visit
from tests.support import NOW, frozen, populate


@pytest.fixture
def study(protocol, site, site2, coordinator, investigator):
    from tests.support import make_user

    berlin = make_user("inv-b", "investigator", [site2])
    with frozen():
        populate(40, [site, site2], coordinator, [investigator, berlin])


def lists(manager):
    sites = selectors.sites_with_today(manager)
    whole = selectors.worklist_lists(manager, NOW, sites)
    chosen = {key: whole[key] for key in selectors.VISIT_SECTIONS}
    # A list holding rows of another (every open visit by target date, newest first), and one
    # holding nothing.
    chosen["every open visit"] = Visit.objects.filter(status="scheduled").order_by(
        "-target_date", "-pk"
    )
    chosen["none"] = Visit.objects.filter(participant__in=Participant.objects.none()).order_by("pk")
    return chosen


@pytest.mark.parametrize("limit", [3, 25])
def test_lists_read_together_hold_what_each_read_alone_holds(study, manager, limit):
    with frozen():
        together = capped.first_rows_of_each(lists(manager), limit)
        for key, queryset in lists(manager).items():
            rows, total = capped.first_rows(queryset, limit)
            assert [v.pk for v in together[key][0]] == [v.pk for v in rows], key
            assert together[key][1] == total == queryset.count(), key
            assert len(rows) == min(limit, total)
    assert together["none"] == ([], 0)
    assert together["every open visit"][1] > 25  # more rows than shown: the cap holds


def test_lists_are_read_in_two_queries_with_their_related_rows(
    study, manager, django_assert_num_queries
):
    with frozen():
        chosen = lists(manager)
        with django_assert_num_queries(2):
            together = capped.first_rows_of_each(chosen, 25)
            # The related rows of the first list's select_related came with them.
            shown = [(v.participant.site.code, v.definition.code) for v in together["coming_up"][0]]
    assert shown


def test_a_list_without_an_order_or_with_other_related_rows_is_refused(study, manager):
    with frozen():
        chosen = lists(manager)
    with pytest.raises(ValueError, match="order_by"):
        capped.first_rows_of_each({**chosen, "unordered": Visit.objects.filter(pk__gt=0)}, 5)
    other = Visit.objects.select_related("participant").order_by("pk")
    with pytest.raises(ValueError, match="select_related"):
        capped.first_rows_of_each({**chosen, "other": other}, 5)
    assert capped.first_rows_of_each({}, 5) == {}


@pytest.mark.parametrize("leading", ["target_date", "-target_date", "window_end"])
def test_the_first_rows_are_exact_when_the_limit_falls_among_rows_sharing_their_first_key(
    study, leading
):
    # Only rows up to the limit's own first key are ranked (read from that key's index); rows
    # tied with the last one shown must still be placed by the rest of the order.
    queryset = Visit.objects.filter(status="scheduled").order_by(leading, "-pk")
    column = leading.lstrip("-")
    # Ten rows sharing the first key of the tenth: limits 1 to 9 fall among them.
    first_ten = list(queryset.values_list("pk", column)[:10])
    Visit.objects.filter(pk__in=[pk for pk, _ in first_ten]).update(**{column: first_ten[-1][1]})
    everything = list(queryset.values_list("pk", leading.lstrip("-")))
    split_ties = 0
    for limit in range(1, 41):
        rows, total = capped.first_rows_of_each({"list": queryset}, limit)["list"]
        assert [v.pk for v in rows] == [pk for pk, _ in everything[:limit]], limit
        assert total == len(everything)
        split_ties += everything[limit - 1][1] == everything[limit][1]
    assert split_ties  # the limit did fall among rows sharing their first key


def test_only_a_list_led_by_a_column_of_its_own_rows_is_cut_at_that_column():
    led_by_column = Visit.objects.order_by("target_date", "participant__screening_number")
    led_by_column_descending = Visit.objects.order_by("-target_date", "pk")
    led_by_related = Visit.objects.order_by("participant__screening_number", "target_date")
    led_by_pk = Visit.objects.order_by("pk")
    assert "MAX(c._cut)" in str(capped._within_first(led_by_column, 25).query)
    assert "MIN(c._cut)" in str(capped._within_first(led_by_column_descending, 25).query)
    for uncut in (led_by_related, led_by_pk, led_by_column.reverse()):
        assert capped._within_first(uncut, 25) is uncut


def test_a_reversed_list_is_refused_rather_than_read_in_the_wrong_order(study, manager):
    with frozen():
        chosen = lists(manager)
    with pytest.raises(ValueError, match="reverse"):
        capped.first_rows_of_each({**chosen, "reversed": Visit.objects.order_by("pk").reverse()}, 5)


def test_rows_shared_with_a_list_reading_every_column_are_read_whole(
    study, manager, django_assert_num_queries
):
    # The worklist's lists read only the columns a row shows; a list reading every column
    # shares their rows by id, and must find each column loaded, not a query per row.
    with frozen():
        chosen = lists(manager)
        assert chosen["coming_up"].query.deferred_loading[0]  # only() some columns
        with django_assert_num_queries(2):
            together = capped.first_rows_of_each(chosen, 25)
            every = together["every open visit"][0]
            assert [v.actual_date for v in every] and [v.participant_id for v in every]
    alone = {"coming_up": chosen["coming_up"]}
    with frozen(), django_assert_num_queries(2):
        rows, _ = capped.first_rows_of_each(alone, 25)["coming_up"]
        assert {"actual_date", "notes"} & rows[0].get_deferred_fields()


def test_a_list_led_by_an_annotation_is_ranked_whole():
    from django.db.models import F

    led_by_annotation = Visit.objects.annotate(day=F("target_date")).order_by("day", "pk")
    assert capped._within_first(led_by_annotation, 25) is led_by_annotation
