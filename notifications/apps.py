from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
    verbose_name = "Notifications (email outbox)"

    def ready(self):
        # Register the Celery tasks in every process (web, worker, commands), not only the
        # worker's autodiscovery: the outbox enqueues its send task by registered name
        # (services.outbox.SEND_OUTBOX_EMAIL_TASK) instead of importing this module.
        from notifications import tasks  # noqa: F401
