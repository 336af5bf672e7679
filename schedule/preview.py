"""What schedule a participant with a given consent date and first-infusion date would get.

`schedule_preview` is pure: it works on a protocol in the shape of
schedule.services.protocol_as_data() and on two dates, with no database and no clock, so a study
manager can check an amendment's windows against real dates before loading it. `protocol_preview`
is the one entry point that reads a stored protocol version and hands it to `schedule_preview`.
"""

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from participants.spreadsheets import spreadsheet_cell
from schedule.models import Anchor, ProtocolVersion, VisitKind
from schedule.services import (
    protocol_as_data,
    protocol_current,
    protocol_problems,
)
from schedule.services.first_infusion_dates import first_infusion_date_check
from schedule.windows import Window, window_for

COLUMNS = ("code", "name", "target_date", "window_start", "window_end", "assessments")
SAFETY_MARK = "(S)"


@dataclass(frozen=True)
class PreviewRow:
    code: str
    name: str
    kind: str
    anchor: str
    window: Window
    assessments: tuple[str, ...]  # codes, safety ones marked "(S)"

    def values(self, joiner: str = " ") -> dict[str, str]:
        return {
            "code": self.code,
            "name": self.name,
            "target_date": self.window.target.isoformat(),
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
            "assessments": joiner.join(self.assessments),
        }


@dataclass
class Preview:
    protocol_version: int
    rows: list[PreviewRow]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_csv(self) -> str:
        """CSV with a header row; assessments separated by ";" so the column stays one field.
        A protocol's text (a visit name) goes through spreadsheet_cell: never a live formula."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: spreadsheet_cell(v) for k, v in row.values(";").items()})
        return out.getvalue()

    def as_table(self) -> str:
        """Aligned columns for a terminal; the last (assessments) column is left ragged."""
        lines = [dict(zip(COLUMNS, COLUMNS, strict=True))] + [r.values() for r in self.rows]
        widths = {c: max(len(line[c]) for line in lines) for c in COLUMNS[:-1]}
        text = []
        for i, line in enumerate(lines):
            text.append(
                "  ".join(line[c].ljust(widths[c]) for c in COLUMNS[:-1])
                + "  "
                + line["assessments"]
            )
            if i == 0:
                text.append("  ".join("-" * widths[c] for c in COLUMNS[:-1]) + "  " + "-" * 11)
        return "\n".join(line.rstrip() for line in text) + "\n"


def _assessment_label(assessment) -> str:
    code, _name, is_safety, _extra = assessment
    return f"{code}{SAFETY_MARK}" if is_safety else code


def _span(window: Window) -> str:
    if window.start == window.end:
        return f"{window.start:%Y-%m-%d}"
    return f"{window.start:%Y-%m-%d} – {window.end:%Y-%m-%d}"


def cross_anchor_warnings(rows: list[PreviewRow]) -> list[str]:
    """Clashes between consent-anchored and first-infusion-anchored visits.

    protocol_problems only compares visits sharing an anchor, because the gap between C0 and D0
    is chosen per participant; these clashes therefore exist only for a given pair of dates.
    """
    warnings = []
    by_consent = [r for r in rows if r.anchor == Anchor.CONSENT]
    by_infusion = [r for r in rows if r.anchor == Anchor.FIRST_INFUSION]
    for c in by_consent:
        for d in by_infusion:
            if c.window.target >= d.window.target:
                warnings.append(
                    f"{c.code} (target {c.window.target:%Y-%m-%d}) would fall on or after "
                    f"{d.code} (target {d.window.target:%Y-%m-%d})."
                )
            elif c.window.overlaps(d.window):
                warnings.append(
                    f"The {c.code} window ({_span(c.window)}) overlaps {d.code} ({_span(d.window)})."
                )
    return warnings


def schedule_preview(
    data: dict,
    consent_on: dt.date,
    first_infusion_on: dt.date | None = None,
    *,
    protocol_errors: list[str] | tuple = (),
    today: dt.date | None = None,
) -> Preview:
    """The visits of protocol `data` laid out from C0 (and D0, when given), sorted by date.

    Event- and withdrawal-anchored visits (UNS, ET) have no date until the event, so they are not
    listed. Without a first-infusion date only the consent-anchored visits are. The dates are
    checked by first_infusion_date_check, as planning D0 checks them (`today`: the day to check
    a past D0 against; None skips that check).
    """
    anchors = {Anchor.CONSENT: consent_on}
    if first_infusion_on is not None:
        anchors[Anchor.FIRST_INFUSION] = first_infusion_on
    rows = []
    for order, visit in enumerate(data["visits"]):
        anchor_date = anchors.get(visit["anchor"])
        if anchor_date is None:
            continue
        window = window_for(anchor_date, visit["offset"], visit["before"], visit["after"])
        row = PreviewRow(
            code=visit["code"],
            name=visit["name"],
            kind=visit.get("kind", VisitKind.STANDARD),
            anchor=visit["anchor"],
            window=window,
            assessments=tuple(_assessment_label(a) for a in visit["assessments"]),
        )
        rows.append((window.target, order, row))
    rows = [row for _target, _order, row in sorted(rows, key=lambda t: t[:2])]
    errors, warnings = list(protocol_errors), []
    if first_infusion_on is not None:
        apheresis = next((r for r in rows if r.kind == VisitKind.APHERESIS), None)
        check = first_infusion_date_check(
            consent_on,
            first_infusion_on,
            leukapheresis_on=apheresis.window.target if apheresis else None,
            today=today,
        )
        errors += check.errors
        warnings = check.warnings
    warnings = [] if errors else cross_anchor_warnings(rows) + warnings
    return Preview(protocol_version=data["version"], rows=rows, errors=errors, warnings=warnings)


def protocol_preview(
    consent_on: dt.date,
    first_infusion_on: dt.date | None = None,
    *,
    version: int | None = None,
    today: dt.date | None = None,
) -> Preview:
    """The preview under stored protocol `version` (default: the current one).

    Raises ProtocolVersion.DoesNotExist for an unknown version and ValidationError when there is
    no active protocol at all.
    """
    protocol = (
        protocol_current() if version is None else ProtocolVersion.objects.get(version=version)
    )
    return schedule_preview(
        protocol_as_data(protocol),
        consent_on,
        first_infusion_on,
        protocol_errors=protocol_problems(protocol),
        today=today,
    )
