from django.urls import path

from notifications import pages

app_name = "notifications"

urlpatterns = [
    path("", pages.my_notifications, name="settings"),
    path("log/", pages.my_notification_log, name="log"),
]
