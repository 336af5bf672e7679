"""A participant's journey through the real services, one step at a time, with time frozen at
each step (18:00 site time on the step's day unless told otherwise).

The default timeline (New York site): consent Mon 5 Jan 2026, enrollment 12 Jan, leukapheresis
2 Feb, first infusion (D0) Fri 20 Feb 2026 at 09:00, weekly infusions, then follow-up from D0.
"""

import datetime as dt

import pytest
import time_machine

from participants import services as participant_services
from schedule import services
from schedule.models import VisitStatus
from tests.conftest import all_met, consent, local, record_pre_dose

CONSENT_ON = dt.date(2026, 1, 5)
ENROLL_ON = dt.date(2026, 1, 12)
APHERESIS_ON = dt.date(2026, 2, 2)
D0 = dt.date(2026, 2, 20)


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


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
            services.assessment_record(
                a,
                result="grade 2" if a.definition.code == abnormal else "normal",
                is_abnormal=a.definition.code == abnormal,
                completed_at=at,
                by=self.by,
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


__all__ = ["Journey", "open_visit_codes", "participant_services", "days"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Staff users are created per test; PBKDF2 would make each creation take a third of a second.

    Autouse in the modules that import it (`from tests.journeys import fast_password_hashing`).
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
