"""The demo sites and their staff logins (one password for all)."""

from django.contrib.auth.hashers import make_password

from participants.models import Site, StaffRole
from participants.staff import staff_add

DEMO_PASSWORD = "sle001-demo"
EMAIL_DOMAIN = "example.org"

SITES = (
    # code, name, time zone, enrollment target
    ("S01", "New York demo site", "America/New_York", 10),
    ("S02", "Berlin demo site", "Europe/Berlin", 10),
    ("S03", "Sydney demo site", "Australia/Sydney", 10),
)


def _user(username: str, encoded_password: str, *, role: str, sites=(), superuser=False):
    # The same service as manage.py add_staff: the login's group comes from its role.
    user, _ = staff_add(
        username=username,
        email=f"{username}@{EMAIL_DOMAIN}",
        role=role,
        sites=[site.code for site in sites],
        encoded_password=encoded_password,
    )
    if user.is_superuser != superuser:
        user.is_superuser = superuser
        user.save(update_fields=["is_superuser"])
    return user


def demo_staff(sites: dict[str, Site], password: str) -> dict[str, object]:
    # One hash shared by every demo login: they all have the same password anyway, and hashing
    # it eight times would take seconds (PBKDF2 is slow on purpose).
    encoded = make_password(password)
    users = {}
    for code, site in sites.items():
        n = code.lower()
        users[f"coordinator-{n}"] = _user(
            f"coordinator-{n}", encoded, role=StaffRole.COORDINATOR, sites=[site]
        )
        # Investigators sign off eligibility and use the coordinators' screens.
        users[f"investigator-{n}"] = _user(
            f"investigator-{n}", encoded, role=StaffRole.INVESTIGATOR, sites=[site]
        )
    users["manager"] = _user("manager", encoded, role=StaffRole.STUDY_MANAGER)
    users["admin"] = _user("admin", encoded, role=StaffRole.STUDY_MANAGER, superuser=True)
    return users


def demo_sites() -> dict[str, Site]:
    sites = {}
    for code, name, time_zone, target in SITES:
        sites[code], _ = Site.objects.get_or_create(
            code=code,
            defaults={"name": name, "time_zone": time_zone, "enrollment_target": target},
        )
    return sites
