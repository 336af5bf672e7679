"""manage.py schedule_preview: the schedule a participant with given dates would get."""

import csv
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from schedule import services
from schedule.models import VisitDefinition
from schedule.preview import schedule_preview
from schedule.protocols.v1 import PROTOCOL

# Consent 5 Jan 2026, first infusion 20 Feb 2026 (46 days later), protocol v1. Worked out by hand
# from PROTOCOL.md: C0 + offset for SCR/APH, D0 + offset for the rest, window = target -/+ days.
EXPECTED = {
    # code: (target, window start, window end)
    "SCR": ("2026-01-05", "2026-01-05", "2026-01-19"),
    "APH": ("2026-02-02", "2026-01-20", "2026-02-12"),
    "INF1": ("2026-02-20", "2026-02-20", "2026-02-20"),
    "INF2": ("2026-02-27", "2026-02-25", "2026-03-01"),
    "INF3": ("2026-03-06", "2026-03-04", "2026-03-08"),
    "INF4": ("2026-03-13", "2026-03-11", "2026-03-15"),
    "INF5": ("2026-03-20", "2026-03-18", "2026-03-22"),
    "INF6": ("2026-03-27", "2026-03-25", "2026-03-29"),
    "EOT": ("2026-04-11", "2026-04-08", "2026-04-14"),
    "M2": ("2026-04-21", "2026-04-16", "2026-04-26"),
    "M3": ("2026-05-21", "2026-05-14", "2026-05-28"),
    "M6": ("2026-08-19", "2026-08-05", "2026-09-02"),
    "M9": ("2026-11-17", "2026-11-03", "2026-12-01"),
    "M12": ("2027-02-20", "2027-02-06", "2027-03-06"),
}


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("schedule_preview", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_csv_lists_every_visit_with_its_exact_dates(protocol):
    out, err = run("--consent", "2026-01-05", "--first-infusion", "2026-02-20", "--format", "csv")

    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["code"] for r in rows] == list(EXPECTED)
    for row in rows:
        assert (row["target_date"], row["window_start"], row["window_end"]) == EXPECTED[
            row["code"]
        ], row["code"]
    assert err == ""


def test_csv_marks_safety_assessments_and_leaves_out_event_visits(protocol):
    out, _ = run("--consent", "2026-01-05", "--first-infusion", "2026-02-20", "--format", "csv")

    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(out))}
    aph = rows["APH"]["assessments"].split(";")
    assert aph == ["VS(S)", "CBC(S)", "PREG(S)", "AE(S)", "CM"]
    assert "CRS_ICANS(S)" in rows["INF3"]["assessments"].split(";")
    assert "SLEDAI" in rows["M3"]["assessments"].split(";")  # efficacy: not marked
    assert rows["SCR"]["name"] == "Screening"
    assert "UNS" not in rows and "ET" not in rows


def test_without_first_infusion_only_consent_anchored_visits(protocol):
    out, _ = run("--consent", "2026-01-05", "--format", "csv")

    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["code"], r["target_date"]) for r in rows] == [
        ("SCR", "2026-01-05"),
        ("APH", "2026-02-02"),
    ]


def test_table_has_aligned_columns(protocol):
    out, _ = run("--consent", "2026-01-05", "--first-infusion", "2026-02-20")

    lines = out.splitlines()
    assert lines[0].split() == list(
        ("code", "name", "target_date", "window_start", "window_end", "assessments")
    )
    column = lines[0].index("target_date")
    for line in lines[2:]:
        assert line[column : column + 10] in {t for t, _, _ in EXPECTED.values()}
    eot = next(line for line in lines if line.startswith("EOT "))
    assert "2026-04-11" in eot and "VS(S)" in eot and "IGG(S)" in eot


def test_consent_more_than_59_days_before_first_infusion_is_an_error(protocol):
    with pytest.raises(CommandError, match=r"64 days before the first infusion.*at most 59"):
        run("--consent", "2026-01-05", "--first-infusion", "2026-03-10")


def test_59_days_is_still_allowed(protocol):
    out, _ = run("--consent", "2026-01-05", "--first-infusion", "2026-03-05", "--format", "csv")
    assert "INF1,Infusion 1,2026-03-05" in out


def test_first_infusion_before_consent_is_an_error(protocol):
    with pytest.raises(CommandError, match="must come after the consent date"):
        run("--consent", "2026-01-05", "--first-infusion", "2026-01-04")


def test_short_apheresis_to_first_infusion_gap_is_a_warning_not_an_error(protocol):
    # APH target is 2 Feb; INF1 on 10 Feb is 8 days later and inside the APH window.
    out, err = run("--consent", "2026-01-05", "--first-infusion", "2026-02-10")

    assert "8 days after the planned leukapheresis" in err
    assert "APH window (2026-01-20 – 2026-02-12) overlaps INF1 (2026-02-10)" in err
    assert "INF1" in out  # the schedule is still printed


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--consent", "05/01/2026"], "--consent"),
        (["--consent", "2026-01-05", "--first-infusion", "2026-02-30"], "--first-infusion"),
    ],
)
def test_bad_date_names_the_option(protocol, args, option):
    with pytest.raises(CommandError, match=f"{option}: .* is not a date; use YYYY-MM-DD"):
        run(*args)


def test_unknown_protocol_version_is_an_error(protocol):
    with pytest.raises(CommandError, match="no protocol version 9"):
        run("--consent", "2026-01-05", "--protocol-version", "9")


def test_protocol_with_overlapping_windows_is_an_error(protocol):
    amendment = services.protocol_load({**PROTOCOL, "version": 2, "name": "v2"})
    # Edited after loading (as the admin could): INF3's window now reaches back into INF2's.
    VisitDefinition.objects.filter(protocol=amendment, code="INF3").update(window_before=6)

    with pytest.raises(CommandError, match="Protocol v2: The windows of INF2 and INF3 overlap"):
        run("--consent", "2026-01-05", "--first-infusion", "2026-02-20", "--protocol-version", "2")


def test_apheresis_after_first_infusion_is_warned_about():
    # Pure function: D0 three weeks after consent puts the APH target (C0+28) after INF1.
    preview = schedule_preview(PROTOCOL, dt.date(2026, 1, 5), dt.date(2026, 1, 26))
    assert any("APH (target 2026-02-02) would fall on or after INF1" in w for w in preview.warnings)
    assert not preview.errors


def test_preview_reads_the_protocol_in_a_few_queries(protocol, django_assert_max_num_queries):
    # Protocol, its visits, their assessments (prefetched), and the protocol check.
    with django_assert_max_num_queries(4):
        out, _ = run("--consent", "2026-01-05", "--first-infusion", "2026-02-20")
    assert out.count("\n") == 2 + len(EXPECTED)
