"""The participants list a page at a time: the page size a user chooses (at most 100), sort and
filters kept in the page links, every filtered row in a download (streamed), and the same
number of queries on every page."""

import csv
import io
import re

import pytest
from django.urls import reverse

from dashboard.tables.base import PAGE_SIZES
from tests.support import frozen, populate

URL = reverse("dashboard:participants")


@pytest.fixture
def twelve(protocol, site, coordinator, investigator):
    with frozen():
        return populate(12, [site], coordinator, [investigator])


def labels_on(response) -> list[str]:
    return [row.label for row in response.context["table"].page.object_list.data]


def test_a_page_holds_the_chosen_number_of_rows_and_says_the_total(client, coordinator, twelve):
    client.force_login(coordinator)
    with frozen():
        first = client.get(URL + "?per_page=5")
        third = client.get(URL + "?per_page=5&page=3")
    assert len(labels_on(first)) == 5 and len(labels_on(third)) == 2
    assert first.context["table"].paginator.count == 12
    assert '<span class="badge">12</span>' in first.content.decode()
    assert not set(labels_on(first)) & set(labels_on(third))


def test_the_page_size_is_at_most_100(client, coordinator, twelve):
    client.force_login(coordinator)
    with frozen():
        huge = client.get(URL + "?per_page=100000")
        nonsense = client.get(URL + "?per_page=lots")
    assert huge.context["table"].paginator.per_page == PAGE_SIZES[-1] == 100
    assert nonsense.context["table"].paginator.per_page == PAGE_SIZES[0]


def test_a_page_past_the_end_shows_the_last_page(client, coordinator, twelve):
    client.force_login(coordinator)
    with frozen():
        response = client.get(URL + "?per_page=5&page=99")
    assert response.status_code == 200
    assert response.context["table"].page.number == 3


def test_page_links_keep_the_sort_the_filters_and_the_page_size(client, coordinator, twelve):
    client.force_login(coordinator)
    with frozen():
        html = client.get(URL + "?per_page=5&sort=days_left&phase=screening").content.decode()
    links = re.findall(r'href="(\?[^"]*page=2[^"]*)"', html)
    assert links, "no link to page 2"
    link = links[0].replace("&amp;", "&")
    for kept in ("sort=days_left", "phase=screening", "per_page=5"):
        assert kept in link


def test_sorted_pages_follow_each_other(client, coordinator, twelve):
    client.force_login(coordinator)
    with frozen():
        pages = [client.get(URL + f"?per_page=5&sort=-label&page={n}") for n in (1, 2, 3)]
    shown = [label for page in pages for label in labels_on(page)]
    assert len(shown) == 12 and len(set(shown)) == 12


def test_the_download_holds_every_filtered_row_not_the_page(client, coordinator, twelve):
    client.force_login(coordinator)
    with frozen():
        response = client.get(URL + "?per_page=5&page=2&_export=csv")
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert response.streaming
    assert sorted(r["Study id"] for r in rows) == sorted(p.label for p in twelve)


# session, user, staff profile, sites with their dates, the count, the page's rows, the site
# filter's choices, the heartbeat banner (staff only).
PAGE_QUERIES = 8


@pytest.mark.parametrize("query", ["?per_page=5", "?per_page=5&page=2&sort=days_left"])
def test_every_page_makes_the_same_queries(
    client, coordinator, twelve, django_assert_max_num_queries, query
):
    client.force_login(coordinator)
    with frozen():
        client.get(URL)  # the session
        with django_assert_max_num_queries(PAGE_QUERIES):
            assert client.get(URL + query).status_code == 200


def test_cells_are_rendered_without_inspecting_a_signature_per_cell(
    client, coordinator, twelve, monkeypatch
):
    from dashboard.tables import base

    inspected = []
    real = base.signature
    monkeypatch.setattr(base, "signature", lambda fn: inspected.append(fn) or real(fn))
    client.force_login(coordinator)
    with frozen():
        response = client.get(URL + "?per_page=12")
    table = response.context["table"]
    assert len(table.page.object_list) == 12
    # Once per column (render), not once per cell (12 rows x 9 columns).
    assert 0 < len(inspected) <= len(table.columns)
