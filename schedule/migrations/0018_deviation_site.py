# Each deviation carries its participant's site, so a coordinator's drafts to describe are
# counted and listed by index (deviation_site_describe_idx). Added nullable, filled from the
# participant, then made required.

import django.db.models.deletion
from django.db import migrations, models

FILL = """
UPDATE {table} SET site_id = (
    SELECT p.site_id FROM participants_participant p WHERE p.id = {table}.participant_id
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0008_staff_reminder_days"),
        ("schedule", "0017_assessment_pending_safety_indexes_hold_the_visit"),
    ]

    operations = [
        migrations.AddField(
            model_name="deviation",
            name="site",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="participants.site",
            ),
        ),
        migrations.AddField(
            model_name="historicaldeviation",
            name="site",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="participants.site",
            ),
        ),
        migrations.RunSQL(
            [
                FILL.format(table="schedule_deviation"),
                FILL.format(table="schedule_historicaldeviation"),
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="deviation",
            name="site",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="participants.site",
            ),
        ),
        migrations.AddIndex(
            model_name="deviation",
            index=models.Index(
                condition=models.Q(("description", ""), ("status", "draft")),
                fields=["site", "identified_at"],
                name="deviation_site_describe_idx",
            ),
        ),
    ]
