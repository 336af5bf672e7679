"""What every table shares: the base table, date and window formatting, links."""

import datetime as dt
import functools

import django_tables2 as tables
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.urls import get_script_prefix, reverse
from django.utils.html import conditional_escape, format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django_tables2.rows import BoundRow, BoundRows
from django_tables2.utils import signature

from dashboard.selectors import CLOSING_SOON_DAYS
from dashboard.templatetags.times import local_text
from schedule.services.visits import window_not_open_problem

# One date format throughout, the one the date inputs take (sle001/formats for templates).
DATE = "%Y-%m-%d"
# Dates and ids read badly when broken over lines.
NOWRAP = {"td": {"class": "nowrap"}}


def fmt_date(day: dt.date | None) -> str:
    return day.strftime(DATE) if day else ""


def fmt_window(start: dt.date | None, end: dt.date | None) -> str:
    if not start:
        return ""
    if start == end:
        return fmt_date(start)
    return f"{fmt_date(start)} – {fmt_date(end)}"


def fmt_local(moment: dt.datetime, tz) -> str:
    """A due time in the site's time zone, with the zone's abbreviation. Midnight is the close of
    the previous day's window."""
    local = moment.astimezone(tz)
    if local.time() == dt.time(0):
        return f"end of {fmt_date(local.date() - dt.timedelta(days=1))}"
    return local_text(moment, tz)


def days_text(days: int | None) -> str:
    if days is None:
        return ""
    if days < 0:
        return f"closed {-days} d ago"
    if days == 0:
        return "closes today"
    return f"{days} d"


def days_left_html(days: int | None):
    """Days to the window end, red once closed and amber when it closes within CLOSING_SOON_DAYS
    (the same horizon as the worklist's "Windows closing" list)."""
    cls = ""
    if days is not None:
        cls = "late" if days < 0 else ("soon" if days <= CLOSING_SOON_DAYS else "")
    return format_html('<span class="{}">{}</span>', cls, days_text(days))


def with_next(url: str, next_url: str | None) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def not_open_yet_html(visit, today: dt.date | None):
    """The note shown instead of "Record done" / "Missed" while `visit`'s window has not opened
    (schedule.services.visits.window_not_open_problem, the rule the services refuse on), or ""
    when the visit may be recorded. Every table that offers those links asks this first."""
    if today is None or not window_not_open_problem(visit, today):
        return ""
    return format_html('<small class="muted">window opens {}</small>', fmt_date(visit.window_start))


def participant_link(participant) -> str:
    return format_html(
        '<a href="{}">{}</a>',
        url_of("dashboard:participant", participant.pk),
        participant.label,
    )


_SENTINEL = "987654321"


@functools.lru_cache(maxsize=64)
def _url_template(name: str, prefix: str) -> str:
    return reverse(name, args=[int(_SENTINEL)])


def url_of(name: str, pk) -> str:
    """reverse(name, args=[pk]) for a URL pattern taking one pk, reversed once per process and
    script prefix instead of once per row of a table."""
    return _url_template(name, get_script_prefix()).replace(_SENTINEL, str(pk), 1)


# --- Pages of a table --------------------------------------------------------------------------

PAGE_SIZES = (25, 50, 100)


def page_size(request, default: int = PAGE_SIZES[0]) -> int:
    """The page size the user chose (?per_page=), at most the largest of PAGE_SIZES."""
    try:
        wanted = int(request.GET.get("per_page", default))
    except ValueError:
        return default
    return min(max(wanted, 1), PAGE_SIZES[-1])


def paginate(table, request, per_page: int | None = None) -> None:
    """Show one page of `table` (?page=, past the end: the last page; not a number: the first)."""
    per_page = per_page or page_size(request)
    try:
        number = int(request.GET.get("page", 1))
    except ValueError:
        number = 1
    try:
        table.paginate(page=number, per_page=per_page)
    except (EmptyPage, PageNotAnInteger):
        table.page = table.paginator.page(max(table.paginator.num_pages, 1))


# --- Cells rendered without inspecting a signature per cell ------------------------------------


class _Row(BoundRow):
    """A row that calls each column's render/value method with the arguments it takes, read once
    per table and column (django-tables2 inspects the signature again for every cell)."""

    def _call_with(self, kind: str, bound_column, value):
        fn = getattr(bound_column, kind)
        wanted = self._table._cell_arguments(kind, bound_column.name, fn)
        offered = self._optional_cell_arguments(bound_column, value)
        return fn(**{k: offered[k] for k in wanted}) if wanted is not None else fn(**offered)

    def _call_render(self, bound_column, value=None):
        content = self._call_with("render", bound_column, value)
        if bound_column.link:
            offered = self._optional_cell_arguments(bound_column, value)
            return bound_column.link(content, **offered)
        return content

    def _call_value(self, bound_column, value=None):
        return self._call_with("value", bound_column, value)

    def td_cells(self):
        """(td attributes, cell) per column, for dashboard/table.html: the attributes are the
        column's, computed once per table (django-tables2's BoundColumn.attrs builds them anew
        for every cell; no column here computes them from the record)."""
        for column, cell in self.items():
            yield self._table._td_html(column), cell


class _Rows(BoundRows):
    def __iter__(self):
        for record in self.data:
            yield _Row(record, table=self.table)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return _Rows(data=self.data[key], table=self.table, pinned_data=self.pinned_data)
        return _Row(record=self.data[key], table=self.table)


_EVEN_ODD = ('class="even"', 'class="odd"')


class BaseTable(tables.Table):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = _Rows(data=self.data, table=self)
        self._arguments = {}
        self._td = {}

    def _td_html(self, bound_column) -> str:
        if bound_column.name not in self._td:
            self._td[bound_column.name] = bound_column.attrs["td"].as_html()
        return self._td[bound_column.name]

    def _cell_arguments(self, kind: str, column: str, fn) -> tuple | None:
        """The argument names `fn` takes (None: it takes **kwargs), read once."""
        key = (kind, column)
        if key not in self._arguments:
            names, catch_all = signature(fn)
            self._arguments[key] = None if catch_all else tuple(names)
        return self._arguments[key]

    def plain_html(self) -> SafeString:
        """The whole table as HTML, for short lists shown unsorted and unpaginated (the worklist's
        sections): the same markup as dashboard/table.html, each column's render_<name>(record)
        called directly (django-tables2 resolves, inspects and renders through several layers
        for every cell: most of a worklist's time). Columns it cannot call that way go through
        django-tables2's own cell."""
        columns = [(column, self._direct_renderer(column)) for column in self.columns]
        head = "".join(
            f"<th {column.attrs['th'].as_html()}>{conditional_escape(column.header)}</th>"
            for column, _ in columns
        )
        # django-tables2's row only where needed: its row attributes, or a column it renders.
        needs_row = bool(self.row_attrs) or not all(render for _, render in columns)
        body = []
        for index, record in enumerate(self.data):
            row = _Row(record, table=self) if needs_row else None
            attrs = row.attrs.as_html() if self.row_attrs else _EVEN_ODD[index % 2]
            cells = "".join(
                f"<td {self._td_html(column)}>"
                f"{conditional_escape(render(record) if render else row.get_cell(column.name))}"
                "</td>"
                for column, render in columns
            )
            body.append(f"<tr {attrs}>{cells}</tr>")
        return mark_safe(
            f'<div class="table-container"><table {self.attrs.as_html()}>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )

    def _direct_renderer(self, bound_column):
        """record -> cell for a column whose render_<name> takes the record only (the cell is
        the column's default when the accessor finds an empty value, as django-tables2 does),
        or None: that column's cells go through django-tables2."""
        method = getattr(self, f"render_{bound_column.name}", None)
        if (
            method is None
            or bound_column.link
            or self._cell_arguments("render", bound_column.name, bound_column.render) != ("record",)
        ):
            return None
        accessor, column = bound_column.accessor, bound_column.column
        empty, default = column.empty_values, bound_column.default

        def render(record):
            try:
                value = accessor.resolve(record)
            except Exception:  # as django-tables2: a missing related row is an empty cell
                value = None
            return default if value in empty else method(record)

        return render

    class Meta:
        attrs = {"class": "data"}
        template_name = "dashboard/table.html"
        orderable = False
        empty_text = "Nothing here."
