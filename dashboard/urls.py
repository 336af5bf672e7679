from django.urls import path

from dashboard.views import calendar, participants, recording, safety, worklist

app_name = "dashboard"

urlpatterns = [
    path("", worklist.worklist, name="worklist"),
    path("participants/", participants.ParticipantListView.as_view(), name="participants"),
    path("participants/new/", participants.participant_new, name="participant_new"),
    path("participants/<int:pk>/", participants.participant_detail, name="participant"),
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
    path("safety/adverse-events/", safety.AdverseEventListView.as_view(), name="adverse_events"),
    path(
        "safety/adverse-events/<int:pk>/<slug:action>/",
        safety.ae_action,
        name="ae_action",
    ),
    path("visits/<int:pk>/done/", recording.visit_done, name="visit_done"),
    path("visits/<int:pk>/missed/", recording.visit_missed, name="visit_missed"),
    path("assessments/<int:pk>/record/", recording.assessment_record, name="assessment_record"),
    path("calendar/", calendar.calendar, name="calendar"),
    path("calendar/feed/", calendar.feed_settings, name="feed_settings"),
    path("calendar/feed/<str:key>.ics", calendar.feed, name="feed"),
]
