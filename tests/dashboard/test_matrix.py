"""The subject matrix (/matrix/): one participant built to have every visit state, each shown in
its colour; another site's participants never; filters, pages, downloads and a query guard."""

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from dashboard.matrix_selectors import GLYPH
from participants.models import StaffRole
from schedule.models import Assessment, AssessmentStatus, Visit, VisitStatus
from schedule.visit_states import VisitState, with_state
from tests.support import (
    NOW,
    TODAY,
    Journey,
    consent,
    coordinator_at,
    days,
    frozen,
    make_user,
    populate,
)

URL = "/matrix/"


def shape(p, code, **fields):
    """Put one of the participant's visits in a given state by its stored fields: the state
    reads only those (arranging ten visits at once through the services would take a year of
    study time)."""
    v = p.visits.get(definition__code=code, occurrence=1)
    Visit.objects.filter(pk=v.pk).update(**fields)
    return v


def items(v):
    return Assessment.objects.filter(visit=v)


@pytest.fixture
def everything(protocol, site, coordinator, investigator):
    return build_every_state(site, coordinator, investigator)


def build_every_state(site, coordinator, investigator):
    """At S01, first infusion on 20 Feb 2026; at NOW (Tue 10 Mar) one visit in each state."""
    journey = Journey(site, coordinator_at(site), investigator)
    p = journey.to_treatment()
    expected = {
        "SCR": VisitState.DONE_IN_WINDOW,
        "APH": VisitState.DONE_OUT_OF_WINDOW,
        "INF2": VisitState.MISSED,
        "INF3": VisitState.NOT_APPLICABLE,
        "INF4": VisitState.OVERDUE_SAFETY,
        "INF5": VisitState.WINDOW_CLOSED,
        "INF6": VisitState.DUE_TODAY,
        "EOT": VisitState.CLOSING_SOON,
        "M2": VisitState.WINDOW_OPEN,
        "M3": VisitState.NOT_YET_DUE,
    }
    shape(p, "APH", in_window=False)
    # Their results were recorded (the journey records the visits only).
    Assessment.objects.filter(
        visit__participant=p, visit__definition__code__in=("SCR", "APH")
    ).pending().update(status=AssessmentStatus.DONE)
    missed = shape(p, "INF2", status=VisitStatus.MISSED)
    items(missed).update(status=AssessmentStatus.MISSED)
    not_applicable = shape(p, "INF3", status=VisitStatus.NOT_APPLICABLE)
    items(not_applicable).update(status=AssessmentStatus.NOT_APPLICABLE)
    # Overdue: a safety item past due, its window still open (the item wins over the window).
    overdue = shape(p, "INF4", window_start=TODAY - days(2), window_end=TODAY + days(2))
    items(overdue).filter(is_safety=True).update(due_at=NOW - days(1))
    # Window closed yesterday, nothing overdue in it (its items are not applicable).
    closed = shape(p, "INF5", target_date=TODAY - days(3), window_end=TODAY - days(1))
    items(closed).update(status=AssessmentStatus.NOT_APPLICABLE)
    shape(p, "INF6", target_date=TODAY, window_start=TODAY - days(2), window_end=TODAY + days(2))
    shape(
        p,
        "EOT",
        window_start=TODAY - days(4),
        target_date=TODAY - days(1),
        window_end=TODAY + days(3),
    )
    shape(
        p,
        "M2",
        window_start=TODAY - days(1),
        target_date=TODAY + days(4),
        window_end=TODAY + days(9),
    )
    # M6, M9, M12 are not yet due too; the test looks at M3.
    return p, expected


@pytest.fixture
def berlin(protocol, site2):
    return consent(site2, coordinator_at(site2), TODAY - days(20), screening_number="B-0001")


def cells(html: str) -> dict[str, str]:
    """{visit code: state} from the rendered cells (the hidden text says "CODE: label")."""
    import re

    found = {}
    for state, code in re.findall(
        r'data-state="([a-z_]+)"[^>]*>.*?<span class="visually-hidden">([A-Z0-9 #]+):', html
    ):
        found[code] = state
    return found


def test_one_participant_shows_every_state_in_its_own_colour(client, coordinator, everything):
    p, expected = everything
    client.force_login(coordinator)
    with frozen():
        response = client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    shown = cells(html)
    for code, state in expected.items():
        assert shown[code] == state, code
        assert f'class="mcell cell-{state}"' in html
    assert set(expected.values()) == set(VisitState)
    # The legend names each state beside its mark, and the stylesheet colours each class.
    css = (
        __import__("pathlib").Path(__file__).resolve().parents[2]
        / "dashboard/static/dashboard/dashboard.css"
    ).read_text()
    backgrounds = set()
    for state in VisitState:
        assert f"{state.label}</li>" in html, state
        rule = css.split(f".cell-{state} {{", 1)[1].split("}", 1)[0]
        backgrounds.add((rule.split("background:", 1)[1].split(";", 1)[0].strip(), GLYPH[state]))
    assert len(backgrounds) == len(VisitState)  # ten colours and marks, none shared


def test_the_cell_says_study_day_and_date_and_opens_the_visit(client, coordinator, everything):
    p, _ = everything
    client.force_login(coordinator)
    with frozen():
        html = client.get(URL).content.decode()
    inf6 = p.visits.get(definition__code="INF6")
    link = reverse("dashboard:participant", args=[p.pk]) + f"#visit-{inf6.pk}"
    assert (
        f'href="{link}" title="INF6 · Day 18 · target 2026-03-10 · '
        f'window 2026-03-08 to 2026-03-12 · Due today"'
    ) in html


def test_the_state_agrees_with_the_worklists_predicates(everything, site):
    p, _ = everything
    today = {site.pk: TODAY}
    states = dict(with_state(p.visits.all(), today, NOW).values_list("definition__code", "state"))
    assert set(Visit.objects.due_on(today).values_list("definition__code", flat=True)) == {"INF6"}
    assert states["INF6"] == VisitState.DUE_TODAY
    closed = set(Visit.objects.window_closed(today).values_list("definition__code", flat=True))
    assert closed == {"INF5"} and states["INF5"] == VisitState.WINDOW_CLOSED
    # The last day of EOT's window is still "closing soon"; the day after, the window closed.
    eot_end = p.visits.get(definition__code="EOT").window_end
    on_last = dict(
        with_state(p.visits.all(), eot_end, NOW).values_list("definition__code", "state")
    )
    after = dict(
        with_state(p.visits.all(), eot_end + days(1), NOW).values_list("definition__code", "state")
    )
    assert on_last["EOT"] == VisitState.CLOSING_SOON
    assert after["EOT"] == VisitState.WINDOW_CLOSED


def test_never_another_sites_participants(client, coordinator, everything, berlin, site2):
    client.force_login(coordinator)
    with frozen():
        html = client.get(URL).content.decode()
        body = client.get(URL + "?_export=csv").getvalue().decode()
        # Another site's code is no valid choice: nothing rather than everything.
        other = client.get(URL + "?site=S02").content.decode()
    assert everything[0].label in html and berlin.label not in html
    assert everything[0].label in body and berlin.label not in body
    assert berlin.label not in other and everything[0].label not in other
    manager = make_user("mgr", StaffRole.STUDY_MANAGER)
    client.force_login(manager)
    with frozen():
        html = client.get(URL + "?site=S02").content.decode()
    assert berlin.label in html and everything[0].label not in html


def test_filters_by_status_and_phase(client, coordinator, everything, site):
    screening = consent(site, coordinator, TODAY - days(3), screening_number="S-0009")
    client.force_login(coordinator)
    with frozen():
        treated = client.get(URL + "?phase=treatment").content.decode()
        screened = client.get(URL + "?status=screening").content.decode()
    assert everything[0].label in treated and screening.label not in treated
    assert screening.label in screened and everything[0].label not in screened


def test_downloads_every_filtered_row_formula_safe(client, coordinator, everything, site):
    consent(site, coordinator, TODAY - days(3), screening_number="S-0009")
    client.force_login(coordinator)
    with frozen():
        streamed = client.get(URL + "?_export=csv")
        xlsx = client.get(URL + "?_export=xlsx")
    assert streamed.streaming
    rows = list(csv.DictReader(io.StringIO(streamed.getvalue().decode())))
    by_label = {r["Participant"]: r for r in rows}
    row = by_label[everything[0].label]
    assert row["INF6"] == "Due today" and row["APH"] == "Done out of window"
    assert by_label["S-0009"]["SCR"] == "Window open"
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:4] == ("Participant", "Site", "Status", "SCR")
    assert len(values) == 3


def test_pages_of_25_with_a_fixed_number_of_queries(
    client, coordinator, investigator, site, protocol, django_assert_max_num_queries
):
    with frozen():
        populate(5, [site], coordinator, [investigator])
    client.force_login(coordinator)
    with frozen(), django_assert_max_num_queries(10):
        assert client.get(URL).status_code == 200
    with frozen():
        populate(25, [site], coordinator, [investigator], start=5)
    with frozen(), django_assert_max_num_queries(10):
        first = client.get(URL).content.decode()
    with frozen():
        second = client.get(URL + "?page=2").content.decode()
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert first.count('<th scope="row">') == 25 and second.count('<th scope="row">') == 5
