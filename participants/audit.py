"""The audit trail's reason for a change: django-simple-history's `history_change_reason`, a
100-character column on every history table. What goes there is a bounded one-line summary; the
full reason a coordinator wrote is kept in the record's own field (StatusChange.reason,
Visit.reason, Reanchor.reason...), which has no such limit.

`audit_reason` is the one function that bounds it. The services pass their reasons through it
(bulk history rows, `_change_reason`), and `bound_history_reason` (connected in apps.py) bounds
every history row saved one at a time, so no caller can overflow the column.

`reason_for_change` is the reason asked for when recorded data changes (a result, lab values):
at most AUDIT_REASON_MAX characters, so it is kept whole in the history row.
"""

from django.core.exceptions import ValidationError

AUDIT_REASON_MAX = 100  # simple-history's history_change_reason column
ELLIPSIS = "…"


def audit_reason(text: str | None) -> str | None:
    """`text` on one line, cut to AUDIT_REASON_MAX characters with "…" when longer."""
    if text is None:
        return None
    line = " ".join(str(text).split())
    if len(line) <= AUDIT_REASON_MAX:
        return line
    return line[: AUDIT_REASON_MAX - len(ELLIPSIS)].rstrip() + ELLIPSIS


def bound_history_reason(sender, history_instance, **kwargs) -> None:
    """simple-history's pre_create_historical_record: the reason as audit_reason bounds it."""
    reason = getattr(history_instance, "history_change_reason", None)
    if reason:
        history_instance.history_change_reason = audit_reason(reason)


def reason_for_change(reason: str | None, what: str, field: str = "reason") -> str:
    """The reason a coordinator gives for changing recorded data (`what`: "the result"), refused
    under `field` when missing or longer than the history keeps: it goes whole into the change's
    history row (`record._change_reason`), never cut."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError(
            {field: f"Give the reason for changing {what} (kept in its history)."}
        )
    if len(reason) > AUDIT_REASON_MAX:
        raise ValidationError(
            {field: f"Keep the reason to {AUDIT_REASON_MAX} characters (this is {len(reason)})."}
        )
    return reason


def changed_fields(record, values: dict) -> list[str]:
    """The names in `values` whose value differs from the record's: none, and a service saves
    nothing (a save that changes nothing writes no history row)."""
    return [name for name, value in values.items() if getattr(record, name) != value]
