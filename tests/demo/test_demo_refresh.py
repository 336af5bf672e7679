"""The demo stays live (issue 13, item 5): demo participants made on an earlier day are rebuilt
around today by seed_demo (or on request with --refresh), so the worklist is never empty on a
later day; the same day nothing changes; a site that is not the demo's is never cleared."""

import datetime as dt
import io

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command

from demo.refresh import demo_built_at, demo_participants_remove
from participants.models import Participant, Site
from participants.services.dates import site_today
from schedule.models import Visit
from tests.support import consent, coordinator_at

NOW = dt.datetime(2026, 3, 10, 14, 30, tzinfo=dt.UTC)


def seed(at: dt.datetime, *args) -> str:
    out = io.StringIO()
    with time_machine.travel(at, tick=False):
        call_command("seed_demo", "--password", "pw", *args, stdout=out)
    return out.getvalue()


def demo_ids() -> set[int]:
    return set(Participant.objects.values_list("pk", flat=True))


def due_today_at(at: dt.datetime) -> int:
    with time_machine.travel(at, tick=False):
        today = {s.pk: site_today(s) for s in Site.objects.all()}
        return Visit.objects.due_on(today).count()


@pytest.mark.django_db
def test_a_demo_made_on_an_earlier_day_is_rebuilt_around_today(protocol):
    seed(NOW)
    first = demo_ids()
    later = NOW + dt.timedelta(days=9)

    output = seed(later)

    assert f"Removed {len(first)} demo participants made on an earlier day" in output
    assert demo_ids() and demo_ids().isdisjoint(first)
    sites = {s.code: s for s in Site.objects.all()}
    assert demo_built_at(sites).date() == later.date()
    assert due_today_at(later) > 0, "the worklist has visits due today again"


@pytest.mark.django_db
def test_the_same_day_nothing_is_rebuilt_and_refresh_forces_it(protocol):
    seed(NOW)
    first = demo_ids()
    same_day = NOW + dt.timedelta(hours=3)  # still 10 March at S01 and S02, 11 March at S03

    again = seed(same_day)
    assert "already have participants" in again and "Removed" not in again
    assert demo_ids() == first

    forced = seed(same_day, "--refresh")
    assert "(or --refresh)" in forced
    assert demo_ids().isdisjoint(first) and len(demo_ids()) == len(first)


@pytest.mark.django_db
def test_a_site_that_is_not_the_demos_is_never_cleared(protocol):
    real = Site.objects.create(
        code="S01", name="Real hospital", time_zone="America/New_York", enrollment_target=5
    )
    with time_machine.travel(NOW, tick=False):
        p = consent(real, coordinator_at(real), NOW.date())
    with pytest.raises(ValidationError, match="S01 are not the demo's sites"):
        demo_participants_remove({"S01": real})
    assert Participant.objects.filter(pk=p.pk).exists()
