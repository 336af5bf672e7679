"""Guards that keep the house in order (README "Layout"): dependencies point one way, and no test
times itself. They read the source, so they fail on the commit that breaks the rule."""

import ast
import re

import pytest

from tests.support import REPO_ROOT

# participants <- schedule <- safety <- reports <- notifications, dashboard, demo; the last three
# never import each other. sle001 (settings, URLs, the Celery app) sits on top and may import any.
MAY_IMPORT = {
    "participants": {"participants"},
    "schedule": {"participants", "schedule"},
    "safety": {"participants", "schedule", "safety"},
    # The sponsor's figures, pictures and tables: shown by the dashboard and emailed alike.
    "reports": {"participants", "schedule", "safety", "reports"},
    # The demo study records through every service a coordinator uses.
    "demo": {"participants", "schedule", "safety", "reports", "demo"},
    "notifications": {"participants", "schedule", "safety", "reports", "notifications"},
    "dashboard": {"participants", "schedule", "safety", "reports", "dashboard"},
}
PROJECT = set(MAY_IMPORT) | {"sle001", "tests", "benchmarks"}


def _imported_apps(path) -> set[str]:
    """Project apps a module imports, at the top or inside a function (lazy imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & PROJECT
    return found


@pytest.mark.parametrize("app", sorted(MAY_IMPORT))
def test_an_app_imports_only_the_apps_below_it(app):
    offenders = [
        f"{path.relative_to(REPO_ROOT)} imports {', '.join(sorted(extra))}"
        for path in sorted((REPO_ROOT / app).rglob("*.py"))
        if (extra := _imported_apps(path) - MAY_IMPORT[app])
    ]
    assert offenders == [], f"{app} may import only {sorted(MAY_IMPORT[app])}"


def test_the_import_guard_sees_a_lazy_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from notifications import services\n    import dashboard.views\n"
    )
    assert _imported_apps(module) == {"notifications", "dashboard"}


# An assert comparing a measured duration with a number: speed belongs in benchmarks/.
TIMED = re.compile(r"assert\b.*\b(seconds|elapsed|duration|monotonic|perf_counter)\b.*[<>]")


def test_no_test_asserts_on_wall_clock_time():
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in sorted((REPO_ROOT / "tests").rglob("*.py"))
        if path.name != "test_layout.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if TIMED.search(line)
    ]
    assert offenders == [], "measure speed in benchmarks/, not in a test"
