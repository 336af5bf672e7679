"""Shared fixtures: sites, staff and participants built through the real services."""

import datetime as dt
import os
import shutil
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model

# Playwright's event loop spans the whole session; Django's async-safety check would refuse ORM
# calls made from the test body while it runs.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from participants.eligibility import criteria  # noqa: E402
from participants.models import Site, StaffProfile, StaffRole  # noqa: E402
from schedule import services  # noqa: E402
from schedule.models import AssessmentStatus, ProtocolVersion  # noqa: E402
from schedule.protocols.v1 import PROTOCOL  # noqa: E402

UTC = dt.UTC


def require_service(what: str) -> None:
    """A test that needs `what` fails when REQUIRE_SERVICES=1 (CI), and skips otherwise."""
    message = f"{what} is not available"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} and REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(executable):
        require_service(f"Chromium ({executable})")
    return {
        **browser_type_launch_args,
        "executable_path": executable,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def protocol(db):
    """Protocol v1. The migration loads it, but transactional tests flush tables between tests."""
    existing = ProtocolVersion.objects.filter(version=PROTOCOL["version"]).first()
    return existing or services.protocol_load(PROTOCOL)


def make_user(username: str, role: str, sites=(), **extra):
    user = get_user_model().objects.create_user(
        username=username, password="pw-for-tests-only", email=f"{username}@example.org", **extra
    )
    profile = StaffProfile.objects.create(user=user, role=role)
    profile.sites.set(sites)
    return user


@pytest.fixture
def site(db):
    return Site.objects.create(
        code="S01", name="New York site", time_zone="America/New_York", enrollment_target=10
    )


@pytest.fixture
def site2(db):
    return Site.objects.create(
        code="S02", name="Berlin site", time_zone="Europe/Berlin", enrollment_target=10
    )


@pytest.fixture
def coordinator(site):
    return make_user("coord", StaffRole.COORDINATOR, [site], is_staff=True)


@pytest.fixture
def investigator(site):
    return make_user("invest", StaffRole.INVESTIGATOR, [site], is_staff=True)


@pytest.fixture
def manager(db):
    return make_user("manager", StaffRole.STUDY_MANAGER, is_staff=True)


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


def record_pre_dose(visit, at: dt.datetime, by, abnormal: str = ""):
    """Record every pre-dose safety item of an infusion visit as normal (or one as abnormal)."""
    for a in visit.assessments.filter(definition__pre_dose=True, status=AssessmentStatus.PENDING):
        services.assessment_record(
            a,
            result="abnormal" if a.definition.code == abnormal else "normal",
            is_abnormal=a.definition.code == abnormal,
            completed_at=at,
            by=by,
        )


@pytest.fixture
def make_consented(protocol, site, coordinator):
    def make(day: dt.date, **extra):
        return consent(extra.pop("site", site), coordinator, day, **extra)

    return make
