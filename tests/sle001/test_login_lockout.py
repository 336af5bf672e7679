"""Log-in lockout (django-axes, settings AXES_* and sle001/lockout.py): LOGIN_FAILURE_LIMIT failed
log-ins for one username from one address lock that pair out for LOGIN_LOCKOUT_MINUTES on both
log-in pages, the right password included; every failure is recorded and logged; study managers
read the records in the admin; `manage.py axes_reset_username` unlocks."""

import datetime as dt
import io

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.core.management import call_command

from participants.models import StaffRole
from participants.roles import group_for
from tests.support import NOW, PASSWORD, make_user

DASHBOARD = "/accounts/login/"
ADMIN = "/admin/login/"
ADDRESS = "203.0.113.7"
LOCKED_PAGE = (
    "Too many failed log-ins for this account from this address. Try again in 30 minutes or ask "
    "a study manager to unlock it."
)


@pytest.fixture
def alice(site):
    return make_user("alice", StaffRole.COORDINATOR, [site], is_staff=True)


def log_in(client, page, password, *, username="alice", address=ADDRESS):
    return client.post(
        page,
        {"username": username, "password": password, "next": "/"},
        REMOTE_ADDR=address,
        HTTP_USER_AGENT="Mozilla/5.0 (X11) SecretBrowser/1.0",
    )


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail(client, page, times, **kwargs):
    return [log_in(client, page, "wrong-password", **kwargs).status_code for _ in range(times)]


@pytest.mark.parametrize("page", [DASHBOARD, ADMIN])
def test_thirty_wrong_passwords_then_the_right_one_is_refused_on_both_pages(client, alice, page):
    with time_machine.travel(NOW, tick=False):
        statuses = fail(client, page, 30)
        response = log_in(client, page, PASSWORD)

    # Four refusals on the form, then the lockout page from the fifth failure on.
    assert statuses[:4] == [200] * 4 and set(statuses[4:]) == {429}
    assert response.status_code == 429 and not logged_in(client)
    page_html = response.content.decode()
    assert LOCKED_PAGE in page_html
    assert "dashboard/dashboard.css" in page_html  # the tracker's layout, not a bare error
    assert 'role="alert"' in page_html


def test_under_the_limit_the_right_password_logs_in_and_starts_the_count_again(client, alice):
    with time_machine.travel(NOW, tick=False):
        assert fail(client, DASHBOARD, 4) == [200] * 4
        assert log_in(client, DASHBOARD, PASSWORD).status_code == 302 and logged_in(client)
        client.logout()
        assert fail(client, DASHBOARD, 4) == [200] * 4
        assert log_in(client, DASHBOARD, PASSWORD).status_code == 302


def test_the_lockout_is_per_username_and_address(client, alice, site):
    make_user("bob", StaffRole.COORDINATOR, [site], is_staff=True)
    with time_machine.travel(NOW, tick=False):
        fail(client, DASHBOARD, 5)
        # Alice from her own desk, and Bob from the address that failed, still log in.
        assert log_in(client, DASHBOARD, PASSWORD, address="198.51.100.20").status_code == 302
        client.logout()
        assert log_in(client, DASHBOARD, PASSWORD, username="bob").status_code == 302
        client.logout()
        assert log_in(client, ADMIN, PASSWORD).status_code == 429  # the admin's page too


def test_the_lockout_ends_after_the_cool_off(client, alice):
    with time_machine.travel(NOW, tick=False):
        fail(client, DASHBOARD, 5)
    with time_machine.travel(NOW + dt.timedelta(minutes=29), tick=False):
        assert log_in(client, DASHBOARD, PASSWORD).status_code == 429
    # Trying while locked out restarted the wait: 30 minutes from that last attempt.
    with time_machine.travel(NOW + dt.timedelta(minutes=58), tick=False):
        assert log_in(client, DASHBOARD, PASSWORD).status_code == 429
    with time_machine.travel(NOW + dt.timedelta(minutes=89), tick=False):
        assert log_in(client, DASHBOARD, PASSWORD).status_code == 302


def test_limit_and_minutes_come_from_the_settings(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.LOGIN_LOCKOUT_MINUTES = 10
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=10)
    with time_machine.travel(NOW, tick=False):
        assert fail(client, DASHBOARD, 2) == [200, 429]
        assert "Try again in 10 minutes" in log_in(client, DASHBOARD, PASSWORD).content.decode()
    with time_machine.travel(NOW + dt.timedelta(minutes=11), tick=False):
        assert log_in(client, DASHBOARD, PASSWORD).status_code == 302


def test_every_failure_and_the_lockout_are_recorded_and_logged_with_username_and_address(
    client, alice, caplog
):
    with time_machine.travel(NOW, tick=False), caplog.at_level("WARNING", logger="axes"):
        fail(client, DASHBOARD, 3)
        fail(client, ADMIN, 2)
        log_in(client, DASHBOARD, PASSWORD)  # refused: recorded as a failure too

    failures = list(AccessFailureLog.objects.order_by("pk"))
    assert [(f.username, f.ip_address) for f in failures] == [("alice", ADDRESS)] * 6
    assert [f.locked_out for f in failures] == [False] * 4 + [True] * 2
    assert [f.path_info for f in failures[2:4]] == [DASHBOARD, ADMIN]
    attempt = AccessAttempt.objects.get()
    assert attempt.failures_since_start == 6 and "wrong-password" not in attempt.post_data

    lines = [r.getMessage() for r in caplog.records if r.name.startswith("axes")]
    assert any("Locking out username 'alice' from 203.0.113.7" in line for line in lines)
    assert sum("failure by username 'alice' from 203.0.113.7" in line for line in lines) == 6
    assert not any("SecretBrowser" in line or "path" in line.lower() for line in lines)


def test_axes_reset_username_unlocks(client, alice):
    with time_machine.travel(NOW, tick=False):
        fail(client, ADMIN, 5)
        out = io.StringIO()
        call_command("axes_reset_username", "alice", stdout=out)
        assert "1 attempts removed" in out.getvalue()
        assert log_in(client, ADMIN, PASSWORD).status_code == 302 and logged_in(client)
    assert AccessFailureLog.objects.filter(locked_out=True).count() == 1  # the record stays


def test_study_managers_read_the_records_in_the_admin_and_change_nothing(client, alice, manager):
    manager.groups.add(group_for(StaffRole.STUDY_MANAGER))  # as add_staff does
    alice.groups.add(group_for(StaffRole.COORDINATOR))
    with time_machine.travel(NOW, tick=False):
        fail(client, DASHBOARD, 5)
        failure = AccessFailureLog.objects.filter(locked_out=True).get()
        attempt = AccessAttempt.objects.get()

        client.force_login(manager)
        listing = client.get("/admin/axes/accessfailurelog/")
        assert listing.status_code == 200 and ADDRESS in listing.content.decode()
        detail = client.get(f"/admin/axes/accessfailurelog/{failure.pk}/change/").content.decode()
        assert "alice" in detail and 'name="_save"' not in detail
        attempts = client.get("/admin/axes/accessattempt/")
        assert attempts.status_code == 200
        assert "cleanup_expired_attempts" not in attempts.content.decode()  # needs delete
        delete = f"/admin/axes/accessattempt/{attempt.pk}/delete/"
        assert client.post(delete, {"post": "yes"}).status_code == 403
        assert AccessAttempt.objects.filter(pk=attempt.pk).exists()  # still locked out

        client.force_login(alice)  # a coordinator does not see them at all
        assert client.get("/admin/axes/accessfailurelog/").status_code == 403
