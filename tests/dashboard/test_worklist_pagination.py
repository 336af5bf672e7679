"""Bounded worklist sections: the first rows of each with its count and a link to the whole list
(paginated, filtered by site); overdue safety items one row per visit listing its items."""

import csv
import io

import pytest
from django.urls import reverse

from dashboard import selectors
from tests.support import NOW, frozen, visit, worklist_scenario

SAFETY_CODES = ("VS", "CBC", "CHEM", "IGG", "PREG", "AE")


@pytest.fixture
def data(protocol, site, site2, coordinator, investigator):
    with frozen():
        yield worklist_scenario(site, site2, coordinator, investigator)


def test_overdue_safety_items_come_one_row_per_visit(client, coordinator, data):
    client.force_login(coordinator)
    with frozen():
        work = selectors.worklist(coordinator, NOW)
        response = client.get("/")
    [row] = work.overdue_safety_visits
    assert row.visit == visit(data["late"], "SCR")
    assert [a.definition.code for a in row.items] == list(SAFETY_CODES)
    assert (work.counts["overdue_safety"], work.overdue_visit_count) == (6, 1)
    section = next(s for s in response.context["sections"] if s["key"] == "overdue_safety")
    assert len(section["table"].rows) == 1
    html = response.content.decode()
    for a in row.items:  # every item one click from its form, in the visit's one row
        assert reverse("dashboard:assessment_record", args=[a.pk]) + "?next=%2F" in html


def test_a_section_shows_its_first_rows_its_count_and_a_link_to_all(
    client, manager, data, monkeypatch
):
    monkeypatch.setattr(selectors, "WORKLIST_ROWS", 1)
    client.force_login(manager)
    with frozen():
        work = selectors.worklist(manager, NOW)
        html = client.get("/").content.decode()
    # The manager sees both sites: three windows closing (two APH, one SCR), two late SCRs.
    assert len(work.closing_soon) == 1 and work.counts["closing_soon"] == 3
    assert len(work.overdue_visits) == 1 and work.counts["overdue_visits"] == 2
    assert len(work.overdue_safety_visits) == 1 and work.overdue_visit_count == 2
    assert work.counts["overdue_safety"] == 12
    assert 'data-count="closing_soon">3<' in html
    assert "Showing the first 1 of 3" in html
    assert reverse("dashboard:worklist_section", args=["closing_soon"]) in html


def test_the_whole_list_is_paginated_and_filtered_by_site(client, manager, data):
    client.force_login(manager)
    url = reverse("dashboard:worklist_section", args=["overdue_safety"])
    with frozen():
        every = client.get(url)
        page_2 = client.get(url + "?per_page=5&page=2")
        berlin = client.get(url + "?site=S02")
    assert every.context["table"].paginator.count == 12
    assert len(page_2.context["table"].page.object_list) == 5
    labels = {
        row.record.visit.participant.label for row in berlin.context["table"].paginator.object_list
    }
    assert labels == {data["berlin"].label}


def test_the_whole_list_shows_only_the_users_sites(client, coordinator, data):
    client.force_login(coordinator)
    url = reverse("dashboard:worklist_section", args=["overdue_visits"])
    with frozen():
        mine = client.get(url)
        other = client.get(url + "?site=S02")
    labels = {row.record.participant.label for row in mine.context["table"].paginator.object_list}
    assert labels == {data["late"].label}
    assert other.context["table"].paginator.count == 0


def test_an_unknown_section_is_not_found(client, coordinator, data):
    client.force_login(coordinator)
    assert client.get("/worklist/nothing-like-it/").status_code == 404


def test_the_download_holds_every_row_not_the_first_ones(client, manager, data, monkeypatch):
    monkeypatch.setattr(selectors, "WORKLIST_ROWS", 1)
    client.force_login(manager)
    with frozen():
        response = client.get("/?_export=csv&_table=overdue_safety")
        whole = client.get(
            reverse("dashboard:worklist_section", args=["overdue_safety"]) + "?_export=csv"
        )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) == 1 + 12
    assert len(list(csv.reader(io.StringIO(whole.content.decode())))) == 1 + 12


# session, user, staff profile, sites with their dates, the page's count and rows, the
# heartbeat banner (staff only) and the CSP/axes reads a page makes.
SECTION_QUERIES = 8


@pytest.mark.parametrize("key", ["due_today", "overdue_safety", "coming_up"])
def test_a_whole_list_page_makes_a_fixed_number_of_queries(
    client, coordinator, data, django_assert_max_num_queries, key
):
    client.force_login(coordinator)
    url = reverse("dashboard:worklist_section", args=[key])
    with frozen():
        client.get(url)  # the session
        with django_assert_max_num_queries(SECTION_QUERIES):
            assert client.get(url + "?per_page=5").status_code == 200
