"""Adverse events on the dashboard: recording one and every action on it through the pages (a
refusal under its field, nothing saved), the SAE clock as the coordinator reads it on the worklist
and the participant page, the study-wide listing (filters, sorting, pages, downloads, never another
site's rows), read-only roles, and query counts that do not grow with the number of events."""

import csv
import datetime as dt
import io
import re

import openpyxl
import pytest
from django.urls import reverse

from safety.models import AdverseEvent, Grading, Outcome
from safety.services import adverse_events as ae
from tests.support import NOW, consent, coordinator_at, frozen

LISTING = "/safety/adverse-events/"
HOSPITAL = ["hospitalisation"]


def field_error(html: str, field: str) -> str:
    """The error shown right after the field `field` (its id_<field>_error paragraph)."""
    match = re.search(rf'id="id_{field}_error">([^<]*)<', html)
    return match.group(1) if match else ""


def record(p, by, **overrides) -> AdverseEvent:
    """Through the service: a non-serious grade 2 fever, onset 2 March, aware 3 March 09:00."""
    values = {
        "term": "Fever the evening after infusion",
        "onset_date": dt.date(2026, 3, 2),
        "grade": 2,
        "related_to_product": "possible",
        "related_to_leukapheresis": "not_related",
        "action_taken": "none",
        "outcome": "not_recovered",
        "aware_at": dt.datetime(2026, 3, 3, 9, 0, tzinfo=p.site.tz),
        **overrides,
    }
    return ae.ae_record(p, by=by, **values)


def serious(p, by, aware_at, **overrides) -> AdverseEvent:
    """A serious grade 3 event (hospitalisation), the site aware at `aware_at`."""
    values = {"grade": 3, "serious": True, "seriousness_criteria": HOSPITAL, **overrides}
    return record(p, by, aware_at=aware_at, **values)


def form(**overrides) -> dict:
    """The record page's fields, as a coordinator fills them in (site time)."""
    return {
        "ctcae_term": "Headache",
        "term": "Headache since the morning",
        "onset_date": "2026-03-09",
        "grade": "2",
        "related_to_product": "possible",
        "related_to_leukapheresis": "not_related",
        "expected": "yes",
        "action_taken": "none",
        "outcome": "not_recovered",
        "aware_on": "2026-03-10",
        "aware_time": "09:30",
        **overrides,
    }


@pytest.fixture
def p(protocol, site, coordinator):
    """Consented at S01 (New York) on 1 February 2026."""
    with frozen():
        return consent(site, coordinator, dt.date(2026, 2, 1))


@pytest.fixture
def berlin(protocol, site2):
    with frozen():
        return consent(site2, coordinator_at(site2), dt.date(2026, 2, 1))


@pytest.fixture
def logged_in(client, coordinator):
    client.force_login(coordinator)
    return client


def get(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def page_of(client, participant) -> str:
    return get(client, f"/participants/{participant.pk}/")


def action(event, slug: str) -> str:
    return reverse("dashboard:ae_action", args=[event.pk, slug])


def csv_rows(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


# --- Recording through the pages ---------------------------------------------------------------


def test_an_event_recorded_through_the_page_is_on_the_participant_page_and_in_the_listing(
    logged_in, p
):
    url = reverse("dashboard:ae_new", args=[p.pk])
    with frozen():
        assert 'name="ctcae_term"' in get(logged_in, url)
        response = logged_in.post(url, form(), follow=True)
        listing = get(logged_in, LISTING)
    reference = f"{p.label}-AE1"
    assert response.redirect_chain == [(f"/participants/{p.pk}/#adverse-events", 302)]
    html = response.content.decode()
    assert f"{reference} recorded." in html
    assert "Headache since the morning" in html and "Headache" in html
    event = AdverseEvent.objects.get()
    # 09:30 in New York (EDT since 8 March) is 13:30 UTC.
    assert event.aware_at == dt.datetime(2026, 3, 10, 13, 30, tzinfo=dt.UTC)
    assert (event.expected, event.ctcae_term, event.grade) == (True, "Headache", 2)
    assert reference in listing and "Headache since the morning" in listing


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"onset_date": "2026-03-11"}, "onset_date", "is in the future"),
        ({"term": ""}, "term", "Describe the event"),
        ({"serious": "on"}, "seriousness_criteria", "Tick at least one criterion"),
        ({"seriousness_criteria": ["hospitalisation"]}, "serious", "mark the event serious"),
        ({"aware_on": "2026-03-08"}, "aware_on", "is before the onset"),
        ({"grade": "5"}, "outcome", "Grade 5 is death"),
        ({"aware_time": "25:00"}, "aware_time", "Enter a valid time"),
    ],
)
def test_a_bad_value_shows_under_its_field_and_nothing_is_saved(
    logged_in, p, overrides, field, words
):
    with frozen():
        response = logged_in.post(reverse("dashboard:ae_new", args=[p.pk]), form(**overrides))
    assert words in field_error(response.content.decode(), field)
    assert (AdverseEvent.objects.count(), Grading.objects.count()) == (0, 0)


def test_regrade_seriousness_resolve_and_irb_report_go_through_their_pages(
    logged_in, coordinator, p
):
    with frozen():
        event = record(p, coordinator)
        regrade = {"grade": "3", "assessed_on": "2026-03-10", "assessed_time": "08:00"}
        refused = logged_in.post(action(event, "regrade"), regrade)
        assert "Say why the grade changed" in field_error(refused.content.decode(), "reason")
        regrade["reason"] = "Admitted overnight"
        logged_in.post(action(event, "regrade"), regrade)
        logged_in.post(
            action(event, "seriousness"),
            {"serious": "yes", "seriousness_criteria": HOSPITAL, "aware_on": "2026-03-10"},
        )
        event.refresh_from_db()
        assert not event.serious  # a date without its time is no instant: refused, not saved
        made_serious = logged_in.post(
            action(event, "seriousness"),
            {"serious": "yes", "seriousness_criteria": HOSPITAL},
            follow=True,
        )
        # Serious from now (11:00 in New York), so reported at 11:00.
        reported = logged_in.post(
            action(event, "report-irb"), {"reported_on": "2026-03-10", "reported_time": "11:00"}
        )
        resolved = logged_in.post(
            action(event, "resolve"), {"on": "2026-03-10", "outcome": "recovered"}
        )
        html = page_of(logged_in, p)
        again = logged_in.get(action(event, "resolve"), follow=True).content.decode()
    assert f"{event.reference} seriousness updated." in made_serious.content.decode()
    assert reported.status_code == resolved.status_code == 302
    event.refresh_from_db()
    assert (event.grade, event.serious, event.resolved_on) == (3, True, dt.date(2026, 3, 10))
    assert event.irb_reported_at == NOW
    # The latest grading's reasons are the grade's title (hover).
    assert 'title="grade 3: Admitted overnight; re-graded from 2 by coord">3<' in html
    assert "reported to the IRB on time" in html
    # Resolved: no more re-grading or resolving offered, nor possible.
    assert action(event, "regrade") not in html and action(event, "resolve") not in html
    assert f"{event.reference}: resolve is not possible now." in again


# --- The SAE clock ------------------------------------------------------------------------------


def test_a_serious_event_counts_down_on_the_worklist_and_participant_page_then_is_overdue(
    logged_in, coordinator, p
):
    aware = NOW - dt.timedelta(hours=18, minutes=48)  # due 24 h later: 5 h 12 min from now
    with frozen():
        event = serious(p, coordinator, aware)
        worklist, page = get(logged_in, "/"), page_of(logged_in, p)
    assert all("report to sponsor due in 5 h 12 min" in html for html in (worklist, page))
    assert 'data-count="sae_clocks">1<' in worklist
    assert action(event, "report-sponsor") in worklist
    with frozen(aware + dt.timedelta(hours=26)):
        worklist, page = get(logged_in, "/"), page_of(logged_in, p)
    for html in (worklist, page):
        assert "overdue by 2 h" in html
        assert "report to sponsor due in" not in html


def test_reporting_to_the_sponsor_late_shows_how_late(logged_in, coordinator, p):
    aware = NOW - dt.timedelta(hours=27)  # due 3 h ago
    url, when = None, {"reported_on": "2026-03-10", "reported_time": "12:00"}
    with frozen():
        event = serious(p, coordinator, aware)
        url = action(event, "report-sponsor")
        future = logged_in.post(url, when).content.decode()
        event.refresh_from_db()
        assert event.sponsor_reported_at is None
        # 11:00 in New York is now (15:00 UTC).
        response = logged_in.post(url, {**when, "reported_time": "11:00"}, follow=True)
        listing, worklist = get(logged_in, LISTING), get(logged_in, "/")
    assert "is in the future" in field_error(future, "reported_on")
    html = response.content.decode()
    assert f"{event.reference} reported to the sponsor." in html
    assert "reported 3 h late" in html and "reported 3 h late" in listing
    assert 'data-count="sae_clocks">0<' in worklist


def section(html: str, key: str) -> str:
    start = html.index(f'id="{key}"')
    return html[start : html.index("</section>", start)]


def test_the_worklist_lists_open_events_above_grade_2_with_a_link_to_all_of_them(
    logged_in, coordinator, p
):
    with frozen():
        severe = record(p, coordinator, grade=3, term="Severe rash")
        record(p, coordinator, grade=2, term="Mild rash")
        record(
            p, coordinator, grade=3, term="Low lymphocytes", ctcae_term="Lymphocyte count decreased"
        )
        worklist = get(logged_in, "/")
        see_all = get(logged_in, LISTING + "?follow_up=on")
    follow_up = section(worklist, "ae_follow_up")
    assert 'data-count="ae_follow_up">1<' in worklist
    assert "Severe rash" in follow_up and "Mild rash" not in follow_up
    assert "Low lymphocytes" not in follow_up  # lymphopenia is not followed above grade 2
    assert 'href="/safety/adverse-events/?follow_up=on"' in follow_up
    assert severe.reference in see_all and "Mild rash" not in see_all


# --- The listing ----------------------------------------------------------------------------------


@pytest.fixture
def events(p, berlin, coordinator, site2):
    with frozen():
        mild = record(p, coordinator, grade=1, term="Nausea", ctcae_term="Nausea")
        severe = serious(p, coordinator, NOW - dt.timedelta(hours=2))
        done = record(p, coordinator, grade=3, term="Diarrhea", ctcae_term="Diarrhea")
        ae.ae_resolve(done, on=dt.date(2026, 3, 5), outcome=Outcome.RECOVERED, by=coordinator)
        other = serious(berlin, coordinator_at(site2), NOW - dt.timedelta(hours=1))
    return {"mild": mild, "severe": severe, "done": done, "berlin": other}


def references(response) -> list[str]:
    return [row["Reference"] for row in csv_rows(response)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["mild", "severe", "done"]),
        ("serious=yes", ["severe"]),
        ("serious=no", ["mild", "done"]),
        ("grade=3", ["severe", "done"]),
        ("open=on", ["mild", "severe"]),
        ("follow_up=on", ["severe"]),
        ("unreported=on", ["severe"]),
        ("kind=ae&site=S01", ["mild", "severe", "done"]),
        ("kind=crs", []),
        ("site=S02", []),  # not one of the coordinator's sites: no rows, not S02's
    ],
)
def test_the_listing_filters_its_rows_and_its_download(logged_in, events, query, expected):
    with frozen():
        rows = references(logged_in.get(f"{LISTING}?{query}&_export=csv"))
        html = get(logged_in, f"{LISTING}?{query}")
    assert rows == [events[key].reference for key in expected]
    assert events["berlin"].reference not in html
    for key in expected:
        assert events[key].reference in html


def test_the_csv_has_every_column_and_the_xlsx_opens(logged_in, events):
    with frozen():
        rows = csv_rows(logged_in.get(LISTING + "?serious=yes&_export=csv"))
        xlsx = logged_in.get(LISTING + "?_export=xlsx&sort=-grade")
    [row] = rows
    assert (row["Reference"], row["Site"], row["Grade"]) == (events["severe"].reference, "S01", "3")
    assert row["Serious"] == "yes"
    assert row["Seriousness criteria"] == "Hospitalisation or its prolongation"
    assert row["Related to product"] == "Possible"
    assert row["SAE due to sponsor"] == "2026-03-11T13:00:00+00:00"
    assert row["Reported to sponsor"] == "report to sponsor due in 22 h"
    assert row["IRB due"] == "2026-03-17"
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    column = [row[0] for row in sheet.values]
    assert column[0] == "Reference" and column[-1] == events["mild"].reference  # grade 1 last
    assert events["berlin"].reference not in column


def test_another_sites_event_is_a_404(logged_in, events):
    berlin = events["berlin"]
    with frozen():
        for slug in ("regrade", "seriousness", "resolve", "report-sponsor", "report-irb"):
            assert logged_in.get(action(berlin, slug)).status_code == 404
            assert logged_in.post(action(berlin, slug), {}).status_code == 404
        url = reverse("dashboard:ae_new", args=[berlin.participant_id])
        assert logged_in.post(url, form()).status_code == 404
        assert logged_in.get(action(events["mild"], "no-such-action")).status_code == 404
    assert AdverseEvent.objects.filter(participant=berlin.participant).count() == 1


def test_30_events_page_by_25_in_the_listing_and_the_worklist_shows_25_of_30(
    logged_in, coordinator, p
):
    with frozen():
        for minute in range(30):
            serious(p, coordinator, NOW - dt.timedelta(hours=1, minutes=minute))
        first = get(logged_in, LISTING + "?serious=yes&sort=-onset")
        second = get(logged_in, LISTING + "?serious=yes&sort=-onset&page=2")
        clocks = section(get(logged_in, "/"), "sae_clocks")
        download = csv_rows(logged_in.get("/?_export=csv&_table=sae_clocks"))
    assert (first.count("#ae-"), second.count("#ae-")) == (25, 5)
    pager = re.findall(r'href="(\?[^"]*page=2[^"]*)"', first)
    assert pager and all("serious=yes" in link and "sort=-onset" in link for link in pager)
    assert clocks.count("Report to sponsor</a>") == 25
    assert "Showing the first 25 of 30." in clocks and "unreported=on" in clocks
    # The download holds them all, soonest due first: the one the site knew of earliest.
    assert len(download) == 30 and download[0]["Event"] == f"{p.label}-AE30"


# --- Who may record ------------------------------------------------------------------------------


def test_a_manager_gets_403_on_the_record_pages_and_sees_no_buttons(client, manager, events, p):
    client.force_login(manager)
    event = events["severe"]
    entry = form(reported_on="2026-03-10", reported_time="10:00")
    with frozen():
        for url in (reverse("dashboard:ae_new", args=[p.pk]), action(event, "report-sponsor")):
            forbidden = client.get(url)
            assert forbidden.status_code == client.post(url, entry).status_code == 403
            assert "You cannot record this" in forbidden.content.decode()
        page, worklist = page_of(client, p), get(client, "/")
        s02 = references(client.get(LISTING + "?site=S02&_export=csv"))
    assert AdverseEvent.objects.filter(participant=p).count() == 3
    event.refresh_from_db()
    assert event.sponsor_reported_at is None and event.reference in page
    assert "report to sponsor due in" in worklist
    assert reverse("dashboard:ae_new", args=[p.pk]) not in page
    assert "/safety/adverse-events/" + str(event.pk) not in page + worklist
    assert s02 == [events["berlin"].reference]  # a manager reads every site


# --- Queries ---------------------------------------------------------------------------------------


# Upper bound of every page here: session, user, profile, sites, the page's reads, the banner.
MAX_QUERIES = 14
PARTICIPANT = "participant page"
LISTINGS = (LISTING, f"{LISTING}?open=on&sort=-grade&page=2", f"{LISTING}?_export=csv")
WORKLISTS = ("/", "/?_export=csv&_table=sae_clocks", "/?_export=xlsx&_table=ae_follow_up")


@pytest.mark.parametrize(
    ("few", "many", "urls"),
    [(3, 30, LISTINGS), (3, 30, (f"{LISTING}?_export=xlsx", PARTICIPANT)), (2, 20, WORKLISTS)],
)
def test_pages_read_in_as_many_queries_for_few_or_many_events(
    logged_in, coordinator, p, django_assert_max_num_queries, few, many, urls
):
    urls = [reverse("dashboard:participant", args=[p.pk]) if u == PARTICIPANT else u for u in urls]
    counts = []
    with frozen():
        for n in (few, many):
            while (i := AdverseEvent.objects.count()) < n:
                serious(p, coordinator, NOW - dt.timedelta(hours=1, minutes=i), grade=3 + i % 2)
            logged_in.get("/")  # the session, as a real user's
            for url in urls:
                with django_assert_max_num_queries(MAX_QUERIES) as captured:
                    assert logged_in.get(url).status_code == 200, url
                counts.append(len(captured))
    assert counts[: len(urls)] == counts[len(urls) :]
