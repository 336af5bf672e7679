"""Every time says its zone: the site's, with the abbreviation in force that day (a daylight-
saving change included), UTC on hover; dates YYYY-MM-DD everywhere, the admin included."""

import datetime as dt

from django.urls import reverse

from dashboard.templatetags.times import local_time_html
from participants.models import StaffRole
from participants.roles import group_for
from schedule.models import Assessment
from tests.support import TODAY, consent, coordinator_at, frozen, make_user

UTC = dt.UTC


def test_a_time_is_shown_in_the_sites_zone_across_the_spring_change(site):
    # New York springs forward at 02:00 on Sunday 8 March 2026 (EST, UTC-5, then EDT, UTC-4).
    before = local_time_html(dt.datetime(2026, 3, 8, 6, 59, tzinfo=UTC), site)
    after = local_time_html(dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC), site)
    assert before == (
        '<time datetime="2026-03-08T06:59:00Z" title="2026-03-08 06:59 UTC">'
        "2026-03-08 01:59 EST</time>"
    )
    assert ">2026-03-08 03:00 EDT</time>" in after and 'title="2026-03-08 07:00 UTC"' in after
    assert local_time_html(dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC)).endswith("07:00 UTC</time>")


def test_the_status_history_says_site_time_with_utc_on_hover(client, protocol, site, coordinator):
    with frozen():
        p = consent(site, coordinator, TODAY, hour=9)  # 09:00 New York, 13:00 UTC (EDT)
    client.force_login(coordinator)
    with frozen():
        html = client.get(reverse("dashboard:participant", args=[p.pk])).content.decode()
    change = p.status_changes.get()
    shown = local_time_html(change.changed_at, site)
    assert shown in html and "EDT</time>" in shown


def test_a_records_admin_page_shows_its_times_in_its_sites_zone(client, protocol, site, site2):
    with frozen():
        berlin = consent(site2, coordinator_at(site2), TODAY, hour=9)  # 09:00 CET
    manager = make_user("mgr", StaffRole.STUDY_MANAGER, is_staff=True)
    manager.groups.add(group_for(StaffRole.STUDY_MANAGER))
    client.force_login(manager)
    with frozen():
        html = client.get(
            reverse("admin:participants_participant_change", args=[berlin.pk])
        ).content.decode()
    assert "2026-03-10 09:00 CET" in html


def test_a_records_admin_history_is_in_its_sites_zone_with_utc_on_hover(
    client, protocol, site, site2
):
    with frozen():
        berlin = consent(site2, coordinator_at(site2), TODAY, hour=9)
    manager = make_user("mgr", StaffRole.STUDY_MANAGER, is_staff=True)
    manager.groups.add(group_for(StaffRole.STUDY_MANAGER))
    client.force_login(manager)
    with frozen():
        html = client.get(
            reverse("admin:participants_participant_history", args=[berlin.pk])
        ).content.decode()
    created = berlin.history.earliest("history_date").history_date
    assert local_time_html(created, site2) in html
    assert 'title="2026-03-10 15:00 UTC">2026-03-10 16:00 CET</time>' in html
    assert 'style="' not in html.split('id="change-history"', 1)[1]


def test_an_admin_list_shows_each_rows_times_in_its_own_sites_zone_with_utc_on_hover(
    client, protocol, site, site2, django_assert_max_num_queries
):
    """One list, two sites: each assessment's due time in its own site's zone (New York EDT,
    Berlin CET on 10 March 2026), the UTC time on hover, and still one query for the rows."""
    with frozen():
        consent(site, coordinator_at(site), TODAY, hour=9)
        consent(site2, coordinator_at(site2), TODAY, hour=9)
    manager = make_user("mgr", StaffRole.STUDY_MANAGER, is_staff=True)
    manager.groups.add(group_for(StaffRole.STUDY_MANAGER))
    client.force_login(manager)
    url = reverse("admin:schedule_assessment_changelist") + "?is_safety__exact=1"
    with frozen():
        client.get(url)  # warm the session and content types
        with django_assert_max_num_queries(12):
            html = client.get(url).content.decode()
    for a in Assessment.objects.filter(is_safety=True).select_related("visit__participant__site"):
        assert local_time_html(a.due_at, a.visit.participant.site) in html
    assert "EDT</time>" in html and "CET</time>" in html
