# Each visit carries its participant's site, so a coordinator's worklist and calendar read their
# own sites' visits by index (the visit_site_* indexes). Added nullable, filled from the
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
        ("schedule", "0015_assessment_site"),
    ]

    operations = [
        migrations.AddField(
            model_name="visit",
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
            model_name="historicalvisit",
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
                FILL.format(table="schedule_visit"),
                FILL.format(table="schedule_historicalvisit"),
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="visit",
            name="site",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="participants.site",
            ),
        ),
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(
                condition=models.Q(("status", "scheduled")),
                fields=["site", "target_date"],
                name="visit_site_open_target_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(
                condition=models.Q(("status", "scheduled")),
                fields=["site", "window_end"],
                name="visit_site_open_end_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(
                condition=models.Q(("status", "scheduled")),
                fields=["site", "window_start", "window_end"],
                name="visit_site_open_span_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(
                condition=models.Q(("status", "done")),
                fields=["site", "actual_date"],
                name="visit_site_done_actual_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(
                condition=models.Q(("status", "missed")),
                fields=["site", "target_date"],
                name="visit_site_missed_target_idx",
            ),
        ),
    ]
