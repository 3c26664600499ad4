"""The summary figure drawn as SVG: the title, a legend of end reasons with counts, and either
two bar panels (wall time, peak memory; one labelled bar per run) or one scatter of wall time
against peak memory.

Geometry is fixed (a 1000-unit wide viewBox; the constants below), so tests can compute where a
value must be drawn. The scatter draws each end reason's points as one path of dots, once per
whole pixel, so 10,000 runs stay a file of a few hundred kB at most, whatever their spread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from simwarden.results.plots.axes import Scale, log_ticks, mb_label, nice_ticks, unit_label
from simwarden.results.plots.common import CATEGORY_COLOURS, legend_entries
from simwarden.results.plots.summary_model import (
    RETRY_LABEL,
    SCATTER_MAX_CAUSES,
    SummaryRow,
    short_cause,
    summary_layout,
)
from simwarden.results.plots.svg import Svg, clip, clip_middle

WIDTH = 1000
TITLE_Y, LEGEND_Y, LEGEND_ROW = 26.0, 50.0, 18.0
PLOT_TOP = 96.0  # below the title and two legend rows (ten entries at most)
# About how wide a character of 11-, 10- and 9-unit text is.
CHAR_WIDTH, VALUE_CHAR_WIDTH, CAUSE_CHAR_WIDTH = 6.0, 5.6, 5.0
CAUSE_LINE = 11.0  # px between the baselines of two cause labels (9 px text) that share width
GRID_COLOUR, RETRY_PATTERN = "#DDDDDD", "retry"
# Bars: run ids right-aligned left of the wall-time panel, one ROW per run.
RUN_RIGHT, ROW, BARS_BOTTOM_MARGIN = 170.0, 16.0, 56.0
WALL_PANEL, MEM_PANEL = (180.0, 600.0), (660.0, 980.0)
NO_RUNS_HEIGHT = 300
# Scatter: one panel.
LEFT, RIGHT, BOTTOM, SCATTER_HEIGHT = 90.0, 970.0, 530.0, 600
DOT_SIZE, RING_RADIUS = 5.0, 4
# A run that did not end ok is a bigger, opaque dot: a few failures among thousands of runs
# must stand out at a glance (they are also drawn last, over the others).
FAILED_DOT_SIZE = 8.0
X_MARGIN, Y_MARGIN = 1.05, 1.1  # headroom past the largest value


def bars_height(runs: int) -> int:
    """The height of a bar figure of ``runs`` runs (at least one row)."""
    return int(PLOT_TOP + max(runs, 1) * ROW + BARS_BOTTOM_MARGIN)


def draw_summary(table: Sequence[SummaryRow], title: str, note: str | None = None) -> str:
    """The SVG document of the summary (see :func:`simwarden.results.plots.summary.plot_summary`);
    ``note`` is a line under the title (why a table had no runs)."""
    if not table:
        svg = Svg(title, WIDTH, NO_RUNS_HEIGHT)
        _heading(svg, title, note)
        svg.text(
            WIDTH / 2, NO_RUNS_HEIGHT / 2, "no runs", anchor="middle", size=14, class_="no-runs"
        )
        return svg.render()
    kind = summary_layout(len(table))
    height = bars_height(len(table)) if kind == "bars" else SCATTER_HEIGHT
    svg = Svg(title, WIDTH, height)
    _heading(svg, title, note)
    _legend(svg, table, kind)
    if kind == "bars":
        _draw_bars(svg, table)
    else:
        _draw_scatter(svg, table)
    return svg.render()


def _heading(svg: Svg, title: str, note: str | None) -> None:
    svg.text(
        WIDTH / 2, TITLE_Y, title, anchor="middle", size=17, font_weight="bold", class_="title"
    )
    if note:
        svg.text(WIDTH / 2, LEGEND_Y, clip(note, 150), anchor="middle", size=12, class_="note")


def _legend(svg: Svg, table: Sequence[SummaryRow], kind: str) -> None:
    """One entry per end reason present (``memory (3)``) in the fixed order, then the runs that
    needed a retry (hatched swatch for bars, a ring for the scatter); centred rows under the
    title, wrapped at the figure's width."""
    entries: list[tuple[str, str | None]] = list(legend_entries(r.category for r in table))
    retried = sum(r.retried for r in table)
    if retried:
        entries.append((f"{RETRY_LABEL} ({retried})", None))
    widths = [12 + 4 + len(label) * CHAR_WIDTH + 18 for label, _ in entries]
    rows: list[list[int]] = [[]]
    for index, width in enumerate(widths):
        if rows[-1] and sum(widths[i] for i in rows[-1]) + width > WIDTH - 40:
            rows.append([])
        rows[-1].append(index)
    for number, members in enumerate(rows):
        x = (WIDTH - sum(widths[i] for i in members)) / 2
        y = LEGEND_Y + LEGEND_ROW * number
        for index in members:
            label, colour = entries[index]
            _swatch(svg, x, y, colour, kind)
            svg.text(x + 16, y + 4, label, size=11, class_="legend")
            x += widths[index]


def _swatch(svg: Svg, x: float, y: float, colour: str | None, kind: str) -> None:
    """A legend square in ``colour``; None: the retry mark (hatched square or ring)."""
    if colour is not None:
        svg.add("rect", x=x, y=y - 6, width=12, height=12, fill=colour)
    elif kind == "bars":
        svg.add(
            "rect",
            x=x,
            y=y - 6,
            width=12,
            height=12,
            fill=f"url(#{RETRY_PATTERN})",
            stroke="#000000",
        )
    else:
        svg.rings([x + 6], [y], RING_RADIUS, stroke="#000000", stroke_width=1)


def _draw_bars(svg: Svg, table: Sequence[SummaryRow]) -> None:
    """Wall time and peak memory side by side, one labelled bar per run, first run at the top;
    a failed run's cause after its wall time; retried runs hatched."""
    if any(r.retried for r in table):
        svg.hatch(RETRY_PATTERN)
    for index, row in enumerate(table):
        y = PLOT_TOP + index * ROW + ROW - 4
        # Cut in the middle: a sweep's run ids differ at their end (their values).
        svg.text(RUN_RIGHT, y, clip_middle(row.run, 28), anchor="end", size=10, class_="run")
    walls = [
        f"{unit_value(r.wall_s, 's')}  {short_cause(r.cause)}"
        if r.cause
        else unit_value(r.wall_s, "s")
        for r in table
    ]
    mems = [unit_value(r.peak_mb, "MB") for r in table]
    _bar_panel(svg, table, [r.wall_s for r in table], walls, panel=WALL_PANEL, axis="wall time (s)")
    _bar_panel(
        svg, table, [r.peak_mb for r in table], mems, panel=MEM_PANEL, axis="peak memory (MB)"
    )


def unit_value(value: float | None, unit: str) -> str:
    """A bar's value with one decimal, ``8.8 s``, ``401.8 MB``; ``n/a`` when missing."""
    return f"{value:.1f} {unit}" if value is not None else "n/a"


def _bar_panel(
    svg: Svg,
    table: Sequence[SummaryRow],
    values: Sequence[float | None],
    labels: Sequence[str],
    *,
    panel: tuple[float, float],
    axis: str,
) -> None:
    """One panel: grid and ticks, a bar (class ``bar``) per run with a value (a hatched
    overlay, class ``retry``, for a retried run) and its label after it, the axis title. The
    labels get room right of the longest bar (at most 65 % of the panel) and are cut to the
    space up to the panel's end (the wall-time panel's may run into the gap before the next)."""
    left, right = panel
    room = min(max(len(text) for text in labels) * VALUE_CHAR_WIDTH + 8, 0.65 * (right - left))
    top_value = max((v for v in values if v is not None), default=0.0) or 1.0
    scale = Scale(0.0, top_value, left, right - room)
    bottom = PLOT_TOP + len(table) * ROW
    for tick in nice_ticks(0.0, top_value, 4):
        x = scale(tick)
        svg.line(x, PLOT_TOP, x, bottom, stroke=GRID_COLOUR, stroke_width=1)
        svg.text(x, bottom + 14, f"{tick:g}", anchor="middle", size=10, class_="tick")
    svg.line(left, PLOT_TOP, left, bottom, stroke="#000000", stroke_width=1)
    limit = right + (MEM_PANEL[0] - WALL_PANEL[1] - 10 if panel == WALL_PANEL else 0)
    for index, (row, value, text) in enumerate(zip(table, values, labels, strict=True)):
        y = PLOT_TOP + index * ROW + 2
        end = left
        if value is not None:
            end = scale(value)
            bar = {
                "x": f"{left:.1f}",
                "y": f"{y:.1f}",
                "width": f"{end - left:.1f}",
                "height": ROW - 4,
            }
            svg.add(
                "rect", **bar, fill=CATEGORY_COLOURS[row.category], class_="bar", data_run=row.run
            )
            if row.retried:
                svg.add(
                    "rect", **bar, fill=f"url(#{RETRY_PATTERN})", stroke="#000000", class_="retry"
                )
        fits = max(int((limit - end - 4) / VALUE_CHAR_WIDTH), 4)
        svg.text(end + 4, y + ROW - 6, clip(text, fits), size=10, class_="value")
    svg.text((left + right) / 2, bottom + 34, axis, anchor="middle", size=12, class_="axis")


def _draw_scatter(svg: Svg, table: Sequence[SummaryRow]) -> None:
    """Wall time against peak memory, one dot per run with both values, one path per end
    reason (``exited ok`` first, so failures are drawn over it, bigger and opaque: one among
    thousands must be seen); retried runs ringed; a failed
    run's cause next to its dot when at most SCATTER_MAX_CAUSES runs failed; a note counting
    the runs left out for a missing value."""
    shown = [r for r in table if r.wall_s is not None and r.peak_mb is not None]
    x_of, y_of = _scatter_axes(
        svg, [r.wall_s or 0.0 for r in shown], [r.peak_mb or 0.0 for r in shown]
    )
    for name, colour in CATEGORY_COLOURS.items():
        members = [r for r in shown if r.category == name]
        xs = [x_of(r.wall_s or 0.0) for r in members]
        ys = [y_of(r.peak_mb or 0.0) for r in members]
        ok = name == "exited ok"
        svg.dots(
            xs,
            ys,
            DOT_SIZE if ok else FAILED_DOT_SIZE,
            stroke=colour,
            stroke_opacity=0.8 if ok else 1,
            class_="points",
            data_category=name,
            data_runs=len(members),
        )
    retried = [r for r in shown if r.retried]
    xs = [x_of(r.wall_s or 0.0) for r in retried]
    svg.rings(
        xs,
        [y_of(r.peak_mb or 0.0) for r in retried],
        RING_RADIUS,
        stroke="#000000",
        stroke_width=0.8,
        class_="retried",
        data_runs=len(retried),
    )
    failed = [r for r in shown if r.cause]
    if len(failed) <= SCATTER_MAX_CAUSES:
        _label_causes(svg, failed, x_of, y_of)
    if len(shown) < len(table):
        note = f"{len(table) - len(shown)} run(s) without wall time or peak not shown"
        svg.text(RIGHT - 4, BOTTOM - 6, note, anchor="end", size=10, class_="note")


def _label_causes(
    svg: Svg,
    failed: Sequence[SummaryRow],
    x_of: Callable[[float], float],
    y_of: Callable[[float], float],
) -> None:
    """Each failed run's cause beside its dot, left of it when it would leave the figure on the
    right. Labels are placed from the top down; one that would overlap a label already placed
    moves below it, with a thin line back to its dot (failures of one sweep often sit together)."""
    labels = []
    for r in failed:
        text = clip(f"{r.run}: {short_cause(r.cause or '')}", 80)
        x, dot_y = x_of(r.wall_s or 0.0), y_of(r.peak_mb or 0.0)
        width = len(text) * CAUSE_CHAR_WIDTH
        left = x + 5 + width > WIDTH - 4
        start = x - 5 - width if left else x + 5
        labels.append((text, x, dot_y, left, start, width))
    baselines: dict[int, float] = {}
    placed: list[tuple[float, float, float]] = []
    for i in sorted(range(len(labels)), key=lambda i: labels[i][2]):
        _, _, dot_y, _, start, width = labels[i]
        baselines[i] = free_baseline(placed, start, start + width, dot_y - 4)
        placed.append((start, start + width, baselines[i]))
    for i, (text, x, dot_y, left, _, _) in enumerate(labels):
        anchor_x, y = (x - 5 if left else x + 5), baselines[i]
        if y > dot_y:
            svg.line(x, dot_y, anchor_x, y - 3, stroke="#999999", stroke_width=0.6, class_="leader")
        svg.text(anchor_x, y, text, anchor="end" if left else None, size=9, class_="cause")


def free_baseline(
    placed: Sequence[tuple[float, float, float]], start: float, end: float, y: float
) -> float:
    """The first baseline at or below ``y`` at which a label spanning ``start``..``end`` keeps
    CAUSE_LINE from every placed ``(start, end, baseline)`` it shares some width with."""
    moved = True
    while moved:  # y only grows, to one of finitely many values: it ends
        moved = False
        for other_start, other_end, other_y in placed:
            if other_start < end and start < other_end and abs(y - other_y) < CAUSE_LINE:
                y, moved = other_y + CAUSE_LINE, True
    return y


def _scatter_axes(
    svg: Svg, walls: Sequence[float], peaks: Sequence[float]
) -> tuple[Callable[[float], float], Callable[[float], float]]:
    """The frame, grid, ticks and axis titles; returns the value-to-pixel maps. The wall-time
    axis is logarithmic when every time is above 0 and they span 100x or more, else linear
    from 0; the memory axis is linear from 0. An axis without values spans 0..1."""
    svg.frame(LEFT, PLOT_TOP, RIGHT, BOTTOM)
    y_scale = Scale(0.0, (max(peaks, default=0.0) or 1.0) * Y_MARGIN, BOTTOM, PLOT_TOP)
    log = bool(walls) and min(walls) > 0 and max(walls) / min(walls) >= 100
    if log:
        lo, hi = math.log10(min(walls)), math.log10(max(walls))
        pad = (hi - lo) * 0.03
        x_scale = Scale(lo - pad, hi + pad, LEFT, RIGHT)
        x_ticks = log_ticks(min(walls), max(walls))

        def x_of(value: float) -> float:
            return x_scale(math.log10(value))
    else:
        x_scale = Scale(0.0, (max(walls, default=0.0) or 1.0) * X_MARGIN, LEFT, RIGHT)
        x_ticks = nice_ticks(x_scale.lo, x_scale.hi, 8)
        x_of = x_scale
    for tick in x_ticks:
        x = x_of(tick)
        svg.line(x, PLOT_TOP, x, BOTTOM, stroke=GRID_COLOUR, stroke_width=1)
        svg.text(x, BOTTOM + 16, unit_label(tick, "s"), anchor="middle", size=11, class_="tick")
    for tick in nice_ticks(y_scale.lo, y_scale.hi, 6):
        y = y_scale(tick)
        svg.line(LEFT, y, RIGHT, y, stroke=GRID_COLOUR, stroke_width=1)
        svg.text(LEFT - 6, y + 4, mb_label(tick), anchor="end", size=11, class_="tick")
    axis = "wall time (s, log scale)" if log else "wall time (s)"
    svg.text((LEFT + RIGHT) / 2, BOTTOM + 40, axis, anchor="middle", size=13, class_="axis")
    middle = (PLOT_TOP + BOTTOM) / 2
    svg.text(
        20,
        middle,
        "peak memory (MB)",
        anchor="middle",
        size=13,
        class_="axis",
        transform=f"rotate(-90 20 {middle:g})",
    )
    return x_of, y_scale
