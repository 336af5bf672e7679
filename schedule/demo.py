"""Demo data: three sites, staff logins and about 30 participants in every status, dated around
today so the worklists always look live (visits due today, windows closing, overdue safety items).

Everything is built through the real services, so the demo holds only states the services allow.
The services refuse future dates and stamp records with timezone.now(), so each participant's
story is replayed in date order with past dates only: consent N days ago, screening a week later,
and so on up to yesterday. Whatever falls today or later is left scheduled.

Study ids and screening numbers are the only identifiers; there are no names.
"""

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from participants import eligibility
from participants.models import Participant, Site, StaffRole, Status
from participants.services.dates import site_today
from participants.staff import staff_add
from schedule import services
from schedule.models import (
    CLOSING_SOON_DAYS,
    Anchor,
    Assessment,
    Visit,
    VisitKind,
    VisitStatus,
)

DEMO_PASSWORD = "sle001-demo"
EMAIL_DOMAIN = "example.org"

SITES = (
    # code, name, time zone, enrollment target
    ("S01", "New York demo site", "America/New_York", 10),
    ("S02", "Berlin demo site", "Europe/Berlin", 10),
    ("S03", "Sydney demo site", "Australia/Sydney", 10),
)

# A participant's timeline, in days after consent (C0). Leukapheresis and the visits anchored on
# the first infusion (D0) take their offsets from the protocol itself.
SCREENING_VISIT_DAY = 7
ENROLL_DAY = 10
FIRST_INFUSION_DAY = 45  # within the 59 days the protocol allows; 17 days after leukapheresis
INFUSION_HOUR = 9
PRE_DOSE_HOUR = 8
RESULTS_HOUR = 13

# Results recorded for the demo; anything not listed is "normal".
RESULTS = {
    "VS": "BP 122/78, HR 74, T 36.8 °C",
    "VS_PRE": "BP 118/76, HR 72, T 36.7 °C",
    "VS_POST": "Stable at end, +30, +60, +120 min",
    "IGG": "IgG 820 mg/dL",
    "PREG": "Negative",
    "CRS_ICANS": "No CRS, ICE score 10",
    "OBS": "Observed 2 h 15 min, discharged",
    "AE": "None new",
    "CM": "Unchanged",
    "SLEDAI": "SLEDAI-2K 8",
    "PGA": "PGA 1.2",
}


@dataclass(frozen=True)
class Story:
    """One participant's course, replayed up to yesterday.

    `ending` is a status change that cuts the story short, with its day after consent:
    ("screen_fail", day, rescreen_allowed), ("manufacturing_fail", day), ("withdraw", day),
    ("lost", last_contact_day, attempt_days), ("die", day). Visit codes in `leave_open` stay
    scheduled although their day has passed (a coordinator has not recorded them yet);
    `results_missing` holds "VISIT.ASSESSMENT" results never recorded (overdue once due).
    """

    site: str
    days_since_consent: int
    ending: tuple = ()
    stop_early_after: int | None = None  # infusions given before treatment stopped early
    leave_open: frozenset = frozenset()
    missed: frozenset = frozenset()
    results_missing: frozenset = frozenset()
    rescreen_after: int | None = None  # a failed screening re-screened this many days after C0
    record_et: bool = False


def _s(*items):
    return frozenset(items)


STORIES = (
    # --- S01, New York
    Story("S01", 3),  # screening, screening visit still in its window
    Story("S01", 20),  # enrolled, leukapheresis in 8 days
    Story("S01", 35),  # leukapheresis done, first infusion in 10 days
    Story("S01", 59),  # in treatment: INF3 due today
    Story("S01", 47, results_missing=_s("INF1.VS_POST", "INF1.OBS")),  # post-dose items overdue
    Story("S01", 140, leave_open=_s("M3")),  # follow-up: Month 3 window closes in 2 days
    Story("S01", 420),  # completed
    Story("S01", 75, ending=("withdraw", 62), leave_open=_s("ET")),  # withdrew in treatment
    Story("S01", 160, ending=("die", 112)),  # died in follow-up
    Story("S01", 8),  # screening, awaiting eligibility sign-off
    # --- S02, Berlin
    Story("S02", 40, ending=("screen_fail", 9, True), rescreen_after=25),  # re-screened: enrolled
    Story("S02", 15, ending=("screen_fail", 8, False)),
    Story("S02", 14),  # enrolled
    Story("S02", 38, ending=("manufacturing_fail", 35)),  # repeat leukapheresis window open
    Story("S02", 74, leave_open=_s("INF5")),  # INF5 window closes tomorrow
    Story("S02", 100, stop_early_after=3, results_missing=_s("EOT.IGG", "EOT.CBC")),
    Story("S02", 110, missed=_s("M2")),
    Story("S02", 170, ending=("lost", 135, (150, 155, 160))),
    Story("S02", 20, ending=("withdraw", 5)),  # withdrew consent during screening
    # --- S03, Sydney
    Story("S03", 1),  # screening, consented yesterday
    Story("S03", 30),  # leukapheresis done
    Story("S03", 66),  # in treatment: INF4 due today
    Story("S03", 53),  # in treatment after INF2
    Story("S03", 235),  # follow-up after Month 6
    Story("S03", 97, leave_open=_s("EOT")),  # EOT window closes tomorrow
    Story("S03", 500),  # completed
    Story("S03", 60, ending=("die", 56)),  # died during treatment
    Story("S03", 240, ending=("withdraw", 200), record_et=True),  # withdrew in follow-up
    Story("S03", 130, ending=("lost", 95, (110, 115, 120))),
)


@dataclass
class DemoSummary:
    participants_created: int
    status_counts: dict[str, int]
    logins: list[tuple[str, str, str]]  # username, role, sites
    due_today: int = 0
    closing_soon: int = 0
    overdue_safety: int = 0
    notes: list[str] = field(default_factory=list)


# --- Staff -------------------------------------------------------------------------------------


def _user(username: str, encoded_password: str, *, role: str, sites=(), superuser=False):
    # The same service as manage.py add_staff: the login's group comes from its role.
    user, _ = staff_add(
        username=username,
        email=f"{username}@{EMAIL_DOMAIN}",
        role=role,
        sites=[site.code for site in sites],
        encoded_password=encoded_password,
    )
    if user.is_superuser != superuser:
        user.is_superuser = superuser
        user.save(update_fields=["is_superuser"])
    return user


def _staff(sites: dict[str, Site], password: str) -> dict[str, object]:
    # One hash shared by every demo login: they all have the same password anyway, and hashing
    # it eight times would take seconds (PBKDF2 is slow on purpose).
    encoded = make_password(password)
    users = {}
    for code, site in sites.items():
        n = code.lower()
        users[f"coordinator-{n}"] = _user(
            f"coordinator-{n}", encoded, role=StaffRole.COORDINATOR, sites=[site]
        )
        # Investigators sign off eligibility and use the coordinators' screens.
        users[f"investigator-{n}"] = _user(
            f"investigator-{n}", encoded, role=StaffRole.INVESTIGATOR, sites=[site]
        )
    users["manager"] = _user("manager", encoded, role=StaffRole.STUDY_MANAGER)
    users["admin"] = _user("admin", encoded, role=StaffRole.STUDY_MANAGER, superuser=True)
    return users


def _sites() -> dict[str, Site]:
    sites = {}
    for code, name, time_zone, target in SITES:
        sites[code], _ = Site.objects.get_or_create(
            code=code,
            defaults={"name": name, "time_zone": time_zone, "enrollment_target": target},
        )
    return sites


# --- Participants ------------------------------------------------------------------------------


def _at(day: dt.date, hour: int, site: Site) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=site.tz)


def _record_results(visit: Visit, story: Story, at: dt.datetime, by, *, pre_dose=None) -> None:
    pending = visit.assessments.select_related("definition").pending()
    if pre_dose is not None:
        pending = pending.filter(definition__pre_dose=pre_dose)
    for a in pending:
        if f"{visit.definition.code}.{a.definition.code}" in story.results_missing:
            continue
        services.assessment_record(
            a,
            result=RESULTS.get(a.definition.code, "Normal"),
            is_abnormal=False,
            completed_at=at,
            by=by,
        )


# Order of a story's events on the same day; the ending cuts off everything after it except
# what the ending itself lays out (the early-termination visit).
VISIT, STATUS_CHANGE, ENDING, AFTER_ENDING = range(4)


class _Replay:
    """Replays one story through the services, in date order, stopping before today."""

    def __init__(self, story: Story, site: Site, staff: dict, rescreen_of=None):
        self.story = story
        self.site = site
        self.today = site_today(site)
        self.c0 = self.today - dt.timedelta(days=story.days_since_consent)
        self.d0 = self.c0 + dt.timedelta(days=FIRST_INFUSION_DAY)
        self.by = staff[f"coordinator-{site.code.lower()}"]
        self.investigator = staff[f"investigator-{site.code.lower()}"]
        self.rescreen_of = rescreen_of
        self.participant = None

    def day(self, n: int) -> dt.date:
        return self.c0 + dt.timedelta(days=n)

    def run(self) -> Participant:
        consent = {
            "consent_at": _at(self.c0, 9, self.site),
            "consent_form_version": "ICF v2.0",
            "age_at_consent": 25 + (self.story.days_since_consent * 7) % 45,
        }
        if self.rescreen_of:  # the same person, a few weeks later
            consent["age_at_consent"] = self.rescreen_of.age_at_consent
            self.participant = services.participant_rescreen(
                self.rescreen_of, by=self.by, **consent
            )
        else:
            self.participant = services.participant_consent(site=self.site, by=self.by, **consent)
        for _day, _order, action in sorted(self.events(), key=lambda e: e[:2]):
            action()
        self.participant.refresh_from_db()
        return self.participant

    def events(self) -> list:
        """(date, order, action) for everything before today and not after the story's end."""
        story = self.story
        protocol = self.participant.schedule.protocol
        events = []
        infusions = 0
        for d in protocol.visits.order_by("order"):
            if d.anchor == Anchor.CONSENT:
                on = self.day(max(d.target_offset, SCREENING_VISIT_DAY))
            elif d.anchor == Anchor.FIRST_INFUSION:
                on = self.d0 + dt.timedelta(days=d.target_offset)
            else:
                continue  # unscheduled and early-termination visits come from events
            if d.kind in (VisitKind.FIRST_INFUSION, VisitKind.INFUSION):
                infusions += 1
                if story.stop_early_after is not None and infusions > story.stop_early_after:
                    continue
            if d.code in story.leave_open:
                continue
            if d.code in story.missed:
                events.append((on, VISIT, lambda code=d.code: self.mark_missed(code)))
            else:
                events.append((on, VISIT, lambda code=d.code, on=on: self.record_visit(code, on)))
        events.append((self.day(ENROLL_DAY), STATUS_CHANGE, self.enroll))
        if story.stop_early_after is not None:
            stop_on = self.d0 + dt.timedelta(days=7 * (story.stop_early_after - 1) + 3)
            events.append((stop_on, STATUS_CHANGE, lambda: self.stop_early(stop_on)))
        end_day = None
        if story.ending:
            kind, end_n = story.ending[0], story.ending[1]
            end_day = self.day(end_n)
            end = getattr(self, f"end_{kind}")
            events.append((end_day, ENDING, lambda: end(*story.ending[1:])))
            if kind == "withdraw" and story.record_et:
                et_day = end_day + dt.timedelta(days=1)
                events.append((et_day, AFTER_ENDING, lambda: self.record_visit("ET", et_day)))
        return [
            e
            for e in events
            if e[0] < self.today and (end_day is None or e[0] <= end_day or e[1] == AFTER_ENDING)
        ]

    # --- actions, each one service call (or a few for a visit and its results)

    def visit(self, code: str) -> Visit:
        return (
            self.participant.visits.select_related("definition")
            .filter(definition__code=code, status=VisitStatus.SCHEDULED)
            .order_by("occurrence")
            .first()
        )

    def record_visit(self, code: str, on: dt.date) -> None:
        visit = self.visit(code)
        if visit is None:  # e.g. closed by a status change
            return
        kind = visit.definition.kind
        if kind in (VisitKind.FIRST_INFUSION, VisitKind.INFUSION):
            _record_results(
                visit, self.story, _at(on, PRE_DOSE_HOUR, self.site), self.by, pre_dose=True
            )
            services.visit_record_done(
                visit,
                actual_date=on,
                started_at=_at(on, INFUSION_HOUR, self.site),
                dose="Descartes-08, protocol dose",
                lot=f"LOT-{self.participant.study_id}-{code}",
                by=self.by,
            )
        elif kind == VisitKind.APHERESIS:
            services.visit_record_done(
                visit,
                actual_date=on,
                adequate_collection=True,
                product_id=f"COI-{self.participant.study_id}-{visit.occurrence}",
                by=self.by,
            )
            services.first_infusion_plan(self.participant, planned_on=self.d0, by=self.by)
        else:
            services.visit_record_done(visit, actual_date=on, by=self.by)
        _record_results(visit, self.story, _at(on, RESULTS_HOUR, self.site), self.by)

    def mark_missed(self, code: str) -> None:
        services.visit_mark_missed(
            self.visit(code),
            reason="Participant unwell; could not attend within the window.",
            by=self.by,
        )

    def enroll(self) -> None:
        if self.participant.status != Status.SCREENING:
            return
        services.participant_enroll(
            self.participant,
            answers={c.code: c.kind == eligibility.INCLUSION for c in eligibility.criteria()},
            assessed_on=self.day(ENROLL_DAY),
            # Signed off by the site's investigator, logged in as themselves.
            signed_off_by=self.investigator,
            by=self.investigator,
        )
        self.participant.refresh_from_db()

    def stop_early(self, on: dt.date) -> None:
        services.treatment_stop_early(
            self.participant,
            on=on,
            reason="CRS grade 2 after the last infusion; investigator stopped treatment.",
            by=self.by,
        )

    def end_screen_fail(self, n: int, rescreen_allowed: bool) -> None:
        services.participant_screen_fail(
            self.participant,
            on=self.day(n),
            failed_criteria=["IN_ACTIVE"] if rescreen_allowed else ["EX_NEURO"],
            rescreen_allowed=rescreen_allowed,
            by=self.by,
        )

    def end_manufacturing_fail(self, n: int) -> None:
        services.participant_manufacturing_fail(
            self.participant, on=self.day(n), reason="Insufficient CAR expression.", by=self.by
        )

    def end_withdraw(self, n: int) -> None:
        services.participant_withdraw(
            self.participant,
            on=self.day(n),
            reason="Participant withdrew consent.",
            safety_follow_up_continues=self.participant.status != Status.SCREENING,
            by=self.by,
        )

    def end_lost(self, last_contact: int, attempts: tuple[int, ...]) -> None:
        services.participant_lose_to_follow_up(
            self.participant,
            last_contact_on=self.day(last_contact),
            contact_attempts=[self.day(n) for n in attempts],
            by=self.by,
        )

    def end_die(self, n: int) -> None:
        services.participant_die(
            self.participant,
            on=self.day(n),
            cause="Sepsis (investigator: unrelated to study treatment).",
            sae_reference=f"SAE-{self.participant.label}-1",
            by=self.by,
        )


def _participants(sites: dict[str, Site], staff: dict) -> int:
    created = 0
    for story in STORIES:
        participant = _Replay(story, sites[story.site], staff).run()
        created += 1
        if story.rescreen_after is not None:
            rescreen = Story(story.site, story.days_since_consent - story.rescreen_after)
            _Replay(rescreen, sites[story.site], staff, rescreen_of=participant).run()
            created += 1
    return created


# --- The entry point ---------------------------------------------------------------------------


def _summary(sites: dict[str, Site], staff: dict, created: int) -> DemoSummary:
    site_ids = [s.pk for s in sites.values()]
    counts = Counter(
        Participant.objects.filter(site_id__in=site_ids).values_list("status", flat=True)
    )
    # The worklist's own predicates, with each site's today, so the summary matches the page.
    today = {s.pk: site_today(s) for s in sites.values()}
    visits = Visit.objects.filter(participant__site_id__in=site_ids)
    due_today = visits.due_on(today).count()
    closing_soon = visits.closing_within(today, CLOSING_SOON_DAYS).count()
    overdue = (
        Assessment.objects.overdue(timezone.now())
        .filter(visit__participant__site_id__in=site_ids)
        .count()
    )
    logins = []
    for username, user in staff.items():
        profile = user.staff_profile
        where = ", ".join(s.code for s in profile.sites.all()) or "all sites"
        role = "superuser" if user.is_superuser else profile.get_role_display()
        logins.append((username, role, where))
    return DemoSummary(
        participants_created=created,
        status_counts={s.label: counts.get(s.value, 0) for s in Status},
        logins=logins,
        due_today=due_today,
        closing_soon=closing_soon,
        overdue_safety=overdue,
    )


@transaction.atomic
def demo_seed(*, password: str = DEMO_PASSWORD) -> DemoSummary:
    """Create (or refresh) the demo sites, logins and participants.

    Idempotent: sites, groups and logins are brought to the demo's state (passwords re-set);
    participants are created only when the demo sites have none, so a second run adds nothing.
    """
    sites = _sites()
    staff = _staff(sites, password)
    created = 0
    if not Participant.objects.filter(site__in=sites.values()).exists():
        created = _participants(sites, staff)
    return _summary(sites, staff, created)
