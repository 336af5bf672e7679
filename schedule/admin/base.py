"""What the schedule's admins share: a service form shown in the admin, read-only inlines."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse

from participants import signatures
from schedule import forms as schedule_forms


def render_service_form(request, model_admin, *, obj, form, back_url):
    """Show a service form (schedule/forms/) in the admin; on success go back to `back_url`."""
    if request.method == "POST" and form.is_valid() and signatures.may_sign(request, form):
        result = form.perform()
        # A wrong signature password counts like a failed log-in (after the service rolled back).
        signatures.record_refusal(request, form)
        if result is not None:
            messages.success(request, f"{form_title(form)}: saved.")
            for warning in result if isinstance(result, list) else []:
                messages.warning(request, warning)
            return HttpResponseRedirect(back_url)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"{form_title(form)} — {obj}" if obj else form_title(form),
        "form": form,
        "obj": obj,
        "back_url": back_url,
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "admin/schedule/service_form.html", context)


def form_title(form) -> str:
    return getattr(form, "title", "") or {
        schedule_forms.VisitDoneForm: "Record visit done",
        schedule_forms.VisitMissedForm: "Record visit missed",
        schedule_forms.AssessmentForm: "Record result",
    }.get(type(form), "Save")


class ReadOnlyInline(admin.TabularInline):
    """Rows shown for reading; they change only through the forms (services)."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
