from django.urls import path

from dashboard.views import (
    calendar,
    deviations,
    episodes,
    matrix,
    participants,
    recording,
    reports,
    safety,
    worklist,
)

app_name = "dashboard"

urlpatterns = [
    path("", worklist.worklist, name="worklist"),
    path("worklist/<slug:key>/", worklist.worklist_section, name="worklist_section"),
    path("participants/", participants.ParticipantListView.as_view(), name="participants"),
    path("matrix/", matrix.matrix, name="matrix"),
    path("participants/new/", participants.participant_new, name="participant_new"),
    path("participants/<int:pk>/", participants.participant_detail, name="participant"),
    # Before the generic status change: the dashboard records a death only linked to its SAE.
    path("participants/<int:pk>/death/", episodes.participant_death, name="participant_death"),
    path(
        "participants/<int:pk>/<slug:action>/",
        participants.participant_action,
        name="participant_action",
    ),
    path(
        "participants/<int:pk>/adverse-events/new/",
        safety.ae_new,
        name="ae_new",
    ),
    path("participants/<int:pk>/pregnancy/new/", safety.pregnancy_new, name="pregnancy_new"),
    path("participants/<int:pk>/crs/new/", episodes.crs_new, name="crs_new"),
    path("participants/<int:pk>/icans/new/", episodes.icans_new, name="icans_new"),
    path("safety/adverse-events/", safety.AdverseEventListView.as_view(), name="adverse_events"),
    # Before the generic event action, whose slugs it would otherwise catch.
    path(
        "safety/adverse-events/<int:pk>/reassess/",
        episodes.episode_reassess,
        name="episode_reassess",
    ),
    path(
        "safety/adverse-events/<int:pk>/<slug:action>/",
        safety.ae_action,
        name="ae_action",
    ),
    path("deviations/", deviations.DeviationListView.as_view(), name="deviations"),
    path("deviations/<int:pk>/", deviations.deviation_detail, name="deviation"),
    path(
        "deviations/<int:pk>/<slug:action>/",
        deviations.deviation_action,
        name="deviation_action",
    ),
    path("visits/<int:pk>/date/", deviations.visit_correct_date, name="visit_correct_date"),
    path("visits/<int:pk>/done/", recording.visit_done, name="visit_done"),
    path("visits/<int:pk>/missed/", recording.visit_missed, name="visit_missed"),
    path("assessments/<int:pk>/record/", recording.assessment_record, name="assessment_record"),
    path("reports/enrollment/", reports.enrollment_report, name="enrollment_report"),
    path(
        "reports/enrollment/<slug:picture>.svg",
        reports.enrollment_report_picture,
        name="enrollment_report_picture",
    ),
    path("calendar/", calendar.calendar, name="calendar"),
    path("calendar/feed/", calendar.feed_settings, name="feed_settings"),
    path("calendar/feed/<str:key>.ics", calendar.feed, name="feed"),
]
