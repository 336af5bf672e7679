"""Visit reminders: the hourly scan that creates today's reminder rows (one digest per
coordinator per day, or one email per item) and cancels stale ones, and what a reminder row says
when it is sent. The digest also lists the site's deviation drafts older than 5 business days
(deviation_digest.py); a coordinator who takes one email per item gets those in a digest of their
own.

Recomputed from the stored visit dates on every run and again at send time, so a visit moved,
done or closed since a row was created has the row cancelled with the reason.
"""

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from notifications import reminder_selectors, selectors
from notifications.models import REMINDER_KINDS, OutboxEmail, OutboxKind, OutboxStatus
from notifications.reminder_selectors import ReminderVisit
from notifications.services import deviation_digest
from notifications.services.reminder_rows import (
    VisitsRead,
    add_per_item,
    add_to_digest,
    digest_key,
    item_dedup_key,
    item_key,
    item_view,
)
from participants.models import ReminderMode, Site, StaffRole, Status
from participants.staff import reminder_days_of
from schedule.models import VisitStatus
from schedule.windows import local_time_on


@dataclass
class ReminderScanResult:
    created: int = 0
    digest_items_added: int = 0
    cancelled: int = 0
    cancelled_reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.created} reminder email(s) queued, {self.digest_items_added} item(s) added "
            f"to digests, {self.cancelled} cancelled"
        )


def reminders_scan(*, now: dt.datetime | None = None) -> ReminderScanResult:
    """Create today's reminder rows (each held until REMINDER_HOUR site time) and cancel stale ones.

    Recomputed from the stored visit dates on every run (hourly), so a visit moved, done or
    closed since the last run has its pending reminders cancelled and new ones created.
    """
    now = now or timezone.now()
    result = ReminderScanResult()
    # What is due first (reads only: visit ids and dates). A visit itself is read only for a
    # row that is written or re-checked, once per run (`visits`).
    coordinators = selectors.staff_by_site(StaffRole.COORDINATOR)
    wanted, users, still_wanted = _wanted_reminders(now, coordinators)
    visits = VisitsRead()
    unchanged = _cancel_stale_reminders(now, result, visits, still_wanted)
    drafts, draft_users = deviation_digest.drafts_for_coordinators(now, coordinators)
    users.update(draft_users)
    # The rows this run would create, read at once: a steady-state run (every hour, most items
    # known already) then writes nothing and asks nothing per coordinator.
    existing = _existing_rows(wanted, drafts, users, unchanged)
    # The visits of the rows this run creates, read at once (the day's first run creates them
    # all; one read per row would be a query per visit for those who take one email per item).
    visits.of(_visits_of_new_rows(wanted, users, existing))
    for user_id in sorted(set(wanted) | set(drafts)):
        user = users[user_id]
        by_day, drafts_by_day = wanted.get(user_id, {}), drafts.get(user_id, {})
        # (day, site): the site only for someone covering several sites, whose visit reminders
        # come in one digest per site, each at 08:00 in its site's zone (not all at the earliest
        # zone's 08:00); their deviation drafts keep a digest of their own (site None).
        keys = set(by_day) | {(day, None) for day in drafts_by_day}
        for day, site_id in sorted(keys, key=lambda k: (k[0], k[1] or 0)):
            entries = by_day.get((day, site_id), [])
            waiting = drafts_by_day.get(day) if site_id is None else None
            if user.staff_profile.reminder_mode == ReminderMode.PER_ITEM:
                for item, _, send_after in entries:
                    if item_dedup_key(item, user_id) not in existing:
                        add_per_item(user, item, visits, day, send_after, now, result)
                if waiting:
                    add_to_digest(user, [], day, now, result, visits, waiting, existing=existing)
            else:
                add_to_digest(
                    user,
                    entries,
                    day,
                    now,
                    result,
                    visits,
                    waiting,
                    site_id=site_id,
                    existing=existing,
                )
    return result


def _visits_of_new_rows(wanted: dict, users: dict, existing: dict) -> set[int]:
    """The visit ids of the entries whose row (per item, or the digest) does not exist yet."""
    ids = set()
    for user_id, by_day in wanted.items():
        per_item = users[user_id].staff_profile.reminder_mode == ReminderMode.PER_ITEM
        for (day, site_id), entries in by_day.items():
            if per_item:
                ids.update(
                    visit_id
                    for item, visit_id, _ in entries
                    if item_dedup_key(item, user_id) not in existing
                )
            elif digest_key(user_id, day, site_id) not in existing:
                ids.update(visit_id for _, visit_id, _ in entries)
    return ids


def _existing_rows(
    wanted: dict, drafts: dict, users: dict, unchanged: dict[str, OutboxEmail]
) -> dict[str, OutboxEmail]:
    """{dedup key: row} of the reminder rows this run's items map to: the digests of those who
    take digests, the rows per item of those who take one email per item, and the digests of
    the deviation drafts. `unchanged`: the pending rows this run has read and left as they were
    ({dedup key: row}); only the other keys are asked for (none in a steady-state run before
    the digests go out)."""
    keys = set()
    for user_id, by_day in wanted.items():
        per_item = users[user_id].staff_profile.reminder_mode == ReminderMode.PER_ITEM
        for (day, site_id), entries in by_day.items():
            if per_item:
                keys.update(item_dedup_key(item, user_id) for item, _, _ in entries)
            else:
                keys.add(digest_key(user_id, day, site_id))
    for user_id, by_day in drafts.items():
        keys.update(digest_key(user_id, day, None) for day in by_day)
    found = {key: unchanged[key] for key in keys if key in unchanged}
    if missing := keys - found.keys():
        rows = OutboxEmail.objects.filter(dedup_key__in=missing).only("dedup_key", "context")
        found |= {row.dedup_key: row for row in rows.order_by()}
    return found


def reminder_context(row: OutboxEmail, now: dt.datetime) -> tuple[str | None, dict]:
    """Re-validate a reminder row at send time: (why it is cancelled, {}) or (None, context)."""
    items = _row_items(row)
    visits = _visits_by_id(i["visit"] for i in items)
    views, problems = [], []
    for item in items:
        problem = _item_problem(item, visits.get(item["visit"]), now)
        if problem:
            problems.append(problem)
        else:
            views.append(item_view(item, visits[item["visit"]]))
    drafts = deviation_digest.deviation_views(row.context.get("deviations", []))
    if not views and not drafts:
        return "; ".join(problems) or "the deviation drafts listed are no longer drafts", {}
    if row.kind == OutboxKind.REMINDER_DIGEST:
        day = dt.date.fromisoformat(row.context["day"])
        return None, {"items": views, "deviations": drafts, "day": day}
    return None, {"item": views[0]}


# --- What is due ---------------------------------------------------------------------------------


def _wanted_reminders(now: dt.datetime, coordinators: dict) -> tuple[dict, dict, set[str]]:
    """({user id: {(local day, site id or None): [(item, visit id, send_after)]}}, {user id:
    user}, {item_key of each item someone is told}): the reminders due today, site-local, for
    each site's coordinators ({site id: [users]}), on the days each chose
    (participants.staff.reminder_days_of). The site is in the key only for a coordinator of
    several sites (one digest per site)."""
    sites = {s.pk: s for s in Site.objects.all()}
    today_of_site = {pk: now.astimezone(s.tz).date() for pk, s in sites.items()}
    days_of = {u.pk: reminder_days_of(u.staff_profile) for us in coordinators.values() for u in us}
    days_before = sorted({n for days in days_of.values() for n in days})
    # Each site's own dates: its today plus each reminder day, and tomorrow's window ends.
    dates_by_site = {
        pk: (
            {today + dt.timedelta(days=n) for n in days_before},
            {today + dt.timedelta(days=1)},
        )
        for pk, today in today_of_site.items()
        if coordinators.get(pk)
    }
    site_count = Counter(u.pk for us in coordinators.values() for u in us)
    # Per site, once: who is told (with the days each chose, and whether the site goes in the
    # key), 08:00 of its today, and which target dates are reminder days: not per visit.
    told_at_site = {
        pk: [(u.pk, u, days_of[u.pk], site_count[u.pk] > 1) for u in us]
        for pk, us in coordinators.items()
    }
    send_after_of_site = {
        pk: local_time_on(today, settings.REMINDER_HOUR, sites[pk].tz)
        for pk, today in today_of_site.items()
    }
    days_to_target = {
        pk: {today + dt.timedelta(days=n): n for n in days_before}
        for pk, today in today_of_site.items()
    }

    wanted: dict = defaultdict(lambda: defaultdict(list))
    users, keys = {}, set()
    for visit in reminder_selectors.reminder_candidates(dates_by_site):
        site_id = visit.site_id
        today = today_of_site[site_id]
        send_after = send_after_of_site[site_id]
        for item in _reminder_items(visit, today, days_to_target[site_id]):
            told = False
            for user_id, user, days, keyed_by_site in told_at_site[site_id]:
                if item["days"] is not None and item["days"] not in days:
                    continue  # a day this person did not choose
                users[user_id] = user
                key = (today, site_id if keyed_by_site else None)
                wanted[user_id][key].append((item, visit.pk, send_after))
                told = True
            if told:  # its key made once, however many are told
                keys.add(item_key(item))
    return wanted, users, keys


VISIT_DUE, WINDOW_CLOSES = OutboxKind.VISIT_DUE.value, OutboxKind.WINDOW_CLOSES.value


def _reminder_items(
    visit: reminder_selectors.ReminderCandidate, today: dt.date, days_to_target: dict
) -> list[dict]:
    """The reminders due today (site-local) for one visit; `days_to_target`: {target date: days
    before it} of the site's reminder days."""
    days = days_to_target.get(visit.target_date)
    items = []
    if days is not None:
        items.append(
            {"kind": VISIT_DUE, "visit": visit.pk, "date": str(visit.target_date), "days": days}
        )
    # The "window closes tomorrow" reminder says nothing new when a "visit tomorrow" reminder for
    # the same visit goes out the same day (windows of 0 days after the target, e.g. INF1).
    if visit.window_end == today + dt.timedelta(days=1) and days != 1:
        items.append(
            {"kind": WINDOW_CLOSES, "visit": visit.pk, "date": str(visit.window_end), "days": None}
        )
    return items


# --- Still valid? --------------------------------------------------------------------------------


def _item_problem(item: dict, visit: ReminderVisit | None, now: dt.datetime) -> str | None:
    """Why a reminder item should no longer be sent, or None when it still holds."""
    if visit is None:
        return "the visit no longer exists"
    code = f"{visit.label} {visit.code}"
    if visit.status != VisitStatus.SCHEDULED:
        return f"{code} is {visit.status_label.lower()}"
    if visit.participant_status == Status.LOST_TO_FOLLOW_UP:
        return f"{visit.label} is lost to follow-up"
    about = dt.date.fromisoformat(item["date"])
    if item["kind"] == OutboxKind.VISIT_DUE and visit.target_date != about:
        return f"{code} moved to {visit.target_date:%Y-%m-%d}"
    if item["kind"] == OutboxKind.WINDOW_CLOSES and visit.window_end != about:
        return f"{code}'s window now ends {visit.window_end:%Y-%m-%d}"
    if now.astimezone(visit.tz).date() > about:
        return f"{about:%Y-%m-%d} has passed"
    return None


def _visits_by_id(ids) -> dict[int, ReminderVisit]:
    """{visit id: visit} for `ids` (one query)."""
    ids = set(ids)
    return reminder_selectors.reminder_visits(ids) if ids else {}


def _row_items(row: OutboxEmail) -> list[dict]:
    if row.kind == OutboxKind.REMINDER_DIGEST:
        return list(row.context.get("items", []))
    return [row.context["item"]]


def _cancel_stale_reminders(
    now: dt.datetime, result: ReminderScanResult, known: VisitsRead, still_wanted: set[str]
) -> dict[str, OutboxEmail]:
    """Re-check every pending, unclaimed reminder row against the stored visit dates (`known`:
    the visits this run reads, kept for the rows it writes next), and return the rows left as
    they were read ({dedup key: row}). An item this run wants again (`still_wanted`, by
    _item_key) holds by construction: its visit was read scheduled, of a participant not lost to
    follow-up, due on the item's date, today or later at its site."""
    rows = list(
        OutboxEmail.objects.filter(
            status=OutboxStatus.PENDING, kind__in=REMINDER_KINDS, claimed_at__isnull=True
        )
        .only("kind", "context", "dedup_key")
        .order_by()
    )
    unchanged = {}
    # (row, its items, whether this run wants each again), each item's key made once.
    checked = [
        (row, items, [item_key(i) in still_wanted for i in items])
        for row in rows
        for items in [_row_items(row)]
    ]
    visits = known.of(
        item["visit"]
        for _, items, wanted in checked
        for item, again in zip(items, wanted, strict=True)
        if not again
    )
    for row, items, wanted in checked:
        if all(wanted):
            unchanged[row.dedup_key] = row
            continue
        problems = [
            None if w else _item_problem(i, visits.get(i["visit"]), now)
            for i, w in zip(items, wanted, strict=True)
        ]
        valid = [i for i, p in zip(items, problems, strict=True) if p is None]
        if len(valid) == len(items):
            unchanged[row.dedup_key] = row
            continue
        # Conditional on the row being unclaimed: a worker may be sending it right now.
        unclaimed = OutboxEmail.objects.filter(
            pk=row.pk, status=OutboxStatus.PENDING, claimed_at__isnull=True
        )
        if valid or row.context.get("deviations"):
            unclaimed.update(context={**row.context, "items": valid})
        elif unclaimed.update(
            status=OutboxStatus.CANCELLED, cancelled_reason="; ".join(filter(None, problems))[:250]
        ):
            result.cancelled += 1
            result.cancelled_reasons.extend(filter(None, problems))
    return unchanged
