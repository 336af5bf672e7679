"""Cells bound for a spreadsheet (CSV or XLSX) that cannot run as a formula: the one function every
export writes its values through (the dashboard's tables, `schedule_preview --format csv`).

OWASP "CSV injection": a spreadsheet reads text starting with = + - @, a tab or a carriage return as
a formula (`=HYPERLINK("http://evil.example/","Click me")`). Such text is written with a leading
single quote, so it stays text. Numbers, dates and empty cells are left as they are: a negative
number is a number, not a formula. Control characters that XLSX cannot hold are replaced.
"""

import csv
import re
import tempfile

from openpyxl import Workbook

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# What an XLSX cell cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE): C0 controls but tab and newlines.
UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
REPLACEMENT = "\ufffd"


def spreadsheet_cell(value):
    """`value` as a spreadsheet cell: text that could start a formula is quoted; anything that is
    not text (int, Decimal, date, None) is returned unchanged."""
    if not isinstance(value, str):
        return value
    text = UNWRITABLE.sub(REPLACEMENT, str(value))
    return "'" + text if text.startswith(FORMULA_START) else text


def spreadsheet_row(values) -> list:
    return [spreadsheet_cell(value) for value in values]


# --- Streaming downloads: constant memory whatever the number of rows ----------------------------


class _Echo:
    """A file-like object whose write returns what it is given: csv.writer then yields lines."""

    def write(self, value):
        return value


def csv_stream(header, rows):
    """The lines of a CSV download, header first, every cell through spreadsheet_cell. A
    generator for StreamingHttpResponse: one row in memory at a time."""
    writer = csv.writer(_Echo())
    yield writer.writerow(spreadsheet_row(header))
    for row in rows:
        yield writer.writerow(spreadsheet_row(row))


def xlsx_file(header, rows, title: str):
    """An XLSX download written row by row (openpyxl's write-only mode) to a temporary file,
    returned at its start: memory stays constant, the file is deleted when closed."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "Sheet")
    sheet.append(spreadsheet_row(header))
    for row in rows:
        sheet.append(spreadsheet_row(row))
    spool = tempfile.TemporaryFile()
    workbook.save(spool)
    spool.seek(0)
    return spool
