"""A fast bulk loader for the scale benchmark (PostgreSQL only): a realistic study of N
participants in seconds, not hours.

How: a few template participants per site are built through the real services (consent,
enrollment, first-infusion plan: real visits, windows, due times, status history), then cloned
in SQL (INSERT ... SELECT over a table of clones), each clone shifted by a whole number of days,
so its visits fall on every day of the past year. Ids are laid out arithmetically (clone k of a
template gets participant P + k, visit V + k * 64 + i, assessment A + k * 512 + j), so no id has
to be read back. Then the past is "recorded" in bulk: of the visits whose window has closed,
~95 % done, ~2 % missed, the rest left open (their safety items overdue, already flagged and
escalated, as in a study whose scans have been running); the participants' status and phase
follow their first-infusion date. Audit history: a creation row per participant and visit in
the django-simple-history tables and the templates' status changes per clone.

Each site has a coordinator and an investigator with an email address; the study has a manager
and a medical monitor, so the scans build real emails.

Shortcuts, said plainly: the clones are inserted with the deferred foreign-key checks off
(session_replication_role; they copy rows that hold, and tests/benchmarks checks it); clones' due instants are shifted by whole days in UTC (a clone across
a daylight-saving change is due at 23:00 or 01:00 local instead of midnight); dose, lot and
results are synthetic. Used by benchmarks/ only; never imported by the app.
"""

import datetime as dt
import random
import time
from zoneinfo import ZoneInfo

import time_machine
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from participants.eligibility import criteria
from participants.models import Participant, Site, StaffProfile, StaffRole
from schedule import services

SITES = [
    ("B01", "America/New_York"),
    ("B02", "Europe/Berlin"),
    ("B03", "Australia/Sydney"),
    ("B04", "America/Chicago"),
    ("B05", "Europe/London"),
    ("B06", "America/Los_Angeles"),
    ("B07", "Europe/Madrid"),
    ("B08", "Asia/Tokyo"),
    ("B09", "America/Denver"),
    ("B10", "Europe/Rome"),
]
VISIT_SLOTS = 64
ASSESSMENT_SLOTS = 512
# Clone ids start far above the templates' own ids.
ID_BASE = 10_000_000


# The staff's password (an investigator signs the eligibility checklist with it).
PASSWORD = "bench-password-not-secret"


def _user(username: str, role: str, sites=()):
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"is_staff": True, "email": f"{username}@bench.invalid"}
    )
    if created:
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    profile, _ = StaffProfile.objects.get_or_create(user=user, defaults={"role": role})
    if sites:
        profile.sites.set(sites)
    return user


def staff(sites) -> dict:
    """Per site a coordinator and an investigator; a study manager and a medical monitor."""
    people = {"manager": _user("bench-manager", StaffRole.STUDY_MANAGER)}
    people["monitor"] = _user("bench-monitor", StaffRole.MEDICAL_MONITOR)
    for site in sites:
        code = site.code.lower()
        people[f"coordinator-{code}"] = _user(f"bench-coord-{code}", StaffRole.COORDINATOR, [site])
        people[f"investigator-{code}"] = _user(f"bench-inv-{code}", StaffRole.INVESTIGATOR, [site])
    return people


def _templates(sites, people, today: dt.date) -> list[int]:
    """Per site: one participant in screening, two enrolled with D0 planned for today (two
    thirds of a study of a year are past screening)."""
    answers = {c.code: c.kind == "inclusion" for c in criteria()}
    made = []
    for site in sites:
        tz = ZoneInfo(site.time_zone)
        code = site.code.lower()
        coordinator, investigator = people[f"coordinator-{code}"], people[f"investigator-{code}"]
        for stage in ("screening", "treated", "treated"):
            consent_day = today - dt.timedelta(days=3 if stage == "screening" else 45)
            consent_at = dt.datetime.combine(consent_day, dt.time(10), tzinfo=tz)
            with time_machine.travel(consent_at + dt.timedelta(hours=1), tick=False):
                p = services.participant_consent(
                    site=site,
                    by=coordinator,
                    consent_at=consent_at,
                    consent_form_version="ICF v1",
                    age_at_consent=40,
                )
            if stage == "treated":
                enrolled_on = consent_day + dt.timedelta(days=7)
                noon = dt.datetime.combine(enrolled_on, dt.time(15), tzinfo=tz)
                with time_machine.travel(noon, tick=False):
                    services.participant_enroll(
                        p,
                        answers=answers,
                        assessed_on=enrolled_on,
                        signed_off_by=investigator,
                        by=investigator,
                        password=PASSWORD,
                    )
                    services.first_infusion_plan(p, planned_on=today, by=coordinator)
            made.append(p.pk)
    return made


TIMINGS: dict[str, float] = {}


def _exec(sql: str, params=None) -> int:
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        count = cursor.rowcount
    what = " ".join(sql.split()[:3])
    TIMINGS[what] = TIMINGS.get(what, 0) + time.perf_counter() - start
    return count


def _columns(table: str, skip=()) -> list[str]:
    with connection.cursor() as cursor:
        described = connection.introspection.get_table_description(cursor, table)
    return [c.name for c in described if c.name not in skip]


def _visit_status(status: str, window_end: str, visit_id: str) -> str:
    """SQL: a clone's visit status. Of the visits open in the template whose window has closed in
    the clone, ~95 % done, ~2 % missed, the rest left open (by the visit id)."""
    return (
        f"(CASE WHEN {status} = 'scheduled' AND {window_end} < %s THEN"
        f" CASE WHEN ({visit_id}) %% 100 >= 5 THEN 'done'"
        f" WHEN ({visit_id}) %% 100 < 2 THEN 'missed' ELSE 'scheduled' END"
        f" ELSE {status} END)"
    )


class Study:
    """A synthetic study that grows: build(1000), then build(10000) adds 9000 more."""

    def __init__(self, today: dt.date, seed: int = 11):
        assert connection.vendor == "postgresql", "the bulk loader needs PostgreSQL"
        self.today = today
        self.rng = random.Random(seed)
        self.sites = [
            Site.objects.get_or_create(code=code, defaults={"name": code, "time_zone": tz})[0]
            for code, tz in SITES
        ]
        self.people = staff(self.sites)
        self.templates = _templates(self.sites, self.people, today)
        self.size = 0

    def build(self, total: int) -> int:
        """Clone until the study holds `total` synthetic participants; returns how many added."""
        first, last = self.size + 1, total
        if last < first:
            return 0
        clones = []
        for k in range(first, last + 1):
            template = self.templates[k % len(self.templates)]
            clones.append((k, template, -self.rng.randint(0, 330)))
        with transaction.atomic():
            # ON COMMIT DROP does not fire inside an outer transaction (a test): drop them here.
            _exec("DROP TABLE IF EXISTS bench_clones, bench_tv, bench_ta")
            # The rows are copies of rows the services made, so their foreign keys hold: skip
            # the deferred checks at commit (a second pass over every row). Superuser only.
            _exec("SET LOCAL session_replication_role = replica")
            _exec(
                "CREATE TEMP TABLE bench_clones (k int, template bigint, shift int) ON COMMIT DROP"
            )
            with connection.cursor() as cursor:
                with cursor.cursor.copy(
                    "COPY bench_clones (k, template, shift) FROM STDIN"
                ) as copy:
                    for row in clones:
                        copy.write_row(row)
            self._clone()
            self._record_the_past(first, last)
        self.size = total
        return last - first + 1

    def _clone(self) -> None:
        t = self.templates
        _exec(
            """CREATE TEMP TABLE bench_tv ON COMMIT DROP AS
            SELECT v.*, (row_number() OVER (PARTITION BY v.participant_id ORDER BY v.id) - 1) AS idx
            FROM schedule_visit v WHERE v.participant_id = ANY(%s)""",
            [t],
        )
        _exec(
            """CREATE TEMP TABLE bench_ta ON COMMIT DROP AS
            SELECT a.*, tv.idx AS vidx, tv.participant_id AS tpid, tv.status AS vstatus,
              tv.window_end AS vwindow_end,
              (row_number() OVER (PARTITION BY tv.participant_id ORDER BY a.id) - 1) AS aidx
            FROM schedule_assessment a JOIN bench_tv tv ON a.visit_id = tv.id"""
        )
        P, V, A = ID_BASE, ID_BASE, ID_BASE  # noqa: N806 (the id layout of the docstring)
        day = "* interval '1 day'"
        _exec(
            f"""INSERT INTO participants_participant (id, site_id, screening_number, study_id,
              status, phase, consent_at, consent_form_version, age_at_consent, enrolled_on,
              first_infusion_at, first_infusion_dose, first_infusion_lot, infusions_received,
              off_study_on, safety_follow_up_continues, rescreen_allowed, created_at)
            SELECT {P} + c.k, p.site_id, 'BENCH-' || lpad(c.k::text, 6, '0'),
              CASE WHEN p.study_id IS NULL THEN NULL ELSE s.code || '-B' || c.k END,
              p.status, p.phase, p.consent_at + c.shift {day}, p.consent_form_version,
              p.age_at_consent, p.enrolled_on + c.shift, p.first_infusion_at + c.shift {day},
              p.first_infusion_dose, p.first_infusion_lot, p.infusions_received, p.off_study_on,
              p.safety_follow_up_continues, p.rescreen_allowed, p.created_at + c.shift {day}
            FROM bench_clones c JOIN participants_participant p ON p.id = c.template
            JOIN participants_site s ON s.id = p.site_id"""
        )
        _exec(
            f"""INSERT INTO schedule_participantschedule (id, participant_id, protocol_id,
              consent_anchor, infusion_anchor)
            SELECT {P} + c.k, {P} + c.k, ps.protocol_id, ps.consent_anchor + c.shift,
              ps.infusion_anchor + c.shift
            FROM bench_clones c JOIN schedule_participantschedule ps ON ps.participant_id = c.template"""
        )
        _exec(
            f"""INSERT INTO schedule_visit (id, participant_id, site_id, definition_id, occurrence,
              status, target_date, window_start, window_end, actual_date, started_at, in_window,
              dose, lot, reason, recorded_by_id, recorded_at)
            SELECT x.id, x.participant_id, x.site_id, x.definition_id, x.occurrence, x.status,
              x.target_date, x.window_start, x.window_end,
              CASE WHEN x.status = 'done' AND x.was = 'scheduled' THEN x.target_date
                   ELSE x.actual_date END,
              x.started_at, CASE WHEN x.status = 'done' AND x.was = 'scheduled' THEN true
                                 ELSE x.in_window END,
              x.dose, x.lot, CASE WHEN x.status = 'missed' AND x.was = 'scheduled'
                                  THEN 'synthetic' ELSE x.reason END,
              x.recorded_by_id, x.recorded_at
            FROM (SELECT {V} + c.k * {VISIT_SLOTS} + tv.idx AS id, {P} + c.k AS participant_id,
              tv.site_id, tv.definition_id, tv.occurrence, tv.status AS was,
              {_visit_status("tv.status", "tv.window_end + c.shift", f"{V} + c.k * {VISIT_SLOTS} + tv.idx")} AS status,
              tv.target_date + c.shift AS target_date, tv.window_start + c.shift AS window_start,
              tv.window_end + c.shift AS window_end, tv.actual_date + c.shift AS actual_date,
              tv.started_at + c.shift {day} AS started_at, tv.in_window, tv.dose, tv.lot,
              tv.reason, tv.recorded_by_id, tv.recorded_at + c.shift {day} AS recorded_at
              FROM bench_clones c JOIN bench_tv tv ON tv.participant_id = c.template) x""",
            [self.today] * 1,
        )
        vs = _visit_status(
            "ta.vstatus", "ta.vwindow_end + c.shift", f"{V} + c.k * {VISIT_SLOTS} + ta.vidx"
        )
        _exec(
            f"""INSERT INTO schedule_assessment (id, visit_id, site_id, definition_id, is_safety,
              status, due_at, completed_at, result, is_abnormal, reason, recorded_by_id, missed_at,
              overdue_flagged_at, escalated_at)
            SELECT x.id, x.visit_id, x.site_id, x.definition_id, x.is_safety, x.status, x.due_at,
              CASE WHEN x.status = 'done' AND x.was = 'pending'
                   THEN x.due_at - interval '3 hours' ELSE x.completed_at END,
              CASE WHEN x.status = 'done' AND x.was = 'pending' THEN 'normal' ELSE x.result END,
              CASE WHEN x.status = 'done' AND x.was = 'pending' THEN false
                   ELSE x.is_abnormal END,
              x.reason, x.recorded_by_id,
              CASE WHEN x.status = 'missed' AND x.was = 'pending' THEN x.due_at
                   ELSE x.missed_at END,
              CASE WHEN x.flagged THEN x.due_at + interval '15 minutes' END,
              CASE WHEN x.flagged THEN x.due_at + interval '49 hours' END
            FROM (SELECT {A} + c.k * {ASSESSMENT_SLOTS} + ta.aidx AS id,
              {V} + c.k * {VISIT_SLOTS} + ta.vidx AS visit_id, ta.site_id, ta.definition_id,
              ta.is_safety,
              ta.status AS was,
              CASE WHEN ta.status <> 'pending' THEN ta.status
                   WHEN {vs} = 'done' THEN 'done' WHEN {vs} = 'missed' THEN 'missed'
                   ELSE 'pending' END AS status,
              ta.due_at + c.shift {day} AS due_at, ta.completed_at + c.shift {day} AS completed_at,
              ta.result, ta.is_abnormal, ta.reason, ta.recorded_by_id,
              ta.missed_at + c.shift {day} AS missed_at,
              (ta.status = 'pending' AND ta.is_safety AND {vs} = 'scheduled'
               AND ta.due_at + c.shift {day} < now() - interval '3 days') AS flagged
              FROM bench_clones c JOIN bench_ta ta ON ta.tpid = c.template) x""",
            [self.today] * 3,
        )
        _exec(
            f"""INSERT INTO participants_statuschange (participant_id, from_status, to_status,
              effective_on, reason, details, changed_by_id, changed_at)
            SELECT {P} + c.k, sc.from_status, sc.to_status, sc.effective_on + c.shift, sc.reason,
              sc.details, sc.changed_by_id, sc.changed_at + c.shift {day}
            FROM bench_clones c JOIN participants_statuschange sc ON sc.participant_id = c.template"""
        )
        self._history()

    def _history(self) -> None:
        """A creation row per new participant and visit, as django-simple-history writes one."""
        for table, source in (
            ("participants_historicalparticipant", "participants_participant"),
            ("schedule_historicalvisit", "schedule_visit"),
        ):
            columns = _columns(source)
            listed = ", ".join(columns)
            picked = ", ".join(f"x.{c}" for c in columns)
            owner = "x.id" if source == "participants_participant" else "x.participant_id"
            _exec(
                f"""INSERT INTO {table} ({listed}, history_date, history_change_reason,
                  history_type, history_user_id)
                SELECT {picked}, now(), 'bulk load', '+', NULL FROM {source} x
                WHERE {owner} >= %s AND {owner} IN (SELECT {ID_BASE} + k FROM bench_clones)""",
                [ID_BASE],
            )

    def _record_the_past(self, first: int, last: int) -> None:
        today = self.today
        clones = (ID_BASE + first, ID_BASE + last)
        # Status and phase follow the first infusion (planned on the template's "today").
        _exec(
            """UPDATE participants_participant p SET
              status = CASE WHEN s.infusion_anchor + 40 < %s THEN 'in_follow_up'
                            ELSE 'in_treatment' END,
              phase = CASE WHEN s.infusion_anchor + 40 < %s THEN 'follow_up'
                           ELSE 'treatment' END,
              infusions_received = CASE WHEN s.infusion_anchor + 40 < %s THEN 6
                                        ELSE LEAST(6, (%s - s.infusion_anchor) / 7 + 1) END
            FROM schedule_participantschedule s
            WHERE s.participant_id = p.id AND p.id BETWEEN %s AND %s
              AND s.infusion_anchor IS NOT NULL AND s.infusion_anchor <= %s""",
            [today, today, today, today, *clones, today],
        )
        _exec("ANALYZE")


def settle() -> None:
    """VACUUM ANALYZE the study: the state autovacuum leaves a live database in minutes after a
    load (the visibility map set, so an index-only scan reads no rows). Measured before it, the
    first minutes after millions of new rows measure autovacuum at work beside the pages, and
    row reads a running database does not make. Outside any transaction (VACUUM refuses one)."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def counts() -> dict:
    from schedule.models import Assessment, Visit

    return {
        "participants": Participant.objects.count(),
        "visits": Visit.objects.count(),
        "assessments": Assessment.objects.count(),
    }
