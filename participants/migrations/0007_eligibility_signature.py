"""Eligibility as a signature (participants.signatures): a draft the investigator signs with their
password. signed_off_by/at become SignedRecord's signed_by/at (empty while a draft), with the
printed name and the meaning; who prepared the checklist and when. Existing checklists were
signed off by their investigator: their printed name is the account's name now, their meaning
"eligibility confirmed", and they were prepared by the signer."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def signed_before(apps, schema_editor):
    Eligibility = apps.get_model("participants", "Eligibility")
    for row in Eligibility.objects.select_related("signed_by").filter(signed_at__isnull=False):
        user = row.signed_by
        row.signed_name = (
            f"{user.first_name} {user.last_name}".strip() or user.username if user else ""
        )
        row.signed_meaning = "eligibility_confirmed"
        row.prepared_by_id = row.signed_by_id
        row.prepared_at = row.signed_at
        row.save(update_fields=["signed_name", "signed_meaning", "prepared_by", "prepared_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0006_identifier_patterns"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameField("eligibility", "signed_off_by", "signed_by"),
        migrations.RenameField("eligibility", "signed_off_at", "signed_at"),
        migrations.RenameField("historicaleligibility", "signed_off_by", "signed_by"),
        migrations.RenameField("historicaleligibility", "signed_off_at", "signed_at"),
        migrations.AlterField(
            model_name="eligibility",
            name="signed_by",
            field=models.ForeignKey(
                blank=True,
                help_text="The account that signed (its password re-entered at signing).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="eligibility",
            name="signed_at",
            field=models.DateTimeField(
                blank=True, help_text="When it was signed (UTC).", null=True
            ),
        ),
        migrations.AlterField(
            model_name="historicaleligibility",
            name="signed_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="The account that signed (its password re-entered at signing).",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="historicaleligibility",
            name="signed_at",
            field=models.DateTimeField(
                blank=True, help_text="When it was signed (UTC).", null=True
            ),
        ),
        migrations.AddField(
            model_name="eligibility",
            name="prepared_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="eligibility",
            name="prepared_by",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="eligibility",
            name="signed_meaning",
            field=models.CharField(
                blank=True,
                choices=[
                    ("eligibility_confirmed", "eligibility confirmed"),
                    ("deviation_reviewed", "deviation reviewed"),
                ],
                max_length=40,
                verbose_name="meaning",
            ),
        ),
        migrations.AddField(
            model_name="eligibility",
            name="signed_name",
            field=models.CharField(
                blank=True,
                help_text="The signer's full name at signing.",
                max_length=150,
                verbose_name="printed name",
            ),
        ),
        migrations.AddField(
            model_name="historicaleligibility",
            name="prepared_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="historicaleligibility",
            name="prepared_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicaleligibility",
            name="signed_meaning",
            field=models.CharField(
                blank=True,
                choices=[
                    ("eligibility_confirmed", "eligibility confirmed"),
                    ("deviation_reviewed", "deviation reviewed"),
                ],
                max_length=40,
                verbose_name="meaning",
            ),
        ),
        migrations.AddField(
            model_name="historicaleligibility",
            name="signed_name",
            field=models.CharField(
                blank=True,
                help_text="The signer's full name at signing.",
                max_length=150,
                verbose_name="printed name",
            ),
        ),
        migrations.RunPython(signed_before, migrations.RunPython.noop),
    ]
