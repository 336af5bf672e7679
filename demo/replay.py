"""Replaying each story through the real services, in date order, up to yesterday."""

import datetime as dt

from demo.stories import (
    ENROLL_DAY,
    FIRST_INFUSION_DAY,
    INFUSION_HOUR,
    PRE_DOSE_HOUR,
    RESULTS,
    RESULTS_HOUR,
    SCREENING_VISIT_DAY,
    STORIES,
    Story,
    lab_values_of,
)
from participants import eligibility
from participants.models import Participant, Site, Status
from participants.services.dates import site_today
from safety.services import labs
from schedule import services
from schedule.models import Anchor, Visit, VisitKind, VisitStatus


def _at(day: dt.date, hour: int, site: Site) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=site.tz)


def _record_results(visit: Visit, story: Story, at: dt.datetime, by, *, pre_dose=None) -> None:
    pending = visit.assessments.select_related("definition").pending()
    if pre_dose is not None:
        pending = pending.filter(definition__pre_dose=pre_dose)
    for a in pending:
        if f"{visit.definition.code}.{a.definition.code}" in story.results_missing:
            continue
        if a.definition.lab_values:
            # Lab panels are values with units; the grade and "abnormal" are computed.
            labs.lab_results_record(a, values=lab_values_of(a), completed_at=at, by=by)
            continue
        services.assessment_record(
            a,
            result=RESULTS.get(a.definition.code, "Normal"),
            is_abnormal=False,
            completed_at=at,
            by=by,
        )


# Order of a story's events on the same day; the ending cuts off everything after it except
# what the ending itself lays out (the early-termination visit).
VISIT, STATUS_CHANGE, ENDING, AFTER_ENDING = range(4)


class _Replay:
    """Replays one story through the services, in date order, stopping before today."""

    def __init__(self, story: Story, site: Site, staff: dict, password: str, rescreen_of=None):
        self.story = story
        self.password = password  # the demo logins' one password: the investigator signs with it
        self.site = site
        self.today = site_today(site)
        self.c0 = self.today - dt.timedelta(days=story.days_since_consent)
        self.d0 = self.c0 + dt.timedelta(days=FIRST_INFUSION_DAY)
        self.by = staff[f"coordinator-{site.code.lower()}"]
        self.investigator = staff[f"investigator-{site.code.lower()}"]
        self.rescreen_of = rescreen_of
        self.participant = None

    def day(self, n: int) -> dt.date:
        return self.c0 + dt.timedelta(days=n)

    def run(self) -> Participant:
        consent = {
            "consent_at": _at(self.c0, 9, self.site),
            "consent_form_version": "ICF v2.0",
            "age_at_consent": 25 + (self.story.days_since_consent * 7) % 45,
        }
        if self.rescreen_of:  # the same person, a few weeks later
            consent["age_at_consent"] = self.rescreen_of.age_at_consent
            self.participant = services.participant_rescreen(
                self.rescreen_of, by=self.by, **consent
            )
        else:
            self.participant = services.participant_consent(site=self.site, by=self.by, **consent)
        for _day, _order, action in sorted(self.events(), key=lambda e: e[:2]):
            action()
        self.participant.refresh_from_db()
        return self.participant

    def events(self) -> list:
        """(date, order, action) for everything before today and not after the story's end."""
        story = self.story
        protocol = self.participant.schedule.protocol
        events = []
        infusions = 0
        for d in protocol.visits.order_by("order"):
            if d.anchor == Anchor.CONSENT:
                on = self.day(max(d.target_offset, SCREENING_VISIT_DAY))
            elif d.anchor == Anchor.FIRST_INFUSION:
                on = self.d0 + dt.timedelta(days=d.target_offset)
            else:
                continue  # unscheduled and early-termination visits come from events
            if d.kind in (VisitKind.FIRST_INFUSION, VisitKind.INFUSION):
                infusions += 1
                if story.stop_early_after is not None and infusions > story.stop_early_after:
                    continue
            if d.code in story.leave_open:
                continue
            if d.code in story.missed:
                events.append((on, VISIT, lambda code=d.code: self.mark_missed(code)))
            else:
                events.append((on, VISIT, lambda code=d.code, on=on: self.record_visit(code, on)))
        events.append((self.day(ENROLL_DAY), STATUS_CHANGE, self.enroll))
        if story.stop_early_after is not None:
            stop_on = self.d0 + dt.timedelta(days=7 * (story.stop_early_after - 1) + 3)
            events.append((stop_on, STATUS_CHANGE, lambda: self.stop_early(stop_on)))
        end_day = None
        if story.ending:
            kind, end_n = story.ending[0], story.ending[1]
            end_day = self.day(end_n)
            end = getattr(self, f"end_{kind}")
            events.append((end_day, ENDING, lambda: end(*story.ending[1:])))
            if kind == "withdraw" and story.record_et:
                et_day = end_day + dt.timedelta(days=1)
                events.append((et_day, AFTER_ENDING, lambda: self.record_visit("ET", et_day)))
        return [
            e
            for e in events
            if e[0] < self.today and (end_day is None or e[0] <= end_day or e[1] == AFTER_ENDING)
        ]

    # --- actions, each one service call (or a few for a visit and its results)

    def visit(self, code: str) -> Visit:
        return (
            self.participant.visits.select_related("definition")
            .filter(definition__code=code, status=VisitStatus.SCHEDULED)
            .order_by("occurrence")
            .first()
        )

    def record_visit(self, code: str, on: dt.date) -> None:
        visit = self.visit(code)
        if visit is None:  # e.g. closed by a status change
            return
        kind = visit.definition.kind
        if kind in (VisitKind.FIRST_INFUSION, VisitKind.INFUSION):
            _record_results(
                visit, self.story, _at(on, PRE_DOSE_HOUR, self.site), self.by, pre_dose=True
            )
            services.visit_record_done(
                visit,
                actual_date=on,
                started_at=_at(on, INFUSION_HOUR, self.site),
                dose="Descartes-08, protocol dose",
                lot=f"LOT-{self.participant.study_id}-{code}",
                by=self.by,
            )
        elif kind == VisitKind.APHERESIS:
            services.visit_record_done(
                visit,
                actual_date=on,
                adequate_collection=True,
                product_id=f"COI-{self.participant.study_id}-{visit.occurrence}",
                by=self.by,
            )
            services.first_infusion_plan(self.participant, planned_on=self.d0, by=self.by)
        else:
            services.visit_record_done(visit, actual_date=on, by=self.by)
        _record_results(visit, self.story, _at(on, RESULTS_HOUR, self.site), self.by)

    def mark_missed(self, code: str) -> None:
        services.visit_mark_missed(
            self.visit(code),
            reason="Participant unwell; could not attend within the window.",
            by=self.by,
        )

    def enroll(self) -> None:
        if self.participant.status != Status.SCREENING:
            return
        services.participant_enroll(
            self.participant,
            answers={c.code: c.kind == eligibility.INCLUSION for c in eligibility.criteria()},
            assessed_on=self.day(ENROLL_DAY),
            # Signed off by the site's investigator, logged in as themselves.
            signed_off_by=self.investigator,
            by=self.investigator,
            password=self.password,
        )
        self.participant.refresh_from_db()

    def stop_early(self, on: dt.date) -> None:
        services.treatment_stop_early(
            self.participant,
            on=on,
            reason="CRS grade 2 after the last infusion; investigator stopped treatment.",
            reason_code="crs_icans",
            by=self.by,
        )

    def end_screen_fail(self, n: int, rescreen_allowed: bool) -> None:
        services.participant_screen_fail(
            self.participant,
            on=self.day(n),
            failed_criteria=["IN_ACTIVE"] if rescreen_allowed else ["EX_NEURO"],
            rescreen_allowed=rescreen_allowed,
            by=self.by,
        )

    def end_manufacturing_fail(self, n: int) -> None:
        services.participant_manufacturing_fail(
            self.participant, on=self.day(n), reason="Insufficient CAR expression.", by=self.by
        )

    def end_withdraw(self, n: int) -> None:
        services.participant_withdraw(
            self.participant,
            on=self.day(n),
            reason="Participant withdrew consent.",
            reason_code="consent_withdrawn",
            safety_follow_up_continues=self.participant.status != Status.SCREENING,
            by=self.by,
        )

    def end_lost(self, last_contact: int, attempts: tuple[int, ...]) -> None:
        services.participant_lose_to_follow_up(
            self.participant,
            last_contact_on=self.day(last_contact),
            contact_attempts=[self.day(n) for n in attempts],
            by=self.by,
        )

    def end_die(self, n: int) -> None:
        services.participant_die(
            self.participant,
            on=self.day(n),
            cause="Sepsis (investigator: unrelated to study treatment).",
            sae_reference=f"SAE-{self.participant.label}-1",
            by=self.by,
        )


def demo_participants(sites: dict[str, Site], staff: dict, password: str) -> int:
    created = 0
    for story in STORIES:
        participant = _Replay(story, sites[story.site], staff, password).run()
        created += 1
        if story.rescreen_after is not None:
            rescreen = Story(story.site, story.days_since_consent - story.rescreen_after)
            _Replay(rescreen, sites[story.site], staff, password, rescreen_of=participant).run()
            created += 1
    return created
