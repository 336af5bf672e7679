"""django-tables2 tables of the dashboard, one module per page. Each one is shown on a page and
downloads as CSV/XLSX (?_export=csv|xlsx); action columns are left out of the download."""

from dashboard.tables.base import (
    DATE,
    NOWRAP,
    BaseTable,
    days_left_html,
    days_text,
    fmt_date,
    fmt_local,
    fmt_window,
)
from dashboard.tables.calendar import CalendarTable
from dashboard.tables.participant_page import HistoryTable, TimelineTable
from dashboard.tables.participants import ParticipantTable
from dashboard.tables.safety import (
    AdverseEventTable,
    FollowUpTable,
    ParticipantEventTable,
    SaeClockTable,
)
from dashboard.tables.worklist import OverdueSafetyTable, OverdueVisitTable, VisitTable

__all__ = [
    "DATE",
    "NOWRAP",
    "AdverseEventTable",
    "BaseTable",
    "CalendarTable",
    "FollowUpTable",
    "HistoryTable",
    "OverdueSafetyTable",
    "OverdueVisitTable",
    "ParticipantEventTable",
    "ParticipantTable",
    "SaeClockTable",
    "TimelineTable",
    "VisitTable",
    "days_left_html",
    "days_text",
    "fmt_date",
    "fmt_local",
    "fmt_window",
]
