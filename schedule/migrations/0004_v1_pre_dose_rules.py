"""Bring the stored protocol v1 in line with schedule/protocols/v1.py, before any participant:
PREG may be not applicable, pre-dose IgG within 72 h, CRS/ICANS holds the next infusion."""

from django.db import migrations


def update_v1(apps, schema_editor):
    AssessmentDefinition = apps.get_model("schedule", "AssessmentDefinition")
    v1 = AssessmentDefinition.objects.filter(visit__protocol__version=1)
    v1.filter(code="PREG").update(can_be_not_applicable=True)
    v1.filter(code="IGG", pre_dose=True).update(
        max_age_hours=72, name="Immunoglobulin G (within 72 h)"
    )
    v1.filter(code="CRS_ICANS", due_hours_after_start__isnull=False).update(
        holds_next_infusion=True
    )


class Migration(migrations.Migration):
    dependencies = [("schedule", "0003_assessment_not_done_and_holds")]

    operations = [migrations.RunPython(update_v1, migrations.RunPython.noop)]
