"""Forms for what coordinators record, shared by the dashboard and the admin. They collect input
and call the services; the services decide. A service's ValidationError is shown next to the field it names (or at the top of the
form), and since each service runs in one transaction nothing is saved when it refuses.

One module per subject: base (fields, ServiceForm), visits, assessments, actions (status changes,
ACTIONS), consent. Import from here: `from schedule import forms` and `forms.ACTIONS` etc.
"""

from schedule.forms.actions import (
    ACTIONS,
    ActionForm,
    DeathForm,
    EnrollForm,
    LostToFollowUpForm,
    ManufacturingFailForm,
    PlanInfusionForm,
    ReinstateForm,
    ScreenFailForm,
    StopTreatmentForm,
    UnscheduledVisitForm,
    WithdrawForm,
    actions_available,
)
from schedule.forms.assessments import AssessmentForm
from schedule.forms.base import (
    DATE_FORMATS,
    TIME_FORMATS,
    YES_NO,
    ServiceForm,
    add_service_error,
    date_field,
    text_area,
    time_field,
)
from schedule.forms.consent import ConsentForm
from schedule.forms.visits import VisitDoneForm, VisitMissedForm

__all__ = [
    "ACTIONS",
    "DATE_FORMATS",
    "TIME_FORMATS",
    "YES_NO",
    "ActionForm",
    "AssessmentForm",
    "ConsentForm",
    "DeathForm",
    "EnrollForm",
    "LostToFollowUpForm",
    "ManufacturingFailForm",
    "PlanInfusionForm",
    "ReinstateForm",
    "ScreenFailForm",
    "ServiceForm",
    "StopTreatmentForm",
    "UnscheduledVisitForm",
    "VisitDoneForm",
    "VisitMissedForm",
    "WithdrawForm",
    "actions_available",
    "add_service_error",
    "date_field",
    "text_area",
    "time_field",
]
