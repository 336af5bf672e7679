"""CRS and ICANS through the dashboard: the coordinator enters findings, never a grade; the page
says the computed ASTCT grade and why, refusals land under their field with nothing saved, grade 0
creates nothing, re-assessments keep every grading and release the infusion hold at grade 1 or
less; episodes on the participant page in a fixed number of queries; and a death recorded on its
own page, linked to one of the participant's adverse events.

"Today" is Tuesday 10 March 2026, 11:00 in New York (tests.support.NOW); the participant had the
first infusion on 20 February (tests.support.Journey)."""

import datetime as dt
import html as html_lib
import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from participants.models import Status
from safety.models import AdverseEvent, EventKind, Grading, Outcome
from safety.services import adverse_events, crs_icans
from schedule import services
from schedule.models import InfusionHold
from tests.support import Journey, consent, coordinator_at, frozen

NEW_YORK = ZoneInfo("America/New_York")
TODAY_NY = "2026-03-10"
MAX_QUERIES = 14  # as tests/dashboard/test_queries.py


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    j = Journey(site, coordinator, investigator)
    j.to_treatment()  # INF1 given on Friday 20 Feb 2026 at 09:00 New York time
    return j


@pytest.fixture
def p(journey):
    return journey.p


@pytest.fixture
def logged_in(client, coordinator):
    client.force_login(coordinator)
    return client


def at_ny(hour: int, minute: int = 0) -> dt.datetime:
    """10 March 2026 (today), New York time."""
    return dt.datetime(2026, 3, 10, hour, minute, tzinfo=NEW_YORK)


def crs_form(**overrides) -> dict:
    """38.6 °C, no antipyretic, one vasopressor, low-flow oxygen, assessed at 10:30 site time."""
    return {
        "temperature_c": "38.6",
        "antipyretic_or_anticytokine": "no",
        "hypotension": "one_vasopressor",
        "oxygen": "low_flow",
        "assessed_on": TODAY_NY,
        "assessed_time": "10:30",
        **overrides,
    }


def icans_form(**overrides) -> dict:
    return {
        "ice_score": "5",
        "consciousness": "awakens_to_voice",
        "seizure": "none",
        "motor_weakness": "no",
        "cerebral_edema": "none",
        "assessed_on": TODAY_NY,
        "assessed_time": "10:30",
        **overrides,
    }


def crs_url(p) -> str:
    return reverse("dashboard:crs_new", args=[p.pk])


def icans_url(p) -> str:
    return reverse("dashboard:icans_new", args=[p.pk])


def reassess_url(event) -> str:
    return reverse("dashboard:episode_reassess", args=[event.pk])


def death_url(p) -> str:
    return reverse("dashboard:participant_death", args=[p.pk])


def text(response) -> str:
    return html_lib.unescape(response.content.decode())


def field_error(response, field: str) -> str:
    match = re.search(rf'id="id_{field}_error">([^<]*)<', response.content.decode())
    return html_lib.unescape(match.group(1)) if match else ""


def crs(p, by, hour: int, minute: int = 0, **findings):
    """CRS through the service, assessed at hour:minute on 10 March, New York time."""
    values = {"temperature_c": "38.6", "hypotension": "one_vasopressor", "oxygen": "none"}
    return crs_icans.crs_assess(p, **{**values, **findings}, assessed_at=at_ny(hour, minute), by=by)


def ae(p, by, **overrides) -> AdverseEvent:
    """Through the service: a non-serious grade 3 pneumonia, onset 8 March, aware at 08:00."""
    values = {
        "term": "Pneumonia",
        "ctcae_term": "Lung infection",
        "onset_date": dt.date(2026, 3, 8),
        "grade": 3,
        "related_to_product": "possible",
        "related_to_leukapheresis": "not_related",
        "action_taken": "none",
        "outcome": "not_recovered",
        "aware_at": at_ny(8),
        **overrides,
    }
    return adverse_events.ae_record(p, by=by, **values)


def nothing_saved():
    assert not AdverseEvent.objects.exists()
    assert not Grading.objects.exists()
    assert not InfusionHold.objects.exists()


# --- Recording findings ---------------------------------------------------------------------------


def test_the_crs_form_asks_for_findings_and_the_antipyretic_question_first_never_a_grade(
    logged_in, p
):
    with frozen():
        page = text(logged_in.get(crs_url(p)))
    assert 'name="grade"' not in page
    assert "Antipyretic or anti-cytokine therapy given (tocilizumab, steroids)?" in page
    # Set apart at the top, with the temperature, before hypotension and oxygen.
    prominent = page[page.index('class="prominent"') : page.index('name="hypotension"')]
    assert 'name="temperature_c"' in prominent and 'name="antipyretic_or_anticytokine"' in prominent
    assert "Low flow: nasal cannula ≤ 6 L/min, or blow-by" in page
    assert 'value="2026-03-10"' in page and 'value="11:00"' in page  # site date and time


def test_crs_findings_give_grade_3_and_why_on_the_participant_page_and_hold_the_next_infusion(
    logged_in, p, coordinator
):
    with frozen():
        response = logged_in.post(crs_url(p), crs_form(), follow=True)
    reference = f"{p.label}-AE1"
    assert response.redirect_chain == [(f"/participants/{p.pk}/#episodes", 302)]
    page = text(response)
    assert (
        f"CRS grade 3: hypotension needing one vasopressor ({reference}). "
        "Next infusion on hold until grade 1 or less." in page
    )
    episode = page[page.index('id="episodes"') : page.index('id="adverse-events"')]
    assert f"{reference} · CRS" in episode and "grade 3" in episode
    assert '<td class="num">3</td><td>hypotension needing one vasopressor</td>' in episode
    assert "38.6 °C, hypotension needing one vasopressor, low-flow oxygen" in episode
    assert "2026-03-10 10:30" in episode and coordinator.username in episode
    assert "Next infusion on hold" in episode
    event = AdverseEvent.objects.get()
    assert (event.kind, event.grade, event.serious) == (EventKind.CRS, 3, False)
    [grading] = event.gradings.all()
    assert grading.findings["temperature_c"] == "38.6"
    assert grading.assessed_at == at_ny(10, 30)
    assert services.open_holds(p).get().source == reference


def test_a_masked_fever_does_not_lower_the_grade(logged_in, p):
    form = crs_form(temperature_c="37.1", antipyretic_or_anticytokine="yes", hypotension="none")
    with frozen():
        page = text(logged_in.post(crs_url(p), form, follow=True))
    assert f"CRS grade 2: low-flow oxygen ({p.label}-AE1)." in page
    assert "after antipyretic or anti-cytokine therapy" in page


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [
        (
            "101.3",
            "Temperature 101.3 °C is not plausible (it looks like °F); enter degrees Celsius",
        ),
        ("38,6x", "Enter the temperature as a number of degrees Celsius"),
        ("", "Enter the temperature in °C"),
    ],
)
def test_a_bad_temperature_shows_under_its_field_and_nothing_is_saved(
    logged_in, p, temperature, expected
):
    with frozen():
        response = logged_in.post(crs_url(p), crs_form(temperature_c=temperature))
    assert response.status_code == 200
    assert field_error(response, "temperature_c").startswith(expected)
    nothing_saved()


def test_an_assessment_in_the_future_shows_under_its_date_and_nothing_is_saved(logged_in, p):
    with frozen():
        response = logged_in.post(crs_url(p), crs_form(assessed_time="11:30"))
    assert field_error(response, "assessed_on") == "The assessment time is in the future."
    nothing_saved()


def test_grade_0_says_no_crs_and_why_and_creates_nothing(logged_in, p):
    form = crs_form(temperature_c="37.4", hypotension="fluids", oxygen="none")
    with frozen():
        response = logged_in.post(crs_url(p), form, follow=True)
    assert response.redirect_chain == [(f"/participants/{p.pk}/#episodes", 302)]
    assert (
        "No CRS by ASTCT: does not meet the ASTCT definition of CRS (no fever ≥ 38 °C); "
        "hypotension not needing vasopressors without fever is not graded as CRS. "
        "Nothing was recorded." in text(response)
    )
    assert "No CRS or ICANS episode recorded." in text(response)
    nothing_saved()


def test_icans_findings_give_the_grade_and_an_ice_score_that_cannot_be_assessed_needs_unarousable(
    logged_in, p
):
    with frozen():
        refused = logged_in.post(icans_url(p), icans_form(ice_score="cannot"))
        assert field_error(refused, "ice_score").startswith("The ICE score must be given")
        nothing_saved()
        page = text(logged_in.post(icans_url(p), icans_form(), follow=True))
        unarousable = icans_form(ice_score="cannot", consciousness="unarousable")
        page4 = text(logged_in.post(icans_url(p), unarousable, follow=True))
    assert f"ICANS grade 2: ICE score 5; awakens to voice ({p.label}-AE1)." in page
    assert "Next infusion on hold until grade 1 or less." in page
    assert "ICANS grade 4: unarousable" in page4 and f"({p.label}-AE2)" in page4
    assert "ICE score cannot be assessed, unarousable" in page4


# --- Re-assessing and resolving -------------------------------------------------------------------


def test_a_reassessment_keeps_every_grading_and_releases_the_hold_at_grade_1(
    logged_in, p, coordinator
):
    with frozen():
        event = crs(p, coordinator, 9, oxygen="low_flow").event
        form_page = text(logged_in.get(reassess_url(event)))
        better = crs_form(temperature_c="38.2", hypotension="none", oxygen="none")
        response = logged_in.post(reassess_url(event), {**better, "assessed_time": "10:45"})
        page = text(logged_in.get(response["Location"]))
    assert (
        "Re-assess CRS" in form_page
        and "grade 3</strong> — hypotension needing one vasopressor" in (form_page)
    )
    assert response["Location"] == f"/participants/{p.pk}/#episodes"
    assert (
        f"CRS grade 1: fever 38.2 °C ({event.reference}). "
        "The hold on the next infusion is released." in page
    )
    assert list(event.gradings.values_list("grade", flat=True)) == [3, 1]
    event.refresh_from_db()
    assert event.grade == 1 and event.resolved_on is None
    assert not services.open_holds(p).exists()
    # Both gradings, in time order, each with its reasons.
    episode = page[page.index(f'id="episode-{event.pk}"') :]
    assert episode.index("hypotension needing one vasopressor") < episode.index("fever 38.2 °C")
    assert "Next infusion on hold" not in episode[: episode.index("</article>")]


def test_a_reassessment_at_grade_0_releases_the_hold_and_keeps_the_episode_open(
    logged_in, p, coordinator
):
    with frozen():
        event = crs(p, coordinator, 9).event
        normal = crs_form(temperature_c="37.0", hypotension="none", oxygen="none")
        page = text(logged_in.post(reassess_url(event), normal, follow=True))
    assert (
        f"CRS grade 0: does not meet the ASTCT definition of CRS (no fever ≥ 38 °C) ({event.reference})."
        in page
    )
    assert "The hold on the next infusion is released." in page
    assert "The episode stays open at grade 3 until it is resolved." in page
    assert event.gradings.count() == 2


def test_an_earlier_time_than_the_last_assessment_is_refused_under_the_date(
    logged_in, p, coordinator
):
    with frozen():
        event = crs(p, coordinator, 10, 40).event
        response = logged_in.post(reassess_url(event), crs_form(assessed_time="10:30"))
    assert (
        field_error(response, "assessed_on")
        == f"{event.reference} was last assessed after this time."
    )
    assert event.gradings.count() == 1


def test_resolving_an_episode_releases_its_hold_and_regrade_goes_to_the_findings(
    logged_in, p, coordinator
):
    with frozen():
        event = crs(p, coordinator, 9).event
        resolve = reverse("dashboard:ae_action", args=[event.pk, "resolve"])
        regrade = logged_in.get(reverse("dashboard:ae_action", args=[event.pk, "regrade"]))
        form_page = text(logged_in.get(resolve))
        page = text(logged_in.post(resolve, {"on": TODAY_NY}, follow=True))
        again = logged_in.get(reassess_url(event), follow=True)
    assert regrade["Location"] == reassess_url(event)
    assert 'name="outcome"' not in form_page  # an episode resolves as recovered
    assert f"{event.reference} resolved; its infusion hold, if any, is released." in page
    event.refresh_from_db()
    assert (event.resolved_on, event.outcome) == (dt.date(2026, 3, 10), Outcome.RECOVERED)
    assert not services.open_holds(p).exists()
    assert "a new CRS episode" in text(again)  # a resolved episode is not re-assessed


# --- Who may -------------------------------------------------------------------------------------


def test_a_read_only_role_gets_403_and_sees_no_buttons(client, manager, p, coordinator):
    with frozen():
        event = crs(p, coordinator, 9).event
        client.force_login(manager)
        urls = [crs_url(p), icans_url(p), reassess_url(event), death_url(p)]
        for url in urls:
            assert client.get(url).status_code == 403, url
            assert client.post(url, crs_form()).status_code == 403, url
        page = text(client.get(reverse("dashboard:participant", args=[p.pk])))
    assert AdverseEvent.objects.count() == 1 and event.gradings.count() == 1
    assert "CRS / ICANS episodes" in page and "<td>hypotension needing one vasopressor</td>" in page
    assert "Record CRS findings" not in page and reassess_url(event) not in page
    assert death_url(p) not in page


def test_another_sites_participant_and_episode_are_a_404(logged_in, protocol, site2):
    with frozen():
        berlin = consent(site2, coordinator_at(site2), dt.date(2026, 2, 1))
        assessed_at = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
        by = coordinator_at(site2)
        finding = {"temperature_c": "39", "hypotension": "fluids", "oxygen": "none"}
        event = crs_icans.crs_assess(berlin, **finding, assessed_at=assessed_at, by=by).event
        for url in (crs_url(berlin), icans_url(berlin), reassess_url(event), death_url(berlin)):
            assert logged_in.get(url).status_code == 404, url
            assert logged_in.post(url, crs_form()).status_code == 404, url
    assert event.gradings.count() == 1


def test_reassessing_an_event_that_is_not_crs_or_icans_is_a_404(logged_in, p, coordinator):
    with frozen():
        event = ae(p, coordinator)
        assert logged_in.get(reassess_url(event)).status_code == 404


# --- The participant page -------------------------------------------------------------------------


def test_the_participant_page_reads_episodes_in_as_many_queries_for_1_as_for_5(
    logged_in, p, coordinator, django_assert_max_num_queries
):
    url = reverse("dashboard:participant", args=[p.pk])
    counts = []
    with frozen():
        for n in (1, 5):
            while (i := AdverseEvent.objects.count()) < n:
                event = crs(p, coordinator, 6 + i).event  # a new episode, then a re-assessment
                crs(
                    p, coordinator, 6 + i, 30, temperature_c="38.1", hypotension="none", event=event
                )
            logged_in.get("/")  # the session, as a real user's
            with django_assert_max_num_queries(MAX_QUERIES) as captured:
                response = logged_in.get(url)
            assert text(response).count('class="episode') == n
            counts.append(len(captured))
    assert counts[0] == counts[1]


# --- Death ---------------------------------------------------------------------------------------


def test_the_record_death_action_goes_to_a_page_that_asks_for_the_sae_first(logged_in, p):
    with frozen():
        page = text(logged_in.get(reverse("dashboard:participant", args=[p.pk])))
        death_page = text(logged_in.get(death_url(p)))
    assert f'href="{death_url(p)}">Record death</a>' in page
    assert "has no open adverse event to link" in death_page
    assert "Record the serious adverse event of the death first" in death_page
    assert reverse("dashboard:ae_new", args=[p.pk]) in death_page
    assert 'name="cause"' not in death_page


def test_the_death_page_lists_only_this_participants_open_events_and_links_the_chosen_one(
    logged_in, p, coordinator, investigator, site
):
    with frozen():
        other = Journey(site, coordinator, investigator, screening_number="S-OTHER").p
        pneumonia = ae(p, coordinator)
        episode = crs(p, coordinator, 9).event
        gone = ae(p, coordinator, term="Headache", ctcae_term="Headache", grade=1)
        adverse_events.ae_resolve(gone, on=dt.date(2026, 3, 9), outcome="recovered", by=coordinator)
        theirs = ae(other, coordinator, term="Rash")
        page = text(logged_in.get(death_url(p)))
        form = {
            "event": theirs.pk,
            "cause": "Pneumonia with septic shock",
            "on": TODAY_NY,
            "aware_on": TODAY_NY,
            "aware_time": "10:00",
        }
        refused = logged_in.post(death_url(p), form)
        response = logged_in.post(death_url(p), {**form, "event": pneumonia.pk}, follow=True)
    options = re.findall(r'<option value="(\d+)"', page)
    assert options == [str(pneumonia.pk), str(episode.pk)]
    assert f"{pneumonia.reference}: Pneumonia (grade 3)" in page
    assert field_error(refused, "event").startswith("Select a valid choice")
    assert response.redirect_chain == [(f"/participants/{p.pk}/#adverse-events", 302)]
    assert (
        f"{p.label}: death on 2026-03-10 recorded, linked to {pneumonia.reference}, "
        "now grade 5, fatal and serious." in text(response)
    )
    pneumonia.refresh_from_db()
    assert (pneumonia.grade, pneumonia.outcome, pneumonia.serious) == (5, Outcome.FATAL, True)
    assert pneumonia.sponsor_report_due_at == at_ny(10) + dt.timedelta(hours=24)
    p.refresh_from_db()
    assert p.status == Status.DIED
    change = p.status_changes.order_by("-changed_at", "-pk").first()
    assert change.details == {"sae_reference": pneumonia.reference}
    theirs.refresh_from_db()
    assert theirs.grade == 3 and theirs.outcome == Outcome.NOT_RECOVERED


def test_a_refused_death_shows_under_its_field_and_changes_nothing(logged_in, p, coordinator):
    with frozen():
        event = ae(p, coordinator)
        form = {"event": event.pk, "cause": "Sepsis", "on": "2026-03-07"}
        response = logged_in.post(
            death_url(p), {**form, "aware_on": TODAY_NY, "aware_time": "10:00"}
        )
    assert field_error(response, "on").startswith("2026-03-07 is before the onset of")
    event.refresh_from_db()
    p.refresh_from_db()
    assert (event.grade, event.serious, p.status) == (3, False, Status.IN_TREATMENT)
