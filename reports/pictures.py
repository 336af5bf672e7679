"""The report's pictures, drawn on the server with matplotlib (Agg: no display, safe in a worker):
the CONSORT-style flow of people and the cumulative accrual against the target. SVG for the page,
PNG for the email. Only the layout is written here; matplotlib draws.

A new Figure object per call (never pyplot's global state), so two requests drawing at once in
one process cannot draw into each other's picture.
"""

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

STEP_LABELS = {
    "enrolled": "Enrolled",
    "leukapheresis": "Leukapheresis",
    "treated": "Treated (at least one infusion)",
    "follow_up": "Treatment ended, in follow-up",
    "completed": "Completed the study",
}
STOPPED_LABELS = {
    "screen_failed": "screen failed",
    "withdrawn": "withdrew",
    "died": "died",
    "lost_to_follow_up": "lost to follow-up",
    "manufacturing_failed": "manufacturing failed",
    "ongoing": "still at this step",
}
BOX = {"boxstyle": "round,pad=0.5", "facecolor": "#f4f6f8", "edgecolor": "#334155"}
SIDE_BOX = {"boxstyle": "round,pad=0.4", "facecolor": "#fff7ed", "edgecolor": "#9a3412"}


def _lines(counts: dict) -> list[str]:
    return [f"{STOPPED_LABELS.get(key, key)}: {n}" for key, n in counts.items()]


def consort_figure(consort: dict, *, title: str) -> Figure:
    """Assessed -> excluded (with reasons) -> each step, with who stopped before each step."""
    steps = consort["steps"]
    figure = Figure(figsize=(8.5, 1.6 + 1.45 * len(steps)))
    axes = figure.add_subplot()
    axes.set_axis_off()
    rows = len(steps) + 1
    axes.set_xlim(0, 10)
    axes.set_ylim(-0.5, rows)
    axes.set_title(title, fontsize=11)

    def box(x, y, text, style=BOX, size=9):
        axes.text(x, y, text, ha="center", va="center", fontsize=size, bbox=style, wrap=True)

    def arrow(y_from, y_to):
        axes.annotate(
            "",
            xy=(3.5, y_to + 0.25),
            xytext=(3.5, y_from - 0.25),
            arrowprops={"arrowstyle": "->", "color": "#334155"},
        )

    top = rows - 0.5
    box(3.5, top, f"Assessed for eligibility (people)\nn = {consort['assessed']}")
    excluded = [*_lines(consort["excluded_by"]), f"still in screening: {consort['in_screening']}"]
    criteria = ", ".join(f"{code} {n}" for code, n in consort["excluded_criteria"].items())
    if criteria:
        excluded.append(f"criteria not met: {criteria}")
    box(8, top - 0.5, f"Excluded n = {consort['excluded']}\n" + "\n".join(excluded), SIDE_BOX, 8)
    y = top
    for step in steps:
        below = y - 1
        arrow(y, below)
        text = f"{STEP_LABELS.get(step['step'], step['step'])}\nn = {step['n']}"
        if step["step"] == "follow_up":
            text += (
                f"\n(six infusions: {consort['completed_treatment']}, "
                f"stopped early: {consort['stopped_early']})"
            )
        box(3.5, below, text)
        stopped = _lines(step["not_reaching_it"])
        if stopped:
            box(8, y - 0.5, "Did not reach it:\n" + "\n".join(stopped), SIDE_BOX, 8)
        y = below
    return figure


def accrual_figure(report: dict) -> Figure:
    """Cumulative enrollment at each month's end, per site and in total, against the target."""
    figure = Figure(figsize=(8.5, 4.2))
    axes = figure.add_subplot()
    total = report["total"]
    months = [point["month"] for point in total["accrual"]]
    x = list(range(len(months)))  # positions, labelled with the months below
    for scope in report["sites"]:
        by_month = {p["month"]: p["enrolled_to_date"] for p in scope["accrual"]}
        axes.plot(
            x,
            [by_month.get(m, 0) for m in months],
            marker="o",
            linewidth=1.2,
            label=scope["site"],
        )
    axes.plot(
        x,
        [p["enrolled_to_date"] for p in total["accrual"]],
        marker="s",
        linewidth=2.4,
        color="#111827",
        label=total["name"],
    )
    axes.axhline(
        total["target"], color="#b91c1c", linestyle="--", label=f"Target {total['target']}"
    )
    axes.set_ylim(0, max(total["target"], total["enrollment_vs_target"]["enrolled"]) * 1.1 + 1)
    axes.set_xticks(x, months)
    axes.set_ylabel("Enrolled (cumulative)")
    axes.set_title(f"Accrual to {report['last_day']}", fontsize=11)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    if len(months) > 8:
        axes.tick_params(axis="x", labelrotation=45)
    if not months:
        axes.text(0.5, 0.5, "No consent yet", transform=axes.transAxes, ha="center")
    figure.tight_layout()
    return figure


def render(figure: Figure, fmt: str) -> bytes:
    """The figure as "svg" or "png" bytes."""
    out = io.BytesIO()
    # SVG text stays text (not outlines): smaller, selectable, and read by screen readers.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "sle001"}):
        figure.savefig(
            out,
            format=fmt,
            dpi=110 if fmt == "png" else None,
            bbox_inches="tight",  # no empty margin around the flow's boxes
            pad_inches=0.15,
        )
    return out.getvalue()


def consort_picture(report: dict, fmt: str) -> bytes:
    title = f"Participant flow to {report['last_day']} ({report['total']['name'].lower()})"
    return render(consort_figure(report["total"]["consort"], title=title), fmt)


def accrual_picture(report: dict, fmt: str) -> bytes:
    return render(accrual_figure(report), fmt)
