"""The benchmark says how much of the run's CPU time the host took (a VM's stolen time), so a
slow run on a shared machine is read for what it is."""

import sys

import pytest

from benchmarks.budgets import cpu_times, machine, stolen_share


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_the_machine_line_gives_the_share_of_cpu_time_stolen_since_the_run_began():
    stolen, total = cpu_times()
    assert 0 <= stolen <= total
    sum(range(2_000_000))  # some CPU time passes
    share = stolen_share((stolen, total - 1_000))
    assert share.startswith(", ") and share.endswith("% of CPU time stolen by the host")
    assert 0 <= float(share.split()[1]) <= 100
    assert stolen_share(None) == ""
    assert "stolen" not in machine() and "stolen" in machine((stolen, total - 1_000))
