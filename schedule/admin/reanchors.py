"""The Reanchor admin: the record of each D0 move, read only."""

from django.contrib import admin

from participants.admin import ReadOnlyAdmin
from schedule.models import Reanchor


@admin.register(Reanchor)
class ReanchorAdmin(ReadOnlyAdmin):
    list_display = [
        "participant",
        "old_anchor",
        "new_anchor",
        "visits_moved",
        "changed_by",
        "changed_at",
    ]
    list_select_related = ["participant", "changed_by"]
