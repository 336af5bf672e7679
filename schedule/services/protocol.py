"""The protocol as data: the active version, loading and exporting a version, amendments and
the checks a version must pass before it is made active.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from schedule.models import (
    Anchor,
    AssessmentDefinition,
    ProtocolVersion,
    VisitDefinition,
    VisitKind,
)
from schedule.protocols.loader import create_protocol
from schedule.windows import window_for


def protocol_current() -> ProtocolVersion:
    protocol = ProtocolVersion.objects.filter(is_active=True).order_by("-version").first()
    if protocol is None:
        raise ValidationError("No active protocol version: load one (manage.py load_protocol).")
    return protocol


@transaction.atomic
def protocol_load(data: dict) -> ProtocolVersion:
    """Create a protocol version from its data (schedule/protocols/v1.py is the model)."""
    if ProtocolVersion.objects.filter(version=data["version"]).exists():
        raise ValidationError(f"Protocol version {data['version']} already exists.")
    protocol = create_protocol(data, ProtocolVersion, VisitDefinition, AssessmentDefinition)
    problems = protocol_problems(protocol)
    if problems:
        raise ValidationError(problems)
    return protocol


def protocol_as_data(protocol: ProtocolVersion) -> dict:
    """The inverse of protocol_load: a version as plain data (for amendments and export)."""
    visits = []
    for d in protocol.visits.prefetch_related("assessments").order_by("order"):
        visits.append(
            {
                "code": d.code,
                "name": d.name,
                "period": d.period,
                "kind": d.kind,
                "anchor": d.anchor,
                "offset": d.target_offset,
                "before": d.window_before,
                "after": d.window_after,
                "min_days_after_previous": d.min_days_after_previous,
                "missable": d.missable,
                "assessments": [
                    [
                        a.code,
                        a.name,
                        a.is_safety,
                        {
                            k: v
                            for k, v in {
                                "pre_dose": a.pre_dose,
                                "max_age_hours": a.max_age_hours,
                                "due_hours_after_start": a.due_hours_after_start,
                                "condition": a.condition,
                                "can_be_not_applicable": a.can_be_not_applicable,
                                "holds_next_infusion": a.holds_next_infusion,
                                "lab_values": a.lab_values,
                            }.items()
                            if v
                        },
                    ]
                    for a in d.assessments.all()
                ],
            }
        )
    return {
        "version": protocol.version,
        "name": protocol.name,
        "notes": protocol.notes,
        "visits": visits,
    }


@transaction.atomic
def protocol_copy_as_amendment(protocol: ProtocolVersion, *, name: str) -> ProtocolVersion:
    """A new version, a copy of `protocol`, to be edited into the amendment. It is created
    inactive: new participants get it only once the study manager makes it active."""
    data = protocol_as_data(protocol)
    latest = ProtocolVersion.objects.select_for_update().order_by("-version").first()
    data["version"] = latest.version + 1
    data["name"] = name
    data["is_active"] = False
    return protocol_load(data)


def protocol_problems(protocol: ProtocolVersion) -> list[str]:
    """Problems in a protocol's definitions: overlapping windows or visits out of order among
    visits that share an anchor (the only ones whose relative dates the protocol fixes)."""
    problems = []
    by_anchor: dict[str, list[VisitDefinition]] = {}
    definitions = list(protocol.visits.order_by("order"))
    for d in definitions:
        if d.anchor in (Anchor.CONSENT, Anchor.FIRST_INFUSION):
            by_anchor.setdefault(d.anchor, []).append(d)
    origin = dt.date(2000, 1, 1)  # any date: same-anchor windows move together
    for same_anchor in by_anchor.values():
        for earlier, later in zip(same_anchor, same_anchor[1:], strict=False):
            w1 = window_for(
                origin, earlier.target_offset, earlier.window_before, earlier.window_after
            )
            w2 = window_for(origin, later.target_offset, later.window_before, later.window_after)
            if w2.target <= w1.target:
                problems.append(
                    f"{later.code} is listed after {earlier.code} but its target is not later."
                )
            elif w1.overlaps(w2):
                problems.append(f"The windows of {earlier.code} and {later.code} overlap.")
    # The services look these visits up one by one, so each must exist exactly once.
    for what, field, value in (
        ("leukapheresis visit (kind apheresis)", "kind", VisitKind.APHERESIS),
        ("first-infusion visit (kind first_infusion)", "kind", VisitKind.FIRST_INFUSION),
        ("unscheduled visit (kind unscheduled)", "kind", VisitKind.UNSCHEDULED),
        ("early-termination visit (anchor withdrawal)", "anchor", Anchor.WITHDRAWAL),
    ):
        found = sum(1 for d in definitions if getattr(d, field) == value)
        if found != 1:
            problems.append(f"The protocol needs exactly one {what}; it has {found}.")
    return problems
