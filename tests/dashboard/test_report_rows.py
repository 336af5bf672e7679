"""The enrollment report's table bodies are written in Python (dashboard.views.reports.rows_html)
instead of the template's nested loops: the markup must be what those loops wrote, value for
value (numbers localized, text escaped, "–" for a figure that does not apply)."""

from django.template import Context, Template

from dashboard.views.reports import rows_html
from reports.tabular import Table

TEMPLATE_LOOPS = Template(
    "{% for row in table.rows %}<tr>{% for cell in row %}{% if forloop.first %}"
    '<th scope="row">{{ cell }}</th>{% else %}<td class="num">{% if cell is None %}–{% else %}'
    "{{ cell }}{% endif %}</td>{% endif %}{% endfor %}</tr>{% empty %}<tr><td colspan="
    '"{{ table.headers|length }}">None.</td></tr>{% endfor %}'
)


def as_the_template_wrote(table: Table) -> str:
    return TEMPLATE_LOOPS.render(Context({"table": table}))


def test_figures_text_and_missing_values_are_written_as_the_template_wrote_them():
    table = Table(
        key="k",
        title="T",
        headers=["Site", "In the month", "To date", "Rate"],
        rows=[
            ["S01 <Main & co>", 3, 12345, 0.25],
            ["S02", 0, None, 12.5],
            ["Total", -1, True, "n/a <b>"],
        ],
    )
    written = rows_html(table)
    assert written == as_the_template_wrote(table)
    assert "S01 &lt;Main &amp; co&gt;" in written and "<b>" not in written
    assert '<td class="num">–</td>' in written and '<td class="num">12345</td>' in written


def test_a_table_without_rows_says_none_across_its_columns():
    table = Table(key="k", title="T", headers=["Reason", "Count"], rows=[])
    assert rows_html(table) == as_the_template_wrote(table)
    assert 'colspan="2">None.' in rows_html(table)
