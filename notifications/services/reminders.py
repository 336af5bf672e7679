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
from django.db import transaction
from django.utils import timezone

from notifications import selectors
from notifications.models import REMINDER_KINDS, OutboxEmail, OutboxKind, OutboxStatus
from notifications.selectors import ReminderVisit
from notifications.services import deviation_digest
from notifications.services.emails import participant_url, render_email
from notifications.services.outbox import outbox_add
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
    wanted, users = _wanted_reminders(now, coordinators)
    visits = _VisitsRead()
    still_wanted = {
        _item_key(item)
        for by_day in wanted.values()
        for entries in by_day.values()
        for item, _, _ in entries
    }
    _cancel_stale_reminders(now, result, visits, still_wanted)
    drafts, draft_users = deviation_digest.drafts_for_coordinators(now, coordinators)
    users.update(draft_users)
    # The rows this run would create, read at once: a steady-state run (every hour, most items
    # known already) then writes nothing and asks nothing per coordinator.
    existing = _existing_rows(wanted, drafts, users)
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
                    if _item_dedup_key(item, user_id) not in existing:
                        _add_per_item(user, item, visits, day, send_after, now, result)
                if waiting:
                    _add_to_digest(user, [], day, now, result, visits, waiting, existing=existing)
            else:
                _add_to_digest(
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


class _VisitsRead:
    """{visit id: what a reminder reads of it}, read when a row needs it (written, merged, or
    re-checked), each visit at most once per run."""

    def __init__(self):
        self.read: dict[int, ReminderVisit] = {}

    def of(self, ids) -> dict[int, ReminderVisit]:
        ids = set(ids)
        missing = ids - self.read.keys()
        if missing:
            self.read |= selectors.reminder_visits(missing)
        return {pk: self.read[pk] for pk in ids if pk in self.read}


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
                    if _item_dedup_key(item, user_id) not in existing
                )
            elif _digest_key(user_id, day, site_id) not in existing:
                ids.update(visit_id for _, visit_id, _ in entries)
    return ids


def _existing_rows(wanted: dict, drafts: dict, users: dict) -> dict[str, OutboxEmail]:
    """{dedup key: row} of the reminder rows this run's items map to: each coordinator's
    digests, and the rows per item of those who take one email per item."""
    keys = set()
    for user_id, by_day in wanted.items():
        per_item = users[user_id].staff_profile.reminder_mode == ReminderMode.PER_ITEM
        for (day, site_id), entries in by_day.items():
            keys.add(_digest_key(user_id, day, site_id))
            if per_item:
                keys.update(_item_dedup_key(item, user_id) for item, _, _ in entries)
    for user_id, by_day in drafts.items():
        keys.update(_digest_key(user_id, day, None) for day in by_day)
    rows = OutboxEmail.objects.filter(dedup_key__in=keys).only("dedup_key", "context")
    return {row.dedup_key: row for row in rows}


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
            views.append(_item_view(item, visits[item["visit"]]))
    drafts = deviation_digest.deviation_views(row.context.get("deviations", []))
    if not views and not drafts:
        return "; ".join(problems) or "the deviation drafts listed are no longer drafts", {}
    if row.kind == OutboxKind.REMINDER_DIGEST:
        day = dt.date.fromisoformat(row.context["day"])
        return None, {"items": views, "deviations": drafts, "day": day}
    return None, {"item": views[0]}


# --- What is due ---------------------------------------------------------------------------------


def _wanted_reminders(now: dt.datetime, coordinators: dict) -> tuple[dict, dict]:
    """({user id: {(local day, site id or None): [(item, visit id, send_after)]}}, {user id:
    user}): the reminders due today, site-local, for each site's coordinators ({site id:
    [users]}), on the days each chose (participants.staff.reminder_days_of). The site is in
    the key only for a coordinator of several sites (one digest per site)."""
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
    # 08:00 of each site's today, once per site (not per visit).
    send_after_of_site = {
        pk: local_time_on(today, settings.REMINDER_HOUR, sites[pk].tz)
        for pk, today in today_of_site.items()
    }

    wanted: dict = defaultdict(lambda: defaultdict(list))
    users = {}
    for visit in selectors.reminder_candidates(dates_by_site):
        today = today_of_site[visit.site_id]
        send_after = send_after_of_site[visit.site_id]
        for item in _reminder_items(visit, today, days_before):
            for user in coordinators[visit.site_id]:
                if item["days"] is not None and item["days"] not in days_of[user.pk]:
                    continue  # a day this person did not choose
                users[user.pk] = user
                key = (today, visit.site_id if site_count[user.pk] > 1 else None)
                wanted[user.pk][key].append((item, visit.pk, send_after))
    return wanted, users


def _reminder_items(
    visit: selectors.ReminderCandidate, today: dt.date, days_before: list[int]
) -> list[dict]:
    """The reminders due today (site-local) for one visit."""
    items = [
        {
            "kind": OutboxKind.VISIT_DUE.value,
            "visit": visit.pk,
            "date": str(visit.target_date),
            "days": n,
        }
        for n in days_before
        if visit.target_date == today + dt.timedelta(days=n)
    ]
    tomorrow = today + dt.timedelta(days=1)
    # The "window closes tomorrow" reminder says nothing new when a "visit tomorrow" reminder for
    # the same visit goes out the same day (windows of 0 days after the target, e.g. INF1).
    if visit.window_end == tomorrow and not any(i["days"] == 1 for i in items):
        items.append(
            {
                "kind": OutboxKind.WINDOW_CLOSES.value,
                "visit": visit.pk,
                "date": str(visit.window_end),
                "days": None,
            }
        )
    return items


def _item_key(item: dict) -> str:
    return f"{item['kind']}:{item['visit']}:{item['date']}:{item.get('days')}"


def _item_dedup_key(item: dict, user_id: int) -> str:
    # Visit id + kind + the date it is about: a moved visit gets a new row.
    return f"reminder:{item['kind']}:v{item['visit']}:{item['date']}:d{item.get('days')}:u{user_id}"


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
    return selectors.reminder_visits(ids) if ids else {}


def _row_items(row: OutboxEmail) -> list[dict]:
    if row.kind == OutboxKind.REMINDER_DIGEST:
        return list(row.context.get("items", []))
    return [row.context["item"]]


def _cancel_stale_reminders(
    now: dt.datetime, result: ReminderScanResult, known: "_VisitsRead", still_wanted: set[str]
) -> None:
    """Re-check every pending, unclaimed reminder row against the stored visit dates (`known`:
    the visits this run reads, kept for the rows it writes next). An item this run wants again
    (`still_wanted`, by _item_key) holds by construction: its visit was read scheduled, of a
    participant not lost to follow-up, due on the item's date, today or later at its site."""
    rows = list(
        OutboxEmail.objects.filter(
            status=OutboxStatus.PENDING, kind__in=REMINDER_KINDS, claimed_at__isnull=True
        )
    )
    to_check = [i for row in rows for i in _row_items(row) if _item_key(i) not in still_wanted]
    visits = known.of(i["visit"] for i in to_check)
    for row in rows:
        items = _row_items(row)
        problems = [
            None if _item_key(i) in still_wanted else _item_problem(i, visits.get(i["visit"]), now)
            for i in items
        ]
        valid = [i for i, p in zip(items, problems, strict=True) if p is None]
        if len(valid) == len(items):
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


# --- What an email says --------------------------------------------------------------------------


def _item_view(item: dict, visit: ReminderVisit) -> dict:
    """What a reminder template shows: study ids and visit codes only ("APH #2" for a repeat)."""
    return {
        "kind": item["kind"],
        "days": item.get("days"),
        "participant": visit.label,
        "site": visit.site_code,
        "visit_code": visit.code,
        "visit_name": visit.name,
        "target_date": visit.target_date,
        "window_start": visit.window_start,
        "window_end": visit.window_end,
        "url": participant_url(visit.participant_id),
    }


def _reminder_subject(
    items: list[dict], visits: dict[int, ReminderVisit], day: dt.date, drafts: int = 0
) -> str:
    if len(items) == 1 and not drafts:
        item = items[0]
        visit = visits[item["visit"]]
        return render_email("reminder", {"item": _item_view(item, visit)})[0]
    parts = [f"{len(items)} visits"] if items else []
    if drafts:
        parts.append(f"{drafts} deviation draft{'s' if drafts != 1 else ''} to describe")
    return f"SLE-001 reminders for {day:%a %Y-%m-%d}: {', '.join(parts)}"


# --- Creating rows -------------------------------------------------------------------------------


def _add_per_item(user, item, visits: _VisitsRead, day, send_after, now, result) -> None:
    visit = visits.of([item["visit"]]).get(item["visit"])
    if visit is None:  # deleted since the candidates were read: nothing to remind of
        return
    _, created = outbox_add(
        dedup_key=_item_dedup_key(item, user.pk),
        recipient=user,
        kind=item["kind"],
        send_after=send_after,
        now=now,
        subject=_reminder_subject([item], {visit.pk: visit}, day),
        participant_id=visit.participant_id,
        visit_id=visit.pk,
        about_date=dt.date.fromisoformat(item["date"]),
        context={"item": item},
    )
    result.created += created


def _digest_key(user_id: int, day: dt.date, site_id: int | None) -> str:
    # One per site for a coordinator of several (see reminders_scan).
    return f"digest:{user_id}:{day}" + (f":s{site_id}" if site_id else "")


def _add_to_digest(
    user,
    entries,
    day,
    now,
    result,
    visits: _VisitsRead,
    waiting=None,
    *,
    site_id=None,
    existing=None,
) -> None:
    """Put today's items (and `waiting`: (send_after, deviation draft ids)) into the user's
    digest for `day`; items found after the digest was claimed or sent go out one per email
    instead (a late item is still worth telling; a late draft is listed again tomorrow).
    `existing`: rows read by this run ({dedup key: row}); a digest there that holds every item
    and draft already is left alone without a query (items are only ever added to a digest)."""
    drafts = (waiting or (None, []))[1]
    known = (existing or {}).get(_digest_key(user.pk, day, site_id))
    if known is not None and _news_for(known, entries, drafts) == ([], []):
        return
    shown = visits.of(visit_id for _, visit_id, _ in entries)
    # A visit deleted since the candidates were read has nothing to remind of.
    entries = [entry for entry in entries if entry[1] in shown]
    drafts_after, drafts = waiting or (None, [])
    if not entries and not drafts:
        return
    items = [item for item, _, _ in entries]
    send_after = min([s for _, _, s in entries] + ([drafts_after] if drafts else []))
    single = shown.get(entries[0][1]) if len(entries) == 1 and not drafts else None
    with transaction.atomic():
        row, created = outbox_add(
            dedup_key=_digest_key(user.pk, day, site_id),
            recipient=user,
            kind=OutboxKind.REMINDER_DIGEST,
            send_after=send_after,
            now=now,
            subject=_reminder_subject(items, shown, day, len(drafts)),
            participant_id=single.participant_id if single else None,
            visit_id=single.pk if single else None,
            about_date=day,
            context={"items": items, "day": str(day), "deviations": list(drafts)},
        )
        if created:
            result.created += 1
            return
        late = _merge_into_digest(row, entries, day, send_after, result, visits, drafts)
    for item, _, _ in late:
        _add_per_item(user, item, visits, day, now, now, result)


def _merge_into_digest(row, entries, day, send_after, result, visits: _VisitsRead, drafts=()):
    """Add the entries (and deviation drafts) the existing digest `row` does not hold yet;
    returns the entries that came too late (the digest is claimed or sent), to be sent one per
    email. Inside the caller's transaction."""
    # Lock the digest so two scans merging at once do not overwrite each other's items
    # (PostgreSQL; SQLite's IMMEDIATE transactions already run one writer at a time).
    row = OutboxEmail.objects.select_for_update().get(pk=row.pk)
    new, new_drafts = _news_for(row, entries, drafts)
    if not new and not new_drafts:
        return []
    merged = row.context.get("items", []) + [item for item, _, _ in new]
    all_drafts = row.context.get("deviations", []) + new_drafts
    all_visits = visits.of(i["visit"] for i in merged)
    # Conditional on no claim: once a worker holds the digest, its items are fixed.
    merged_ok = OutboxEmail.objects.filter(
        pk=row.pk, status=OutboxStatus.PENDING, claimed_at__isnull=True
    ).update(
        context={**row.context, "items": merged, "deviations": all_drafts},
        subject=_reminder_subject(merged, all_visits, day, len(all_drafts))[:250],
        send_after=min(row.send_after, send_after),
    )
    if merged_ok:
        result.digest_items_added += len(new)
        return []
    OutboxEmail.objects.filter(pk=row.pk).update(
        context={**row.context, "late": sorted(_known_items(row) | {_item_key(e[0]) for e in new})}
    )
    return new


def _known_items(row) -> set[str]:
    """The items a digest row holds or has sent one per email since (it was claimed)."""
    return {_item_key(i) for i in row.context.get("items", [])} | set(row.context.get("late", []))


def _news_for(row, entries, drafts) -> tuple[list, list]:
    """(entries, draft ids) a digest row does not hold yet."""
    known = _known_items(row)
    listed = row.context.get("deviations", [])
    return [e for e in entries if _item_key(e[0]) not in known], [
        pk for pk in drafts if pk not in listed
    ]
