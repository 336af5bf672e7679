"""The security settings at work on requests: the 30-minute idle timeout, the headers on every page
(Content-Security-Policy, X-Frame-Options, nosniff), and HTTPS behind a TLS-terminating proxy.
The values themselves, with DEBUG=false, are in test_deploy_settings.py."""

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from dashboard.models import CalendarFeedToken
from tests.support import NOW, TODAY, frozen


@pytest.fixture
def idle_timeout(settings):
    """The settings' idle timeout (tests/conftest.py sets Django's defaults for the others)."""
    settings.SESSION_COOKIE_AGE = settings.SESSION_IDLE_MINUTES * 60
    settings.SESSION_SAVE_EVERY_REQUEST = True


def test_a_session_ends_after_30_idle_minutes_and_each_request_moves_it_on(
    idle_timeout, client, coordinator
):
    with time_machine.travel(NOW, tick=False):
        client.force_login(coordinator)
    for minutes in (29, 58, 87):  # each request within 30 minutes of the one before
        with time_machine.travel(NOW + dt.timedelta(minutes=minutes), tick=False):
            assert client.get("/").status_code == 200
    with time_machine.travel(NOW + dt.timedelta(minutes=87 + 31), tick=False):
        response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_session_cookie_ends_with_the_browser_and_is_not_readable_by_scripts(
    idle_timeout, client, coordinator
):
    client.force_login(coordinator)
    cookie = client.get("/").cookies["sessionid"]
    assert cookie["max-age"] == "" and cookie["expires"] == ""
    assert cookie["httponly"] is True


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_every_page_sends_the_policy_and_the_framing_and_sniffing_headers(client, url):
    response = client.get(url)
    assert response.status_code == 200  # plain http in DEBUG and tests: no redirect
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == policy["script-src"] == policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


INLINE = re.compile(r"style=|<style|<script>|<script [^>]*>[^<]|\son[a-z]+=|javascript:", re.I)


def test_no_inline_script_style_or_event_handler_in_our_pages(client, coordinator, make_consented):
    """The policy allows none (tests/dashboard/test_browser_csp.py watches a real browser)."""
    client.force_login(coordinator)
    CalendarFeedToken.objects.create(user=coordinator)
    with frozen():
        p = make_consented(TODAY)
        urls = [
            "/",
            reverse("dashboard:participants"),
            reverse("dashboard:participant", args=[p.pk]),
            reverse("dashboard:feed_settings"),
        ]
        for url in urls:
            html = client.get(url).content.decode()
            assert 'class="seg seg-screening"' in html or "participants/" not in url
            assert not INLINE.search(html), (url, INLINE.search(html))


def test_behind_a_tls_proxy_requests_are_secure_and_the_feed_url_is_https(
    settings, client, coordinator
):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    client.force_login(coordinator)
    CalendarFeedToken.objects.create(user=coordinator)

    plain = client.get(reverse("dashboard:feed_settings"))
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    proxied = {"x-forwarded-proto": "https", "host": "testserver"}
    page = client.get(reverse("dashboard:feed_settings"), headers=proxied)
    assert page.status_code == 200
    assert "https://testserver/calendar/feed/" in page.content.decode()


def test_the_load_balancer_probes_healthz_over_http_without_a_redirect(db, settings, client):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/accounts/login/").status_code == 301
    probe = client.get("/healthz")
    assert probe.status_code in (200, 503) and set(probe.json()) == {"ok"}
