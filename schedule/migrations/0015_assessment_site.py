# Each assessment carries its participant's site, so a coordinator's overdue safety items are
# read by an index of their own sites (assess_site_pending_safety_idx). Added nullable, filled
# from the visit's participant, then made required.

import django.db.models.deletion
from django.db import migrations, models

FILL = """
UPDATE {table} SET site_id = (
    SELECT p.site_id FROM schedule_visit v
    JOIN participants_participant p ON p.id = v.participant_id
    WHERE v.id = {table}.visit_id
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0008_staff_reminder_days"),
        ("schedule", "0014_calendar_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="assessment",
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
            model_name="historicalassessment",
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
                FILL.format(table="schedule_assessment"),
                FILL.format(table="schedule_historicalassessment"),
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="assessment",
            name="site",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="participants.site",
            ),
        ),
        migrations.AddIndex(
            model_name="assessment",
            index=models.Index(
                condition=models.Q(("is_safety", True), ("status", "pending")),
                fields=["site", "due_at"],
                name="assess_site_pending_safety_idx",
            ),
        ),
    ]
