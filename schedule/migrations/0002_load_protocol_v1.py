from django.db import migrations

from schedule.protocols.loader import create_protocol
from schedule.protocols.v1 import PROTOCOL


def load_v1(apps, schema_editor):
    ProtocolVersion = apps.get_model("schedule", "ProtocolVersion")
    if ProtocolVersion.objects.filter(version=PROTOCOL["version"]).exists():
        return
    create_protocol(
        PROTOCOL,
        ProtocolVersion,
        apps.get_model("schedule", "VisitDefinition"),
        apps.get_model("schedule", "AssessmentDefinition"),
    )


def unload_v1(apps, schema_editor):
    apps.get_model("schedule", "ProtocolVersion").objects.filter(
        version=PROTOCOL["version"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("schedule", "0001_initial")]

    operations = [migrations.RunPython(load_v1, unload_v1)]
