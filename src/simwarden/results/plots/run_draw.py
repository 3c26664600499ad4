"""The run figure drawn as SVG: memory over time (top panel) and CPU % / progress (bottom panel)
of every attempt laid end to end, the limits, the peak, each attempt's end and why, a legend.

Geometry is fixed (a 1000 x 600 viewBox; the constants below), so tests can compute where a
value must be drawn. Long series are drawn through :func:`~.axes.downsample` (at most four
points per pixel column); the peak marker is placed from the full series.
"""

from __future__ import annotations

from collections.abc import Sequence

from simwarden.core.fields import Fields
from simwarden.core.units import MB, format_mb
from simwarden.results.plots.axes import (
    Scale,
    downsample,
    finite_runs,
    in_order,
    mb_label,
    nice_ticks,
    percent_label,
    time_unit,
)
from simwarden.results.plots.common import CATEGORY_COLOURS, category
from simwarden.results.plots.run_model import RunLabels, Segment, cause_line, end_label
from simwarden.results.plots.svg import Svg, clip

LEFT, RIGHT = 80.0, 790.0
MEM_TOP, MEM_BOTTOM = 70.0, 365.0
CPU_TOP, CPU_BOTTOM = 395.0, 530.0
LEGEND_X = 810.0
PANELS = ((MEM_TOP, MEM_BOTTOM), (CPU_TOP, CPU_BOTTOM))
COLUMNS = int(RIGHT - LEFT)  # downsampling keeps at most four points per pixel column
X_MARGIN, MEM_MARGIN, CPU_MARGIN = 1.02, 1.15, 1.1  # headroom past the largest value
CHAR_WIDTH = 6.6  # about how wide a 12-unit character is, to box a label and keep it inside
RSS_COLOUR, CPU_COLOUR, LIMIT_COLOUR, WARN_COLOUR = "#0072B2", "#555555", "#D55E00", "#E69F00"
PROGRESS_COLOUR, GRID_COLOUR = "#009E73", "#DDDDDD"
LIMIT_DASH, WARN_DASH, PROGRESS_DASH = "6 4", "2 3", "5 3"
RSS_STYLE: dict[str, object] = {"stroke": RSS_COLOUR, "stroke_width": 1.4, "class_": "rss"}
CPU_STYLE: dict[str, object] = {"stroke": CPU_COLOUR, "stroke_width": 1.2, "class_": "cpu"}
PROGRESS_STYLE: dict[str, object] = {
    "stroke": PROGRESS_COLOUR,
    "stroke_width": 1.4,
    "stroke_dasharray": PROGRESS_DASH,
    "class_": "progress",
}
Runs = list[tuple[list[float], list[float]]]
# Legend entries: (label, colour, style): a dash pattern, "peak" / "stop" (a marker) or None.
Legend = list[tuple[str, str, str | None]]


class Frame(Fields, frozen=True):
    """Where values go: time (seconds from the first attempt's start), memory (MB), CPU (%)."""

    x: Scale
    mem: Scale
    cpu: Scale


class Drawn(Fields, frozen=True):
    """One attempt's finite stretches of each series (see :func:`~.axes.finite_runs`) and the
    largest value of each RSS stretch (one pass over 100,000 samples, not one per use)."""

    segment: Segment
    rss: Runs
    cpu: Runs
    progress: Runs
    rss_tops: list[float]


def _finite(segment: Segment) -> Drawn:
    series = segment.series
    ordered = in_order(series.time_s)
    rss = finite_runs(series.time_s, series.rss_mb, ordered)
    return Drawn(
        segment,
        rss,
        finite_runs(series.time_s, series.cpu_percent, ordered),
        finite_runs(series.time_s, series.progress_percent, ordered),
        [max(values) for _, values in rss],
    )


def frame_of(drawn: Sequence[Drawn]) -> Frame:
    """The scales: time to the last attempt's end, memory to the largest sample, limit or peak,
    CPU to at least 100 %, each with headroom; an empty axis spans 0..1 (memory: 0..1 MB)."""
    right = max(d.segment.offset + d.segment.span for d in drawn) or 1.0
    mem_levels = [0.0]
    for d in drawn:
        record = d.segment.record
        mem_levels += d.rss_tops
        mem_levels += [(record.mem_limit_bytes or 0) / MB, (record.peak_rss_bytes or 0) / MB]
    warn = drawn[-1].segment.record.limits.get("mem_warn_bytes")
    if isinstance(warn, int | float):
        mem_levels.append(warn / MB)
    cpu_levels = [100.0] + [max(v) for d in drawn for _, v in (*d.cpu, *d.progress)]
    return Frame(
        Scale(0.0, right * X_MARGIN, LEFT, RIGHT),
        Scale(0.0, (max(mem_levels) or 1.0) * MEM_MARGIN, MEM_BOTTOM, MEM_TOP),
        Scale(0.0, max(cpu_levels) * CPU_MARGIN, CPU_BOTTOM, CPU_TOP),
    )


def draw_run(segments: Sequence[Segment], labels: RunLabels, heading: str) -> str:
    """The SVG document of a run figure (see :func:`simwarden.results.plots.run.plot_run`)."""
    drawn = [_finite(segment) for segment in segments]
    frame = frame_of(drawn)
    svg = Svg(heading)
    svg.text(500, 26, heading, anchor="middle", size=17, font_weight="bold", class_="title")
    cause = cause_line(segments[-1].record)
    if cause:
        svg.text(500, 48, clip(cause, 150), anchor="middle", size=12, class_="cause")
    several = len(segments) > 1
    _draw_axes(svg, frame, several)
    legend: Legend = []
    cpu_legend = _draw_series(svg, frame, drawn, labels, legend)
    _draw_levels(svg, frame, segments, labels, legend)
    _draw_ends(svg, frame, segments, labels.end, legend)
    _draw_legend(svg, MEM_TOP + 6, legend)
    _draw_legend(svg, CPU_TOP + 6, cpu_legend)
    return svg.render()


def _draw_axes(svg: Svg, frame: Frame, several: bool) -> None:
    """Both panels' frames, grid lines and tick labels (memory in MB, CPU in %, time in the
    unit its span reads best in), and the axis titles."""
    for top, bottom in PANELS:
        svg.frame(LEFT, top, RIGHT, bottom)
    for scale, tick_label, count in ((frame.mem, mb_label, 5), (frame.cpu, percent_label, 3)):
        for value in nice_ticks(scale.lo, scale.hi, count):
            y = scale(value)
            svg.line(LEFT, y, RIGHT, y, stroke=GRID_COLOUR, stroke_width=1)
            svg.text(LEFT - 6, y + 4, tick_label(value), anchor="end", size=11, class_="tick")
    unit, factor = time_unit(frame.x.hi)
    for value in nice_ticks(0.0, frame.x.hi / factor, 8):
        x = frame.x(value * factor)
        for top, bottom in PANELS:
            svg.line(x, top, x, bottom, stroke=GRID_COLOUR, stroke_width=1)
        svg.text(x, CPU_BOTTOM + 16, f"{value:g} {unit}", anchor="middle", size=11, class_="tick")
    axis = f"time since start ({unit})" + (", attempts end to end" if several else "")
    svg.text((LEFT + RIGHT) / 2, CPU_BOTTOM + 40, axis, anchor="middle", size=13)
    for label, (top, bottom) in zip(("memory (MB)", "CPU %"), PANELS, strict=True):
        y = (top + bottom) / 2
        svg.text(20, y, label, anchor="middle", size=13, transform=f"rotate(-90 20 {y:g})")


def _curves(
    svg: Svg, frame_x: Scale, scale: Scale, runs: Runs, *, offset: float, style: dict[str, object]
) -> None:
    """Each finite stretch downsampled and drawn as one curve in ``style``, shifted by the
    attempt's offset; memory curves are filled down to the panel's bottom."""
    (a, b), (c, d) = frame_x.linear(), scale.linear()
    b += a * offset
    fill_to = MEM_BOTTOM if style is RSS_STYLE else None
    for times, values in runs:
        shown_t, shown_v = downsample(times, values, COLUMNS)
        svg.curve([a * t + b for t in shown_t], [c * v + d for v in shown_v], style, fill_to)


def _draw_series(
    svg: Svg,
    frame: Frame,
    drawn: Sequence[Drawn],
    labels: RunLabels,
    legend: Legend,
) -> Legend:
    """The RSS curves (filled below), CPU and progress curves, and the final attempt's peak
    marker; "no samples" in both panels when no attempt has samples. Returns the CPU panel's
    legend entries."""
    if not any(d.rss or d.cpu for d in drawn):
        for top, bottom in PANELS:
            middle = ((LEFT + RIGHT) / 2, (top + bottom) / 2)
            svg.text(*middle, "no samples", anchor="middle", size=14, class_="no-samples")
        return []
    for d in drawn:
        offset = d.segment.offset
        _curves(svg, frame.x, frame.mem, d.rss, offset=offset, style=RSS_STYLE)
        _curves(svg, frame.x, frame.cpu, d.cpu, offset=offset, style=CPU_STYLE)
        _curves(svg, frame.x, frame.cpu, d.progress, offset=offset, style=PROGRESS_STYLE)
    if any(d.rss for d in drawn):
        legend.append(("RSS (tree)", RSS_COLOUR, None))
    final = drawn[-1]
    if final.rss:
        # The true peak of the full series: the highest stretch, the first time it occurs there.
        top = max(final.rss_tops)
        times, values = final.rss[final.rss_tops.index(top)]
        x, y = frame.x(times[values.index(top)] + final.segment.offset), frame.mem(top)
        svg.add("path", d=f"M{x:.1f} {y:.1f}l-6 -10h12z", fill=RSS_COLOUR, class_="peak")
        legend.append((labels.peak or "peak", RSS_COLOUR, "peak"))
    cpu_legend: Legend = [("CPU %", CPU_COLOUR, None)]
    if any(d.progress for d in drawn):
        cpu_legend.append(("progress %", PROGRESS_COLOUR, PROGRESS_DASH))
    return cpu_legend


def _draw_levels(
    svg: Svg,
    frame: Frame,
    segments: Sequence[Segment],
    labels: RunLabels,
    legend: Legend,
) -> None:
    """The limit lines (one per attempt over its own stretch when there are several) and the
    final attempt's warning line."""
    several = len(segments) > 1
    for segment in segments:
        mem = segment.record.mem_limit_bytes
        if not mem:
            continue
        start, end = _stretch(segment, several, frame)
        y = frame.mem(mem / MB)
        text = f"limit {format_mb(mem)} (attempt {segment.number})" if several else labels.limit
        _level(svg, frame, (start, end), y, colour=LIMIT_COLOUR, dash=LIMIT_DASH, class_="limit")
        legend.append((text or "limit", LIMIT_COLOUR, LIMIT_DASH))
    final = segments[-1]
    level = final.record.limits.get("mem_warn_bytes")
    if labels.warn and isinstance(level, int | float):
        start, end = _stretch(final, several, frame)
        y = frame.mem(level / MB)
        _level(svg, frame, (start, end), y, colour=WARN_COLOUR, dash=WARN_DASH, class_="warn")
        legend.append((labels.warn, WARN_COLOUR, WARN_DASH))


def _level(
    svg: Svg,
    frame: Frame,
    span: tuple[float, float],
    y: float,
    *,
    colour: str,
    dash: str,
    class_: str,
) -> None:
    """A dashed horizontal line at ``y`` over the times ``span`` (a limit, a warning level)."""
    svg.line(
        frame.x(span[0]),
        y,
        frame.x(span[1]),
        y,
        stroke=colour,
        stroke_width=1.5,
        stroke_dasharray=dash,
        class_=class_,
    )


def _stretch(segment: Segment, several: bool, frame: Frame) -> tuple[float, float]:
    """Where an attempt's level line runs: its own stretch of time, or the whole axis when the
    run had one attempt."""
    return (segment.offset, segment.offset + segment.span) if several else (0.0, frame.x.hi)


def _draw_ends(
    svg: Svg,
    frame: Frame,
    segments: Sequence[Segment],
    end: str,
    legend: Legend,
) -> None:
    """Each attempt's end line through both panels in the colour of how it ended, labelled in a
    box left of it (right of it when the box would leave the panel; ``attempt N: ...`` and
    staggered when there are several); an X where an attempt was stopped for memory."""
    several = len(segments) > 1
    for index, segment in enumerate(segments):
        record = segment.record
        x = frame.x(segment.offset + segment.end)
        colour = CATEGORY_COLOURS[category(record.reason, record.exit_code)]
        for top, bottom in PANELS:
            svg.line(x, top, x, bottom, stroke=colour, stroke_width=2, class_="end")
        text = clip(f"attempt {segment.number}: {end_label(record)}" if several else end, 90)
        width = len(text) * CHAR_WIDTH + 8
        left = x - 6 - width if x - 6 - width >= LEFT else x + 6
        y = MEM_TOP + 6 + 20 * (index if several else 0)
        svg.add(
            "rect",
            x=f"{left:.1f}",
            y=f"{y:.1f}",
            width=f"{width:.1f}",
            height=17,
            rx=4,
            fill="white",
            stroke=colour,
        )
        svg.text(left + 4, y + 13, text, size=12, class_="end-label")
        if several and record.reason == "memory":
            peak = record.peak_rss_bytes
            top = peak / MB if isinstance(peak, int | float) else max(segment.series.rss_mb or [0])
            y_stop = frame.mem(top)
            svg.add(
                "path",
                d=f"M{x:.1f} {y_stop:.1f}m-6 -6l12 12m-12 0l12 -12",
                stroke=colour,
                stroke_width=3,
                class_="memory-stop",
            )
            legend.append((f"memory stop (attempt {segment.number})", colour, "stop"))


def _draw_legend(svg: Svg, top: float, entries: Sequence[tuple[str, str, str | None]]) -> None:
    """A vertical legend right of the panels: a line (dashed as drawn) or a marker, and the
    label, per entry."""
    for row, (label, colour, style) in enumerate(entries):
        y = top + 10 + 18 * row
        if style == "peak":
            svg.add("path", d=f"M{LEGEND_X + 12} {y + 4}l-6 -10h12z", fill=colour)
        elif style == "stop":
            svg.add(
                "path",
                d=f"M{LEGEND_X + 12} {y}m-5 -5l10 10m-10 0l10 -10",
                stroke=colour,
                stroke_width=3,
            )
        else:
            svg.line(
                LEGEND_X, y, LEGEND_X + 24, y, stroke=colour, stroke_width=2, stroke_dasharray=style
            )
        svg.text(LEGEND_X + 30, y + 4, clip(label, 24), size=11, class_="legend")
