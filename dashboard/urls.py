from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("participants/", views.ParticipantListView.as_view(), name="participants"),
    path("participants/new/", views.participant_new, name="participant_new"),
    path("participants/<int:pk>/", views.participant_detail, name="participant"),
    path(
        "participants/<int:pk>/<slug:action>/", views.participant_action, name="participant_action"
    ),
    path("visits/<int:pk>/done/", views.visit_done, name="visit_done"),
    path("visits/<int:pk>/missed/", views.visit_missed, name="visit_missed"),
    path("assessments/<int:pk>/record/", views.assessment_record, name="assessment_record"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/feed/", views.feed_settings, name="feed_settings"),
    path("calendar/feed/<str:key>.ics", views.feed, name="feed"),
]
