"""The role groups again, now that protocol deviations exist: coordinators and investigators view
and change them, study managers and medical monitors view them (participants/roles.py). It depends
on the latest migration of every app roles.py names, so every permission it grants exists."""

from django.db import migrations

from participants.roles import sync_role_groups


def sync_groups(apps, schema_editor):
    sync_role_groups(apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("axes", "0010_accessattemptexpiration"),
        ("participants", "0006_identifier_patterns"),
        ("schedule", "0009_deviation"),
        ("safety", "0002_role_groups"),
        ("notifications", "0005_safety_event_kinds"),
        ("dashboard", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
