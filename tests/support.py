"""Shared test helpers (the one support module): users, consents, frozen time, participant
journeys and dashboard data, all built through the real services; the SMTP collector and
broker helpers used by the notification tests. Fixtures live in tests/conftest.py.
"""

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model

from participants.access import can_record
from participants.eligibility import criteria
from participants.models import StaffProfile
from schedule import services
from schedule.models import AssessmentStatus, Visit, VisitStatus

UTC = dt.UTC
REPO_ROOT = Path(__file__).resolve().parent.parent


def require_service(what: str) -> None:
    """A test that needs `what` fails when REQUIRE_SERVICES=1 (CI), and skips otherwise."""
    message = f"{what} is not available"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} and REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def make_user(username: str, role: str, sites=(), **extra):
    user = get_user_model().objects.create_user(
        username=username, password="pw-for-tests-only", email=f"{username}@example.org", **extra
    )
    profile = StaffProfile.objects.create(user=user, role=role)
    profile.sites.set(sites)
    return user


def coordinator_at(site):
    """A coordinator of `site` (made once): the services refuse a recorder of another site."""
    from participants.models import StaffRole

    user = get_user_model().objects.filter(username=f"recorder-{site.code.lower()}").first()
    return user or make_user(f"recorder-{site.code.lower()}", StaffRole.COORDINATOR, [site])


def all_met() -> dict[str, bool]:
    """Eligibility answers for someone who meets every inclusion and no exclusion criterion."""
    return {c.code: c.kind == "inclusion" for c in criteria()}


def local(day: dt.date, hour: int, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo(tz))


def consent(site, by, day: dt.date, *, hour=10, **extra):
    return services.participant_consent(
        site=site,
        by=by,
        consent_at=local(day, hour, site.time_zone),
        consent_form_version=extra.pop("consent_form_version", "ICF v2.0"),
        age_at_consent=extra.pop("age_at_consent", 42),
        **extra,
    )


# Lab values a healthy participant might have, and ones that block an infusion (ANC grade 3,
# IgG <= 400 mg/dL): CBC and IgG are entered as values with units, never as a typed result.
NORMAL_LABS = {
    "ANC": ("3.2", "10^9/L"),
    "LYMPH": ("1.5", "10^9/L"),
    "PLT": ("220", "10^9/L"),
    "HGB": ("13.1", "g/dL"),
    "WBC": ("6.0", "10^9/L"),
    "IGG": ("950", "mg/dL"),
}
BLOCKING_LABS = {"ANC": ("0.6", "10^9/L"), "IGG": ("300", "mg/dL")}


def record_result(
    a, *, at: dt.datetime, by, abnormal: bool = False, result: str = "", reason: str = ""
):
    """Record an assessment's result as a coordinator would: lab panels as values with units
    (normal, or blocking when `abnormal`), anything else as a typed result. `reason`: why a
    recorded result changes (refused without one)."""
    if a.definition.lab_values:
        from safety.services import labs

        values = {
            code: (BLOCKING_LABS if abnormal else NORMAL_LABS).get(code, NORMAL_LABS[code])
            for code in labs.LAB_PANELS[a.definition.code]
        }
        return labs.lab_results_record(a, values=values, completed_at=at, by=by, reason=reason)
    text = result or ("abnormal" if abnormal else "normal")
    return services.assessment_record(
        a, result=text, is_abnormal=abnormal, completed_at=at, by=by, reason=reason
    )


def record_pre_dose(visit, at: dt.datetime, by, abnormal: str = ""):
    """Record every pre-dose safety item of an infusion visit as normal (or one as abnormal)."""
    # Done ones too: a postponed infusion needs its same-day items recorded again.
    for a in visit.assessments.filter(
        definition__pre_dose=True, status__in=(AssessmentStatus.PENDING, AssessmentStatus.DONE)
    ):
        # Recorded again: a changed result, with its reason (the time, perhaps the value).
        again = (
            "Repeated before the postponed infusion" if a.status == AssessmentStatus.DONE else ""
        )
        record_result(a, at=at, by=by, abnormal=a.definition.code == abnormal, reason=again)


def use_celery_broker(url: str) -> str:
    """Point this process's Celery app at `url` (tests only); returns the previous URL."""
    from sle001.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = url
    # Connections and producers made for the old broker must not be reused.
    app._pool = None
    app.amqp._producer_pool = None
    return old


class SMTPCollector:
    """aiosmtpd handler that keeps each message received. `block_after = n` makes the SMTP
    conversation of message n+1 hang at MAIL FROM until `release()` (to kill a worker mid-send)."""

    def __init__(self):
        import threading

        self.messages = []
        self.block_after = None
        self.blocked = threading.Event()
        self._release = threading.Event()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        import asyncio

        if self.block_after is not None and len(self.messages) >= self.block_after:
            self.blocked.set()
            while not self._release.is_set():
                await asyncio.sleep(0.05)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import email

        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def release(self):
        self.block_after = None
        self._release.set()


NOTIFY_REDIS_URL = os.environ.get("NOTIFY_REDIS_URL", "redis://127.0.0.1:6379/5")


def _database_url_for_subprocess() -> str:
    """The test database as a DATABASE_URL, so another process opens the same one."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


# --- Dashboard data ----------------------------------------------------------------------
# Data for the dashboard tests. "Today" is Tuesday 10 March 2026, 15:00 UTC (11:00 in New York,
# 16:00 in Berlin).

NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
# After 07:00 New York time on the 1st (March 2026): the monthly report queued then is due at once,
# whatever the real clock says (at the real 00:00-07:00 on a 1st it would be held until 07:00).
REPORT_DUE = dt.datetime(2026, 3, 1, 13, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 10)
PASSWORD = "pw-for-tests-only"


def response_body(response) -> bytes:
    """The whole body of a response, whether streamed (a download) or not."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def frozen(moment: dt.datetime = NOW, tick: bool = False):
    return time_machine.travel(moment, tick=tick)


def visit(participant, code: str) -> Visit:
    return participant.visits.select_related("definition").get(definition__code=code)


def complete_visit(v: Visit, day: dt.date, by, **extra) -> None:
    """Record a visit done on `day` with every assessment normal at noon site time."""
    services.visit_record_done(v, actual_date=day, by=by, **extra)
    for a in v.assessments.filter(status=AssessmentStatus.PENDING):
        record_result(a, at=local(day, 12, v.participant.site.time_zone), by=by)


def enrolled(site, coordinator, investigator, consent_on: dt.date, *, d0: dt.date | None = None):
    """Consented (screening visit done), enrolled the day after consent, and (if d0) with the
    first infusion planned."""
    p = consent(site, coordinator, consent_on)
    complete_visit(visit(p, "SCR"), consent_on, coordinator)
    services.participant_enroll(
        p,
        answers=all_met(),
        assessed_on=consent_on + days(1),
        signed_off_by=investigator,
        by=investigator,
        password=PASSWORD,
    )
    if d0:
        services.first_infusion_plan(p, planned_on=d0, by=coordinator)
    p.refresh_from_db()
    return p


def worklist_scenario(site, site2, coordinator, investigator):
    """Call with time frozen at NOW. One participant per worklist section, plus one at S02.

    - due: consented today, SCR due today (window to 24 Mar).
    - closing: consented 26 Feb, SCR window closes 12 Mar (2 days).
    - late: consented 1 Feb, SCR window closed 15 Feb: visit and its safety items overdue.
    - coming: enrolled, APH target 14 Mar (consent 14 Feb), in the next 7 days.
    - berlin: at S02, SCR overdue like `late`.
    """
    return {
        "due": consent(site, coordinator, TODAY, hour=9),
        "closing": consent(site, coordinator, dt.date(2026, 2, 26)),
        "late": consent(site, coordinator, dt.date(2026, 2, 1)),
        "coming": enrolled(site, coordinator, investigator, dt.date(2026, 2, 14)),
        "berlin": consent(site2, coordinator_at(site2), dt.date(2026, 2, 1)),
    }


def populate(n: int, sites, coordinator, investigators, *, start: int = 0):
    """`n` participants spread over `sites` and over screening/enrolled/planned states.

    `investigators`: one investigator per site, in the order of `sites` (sign-off is per site).
    """
    made = []
    for i in range(start, start + n):
        site = sites[i % len(sites)]
        investigator = investigators[i % len(sites)]
        coordinator = coordinator if can_record(coordinator, site) else coordinator_at(site)
        consent_on = TODAY - days(1 + i % 50)
        if i % 3 == 0 and consent_on <= TODAY - days(2):
            d0 = consent_on + days(40)
            made.append(enrolled(site, coordinator, investigator, consent_on, d0=d0))
        else:
            made.append(consent(site, coordinator, consent_on, screening_number=f"T-{i:04d}"))
    return made


# --- Journeys ----------------------------------------------------------------------
# A participant's journey through the real services, one step at a time, with time frozen at
# each step (18:00 site time on the step's day unless told otherwise).
# The default timeline (New York site): consent Mon 5 Jan 2026, enrollment 12 Jan, leukapheresis
# 2 Feb, first infusion (D0) Fri 20 Feb 2026 at 09:00, weekly infusions, then follow-up from D0.

CONSENT_ON = dt.date(2026, 1, 5)
ENROLL_ON = dt.date(2026, 1, 12)
APHERESIS_ON = dt.date(2026, 2, 2)
D0 = dt.date(2026, 2, 20)


class Journey:
    def __init__(self, site, coordinator, investigator, *, consent_on=CONSENT_ON, hour=10, **extra):
        self.site, self.by, self.investigator = site, coordinator, investigator
        self.tz = site.time_zone
        self.product_ids = 0
        with self.on(consent_on, hour=max(hour, 12)):
            self.p = consent(site, coordinator, consent_on, hour=hour, **extra)

    # --- time and reads ---
    def on(self, day: dt.date, hour: int = 18, minute: int = 0):
        moment = local(day, hour, self.tz).replace(minute=minute)
        return time_machine.travel(moment, tick=False)

    def at(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return local(day, hour, self.tz).replace(minute=minute)

    def refresh(self):
        self.p.refresh_from_db()
        return self.p

    def visit(self, code: str, occurrence: int | None = None):
        """The visit with that code; the latest occurrence unless one is named."""
        visits = self.p.visits.select_related("definition").filter(definition__code=code)
        if occurrence is not None:
            return visits.get(occurrence=occurrence)
        return visits.latest("occurrence")

    def status(self) -> str:
        return self.refresh().status

    # --- steps ---
    def enroll(self, day=ENROLL_ON, *, answers=None, signed_off_by=None):
        """The investigator (or `signed_off_by`) signs off eligibility, logged in themselves."""
        signer = signed_off_by or self.investigator
        with self.on(day):
            services.participant_enroll(
                self.p,
                answers=answers if answers is not None else all_met(),
                assessed_on=day,
                signed_off_by=signer,
                by=signer,
                password=PASSWORD,
            )
        return self.refresh()

    def screening_visit(self, day=ENROLL_ON):
        with self.on(day):
            return services.visit_record_done(self.visit("SCR"), actual_date=day, by=self.by)

    def plan(self, d0=D0, *, today=None, reason=""):
        with self.on(today or ENROLL_ON):
            return services.first_infusion_plan(self.p, planned_on=d0, by=self.by, reason=reason)

    def apheresis(self, day=APHERESIS_ON, *, occurrence=None):
        self.product_ids += 1
        with self.on(day):
            return services.visit_record_done(
                self.visit("APH", occurrence),
                actual_date=day,
                adequate_collection=True,
                product_id=f"{self.p.screening_number}-P{self.product_ids}",
                by=self.by,
            )

    def infuse(self, n: int, day: dt.date, *, hour=9, minute=0, pre_dose_minutes_before=15):
        """Record infusion n given at hour:minute on `day`: pre-dose items recorded just before,
        the post-dose items (observation, CRS/ICANS before discharge) as normal 3 h after."""
        visit = self.visit(f"INF{n}")
        started = self.at(day, hour, minute)
        pre_dose_at = started - dt.timedelta(minutes=pre_dose_minutes_before)
        with time_machine.travel(pre_dose_at, tick=False):
            record_pre_dose(visit, pre_dose_at, self.by)
        with time_machine.travel(started + dt.timedelta(hours=3), tick=False):
            done = services.visit_record_done(
                visit,
                actual_date=day,
                started_at=started,
                dose="1e6 cells/kg",
                lot="L-1",
                by=self.by,
            )
            self.record_post_dose(visit, started + dt.timedelta(hours=3))
        return done

    def record_post_dose(self, visit, at: dt.datetime, *, abnormal: str = ""):
        for a in visit.assessments.filter(
            definition__due_hours_after_start__isnull=False, status="pending"
        ):
            flagged = a.definition.code == abnormal
            record_result(
                a, at=at, by=self.by, abnormal=flagged, result="grade 2" if flagged else ""
            )

    def record(self, code: str, day: dt.date, occurrence: int | None = None):
        with self.on(day):
            return services.visit_record_done(
                self.visit(code, occurrence), actual_date=day, by=self.by
            )

    # --- whole stretches ---
    def to_treatment(self, d0=D0):
        """Consented → enrolled, planned, leukapheresis, first infusion given on d0."""
        self.screening_visit()
        self.enroll()
        self.plan(d0)
        self.apheresis()
        self.infuse(1, d0)
        return self.refresh()

    def all_infusions(self, d0=D0):
        self.to_treatment(d0)
        for n in range(2, 7):
            self.infuse(n, d0 + days(7 * (n - 1)))
        return self.refresh()


def open_visit_codes(participant) -> list[str]:
    return list(
        participant.visits.filter(status=VisitStatus.SCHEDULED)
        .order_by("target_date", "definition__order")
        .values_list("definition__code", flat=True)
    )


__all__ = ["Journey", "open_visit_codes", "days"]
