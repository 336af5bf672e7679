import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sle001.settings")

app = Celery("sle001")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
