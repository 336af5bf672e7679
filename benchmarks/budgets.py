"""Issue 11's budgets and the table `python -m benchmarks` prints: which measurements break which
budget (benchmarks/run.py measures; this module judges and reports)."""

import os
import platform

# Issue 11's budgets (PostgreSQL, a 2-core machine, 10 sites), checked at 10k (and 50k ratios).
BUDGETS = {
    "p95_ms_manager": 300,
    "p95_ms_coordinator": 150,
    "page_bytes": 300_000,
    "ratio_10k": 1.5,
    "ratio_50k": 2.0,
    "overdue_routine_ms": 20,
    "scan_vs_sql": 3.0,
    "backlog_items": 20_000,
    "backlog_peak_mb": 150,
    "csv_peak_mb": 100,
}


def cpu_times() -> tuple[int, int] | None:
    """(stolen, total) CPU time since boot, in clock ticks (Linux /proc/stat; None elsewhere):
    on a virtual machine, the time the host gave this machine's CPUs to someone else."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(n) for n in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks[:8])


def stolen_share(since: tuple[int, int] | None) -> str:
    """ ", N % of the CPU time stolen by the host" since `since` (cpu_times), or ""."""
    now = cpu_times()
    if since is None or now is None or now[1] <= since[1]:
        return ""
    return (
        f", {100 * (now[0] - since[0]) / (now[1] - since[1]):.0f} % of CPU time stolen by the host"
    )


def machine(since: tuple[int, int] | None = None) -> str:
    load = os.getloadavg()
    busy = " (other processes were running)" if load[0] > 1.0 else ""
    return (
        f"{platform.node()}: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load[0]:.2f}{busy}{stolen_share(since)}"
    )


def report(scales: list[int], results: dict, build_rates: dict, since=None) -> list[str]:
    """Print the table; return the broken budgets. `since`: cpu_times() when the run began."""
    from django.db import connection

    broken = []
    base = scales[0]
    print(f"\nmachine: {machine(since)}; PostgreSQL {connection.pg_version // 10000}")
    for scale, rate in build_rates.items():
        print(f"built {scale} participants at {rate:,.0f} participants/s")
    header = f"{'operation':24} {'role':12}" + "".join(
        f" {f'{s // 1000}k med/p95 ms':>18} {'q':>4} {'KB':>7}" for s in scales
    )
    print(header + "".join(f" {f'{s // 1000}k/{base // 1000}k':>7}" for s in scales[1:]))
    for key in results[base]:
        name, role = key
        line = f"{name:24} {role:12}"
        for scale in scales:
            r = results[scale].get(key)
            line += f" {r['median']:8.1f}/{r['p95']:8.1f} {r['queries']:4} {r['bytes'] / 1024:7.0f}"
        for scale in scales[1:]:
            first, r = results[base][key], results[scale][key]
            ratio = r["median"] / first["median"] if first["median"] else float("inf")
            line += f" {ratio:7.2f}"
            limit = BUDGETS["ratio_10k"] if scale <= 10_000 else BUDGETS["ratio_50k"]
            if ratio > limit and not name.startswith("participants CSV") and role != "job":
                broken.append(f"{name} ({role}) {scale}/{base} ratio {ratio:.2f} > {limit}")
        if r.get("vs_sql") is not None:
            line += f"  vs SQL {r['vs_sql']:.1f}x"
        if "peak_mb" in r:
            line += f"  {r['items']} items, peak {r['peak_mb']:.0f} MB, SQL {r['sql_ms']:.0f} ms"
        print(line)
        broken += budgets_of(key, results, scales)
    return broken


def budgets_of(key, results, scales) -> list[str]:
    name, role = key
    broken = []
    ten = results.get(10_000, {}).get(key)
    if ten is None:
        return broken
    if role in ("manager", "coordinator") and not name.startswith("participants CSV"):
        limit = BUDGETS[f"p95_ms_{role}"]
        if ten["p95"] > limit:
            broken.append(f"{name} ({role}) p95 {ten['p95']:.0f} ms > {limit} ms at 10k")
        if ten["bytes"] > BUDGETS["page_bytes"]:
            broken.append(f"{name} ({role}) {ten['bytes']} bytes > {BUDGETS['page_bytes']}")
    if ten.get("vs_sql") is not None and ten["vs_sql"] > BUDGETS["scan_vs_sql"]:
        broken.append(f"{name} {ten['vs_sql']:.1f}x its hand-written SQL > 3x at 10k")
    if name == "overdue scan (routine)" and ten["median"] > BUDGETS["overdue_routine_ms"]:
        broken.append(f"overdue scan routine {ten['median']:.1f} ms > 20 ms at 10k")
    return broken + memory_budgets_of(key, results, scales)


def memory_budgets_of(key, results, scales) -> list[str]:
    """The peak memory of the backlog scan and of the CSV export, at every scale."""
    name, _ = key
    limits = {
        "overdue scan (backlog)": ("backlog", BUDGETS["backlog_peak_mb"]),
        "participants CSV (memory)": ("CSV export", BUDGETS["csv_peak_mb"]),
    }
    if name not in limits:
        return []
    what, limit = limits[name]
    return [
        f"{what} at {scale}: peak {results[scale][key]['peak_mb']:.0f} MB > {limit} MB"
        for scale in scales
        if results[scale][key]["peak_mb"] > limit
    ]
