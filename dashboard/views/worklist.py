"""The worklist: SAE clocks and adverse events to follow up, visits due today, overdue safety
items, windows closing, the coming week."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from dashboard import selectors
from dashboard.tables import OverdueSafetyTable, VisitTable
from dashboard.views import deviations, safety
from dashboard.views._common import export
from participants import access

# Counts shown red at the top when not zero.
ALERTS = ("overdue_safety", "overdue_visits")


def _schedule_sections(work, writer: bool) -> list[dict]:
    """The visit and safety-assessment sections, as (key, title, help, table) rows made dicts."""
    visit_kwargs = {
        "today_by_site": work.today_by_site,
        "next_url": reverse("dashboard:worklist"),
        "can_record": writer,
    }
    sections = [
        (
            "due_today",
            "Due today",
            "Visits whose target date is today.",
            VisitTable(work.due_today, **visit_kwargs),
        ),
        (
            "overdue_safety",
            "Overdue safety assessments",
            "Safety items past due with no result recorded.",
            OverdueSafetyTable(
                work.overdue_safety, next_url=reverse("dashboard:worklist"), can_record=writer
            ),
        ),
        (
            "closing_soon",
            f"Windows closing within {selectors.CLOSING_SOON_DAYS} days",
            f"Open visits whose window ends in the next {selectors.CLOSING_SOON_DAYS} days "
            "(visits due today are listed above).",
            VisitTable(work.closing_soon, **visit_kwargs),
        ),
        (
            "overdue_visits",
            "Visits with a closed window",
            "The window has closed and the visit is neither recorded as done nor as missed.",
            VisitTable(work.overdue_visits, **visit_kwargs),
        ),
        (
            "coming_up",
            "Next 7 days",
            "Visits whose target date is in the coming week.",
            VisitTable(work.coming_up, **visit_kwargs),
        ),
    ]
    return [
        {"key": k, "title": t, "help": h, "table": tb, "count": len(tb.rows), "alert": k in ALERTS}
        for k, t, h, tb in sections
    ]


@login_required
def worklist(request):
    now = timezone.now()
    work = selectors.worklist(request.user, now)
    writer = access.records_where_visible(request.user)
    # Adverse events first: an SAE clock runs in hours, the rest in days.
    sections = safety.worklist_sections(request.user, now, writer)
    sections += _schedule_sections(work, writer)
    sections.append(deviations.worklist_section(request.user, writer))
    wanted = request.GET.get("_table")
    for section in sections:
        if section["key"] == wanted:
            table = section["export"]() if "export" in section else section["table"]
            response = export(request, table, f"worklist-{wanted}")
            if response:
                return response
    return render(request, "dashboard/worklist.html", {"sections": sections, "sites": work.sites})
