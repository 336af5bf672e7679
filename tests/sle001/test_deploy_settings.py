"""Production settings (DEBUG=false): `manage.py check --deploy` passes at WARNING level, and HTTPS,
cookies, the idle timeout, HSTS and the Content-Security-Policy are what README "Production"
says; the quick start (DEBUG) keeps plain http. Each case runs in a subprocess with its own
environment (settings are read once, at start-up)."""

import json
import os
import secrets
import subprocess
import sys

import pytest

from tests.sle001.test_settings_env import QUICK_START_VARS
from tests.support import REPO_ROOT

SECURITY_VARS = [
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "TRUST_X_FORWARDED_PROTO",
    "SESSION_IDLE_MINUTES",
    "LOGIN_FAILURE_LIMIT",
    "LOGIN_LOCKOUT_MINUTES",
    "HEALTHZ_TOKEN",
    "SITE_URL",
    "DATABASE_URL",
]


def production(tmp_path, **env) -> dict:
    """The environment of a production start: DEBUG=false, a real-looking secret, https."""
    clean = {k: v for k, v in os.environ.items() if k not in {*QUICK_START_VARS, *SECURITY_VARS}}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    clean.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # tests/conftest.py's, for Playwright
    clean.update(
        VAR_DIR=str(tmp_path),
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="tracker.example.org",
        SITE_URL="https://tracker.example.org",
    )
    clean.update(env)
    return clean


def run(args, env):
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_passes_at_warning_level(tmp_path):
    checked = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production(tmp_path)
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no issues" in checked.stdout


def test_check_deploy_fails_without_the_redirect_or_with_a_short_hsts(tmp_path):
    """The test above passes because the settings are right, not because nothing is checked."""
    env = production(tmp_path, SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
    checked = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert checked.returncode != 0
    assert "security.W008" in checked.stderr and "security.W004" in checked.stderr


_PRINT = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "sle001.settings"
from django.conf import settings
names = [
    "DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
    "SESSION_EXPIRE_AT_BROWSER_CLOSE", "SESSION_COOKIE_AGE", "SESSION_SAVE_EVERY_REQUEST",
    "SECURE_REFERRER_POLICY", "X_FRAME_OPTIONS", "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REDIRECT_EXEMPT", "CONTENT_SECURITY_POLICY", "AXES_FAILURE_LIMIT", "AXES_LOCKOUT_PARAMETERS", "HEALTHZ_TOKEN",
]
values = {name: getattr(settings, name) for name in names}
values["SECURE_PROXY_SSL_HEADER"] = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
values["AXES_COOLOFF_MINUTES"] = settings.AXES_COOLOFF_TIME.total_seconds() / 60
print(json.dumps(values))
"""


def settings_of(env) -> dict:
    printed = run(["-c", _PRINT], env)
    assert printed.returncode == 0, printed.stderr
    return json.loads(printed.stdout)


def test_production_values(tmp_path):
    values = settings_of(production(tmp_path))
    assert values == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": True,
        "SESSION_COOKIE_AGE": 30 * 60,
        "SESSION_SAVE_EVERY_REQUEST": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REDIRECT_EXEMPT": ["^healthz$"],
        "CONTENT_SECURITY_POLICY": {
            "DIRECTIVES": {
                "default-src": ["'self'"],
                "script-src": ["'self'"],
                "style-src": ["'self'"],
                "img-src": ["'self'", "data:"],
                "object-src": ["'none'"],
                "base-uri": ["'none'"],
                "form-action": ["'self'"],
                "frame-ancestors": ["'none'"],
            }
        },
        "AXES_FAILURE_LIMIT": 5,
        "AXES_LOCKOUT_PARAMETERS": [["username", "ip_address"]],
        "AXES_COOLOFF_MINUTES": 30.0,
        "HEALTHZ_TOKEN": "",
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_production_behind_a_tls_proxy_and_other_choices(tmp_path):
    values = settings_of(
        production(
            tmp_path,
            TRUST_X_FORWARDED_PROTO="true",
            SECURE_SSL_REDIRECT="false",
            SECURE_HSTS_SECONDS="600",
            SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
            SESSION_IDLE_MINUTES="15",
            LOGIN_FAILURE_LIMIT="3",
            LOGIN_LOCKOUT_MINUTES="60",
        )
    )
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_SSL_REDIRECT"] is False and values["SECURE_HSTS_SECONDS"] == 600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SESSION_COOKIE_AGE"] == 15 * 60
    assert (values["AXES_FAILURE_LIMIT"], values["AXES_COOLOFF_MINUTES"]) == (3, 60.0)


def test_the_quick_start_keeps_plain_http_with_the_idle_timeout_and_the_policy(tmp_path):
    env = production(tmp_path)
    for name in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SITE_URL"):
        env.pop(name)
    values = settings_of(env)
    assert values["DEBUG"] is True
    assert values["SECURE_SSL_REDIRECT"] is False and values["SECURE_HSTS_SECONDS"] == 0
    assert values["SESSION_COOKIE_SECURE"] is False and values["CSRF_COOKIE_SECURE"] is False
    assert values["SESSION_COOKIE_AGE"] == 30 * 60 and values["SESSION_SAVE_EVERY_REQUEST"]
    assert values["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["script-src"] == ["'self'"]


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SECURE_SSL_REDIRECT", "perhaps", "is not a boolean"),
        ("SECURE_HSTS_SECONDS", "a year", "is not a whole number"),
        ("SESSION_IDLE_MINUTES", "0", "must be at least 1"),
        ("LOGIN_FAILURE_LIMIT", "0", "must be at least 1"),
        ("TRUST_X_FORWARDED_PROTO", "sometimes", "is not a boolean"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path, name, value, says):
    printed = run(["-c", _PRINT], production(tmp_path, **{name: value}))
    assert printed.returncode != 0
    assert f"ImproperlyConfigured: {name}=" in printed.stderr and says in printed.stderr
