"""Admin for coordinators: participants with their visits, and forms that call the services.

The Participant admin lives here rather than in participants/ because it shows the visit schedule
inline and its actions move the schedule (participants must not import schedule).
Nothing clinical is edited field by field: status, dates and results change only through the
forms in schedule/forms/, which call schedule.services.

One module per model admin: participants, visits, assessments, protocol, reanchors, deviations;
base holds what they share (render_service_form). Importing this package registers them all.
"""

# Importing the modules registers their admins.
from schedule.admin import (  # noqa: F401
    assessments,
    deviations,
    participants,
    protocol,
    reanchors,
    visits,
)
from schedule.admin.assessments import OverdueFilter
from schedule.admin.base import render_service_form

__all__ = ["OverdueFilter", "render_service_form"]
