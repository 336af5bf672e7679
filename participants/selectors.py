"""Read queries about staff. Who may see or record what is participants.access."""

from django.contrib.auth import get_user_model

from participants.models import Site, StaffRole


def investigators_of(site: Site):
    return (
        get_user_model()
        .objects.filter(
            is_active=True, staff_profile__role=StaffRole.INVESTIGATOR, staff_profile__sites=site
        )
        .order_by("username")
    )
