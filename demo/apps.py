from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo study of the quick start (`manage.py seed_demo`): above schedule and safety, so
    it records through every service a coordinator uses (lab values included)."""

    name = "demo"
    verbose_name = "Demo study"
