"""Who is told of a safety problem: each role's people read once per scan, and only if needed
(the overdue scan's site alerts and escalations; unique_people for every safety alert)."""

import logging

from notifications import selectors
from participants.models import StaffRole
from schedule.models import Visit

# The overdue scan's logger: its "nobody at the site" errors keep the name operators filter on.
log = logging.getLogger("notifications.services.safety_alerts")


def unique_people(*groups) -> list:
    # Model instances compare and hash by primary key: each person once, in first-seen order.
    return list(dict.fromkeys(user for group in groups for user in group))


class SiteAlertRecipients:
    """Who is told of a site's safety problems, each list read once per scan and only if needed.

    Site alerts (overdue, missed): the site's coordinators and investigators, and the medical
    monitors (all sites). A site with no coordinator or investigator who can be emailed falls
    back to the study managers (logged as an error: the site's own staff must be told).
    Escalations: the study managers and the medical monitors.
    """

    def __init__(self):
        self._cache = {}

    def _get(self, name, load):
        if name not in self._cache:
            self._cache[name] = load()
        return self._cache[name]

    def coordinators(self, site_id):
        return self._get("coord", lambda: selectors.staff_by_site(StaffRole.COORDINATOR)).get(
            site_id, []
        )

    def investigators(self, site_id):
        return self._get("inv", lambda: selectors.staff_by_site(StaffRole.INVESTIGATOR)).get(
            site_id, []
        )

    def managers(self):
        return self._get("managers", selectors.study_managers)

    def monitors(self):
        return self._get("monitors", selectors.medical_monitors)

    def for_site(self, visit: Visit, what: str) -> list:
        site_staff = unique_people(
            self.coordinators(visit.participant.site_id),
            self.investigators(visit.participant.site_id),
        )
        if site_staff:
            return unique_people(site_staff, self.monitors())
        log.error(
            "%s %s: site %s has no active coordinator or investigator with an email address; "
            "the %s alert goes to the study managers and medical monitors instead.",
            visit.participant.label,
            visit.code,
            visit.participant.site.code,
            what,
        )
        return unique_people(self.managers(), self.monitors())

    def for_escalation(self, visit: Visit) -> list:
        if not self.managers():
            log.error(
                "%s %s: no active study manager with an email address to escalate to.",
                visit.participant.label,
                visit.code,
            )
        return unique_people(self.managers(), self.monitors())
