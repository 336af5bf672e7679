"""The audit trail's reason for a change: django-simple-history's `history_change_reason`, a
100-character column on every history table. What goes there is a bounded one-line summary; the
full reason a coordinator wrote is kept in the record's own field (StatusChange.reason,
Visit.reason, Reanchor.reason...), which has no such limit.

`audit_reason` is the one function that bounds it. The services pass their reasons through it
(bulk history rows, `_change_reason`), and `bound_history_reason` (connected in apps.py) bounds
every history row saved one at a time, so no caller can overflow the column.
"""

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
