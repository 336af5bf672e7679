"""The enrollment figures as tables (the page, its CSV/XLSX downloads, the email), as one long CSV
of every figure (the email's attachment, `enrollment_report --format csv`) and as JSON
(`--format json`). All of them are rendered from the one dict reports.selectors returns, so they
cannot disagree. Every cell goes through participants.spreadsheets (no text runs as a formula).
"""

import csv
import io
import json
from dataclasses import dataclass

from participants.models import Status
from participants.spreadsheets import spreadsheet_row

COUNT_LABELS = {
    "screenings": "Consented (screenings)",
    "consented_people": "Consented (people; a re-screen once)",
    "rescreens": "Re-screens",
    "screen_failed": "Screen failed",
    "enrolled": "Enrolled",
    "leukapheresis_done": "Leukapheresis done (people)",
    "leukapheresis_procedures": "Leukapheresis procedures (repeats included)",
    "manufacturing_failures": "Manufacturing failures",
    "treated": "Treated (at least one infusion)",
    "completed_treatment": "Completed treatment (six infusions)",
    "treatment_stopped_early": "Treatment stopped early",
    "in_follow_up": "Entered follow-up",
    "completed_study": "Completed the study",
    "withdrawn": "Withdrawn",
    "lost_to_follow_up": "Lost to follow-up",
    "reinstated": "Reinstated after loss to follow-up",
    "died": "Died",
}
TALLY_LABELS = {
    "screen_failed_criteria": "Screen failure: criterion not met",
    "treatment_stopped_reasons": "Treatment stopped early: reason",
    "withdrawal_reasons": "Withdrawal: reason",
}
MEDIAN_LABELS = {
    "consent_to_enrollment": "Median days consent to enrollment",
    "enrollment_to_leukapheresis": "Median days enrollment to leukapheresis",
    "leukapheresis_to_first_infusion": "Median days leukapheresis to first infusion",
}
CSV_HEADER = ["site", "figure", "period", "value"]


@dataclass
class Table:
    key: str  # ?_table=<key> downloads it
    title: str
    headers: list[str]
    rows: list[list]


def scopes(report: dict) -> list[dict]:
    return [*report["sites"], report["total"]]


def _projection_text(projection: dict) -> str:
    if projection["status"] == "projected":
        return f"{projection['date']} (at {projection['per_month']} a month)"
    if projection["status"] == "reached":
        return f"reached on {projection['date']}"
    return projection["status"]


def tables(report: dict) -> list[Table]:
    """Every table of the page, in its order."""
    every = scopes(report)
    codes = [scope["site"] for scope in every]
    counts = Table(
        "counts",
        f"Counts: new in {report['month']} and to {report['last_day']}",
        ["Figure", *[f"{code} {half}" for code in codes for half in ("month", "to date")]],
        [
            [
                label,
                *[scope["counts"][key][half] for scope in every for half in ("month", "to_date")],
            ]
            for key, label in COUNT_LABELS.items()
        ],
    )
    target = Table(
        "target",
        "Enrollment against target, rates and times",
        [
            "Site",
            "Target",
            "Enrolled",
            "% of target",
            "Screen-failure rate %",
            *MEDIAN_LABELS.values(),
            "First consent",
            "Months since first consent",
            "Target date at the last 3 months' rate",
        ],
        [
            [
                scope["site"],
                scope["target"],
                scope["enrollment_vs_target"]["enrolled"],
                scope["enrollment_vs_target"]["percent"],
                scope["screen_failure_rate_percent"],
                *[scope["median_days"][key] for key in MEDIAN_LABELS],
                scope["first_consent_on"],
                scope["months_since_first_consent"],
                _projection_text(scope["projection"]),
            ]
            for scope in every
        ],
    )
    statuses = Table(
        "status",
        f"Status on {report['last_day']}",
        ["Status", *codes],
        [
            [label, *[scope["status_at_month_end"][value] for scope in every]]
            for value, label in Status.choices
        ],
    )
    tallies = Table(
        "tallies",
        "Reasons",
        ["Site", "What", "Criterion or reason", "Month", "To date"],
        [
            [scope["site"], TALLY_LABELS[key], reason, tally["month"].get(reason, 0), n]
            for scope in every
            for key, tally in scope["tallies"].items()
            for reason, n in tally["to_date"].items()
        ],
    )
    months = [point["month"] for point in report["total"]["accrual"]]
    accrual = Table(
        "accrual",
        "Cumulative enrollment by month",
        ["Month", *codes],
        [
            [
                month,
                *[
                    next((p["enrolled_to_date"] for p in s["accrual"] if p["month"] == month), 0)
                    for s in every
                ],
            ]
            for month in months
        ],
    )
    return [counts, target, statuses, tallies, accrual]


def figure_rows(report: dict):
    """Every figure as (site, figure, period, value): one row each, so a script reads any figure
    without knowing the layout. Periods: month, to_date, month_end (a state on the last day)."""
    for scope in scopes(report):
        site = scope["site"]
        yield site, "target", "to_date", scope["target"]
        for key, pair in scope["counts"].items():
            yield site, key, "month", pair["month"]
            yield site, key, "to_date", pair["to_date"]
        for key, tally in scope["tallies"].items():
            for period in ("month", "to_date"):
                for reason, n in tally[period].items():
                    yield site, f"{key}:{reason}", period, n
        for status, n in scope["status_at_month_end"].items():
            yield site, f"status:{status}", "month_end", n
        yield (
            site,
            "enrollment_percent_of_target",
            "to_date",
            scope["enrollment_vs_target"]["percent"],
        )
        yield site, "screen_failure_rate_percent", "to_date", scope["screen_failure_rate_percent"]
        for key, days in scope["median_days"].items():
            yield site, f"median_days:{key}", "to_date", days
        yield site, "first_consent_on", "to_date", scope["first_consent_on"]
        yield site, "months_since_first_consent", "to_date", scope["months_since_first_consent"]
        for key, value in scope["projection"].items():
            yield site, f"projection:{key}", "to_date", value
        for point in scope["accrual"]:
            yield site, f"accrual:{point['month']}", "month_end", point["enrolled_to_date"]
        consort = scope["consort"]
        for key in ("assessed", "excluded", "in_screening", "completed_treatment", "stopped_early"):
            yield site, f"consort:{key}", "to_date", consort[key]
        for step in consort["steps"]:
            yield site, f"consort:{step['step']}", "to_date", step["n"]


def as_csv(report: dict) -> str:
    """Every figure, one per line (figure_rows); empty cells for figures with no value yet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in figure_rows(report):
        writer.writerow(spreadsheet_row(["" if cell is None else cell for cell in row]))
    return out.getvalue()


def as_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=False)


def as_text(report: dict) -> str:
    """The counts table and the target table as fixed-width text (the command's default)."""
    lines = [f"SLE-001 enrollment report, {report['month']} (to {report['last_day']})", ""]
    for table in tables(report)[:2]:
        lines.append(table.title)
        widths = [
            max(len(str(cell)) for cell in column)
            for column in zip(table.headers, *table.rows, strict=True)
        ]
        for row in [table.headers, *table.rows]:
            cells = ["-" if cell is None else str(cell) for cell in row]
            lines.append(
                "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            )
        lines.append("")
    return "\n".join(lines)
