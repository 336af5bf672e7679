"""The worklist's sections are written by BaseTable.plain_html (each column's render method called
directly, without django-tables2's per-cell machinery): the markup must be what django-tables2's
own template writes for the same table, cell for cell."""

import re

import django_tables2 as tables
import pytest
from django.template.loader import render_to_string
from django.utils.html import format_html

from dashboard import selectors
from dashboard.tables.base import BaseTable
from dashboard.views import deviations, safety
from dashboard.views.worklist import _schedule_sections
from participants import access
from tests.support import NOW, frozen, worklist_scenario


def normalised(html: str) -> str:
    """The markup without the template's indentation (whitespace between tags, around text)."""
    html = re.sub(r">\s+", ">", html)
    html = re.sub(r"\s+<", "<", html)
    return re.sub(r"<(\w+) >", r"<\1>", html)


def as_template_renders(table) -> str:
    return normalised(render_to_string("dashboard/table.html", {"table": table}))


@pytest.fixture
def data(protocol, site, site2, coordinator, investigator):
    with frozen():
        yield worklist_scenario(site, site2, coordinator, investigator)


@pytest.mark.parametrize("role", ["coordinator", "manager"])
def test_every_worklist_section_is_written_as_django_tables2_writes_it(role, request, data):
    user = request.getfixturevalue(role)
    writer = access.records_where_visible(user)
    with frozen():
        work = selectors.worklist(user, NOW)
        sections = safety.worklist_sections(user, NOW, writer)
        sections += _schedule_sections(work, user, NOW, writer)
        sections.append(deviations.worklist_section(user, writer))
        shown = [s for s in sections if len(s["table"].rows)]
        # The scenario fills every schedule section: each is compared with rows in it.
        assert {s["key"] for s in shown} >= {
            "due_today",
            "overdue_safety",
            "closing_soon",
            "overdue_visits",
            "coming_up",
        }
        for section in shown:
            # The template first: its rows take even/odd from the table's row counter.
            expected = as_template_renders(section["table"])
            plain = normalised(section["table"].plain_html())
            assert plain == expected, section["key"]
            assert plain.count("<tr") == len(section["table"].rows) + 1  # + the header


class _Sample(BaseTable):
    class Meta(BaseTable.Meta):
        pass

    name = tables.Column("Name")
    when = tables.Column("When", attrs={"td": {"class": "nowrap"}})
    code = tables.Column("Code", accessor="code")

    def render_when(self, record):
        return format_html("<b>{}</b>", record["when"])

    def render_code(self, record, value):  # takes the value too: django-tables2 renders it
        return f"[{value}]"


def test_an_empty_value_shows_the_column_default_and_text_is_escaped():
    table = _Sample(
        [
            {"name": "<script>x</script>", "when": None, "code": "A"},
            {"name": "plain", "when": "2026-03-01", "code": None},
        ]
    )
    expected = as_template_renders(table)
    plain = normalised(table.plain_html())
    assert plain == expected
    assert "&lt;script&gt;x&lt;/script&gt;" in plain and "<script>" not in plain
    assert '<td class="nowrap">—</td>' in plain  # no value: the default, not render_when
    assert '<td class="nowrap"><b>2026-03-01</b></td>' in plain
    assert "<td>[A]</td>" in plain and plain.count("<td>—</td>") == 1
    assert '<tr class="even">' in plain and '<tr class="odd">' in plain
