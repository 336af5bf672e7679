"""The staff roles' groups and their admin permissions (participants/roles.py).

Without them a production install has no roles, and coordinators cannot record in the admin.
It depends on the latest migration of every app whose models the roles name, so every permission
can exist; a model added later gets its permissions from a later migration calling
sync_role_groups again.
"""

from django.db import migrations

from participants.roles import sync_role_groups


def create_role_groups(apps, schema_editor):
    sync_role_groups(apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("participants", "0002_admin_names"),
        ("schedule", "0004_v1_pre_dose_rules"),
        ("notifications", "0004_missed_safety_alert"),
        ("dashboard", "0001_initial"),
    ]

    # Reversing leaves the groups: they may hold staff by then, and are harmless without the code.
    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
