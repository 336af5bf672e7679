"""Deviation drafts in the coordinator's daily digest (issue 9): a draft the tracker made that the
site has not taken on (still a draft) more than STALE_BUSINESS_DAYS business days after it was
identified is listed in the daily digest of each coordinator of its site, every day until it is
described and opened (or withdrawn).

Business days are counted as the SAE clock's IRB report counts them (safety.clocks.irb_report_due:
the day of identification not counted, weekends and the site's holidays skipped, in the site's
time zone): a draft identified on a Monday is due by the next Monday and listed from Tuesday.

The digest row (reminders.py, one per coordinator per local day) keeps the deviation ids in
its context; at send time they are read again and the ones no longer drafts are left out.
"""

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.urls import reverse

from notifications import selectors
from notifications.services.emails import site_url
from participants.models import StaffRole
from safety.clocks import irb_report_due
from schedule.models import Deviation
from schedule.windows import local_date, local_time_on

STALE_BUSINESS_DAYS = 5
# Five business days are never fewer than five calendar days: older rows only are read.
_AT_LEAST = dt.timedelta(days=STALE_BUSINESS_DAYS)


def is_stale(deviation: Deviation, today: dt.date) -> bool:
    """Still a draft after STALE_BUSINESS_DAYS business days (site time zone and holidays)."""
    site = deviation.site
    due = irb_report_due(
        deviation.identified_at,
        tz=site.tz,
        business_days=STALE_BUSINESS_DAYS,
        holidays=site.holiday_dates,
    )
    return today > due


def stale_drafts(now: dt.datetime) -> list[Deviation]:
    """Every site's drafts older than STALE_BUSINESS_DAYS business days at `now`, oldest first."""
    # The deviation's own site (a copy of its participant's), with only what is_stale reads:
    # compiling every column of three tables cost more than the read (no drafts: 3 ms).
    drafts = (
        Deviation.objects.drafts()
        .filter(identified_at__lte=now - _AT_LEAST)
        .select_related("site")
        .only("identified_at", "site__time_zone", "site__holidays", "site")
        .order_by("identified_at", "pk")
    )
    return [d for d in drafts if is_stale(d, local_date(now, d.site.tz))]


def drafts_for_coordinators(
    now: dt.datetime, coordinators: dict | None = None
) -> tuple[dict, dict]:
    """({user id: {local day: (send_after, [deviation ids])}}, {user id: user}): what each
    coordinator's digest of their site's today lists, sent at REMINDER_HOUR site time.
    `coordinators`: {site id: [users]} when the caller has read them already."""
    if coordinators is None:
        coordinators = selectors.staff_by_site(StaffRole.COORDINATOR)
    wanted: dict = defaultdict(dict)
    users = {}
    for deviation in stale_drafts(now):
        site = deviation.site
        today = local_date(now, site.tz)
        send_after = local_time_on(today, settings.REMINDER_HOUR, site.tz)
        for user in coordinators.get(site.pk, []):
            users[user.pk] = user
            earliest, ids = wanted[user.pk].get(today, (send_after, []))
            wanted[user.pk][today] = (min(earliest, send_after), [*ids, deviation.pk])
    return wanted, users


def deviation_views(ids) -> list[dict]:
    """What the digest shows of the drafts `ids` still drafts at send time: study ids only."""
    drafts = (
        Deviation.objects.drafts()
        .filter(pk__in=list(ids))
        .select_related("participant__site", "visit__definition", "assessment__definition")
        .order_by("identified_at", "pk")
    )
    return [
        {
            "reference": d.reference,
            "participant": d.participant.label,
            "site": d.participant.site.code,
            "category": d.get_category_display(),
            "cause": d.visit.code if d.visit_id else "",
            "occurred_on": d.occurred_on,
            "identified_on": local_date(d.identified_at, d.participant.site.tz),
            "url": site_url(reverse("dashboard:deviation", args=[d.pk])),
        }
        for d in drafts
    ]
