"""The rows of the visit reminder scan (reminders.py): their dedup keys, what an email says, and
creating them (one email per item, or one digest per coordinator and day, merged into while it is
unclaimed)."""

import datetime as dt

from django.db import transaction

from notifications import reminder_selectors
from notifications.models import OutboxEmail, OutboxKind, OutboxStatus
from notifications.reminder_selectors import ReminderVisit
from notifications.services.emails import participant_url, render_email
from notifications.services.outbox import outbox_add


class VisitsRead:
    """{visit id: what a reminder reads of it}, read when a row needs it (written, merged, or
    re-checked), each visit at most once per run."""

    def __init__(self):
        self.read: dict[int, ReminderVisit] = {}

    def of(self, ids) -> dict[int, ReminderVisit]:
        ids = set(ids)
        missing = ids - self.read.keys()
        if missing:
            self.read |= reminder_selectors.reminder_visits(missing)
        return {pk: self.read[pk] for pk in ids if pk in self.read}


def item_key(item: dict) -> str:
    return f"{item['kind']}:{item['visit']}:{item['date']}:{item.get('days')}"


def item_dedup_key(item: dict, user_id: int) -> str:
    # Visit id + kind + the date it is about: a moved visit gets a new row.
    return f"reminder:{item['kind']}:v{item['visit']}:{item['date']}:d{item.get('days')}:u{user_id}"


# --- What an email says --------------------------------------------------------------------------


def item_view(item: dict, visit: ReminderVisit) -> dict:
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


def reminder_subject(
    items: list[dict], visits: dict[int, ReminderVisit], day: dt.date, drafts: int = 0
) -> str:
    if len(items) == 1 and not drafts:
        item = items[0]
        visit = visits[item["visit"]]
        return render_email("reminder", {"item": item_view(item, visit)})[0]
    parts = [f"{len(items)} visits"] if items else []
    if drafts:
        parts.append(f"{drafts} deviation draft{'s' if drafts != 1 else ''} to describe")
    return f"SLE-001 reminders for {day:%a %Y-%m-%d}: {', '.join(parts)}"


# --- Creating rows -------------------------------------------------------------------------------


def add_per_item(user, item, visits: VisitsRead, day, send_after, now, result) -> None:
    visit = visits.of([item["visit"]]).get(item["visit"])
    if visit is None:  # deleted since the candidates were read: nothing to remind of
        return
    _, created = outbox_add(
        dedup_key=item_dedup_key(item, user.pk),
        recipient=user,
        kind=item["kind"],
        send_after=send_after,
        now=now,
        subject=reminder_subject([item], {visit.pk: visit}, day),
        participant_id=visit.participant_id,
        visit_id=visit.pk,
        about_date=dt.date.fromisoformat(item["date"]),
        context={"item": item},
    )
    result.created += created


def digest_key(user_id: int, day: dt.date, site_id: int | None) -> str:
    # One per site for a coordinator of several (see reminders_scan).
    return f"digest:{user_id}:{day}" + (f":s{site_id}" if site_id else "")


def add_to_digest(
    user,
    entries,
    day,
    now,
    result,
    visits: VisitsRead,
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
    known = (existing or {}).get(digest_key(user.pk, day, site_id))
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
            dedup_key=digest_key(user.pk, day, site_id),
            recipient=user,
            kind=OutboxKind.REMINDER_DIGEST,
            send_after=send_after,
            now=now,
            subject=reminder_subject(items, shown, day, len(drafts)),
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
        add_per_item(user, item, visits, day, now, now, result)


def _merge_into_digest(row, entries, day, send_after, result, visits: VisitsRead, drafts=()):
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
        subject=reminder_subject(merged, all_visits, day, len(all_drafts))[:250],
        send_after=min(row.send_after, send_after),
    )
    if merged_ok:
        result.digest_items_added += len(new)
        return []
    OutboxEmail.objects.filter(pk=row.pk).update(
        context={**row.context, "late": sorted(_known_items(row) | {item_key(e[0]) for e in new})}
    )
    return new


def _known_items(row) -> set[str]:
    """The items a digest row holds or has sent one per email since (it was claimed)."""
    return {item_key(i) for i in row.context.get("items", [])} | set(row.context.get("late", []))


def _news_for(row, entries, drafts) -> tuple[list, list]:
    """(entries, draft ids) a digest row does not hold yet."""
    known = _known_items(row)
    listed = row.context.get("deviations", [])
    return [e for e in entries if item_key(e[0]) not in known], [
        pk for pk in drafts if pk not in listed
    ]
