"""The role groups again, now that the safety models and the schedule's holds and overrides
exist (participants/roles.py names them)."""

from django.db import migrations

from participants.roles import sync_role_groups


def sync_groups(apps, schema_editor):
    sync_role_groups(apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("safety", "0001_safety_events"),
        ("schedule", "0006_infusion_holds_and_overrides"),
        ("participants", "0003_role_groups"),
    ]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
