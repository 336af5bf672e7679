from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "participants"

    def ready(self):
        from simple_history.signals import pre_create_historical_record

        from participants.audit import bound_history_reason

        # Every history row saved one at a time (the bulk ones pass through audit_reason).
        pre_create_historical_record.connect(bound_history_reason, dispatch_uid="audit_reason")
