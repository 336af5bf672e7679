"""Each page makes the same number of queries with 5 participants as with 60: no query per row."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard.models import CalendarFeedToken
from participants.models import StaffRole
from tests.support import frozen, make_user, populate

# Upper bounds, so a new query per page is a deliberate change: session, user, profile, sites,
# the page's own reads (and the heartbeat banner's, staff only). The worklist: those four, its
# four visit sections' ids and counts then their rows, the overdue safety items' visits
# (grouped), those visits and their items, two adverse-event sections, the deviation drafts,
# the banner.
MAX_QUERIES = 14


def pages(coordinator, first):
    token, _ = CalendarFeedToken.objects.get_or_create(user=coordinator, revoked_at=None)
    return {
        "worklist": "/",
        "worklist csv": "/?_export=csv&_table=coming_up",
        "participants": reverse("dashboard:participants"),
        "participants filtered": reverse("dashboard:participants") + "?phase=screening&overdue=on",
        "participants csv": reverse("dashboard:participants") + "?_export=csv",
        "participants xlsx": reverse("dashboard:participants") + "?_export=xlsx&sort=days_left",
        "participant": reverse("dashboard:participant", args=[first.pk]),
        "calendar week": reverse("dashboard:calendar"),
        "calendar month": reverse("dashboard:calendar") + "?view=month",
        "feed": reverse("dashboard:feed", args=[token.key]),
    }


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        if response.streaming:  # a streamed download reads its rows while it is sent
            b"".join(response.streaming_content)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_query_counts_do_not_grow_with_participants(
    client, protocol, site, site2, coordinator, investigator, django_assert_max_num_queries
):
    client.force_login(coordinator)
    with frozen():
        made = populate(5, [site], coordinator, [investigator])
        urls = pages(coordinator, made[0])
        for url in urls.values():  # once first: one-off reads (SQLite checks its JSON support)
            count_queries(client, url)
        with_5 = {}
        for name, url in urls.items():
            with django_assert_max_num_queries(MAX_QUERIES):
                with_5[name] = count_queries(client, url)
        berlin = make_user("inv-berlin", StaffRole.INVESTIGATOR, [site2])
        populate(55, [site, site2], coordinator, [investigator, berlin], start=5)
        with_60 = {}
        for name, url in urls.items():
            with django_assert_max_num_queries(MAX_QUERIES):
                with_60[name] = count_queries(client, url)
    # With 5 participants nothing is due, closing, overdue or coming up yet: an empty page is
    # not read (the count says 0), one query fewer; the worklist reads no visit rows for its
    # sections, and no overdue safety items nor their visits (three fewer, on the page and in
    # its downloads). Every other page makes exactly the same queries at both sizes.
    for name in ("worklist", "worklist csv"):
        assert with_5.pop(name) + 3 == with_60.pop(name), name
    assert with_5.pop("participants filtered") + 1 == with_60.pop("participants filtered")
    assert with_60 == with_5


@pytest.mark.parametrize("n", [5, 60])
def test_participants_page_query_count(
    client, protocol, site, coordinator, investigator, django_assert_num_queries, n
):
    client.force_login(coordinator)
    with frozen():
        populate(n, [site], coordinator, [investigator])
        client.get(reverse("dashboard:participants"))  # warm the session
        expected = count_queries(client, "/")  # whatever the worklist needs, fixed below
        with django_assert_num_queries(PARTICIPANTS_PAGE_QUERIES):
            response = client.get(reverse("dashboard:participants"))
    # A page of 25 at most (the table is paginated), with the total in the heading.
    assert response.content.decode().count('href="/participants/') >= min(n, 25)
    assert response.context["table"].paginator.count == n
    assert expected <= MAX_QUERIES


# session, user, staff profile (site scope), sites with their dates, the number of participants
# (pagination), the page's participants, the site filter's choices, the heartbeat banner (staff
# only).
PARTICIPANTS_PAGE_QUERIES = 8
