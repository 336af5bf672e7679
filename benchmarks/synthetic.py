"""Synthetic participants at scale, built through the real services (no shortcuts in the data).

Used only by the benchmarks: never imported by the app or the tests.
"""

import datetime as dt
import random
from zoneinfo import ZoneInfo

import time_machine
from django.contrib.auth import get_user_model
from django.test import override_settings

from participants.eligibility import criteria
from participants.models import Site, StaffProfile, StaffRole
from schedule import services

SITES = [("B01", "America/New_York"), ("B02", "Europe/Berlin"), ("B03", "Australia/Sydney")]
# The benchmark investigator's password: eligibility is a signature taken with it.
INVESTIGATOR_PASSWORD = "bench-investigator-signs"


def _user(username: str, role: str, sites):
    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": True})
    profile, _ = StaffProfile.objects.get_or_create(user=user, defaults={"role": role})
    profile.sites.set(sites)
    return user


# Hashing the signature's password costs ~0.3 s with the production hasher, once per enrollment:
# synthetic data is built with a fast one (the benchmarks time the pages, not the log-in).
FAST_HASHING = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])


@FAST_HASHING
def build(n_participants: int, today: dt.date, seed: int = 1) -> dict:
    """`n_participants` spread over sites and phases: a third screening, a third in treatment,
    a third in follow-up, with D0s spread over the past year so visits fall every day."""
    rng = random.Random(seed)
    sites = [
        Site.objects.get_or_create(code=code, defaults={"name": code, "time_zone": tz})[0]
        for code, tz in SITES
    ]
    coordinator = _user("bench-coordinator", StaffRole.COORDINATOR, sites)
    investigator = _user("bench-investigator", StaffRole.INVESTIGATOR, sites)
    investigator.set_password(INVESTIGATOR_PASSWORD)
    investigator.save(update_fields=["password"])
    answers = {c.code: c.kind == "inclusion" for c in criteria()}
    for i in range(n_participants):
        site = sites[i % len(sites)]
        tz = ZoneInfo(site.time_zone)
        stage = i % 3
        d0 = today - dt.timedelta(days=rng.randint(0, 300)) if stage else None
        consent_day = (
            (d0 - dt.timedelta(days=45)) if d0 else today - dt.timedelta(rng.randint(0, 20))
        )
        consent_at = dt.datetime.combine(consent_day, dt.time(10), tzinfo=tz)
        with time_machine.travel(consent_at + dt.timedelta(hours=1), tick=False):
            participant = services.participant_consent(
                site=site,
                by=coordinator,
                consent_at=consent_at,
                consent_form_version="ICF v1",
                age_at_consent=40,
            )
        if d0 is None:
            continue
        enrolled_on = consent_day + dt.timedelta(days=7)
        with time_machine.travel(
            dt.datetime.combine(enrolled_on, dt.time(15), tzinfo=tz), tick=False
        ):
            services.participant_enroll(
                participant,
                answers=answers,
                assessed_on=enrolled_on,
                signed_off_by=investigator,
                by=investigator,
                password=INVESTIGATOR_PASSWORD,
            )
            services.first_infusion_plan(participant, planned_on=d0, by=coordinator)
    _record_the_past(today, rng)
    return {"sites": sites, "coordinator": coordinator}


def _record_the_past(today: dt.date, rng: random.Random, left_open: float = 0.03) -> None:
    """Mark visits whose window has closed as done, leaving a few open (overdue), as in a study
    that is being kept up to date. A data shortcut (bulk UPDATE, not the services): the benchmark
    needs realistic ratios of open to closed rows, not a replay of every recording."""
    from django.db.models import F

    from schedule.models import Assessment, AssessmentStatus, Visit, VisitStatus

    past = list(
        Visit.objects.filter(status=VisitStatus.SCHEDULED, window_end__lt=today).values_list(
            "pk", flat=True
        )
    )
    done = [pk for pk in past if rng.random() >= left_open]
    for start in range(0, len(done), 500):
        chunk = done[start : start + 500]
        Visit.objects.filter(pk__in=chunk).update(
            status=VisitStatus.DONE, actual_date=F("target_date"), in_window=True
        )
        Assessment.objects.filter(visit__in=chunk, status=AssessmentStatus.PENDING).update(
            status=AssessmentStatus.DONE,
            result="normal",
            is_abnormal=False,
            completed_at=F("due_at"),
        )
