"""The monthly enrollment report page (/reports/enrollment/?month=YYYY-MM): the figures, the
CONSORT flow and the accrual chart (SVG, drawn on the server), a month picker, a print layout, and
downloads (every figure as CSV or JSON, each table as CSV, every table as XLSX).

Per-site scoped through participants.access: study managers and monitors see every site and the
trial's target; a coordinator or investigator their own sites. The figures, pictures and tables
come from reports/ (the same ones the monthly email sends).
"""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from tablib import Databook, Dataset

from participants import access
from participants.spreadsheets import spreadsheet_row
from reports import pictures, tabular
from reports.figures import add_months, month_of
from reports.selectors import enrollment_figures

EARLIEST_MONTH = dt.date(2020, 1, 1)  # clinical dates start on 1 Jan 2020 (README "Input")
PICTURES = {"consort": pictures.consort_picture, "accrual": pictures.accrual_picture}
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def this_month() -> dt.date:
    zone = zoneinfo.ZoneInfo(settings.STUDY_TIME_ZONE)
    return timezone.now().astimezone(zone).date().replace(day=1)


def chosen_month(raw: str | None) -> tuple[dt.date, str]:
    """(the month asked for, or last month; why the one asked for was not taken, or "")."""
    latest = this_month()
    default = add_months(latest, -1)
    if not raw:
        return default, ""
    try:
        first = month_of(raw.strip())
    except ValueError:
        return default, f"“{raw[:20]}” is not a month: pick one like {default:%Y-%m}."
    if not EARLIEST_MONTH <= first <= latest:
        return default, (
            f"{first:%B %Y} is outside the study: pick a month from "
            f"{EARLIEST_MONTH:%B %Y} to {latest:%B %Y}."
        )
    return first, ""


def _report(request) -> tuple[dict, str]:
    if access.sees_all_sites(request.user) is None:
        raise PermissionDenied("Your account has no study role.")
    first, problem = chosen_month(request.GET.get("month"))
    return enrollment_figures(first, sites=access.visible_sites(request.user)), problem


def _sheet(table: tabular.Table) -> Dataset:
    sheet = Dataset(title=table.key[:31], headers=spreadsheet_row(table.headers))
    for row in table.rows:
        sheet.append(spreadsheet_row(row))
    return sheet


def _download(report: dict, export: str, table_key: str | None) -> HttpResponse:
    name = f"enrollment-{report['month']}"
    every = tabular.tables(report)
    chosen = [t for t in every if t.key == table_key] if table_key else every
    if table_key and not chosen:
        raise Http404("No such table.")
    if export == "json":
        body = tabular.as_json(report)
    elif export == "csv" and not table_key:
        body = tabular.as_csv(report)  # every figure, one per line
    else:
        sheets = [_sheet(table) for table in chosen]
        body = sheets[0].export("csv") if export == "csv" else Databook(sheets).export("xlsx")
        name = f"{name}-{table_key}" if table_key else name
    response = HttpResponse(body, content_type=CONTENT_TYPES[export])
    response["Content-Disposition"] = f'attachment; filename="{name}.{export}"'
    return response


def _cell(value) -> str:
    """A figure as the template would write it ({{ cell }}: localized, escaped; "–" for none)."""
    if value is None:
        return "–"
    if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
        return str(value)
    return conditional_escape(formats.localize(value))


def rows_html(table: tabular.Table) -> SafeString:
    """A report table's body: its rows' header cell and figures. Written here, not by the
    template's nested loops, which took most of the page's time (some 2,000 cells)."""
    if not table.rows:
        return mark_safe(f'<tr><td colspan="{len(table.headers)}">None.</td></tr>')
    return mark_safe(
        "".join(
            f'<tr><th scope="row">{conditional_escape(row[0])}</th>'
            + "".join(f'<td class="num">{_cell(cell)}</td>' for cell in row[1:])
            + "</tr>"
            for row in table.rows
        )
    )


@login_required
def enrollment_report(request):
    report, problem = _report(request)
    export = request.GET.get("_export")
    if export in CONTENT_TYPES:
        return _download(report, export, request.GET.get("_table"))
    return render(
        request,
        "dashboard/enrollment_report.html",
        {
            "report": report,
            "month": month_of(report["month"]),
            "latest": this_month(),
            "problem": problem,
            "tables": [(table, rows_html(table)) for table in tabular.tables(report)],
            "total": report["total"],
        },
    )


@login_required
def enrollment_report_picture(request, picture: str):
    """The CONSORT flow or the accrual chart of the page's month, as SVG."""
    if picture not in PICTURES:
        raise Http404("No such picture.")
    report, _ = _report(request)
    response = HttpResponse(PICTURES[picture](report, "svg"), content_type="image/svg+xml")
    response["Cache-Control"] = "private, no-store"
    return response
