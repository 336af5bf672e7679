"""The visit calendar (week and month: open windows as bars, done and missed visits on their day;
laid out by dashboard/calendar_selectors.py), the personal iCal feed and its settings page."""

import calendar as calendar_module
import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from icalendar import Calendar, Event

from dashboard import calendar_layout, selectors
from dashboard import calendar_selectors as calendar_reads
from dashboard.models import CalendarFeedToken
from dashboard.tables import CalendarTable, fmt_date, fmt_window
from dashboard.tables.base import paginate
from dashboard.views._common import export
from schedule.models import VisitStatus


def _parse_day(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


VIEWS = ("week", "month", "day")


def _day_link(request):
    """date -> the link to that day's whole list, keeping the filters shown (what the template's
    {% querystring view='day' date=... page=None %} gives)."""
    query = request.GET.copy()
    query["view"] = "day"
    query.pop("page", None)

    def link(day: dt.date) -> str:
        query["date"] = day.isoformat()
        return "?" + query.urlencode()

    return link


@login_required
def calendar(request):
    """Week and month: the visits as bars, each day showing its first visits and "+K more"
    (calendar_reads.PER_DAY); day: every visit of the day as a paginated list. A download holds
    every visit of the range shown."""
    sites = selectors.sites_with_today(request.user)
    default_day = sites[0][1] if sites else timezone.now().date()
    view = request.GET.get("view") if request.GET.get("view") in VIEWS else "week"
    day = _parse_day(request.GET.get("date"), default_day)
    site = None
    if request.GET.get("site"):
        site = next((s for s, _ in sites if s.code == request.GET["site"]), None)
        if site is None:
            raise Http404("No such site.")
    if view == "day":
        start = end = day
        previous, following = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
        heading = f"{day:%A %Y-%m-%d}"
    elif view == "week":
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=6)
        previous, following = start - dt.timedelta(days=7), start + dt.timedelta(days=7)
        heading = f"Week of {start:%Y-%m-%d}"
    else:
        first = day.replace(day=1)
        last = first.replace(day=calendar_module.monthrange(first.year, first.month)[1])
        start = first - dt.timedelta(days=first.weekday())
        end = last + dt.timedelta(days=6 - last.weekday())
        previous = (first - dt.timedelta(days=1)).replace(day=1)
        following = last + dt.timedelta(days=1)
        heading = f"{first:%B %Y}"
    shown_sites = [site] if site else [s for s, _ in sites]
    every = calendar_reads.calendar_visits(request.user, start, end, shown_sites)
    response = export(request, CalendarTable(every), f"calendar-{start.isoformat()}")
    if response:
        return response
    context = {
        "view": view,
        "heading": heading,
        "today": default_day,
        "sites": [s for s, _ in sites],
        "site": site,
        "day": day,
        "previous": previous,
        "following": following,
    }
    if view == "day":
        table = CalendarTable(every)
        paginate(table, request)
        context |= {"table": table, "count": table.paginator.count}
        return render(request, "dashboard/calendar.html", context)
    per_day = calendar_reads.PER_DAY[view]
    page = calendar_reads.calendar_page(request.user, start, end, per_day, shown_sites)
    weeks = calendar_layout.calendar_weeks(
        page.visits,
        start,
        end,
        month=day.month if view == "month" else None,
        today=default_day,
        sites=shown_sites,
        more={d: page.more(d, per_day) for d in page.on_day},
        day_href=_day_link(request),
    )
    context |= {"weeks": weeks, "count": page.total, "per_day": per_day}
    return render(request, "dashboard/calendar.html", context)


# --- iCal feed -------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def feed_settings(request):
    if request.method == "POST":
        with transaction.atomic():
            live = CalendarFeedToken.objects.select_for_update().filter(
                user=request.user, revoked_at__isnull=True
            )
            live.update(revoked_at=timezone.now())
            if request.POST.get("action") == "create":
                CalendarFeedToken.objects.create(user=request.user)
                messages.success(
                    request, "A new calendar address was made; any older one no longer works."
                )
            else:
                messages.success(
                    request, "The calendar address was revoked; calendars using it stop updating."
                )
        return redirect("dashboard:feed_settings")
    token = CalendarFeedToken.objects.filter(user=request.user, revoked_at__isnull=True).first()
    url = request.build_absolute_uri(reverse("dashboard:feed", args=[token.key])) if token else ""
    return render(request, "dashboard/feed.html", {"token": token, "url": url})


def feed(request, key):
    """The iCal feed. No login (calendar clients cannot log in): the secret key is the login."""
    token = get_object_or_404(
        CalendarFeedToken.objects.select_related("user"),
        key=key,
        revoked_at__isnull=True,
        user__is_active=True,
    )
    CalendarFeedToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    cal = Calendar()
    cal.add("prodid", "-//SLE-001 tracker//Visit calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "SLE-001 visits")
    now = timezone.now()
    for visit in selectors.feed_visits(token.user):
        # Study id (or screening number) and visit code only: the feed leaves the building.
        day = visit.actual_date if visit.status == VisitStatus.DONE else visit.target_date
        event = Event()
        event.add("uid", f"sle001-visit-{visit.pk}@{request.get_host().split(':')[0]}")
        event.add("dtstamp", now)
        event.add("dtstart", day)
        event.add("dtend", day + dt.timedelta(days=1))
        event.add("summary", f"{visit.participant.label} {visit.code}")
        event.add(
            "description",
            f"Window {fmt_window(visit.window_start, visit.window_end)} "
            f"(target {fmt_date(visit.target_date)}). Status: {visit.get_status_display()}.",
        )
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    response = HttpResponse(cal.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="sle001-visits.ics"'
    response["Cache-Control"] = "private, no-store"
    return response
