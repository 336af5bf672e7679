"""The subject matrix (/matrix/): participants × visits, one coloured cell per visit, filtered by
site, status and phase, 25 participants a page; the whole filtered matrix as CSV (streamed) or
XLSX. States come from schedule.selectors (dashboard/matrix_selectors.py arranges them)."""

import csv
import io

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from openpyxl import Workbook

from dashboard import matrix_selectors as matrix_reads
from dashboard import selectors
from dashboard.filters import ParticipantFilter
from participants.spreadsheets import spreadsheet_row

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class MatrixFilter(ParticipantFilter):
    """The participants table's site, status and phase filters (only the user's sites)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters.pop("overdue")  # an annotation of the participants table only


class _Echo:
    def write(self, value):
        return value


def _csv(rows) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(spreadsheet_row(row)) for row in rows), content_type="text/csv"
    )
    response["Content-Disposition"] = 'attachment; filename="matrix.csv"'
    return response


def _xlsx(rows) -> HttpResponse:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("matrix")
    for row in rows:
        sheet.append(spreadsheet_row(row))
    out = io.BytesIO()
    book.save(out)
    response = HttpResponse(out.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = 'attachment; filename="matrix.xlsx"'
    return response


@login_required
def matrix(request):
    user, now = request.user, timezone.now()
    sites = selectors.sites_with_today(user)
    today_by_site = matrix_reads.sites_today(sites)
    filterset = MatrixFilter(
        request.GET or None, queryset=matrix_reads.matrix_participants(user), user=user
    )
    # Another site's code is not a valid choice: nothing, rather than every site.
    participants = filterset.qs if not filterset.is_bound or filterset.is_valid() else None
    if participants is None:
        participants = matrix_reads.matrix_participants(user).none()
    codes = matrix_reads.columns()
    export_format = request.GET.get("_export")
    if export_format in ("csv", "xlsx"):
        rows = matrix_reads.export_rows(user, participants, codes, today_by_site, now)
        return _csv(rows) if export_format == "csv" else _xlsx(rows)
    page = Paginator(participants, matrix_reads.PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "dashboard/matrix.html",
        {
            "filter": filterset,
            "page": page,
            "codes": codes,
            "rows": matrix_reads.matrix_rows(user, list(page), codes, today_by_site, now),
            "legend": matrix_reads.LEGEND,
        },
    )
