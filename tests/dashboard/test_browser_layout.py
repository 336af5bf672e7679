"""Every main page in real Chromium at a laptop's 1440 px and a phone's 390 px: never wider than
the window (tables scroll in their own box), no serious or critical axe-core violation, and a
screenshot of each (test-artifacts/screenshots/, git-ignored). Forms work from the keyboard alone.

axe-core is the npm package pinned in tests/browser/package.json (scripts/test.sh runs `npm ci
--prefix tests/browser`); it is evaluated in the page through DevTools, which the page's
Content-Security-Policy does not govern.
"""

import pytest
from django.urls import reverse

from tests.support import PASSWORD, REPO_ROOT, frozen, require_service, visit, worklist_scenario

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
AXE = REPO_ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"laptop": (1440, 900), "phone": (390, 844)}


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        require_service(f"axe-core ({AXE}; run: npm ci --prefix tests/browser)")
    return AXE.read_text()


@pytest.fixture
def world(protocol, site, site2, coordinator, investigator):
    with frozen(tick=True):
        yield worklist_scenario(site, site2, coordinator, investigator)


def log_in(page, live_server, username: str) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server.url + "/")


def serious_violations(page, axe_source: str) -> list[str]:
    page.evaluate(axe_source)
    result = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"
    )
    return [
        f"{v['id']} ({v['impact']}): {', '.join(v['nodes'])}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def overflow(page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def tab_to(page, text: str) -> None:
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == text:
            return
    raise AssertionError(f"{text!r} cannot be reached with Tab")


def pages(world) -> dict[str, str]:
    return {
        "worklist": "/",
        "matrix": reverse("dashboard:matrix"),
        "participant": reverse("dashboard:participant", args=[world["late"].pk]),
        "calendar": reverse("dashboard:calendar"),
        "calendar-month": reverse("dashboard:calendar") + "?view=month",
        "calendar-day": reverse("dashboard:calendar") + "?view=day",
        "participants": reverse("dashboard:participants"),
        "not-found": reverse("dashboard:participant", args=[world["berlin"].pk]),
        "adverse-events": reverse("dashboard:adverse_events"),
        "calendar-feed": reverse("dashboard:feed_settings"),
        "visit-form": reverse("dashboard:visit_done", args=[visit(world["due"], "SCR").pk]),
        "assessment-form": reverse(
            "dashboard:assessment_record",
            args=[visit(world["late"], "SCR").assessments.get(definition__code="VS").pk],
        ),
        "consent-form": reverse("dashboard:participant_new"),
    }


@pytest.mark.parametrize("screen", list(WIDTHS))
def test_every_page_fits_the_window_and_passes_axe(
    page, live_server, world, coordinator, axe_source, screen
):
    width, height = WIDTHS[screen]
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, live_server, coordinator.username)
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = {}
    for name, url in pages(world).items():
        page.goto(live_server.url + url)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        wider = overflow(page)
        if name in ("calendar", "calendar-month"):
            # A day keeps a readable width (the grid scrolls in its own box on a phone).
            day_width = page.locator(".cal-week .cal-day").first.evaluate(
                "e => e.getBoundingClientRect().width"
            )
            assert day_width >= 90, f"{name}: days {day_width} px wide"
        found = serious_violations(page, axe_source)
        if wider > 0 or found:
            problems[name] = {"wider by px": wider, "axe": found}
    assert problems == {}


def test_the_participants_table_is_never_clipped_on_a_laptop(page, live_server, world, coordinator):
    log_in(page, live_server, coordinator.username)
    for width in (1280, 1440, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server.url + reverse("dashboard:participants"))
        box = page.locator(".table-wrap").first
        hidden = box.evaluate("e => e.scrollWidth - e.clientWidth")
        assert hidden <= 0, f"{hidden} px of the table hidden at {width} px"


def test_the_matrix_filter_and_a_visit_form_work_from_the_keyboard(
    page, live_server, world, coordinator
):
    log_in(page, live_server, coordinator.username)
    page.goto(live_server.url + reverse("dashboard:matrix"))
    page.locator("#id_phase").focus()
    page.keyboard.press("ArrowDown")  # "Screening"
    tab_to(page, "Filter")
    page.keyboard.press("Enter")
    page.wait_for_url("**/matrix/?*phase=screening*")
    assert page.locator("table.matrix tbody tr").count() == 4

    # From the worklist to a recording form and back, with Tab and Enter only.
    page.goto(live_server.url + "/")
    record = page.locator("#due_today").get_by_role("link", name="Record SCR")
    record.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/visits/*/done/*")
    tab_to(page, "Save")
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/")
    assert "recorded as done" in page.locator(".messages").inner_text()


def test_the_matrix_shows_each_state_in_its_own_colour(
    page, live_server, protocol, site, site2, coordinator, investigator, axe_source
):
    from tests.dashboard.test_matrix import build_every_state

    p, expected = build_every_state(site, coordinator, investigator)
    with frozen(tick=True):
        log_in(page, live_server, coordinator.username)
        page.goto(live_server.url + reverse("dashboard:matrix"))
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "matrix-every-state.png"), full_page=True)
        colours = {
            state: page.locator(f'[data-state="{state}"]').first.evaluate(
                "e => getComputedStyle(e).backgroundColor"
            )
            for state in set(expected.values())
        }
        assert serious_violations(page, axe_source) == []
    assert len(set(colours.values())) == len(colours) == 10, colours
    assert "rgba(0, 0, 0, 0)" not in colours.values()


def test_the_admin_shows_an_unanswered_yes_no_as_a_dash(page, live_server, world, coordinator):
    from participants.models import StaffRole
    from participants.roles import group_for

    coordinator.groups.add(group_for(StaffRole.COORDINATOR))
    log_in(page, live_server, coordinator.username)
    scr = visit(world["due"], "SCR")  # not done yet: "in window" has no answer
    page.goto(live_server.url + reverse("admin:schedule_visit_change", args=[scr.pk]))
    unknown = page.locator('div.readonly:has(> img[src$="icon-unknown.svg"])').first
    assert not unknown.locator("img").is_visible()
    dash = unknown.evaluate("e => getComputedStyle(e, '::after').content")
    assert dash == '"—"'
    assert page.locator('input[name="_save"]').count() == 0
