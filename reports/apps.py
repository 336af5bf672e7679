from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The sponsor's reports: figures read from the status history, their pictures and their
    tables. Below notifications and dashboard (both show the same figures), above safety."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "reports"
