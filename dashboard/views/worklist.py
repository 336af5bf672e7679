"""The worklist: SAE clocks and adverse events to follow up, visits due today, overdue safety
items, windows closing, the coming week."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from dashboard import selectors
from dashboard.tables import OverdueSafetyTable, OverdueVisitTable, VisitTable
from dashboard.tables.base import PAGE_SIZES, page_size, paginate
from dashboard.views import deviations, safety
from dashboard.views._common import export
from participants import access

# Counts shown red at the top when not zero.
ALERTS = ("overdue_safety", "overdue_visits")


# key -> (title, help), in the order shown; each section's whole list is at /worklist/<key>/.
SECTIONS = {
    "due_today": ("Due today", "Visits whose target date is today."),
    "overdue_safety": (
        "Overdue safety assessments",
        "Safety items past due with no result recorded, one row per visit.",
    ),
    "closing_soon": (
        f"Windows closing within {selectors.CLOSING_SOON_DAYS} days",
        f"Open visits whose window ends in the next {selectors.CLOSING_SOON_DAYS} days "
        "(visits due today are listed above).",
    ),
    "overdue_visits": (
        "Visits with a closed window",
        "The window has closed and the visit is neither recorded as done nor as missed.",
    ),
    "coming_up": ("Next 7 days", "Visits whose target date is in the coming week."),
}


def _table(key: str, rows, work_today: dict, next_url: str, writer: bool):
    """The table of every row of a section (downloads, the whole list): visits, or overdue
    safety items one per row."""
    if key == "overdue_safety":
        return OverdueSafetyTable(rows, next_url=next_url, can_record=writer)
    return VisitTable(rows, today_by_site=work_today, next_url=next_url, can_record=writer)


def _schedule_sections(work, user, now, writer: bool) -> list[dict]:
    """The visit and safety-assessment sections: the first rows, the count, the whole list's
    link, and the download of every row (its list built only when a download asks)."""
    here = reverse("dashboard:worklist")

    def whole_list(key: str):
        return selectors.worklist_lists(user, now, work.sites)[key] if work.sites else []

    sections = []
    for key, (title, help_text) in SECTIONS.items():
        if key == "overdue_safety":
            table = OverdueVisitTable(work.overdue_safety_visits, next_url=here, can_record=writer)
            rows_total = work.overdue_visit_count
        else:
            table = _table(key, getattr(work, key), work.today_by_site, here, writer)
            rows_total = work.counts.get(key, 0)
        sections.append(
            {
                "key": key,
                "title": title,
                "help": help_text,
                "table": table,
                "count": work.counts.get(key, 0),
                "rows_total": rows_total,
                "alert": key in ALERTS,
                "more": reverse("dashboard:worklist_section", args=[key]),
                "more_label": "in the full list",
                "export": lambda key=key: _table(
                    key, whole_list(key), work.today_by_site, here, writer
                ),
            }
        )
    return sections


@login_required
def worklist(request):
    now = timezone.now()
    work = selectors.worklist(request.user, now)
    writer = access.records_where_visible(request.user)
    # Adverse events first: an SAE clock runs in hours, the rest in days.
    sections = safety.worklist_sections(request.user, now, writer)
    sections += _schedule_sections(work, request.user, now, writer)
    sections.append(deviations.worklist_section(request.user, writer))
    wanted = request.GET.get("_table")
    for section in sections:
        if section["key"] == wanted:
            table = section["export"]() if "export" in section else section["table"]
            response = export(request, table, f"worklist-{wanted}")
            if response:
                return response
    return render(request, "dashboard/worklist.html", {"sections": sections, "sites": work.sites})


@login_required
def worklist_section(request, key):
    """The whole list behind one worklist section, a page at a time (?per_page= up to 100),
    filtered by site (?site=S01, one of the user's); downloads hold every filtered row."""
    if key not in SECTIONS:
        raise Http404("No such worklist section.")
    now = timezone.now()
    sites = selectors.sites_with_today(request.user)
    chosen = request.GET.get("site", "")
    rows = selectors.worklist_lists(request.user, now, sites)[key] if sites else []
    if sites and chosen:  # another site's code finds nothing: the rows are the user's sites'
        rows = rows.filter(**{f"{rows.model.SITE_PATH}__code": chosen})
    here = request.get_full_path()
    writer = access.records_where_visible(request.user)
    table = _table(key, rows, {s.pk: day for s, day in sites}, here, writer)
    response = export(request, table, f"worklist-{key}")
    if response:
        return response
    paginate(table, request)
    title, help_text = SECTIONS[key]
    return render(
        request,
        "dashboard/worklist_section.html",
        {
            "key": key,
            "title": title,
            "help": help_text,
            "table": table,
            "sites": sites,
            "chosen": chosen,
            "page_sizes": PAGE_SIZES,
            "per_page": page_size(request),
        },
    )
