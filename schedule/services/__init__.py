"""The schedule side of the study: the actions coordinators and investigators take, as plain
functions, each one transaction. Refusals raise ValidationError in the coordinator's words (keyed by
form field where one field is at fault); nothing is saved when one is raised.

One module per subject; this package re-exports each public action so callers write
`services.visit_record_done(...)`. The lower layer (layout.py, reanchoring.py) is not re-exported.

    protocol.py     the protocol as data: current version, load/export, amendments, checks
    lifecycle.py    consent, screen failure, enrollment, manufacturing failure, withdrawal, loss
                    to follow-up, reinstatement, death: status change + visits, in one transaction
    infusions.py    planning D0, the pre-dose gate (and an investigator's override), infusion
                    spacing; treatment_end.py: after the last infusion, or stopped early
    holds.py        infusion holds: opened and released per source (e.g. a CRS episode)
    visits.py       a visit done, missed, or unscheduled
    deviations.py   protocol deviations drafted by the tracker, once per cause (called by the
                    services that record the cause); deviations_follow_up.py: describe, open,
                    close, withdraw; deviations_corrections.py: a visit's date corrected
    assessments.py  an assessment's result, or not done / not applicable
    layout.py       laying out and closing visits (lower layer)
    reanchoring.py  moving the D0 visits when the first infusion moves (lower layer)
"""

from schedule.services.assessments import assessment_not_done, assessment_record
from schedule.services.deviations_corrections import visit_date_correct
from schedule.services.deviations_follow_up import (
    deviation_close,
    deviation_edit,
    deviation_open,
    deviation_withdraw,
)
from schedule.services.holds import hold_open, hold_release, open_holds
from schedule.services.infusions import (
    APHERESIS_TO_INFUSION_MIN_DAYS,
    APHERESIS_TO_INFUSION_WARN_DAYS,
    apheresis_gap_warning,
    first_infusion_plan,
    gate,
    pre_dose_problems,
    treatment_start,
)
from schedule.services.lifecycle import (
    participant_consent,
    participant_die,
    participant_enroll,
    participant_lose_to_follow_up,
    participant_manufacturing_fail,
    participant_reinstate,
    participant_rescreen,
    participant_screen_fail,
    participant_withdraw,
)
from schedule.services.protocol import (
    protocol_as_data,
    protocol_copy_as_amendment,
    protocol_current,
    protocol_load,
    protocol_problems,
)
from schedule.services.treatment_end import treatment_stop_early
from schedule.services.visits import unscheduled_visit_add, visit_mark_missed, visit_record_done

__all__ = [
    "APHERESIS_TO_INFUSION_MIN_DAYS",
    "APHERESIS_TO_INFUSION_WARN_DAYS",
    "apheresis_gap_warning",
    "assessment_not_done",
    "assessment_record",
    "deviation_close",
    "deviation_edit",
    "deviation_open",
    "deviation_withdraw",
    "first_infusion_plan",
    "gate",
    "hold_open",
    "hold_release",
    "open_holds",
    "participant_consent",
    "participant_die",
    "participant_enroll",
    "participant_lose_to_follow_up",
    "participant_manufacturing_fail",
    "participant_reinstate",
    "participant_rescreen",
    "participant_screen_fail",
    "participant_withdraw",
    "pre_dose_problems",
    "protocol_as_data",
    "protocol_copy_as_amendment",
    "protocol_current",
    "protocol_load",
    "protocol_problems",
    "treatment_start",
    "treatment_stop_early",
    "unscheduled_visit_add",
    "visit_date_correct",
    "visit_mark_missed",
    "visit_record_done",
]
