"""What the dashboard's pages share: the CSV/XLSX download of a table."""

from django.http import HttpResponse
from django_tables2.export import TableExport

EXPORT_FORMATS = ("csv", "xlsx")


class Export(TableExport):
    """Only the two formats the dashboard offers (and whose libraries are installed)."""

    @classmethod
    def is_valid_format(cls, export_format):
        return export_format in EXPORT_FORMATS


def export(request, table, name: str) -> HttpResponse | None:
    export_format = request.GET.get("_export")
    if export_format not in EXPORT_FORMATS:
        return None
    exporter = Export(export_format, table, dataset_kwargs={"title": name[:31]})
    return exporter.response(filename=f"{name}.{export_format}")
