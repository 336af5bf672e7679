"""Bounded batches for the safety scans: the next at most `size` candidate ids, whole visits
only, after a cursor. A scan works a backlog batch by batch, each batch in its own transaction,
so no run holds its lock (or its memory) for the whole backlog.

Only ids and grouping keys are read here, from the candidates' own table (served by the scan's
partial index); the caller loads the related rows for the ids of one batch only.

Whole visits: an email is made per visit (and due time), its dedup key naming the visit; a visit
split over two batches would make the second half's email a duplicate that is never created, so
its items would be flagged but named in no email.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet

from schedule.models import Assessment

# A cursor that says there is nothing more.
DONE = "done"
# What the scans load with each assessment of a batch: the visit label ("APH #2") and the site.
RELATED = ("visit__participant__site", "visit__definition", "definition")


@dataclass
class Batch:
    ids: list[int]
    # DONE, or the grouping key of the last visit taken: the next batch starts after it.
    cursor: object


def _after(cursor: tuple, by_due_time: bool) -> Q:
    if not by_due_time:
        return Q(visit_id__gt=cursor[0])
    visit_id, due_at = cursor
    return Q(visit_id__gt=visit_id) | Q(visit_id=visit_id, due_at__gt=due_at)


def next_batch(candidates: QuerySet, after, size: int, *, by_due_time: bool = True) -> Batch:
    """The ids of the next batch of `candidates` (assessments) after cursor `after` (None: from
    the start), grouped by visit (and due time when `by_due_time`). At most `size` ids, unless
    one visit's items alone are more: then that visit alone."""
    key_fields = ("visit_id", "due_at") if by_due_time else ("visit_id",)
    rows = candidates if after is None else candidates.filter(_after(after, by_due_time))
    # Ordered by visit_id + 0: sorted after the partial index found the few candidates. Ordered
    # by visit_id itself, PostgreSQL walks the whole visit_id index to fill the LIMIT, and with
    # nothing to flag that is every assessment of the study (250 ms at 10k participants).
    order = (F("visit_id") + 0, *key_fields[1:], "pk")
    picked = list(rows.order_by(*order).values_list("pk", *key_fields)[: size + 1])
    if len(picked) <= size:
        return Batch([row[0] for row in picked], DONE)
    cut = picked[size][1:]
    kept = [row for row in picked[:size] if row[1:] != cut]
    if not kept:
        whole = candidates.filter(**dict(zip(key_fields, cut, strict=True)))
        return Batch(list(whole.values_list("pk", flat=True)), cut)
    return Batch([row[0] for row in kept], kept[-1][1:])


def load(ids: list[int], *order) -> list[Assessment]:
    """The assessments of one batch with the rows the emails name: one query, those ids only
    (none for an empty batch: compiling the joins alone took most of a routine run's time)."""
    if not ids:
        return []
    return list(Assessment.objects.filter(pk__in=ids).select_related(*RELATED).order_by(*order))


def group_by_visit(assessments, *, by_due_time=True) -> dict:
    """{(visit id, due time or None): [assessments]}, in the order given."""
    groups = defaultdict(list)
    for a in assessments:
        groups[(a.visit_id, a.due_at if by_due_time else None)].append(a)
    return groups
