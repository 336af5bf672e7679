"""What the dashboard's pages share: the CSV/XLSX download of a table, and where a form goes back
to after saving (`safe_next`)."""

import re

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django_tables2.export import TableExport
from tablib import Dataset

from participants.spreadsheets import csv_stream, spreadsheet_row, xlsx_file

EXPORT_FORMATS = ("csv", "xlsx")
STREAM_CHUNK = 1000  # rows read from the database at a time by a streamed download
# A control character (NUL, a newline...) has no place in a path to go back to.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Export(TableExport):
    """Only the two formats the dashboard offers (and whose libraries are installed). Every cell
    goes through participants.spreadsheets, so no text becomes a live formula."""

    @classmethod
    def is_valid_format(cls, export_format):
        return export_format in EXPORT_FORMATS

    def table_to_dataset(self, table, exclude_columns, dataset_kwargs=None):
        plain = super().table_to_dataset(table, exclude_columns, dataset_kwargs)
        safe = Dataset(title=plain.title)
        if plain.headers is not None:
            safe.headers = spreadsheet_row(plain.headers)
        for row in plain:
            safe.append(spreadsheet_row(row))
        return safe


def export(request, table, name: str) -> HttpResponse | None:
    export_format = request.GET.get("_export")
    if export_format not in EXPORT_FORMATS:
        return None
    exporter = Export(export_format, table, dataset_kwargs={"title": name[:31]})
    return exporter.response(filename=f"{name}.{export_format}")


def stream_table(table, export_format: str, name: str) -> HttpResponse:
    """Every row of `table` (a queryset table with export_header/export_row) as a download, read
    in chunks and written as it is read: constant memory whatever the number of rows."""
    rows = (table.export_row(r) for r in table.data.data.iterator(chunk_size=STREAM_CHUNK))
    header = table.export_header()
    if export_format == "csv":
        response = StreamingHttpResponse(
            csv_stream(header, rows), content_type="text/csv; charset=utf-8"
        )
    else:
        response = FileResponse(
            xlsx_file(header, rows, name),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}.{export_format}"'
    return response


def safe_next(request: HttpRequest, default: str) -> str:
    """The `next` the form carries (POST, else GET) when it is a path on this site, else
    `default`. A URL string, never a view name: redirect() would try to reverse anything else
    (`next=2026-13-01` -> NoReverseMatch)."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    if (
        url.startswith("/")
        and not url.startswith("//")
        and not url.startswith("/\\")
        and not CONTROL.search(url)
        and url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return url
    return default
