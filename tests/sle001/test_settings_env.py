"""sle001/env.py: settings read from the environment, with quick-start defaults, and bad values
refused at start-up naming the variable."""

import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from sle001.env import (
    env_bool,
    env_choice,
    env_database,
    env_int,
    env_int_list,
    env_list,
    env_str,
    env_time_zone,
    env_url,
)
from tests.support import REPO_ROOT

ROOT = REPO_ROOT


# --- Bad values name the variable ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "read", "says"),
    [
        ("DATABASE_URL", "mysql://u@db/sle001", lambda: env_database("DATABASE_URL", "sqlite://"), "only sqlite:// and postgres://"),
        ("DATABASE_URL", "mongodb://db/sle001", lambda: env_database("DATABASE_URL", "sqlite://"), "is not a database URL"),
        ("DEBUG", "maybe", lambda: env_bool("DEBUG", True), "is not a boolean"),
        ("EMAIL_PORT", "abc", lambda: env_int("EMAIL_PORT", 25, minimum=1), "is not a whole number"),
        ("EMAIL_PORT", "0", lambda: env_int("EMAIL_PORT", 25, minimum=1), "must be at least 1"),
        ("TIME_ZONE", "Mars/Base", lambda: env_time_zone("TIME_ZONE", "UTC"), "is not an IANA time zone"),
        ("TIME_ZONE", "../etc/passwd", lambda: env_time_zone("TIME_ZONE", "UTC"), "is not an IANA time zone"),
        ("REMINDER_DAYS_BEFORE", "7,x", lambda: env_int_list("REMINDER_DAYS_BEFORE", [7, 1]), "whole numbers separated by commas"),
        ("REMINDER_DAYS_BEFORE", "7,-1", lambda: env_int_list("REMINDER_DAYS_BEFORE", [7, 1]), "negative"),
        ("EMAIL_BACKEND", "pigeon", lambda: env_choice("EMAIL_BACKEND", "file", ("file", "smtp")), "is not one of: file, smtp"),
        ("CELERY_BROKER_URL", "amqp://rabbit", lambda: env_url("CELERY_BROKER_URL", "filesystem://", ("filesystem", "redis")), "must start with one of"),
    ],
)  # fmt: skip
def test_bad_value_is_refused_naming_the_variable(monkeypatch, name, value, read, says):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured) as refused:
        read()
    message = str(refused.value)
    assert message.startswith(f"{name}=")
    assert says in message


# --- Good values are read ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("YES", True), (" on ", True), ("1", True), ("false", False), ("0", False), ("Off", False)],
)  # fmt: skip
def test_booleans_in_the_usual_words(monkeypatch, value, expected):
    monkeypatch.setenv("DEBUG", value)
    assert env_bool("DEBUG", not expected) is expected


def test_good_values_are_read(monkeypatch):
    monkeypatch.setenv("EMAIL_PORT", "2525")
    monkeypatch.setenv("REMINDER_DAYS_BEFORE", "14, 7,1")
    monkeypatch.setenv("TIME_ZONE", "Europe/Berlin")
    monkeypatch.setenv("ALLOWED_HOSTS", "tracker.example.org, localhost,")
    monkeypatch.setenv("EMAIL_BACKEND", " SMTP ")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")
    assert env_int("EMAIL_PORT", 25, minimum=1) == 2525
    assert env_int_list("REMINDER_DAYS_BEFORE", [7, 1]) == [14, 7, 1]
    assert env_time_zone("TIME_ZONE", "UTC") == "Europe/Berlin"
    assert env_list("ALLOWED_HOSTS", []) == ["tracker.example.org", "localhost"]
    assert env_choice("EMAIL_BACKEND", "file", ("file", "smtp")) == "smtp"
    assert env_url("CELERY_BROKER_URL", "filesystem://", ("filesystem", "redis")).endswith("/3")


def test_postgres_database_url_is_parsed(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sle001_x")
    config = env_database("DATABASE_URL", "sqlite://")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["HOST"], config["PORT"]) == ("sle001_x", "127.0.0.1", 5432)


# --- Defaults are the embedded quick start ---------------------------------------------------------


QUICK_START_VARS = [
    "DATABASE_URL",
    "DEBUG",
    "EMAIL_BACKEND",
    "EMAIL_PORT",
    "TIME_ZONE",
    "REMINDER_DAYS_BEFORE",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "STUDY_DAY_LABEL",
]


def test_readers_return_their_defaults_when_the_variable_is_unset(monkeypatch):
    for name in QUICK_START_VARS:
        monkeypatch.delenv(name, raising=False)
    assert env_database("DATABASE_URL", "sqlite:////tmp/q/db.sqlite3")["ENGINE"].endswith("sqlite3")
    assert env_bool("DEBUG", True) is True
    assert env_int("EMAIL_PORT", 25, minimum=1) == 25
    assert env_time_zone("TIME_ZONE", "UTC") == "UTC"
    assert env_int_list("REMINDER_DAYS_BEFORE", [7, 1]) == [7, 1]
    assert env_choice("EMAIL_BACKEND", "file", ("file", "smtp")) == "file"
    assert env_url("CELERY_BROKER_URL", "filesystem://", ("filesystem",)) == "filesystem://"
    assert env_str("SECRET_KEY", "dev") == "dev"


def test_an_empty_database_url_means_the_default(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "")
    assert (
        env_database("DATABASE_URL", "sqlite:////tmp/q/db.sqlite3")["NAME"] == "/tmp/q/db.sqlite3"
    )


_PRINT_SETTINGS = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "sle001.settings"
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "debug": settings.DEBUG,
    "broker": settings.CELERY_BROKER_URL, "email": settings.EMAIL_BACKEND,
    "email_port": settings.EMAIL_PORT, "tz": settings.TIME_ZONE,
    "reminders": settings.REMINDER_DAYS_BEFORE, "study_day": settings.STUDY_DAY_LABEL,
}))
"""


def _settings_in_clean_environment(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if k not in QUICK_START_VARS}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    clean.update(VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", _PRINT_SETTINGS],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_with_no_environment_are_the_embedded_quick_start(tmp_path):
    run = _settings_in_clean_environment(tmp_path)
    assert run.returncode == 0, run.stderr
    values = json.loads(run.stdout)
    assert values == {
        "engine": "django.db.backends.sqlite3",
        "name": str(tmp_path / "db.sqlite3"),
        "debug": True,
        "broker": "filesystem://",
        "email": "django.core.mail.backends.filebased.EmailBackend",
        "email_port": 25,
        "tz": "UTC",
        "reminders": [7, 1],
        "study_day": "day0",
    }


def test_settings_refuse_to_start_with_a_bad_value_naming_it(tmp_path):
    run = _settings_in_clean_environment(tmp_path, REMINDER_DAYS_BEFORE="7,x")
    assert run.returncode != 0
    assert "ImproperlyConfigured: REMINDER_DAYS_BEFORE='7,x'" in run.stderr


@pytest.mark.django_db
def test_postgresql_connections_plan_for_a_database_held_in_memory():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner settings (the suite runs on PostgreSQL in CI too)")
    with connection.cursor() as cursor:
        shown = {}
        for name in ("jit", "max_parallel_workers_per_gather", "random_page_cost"):
            cursor.execute(f"SHOW {name}")
            shown[name] = cursor.fetchone()[0]
    assert shown == {
        "jit": "off",
        "max_parallel_workers_per_gather": "0",
        "random_page_cost": "1.1",
    }
