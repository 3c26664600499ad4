"""A tiny SVG writer for the pipeline's own plots: lines, polylines, text, markers, written
atomically. Standard library only, so drawing a plot costs milliseconds, not a matplotlib import.

Every string that reaches the document goes through :func:`escape`: a run id, a message or a
path can hold ``<``, ``&``, quotes or control characters and still give valid XML.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from simwarden.core.errors import UserError
from simwarden.core.fsutil import replace_atomically

WIDTH, HEIGHT = 1000, 600
FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"
# Characters XML 1.0 does not allow (C0 controls but tab/newline/return, lone surrogates from
# undecodable bytes, the two non-characters); newlines and tabs are spaces, as a text is one line.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ENTITIES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}
    | dict.fromkeys("\n\r\t", " ")
)


def escape(text: object) -> str:
    """``text`` as XML character data or attribute value: markup characters as entities,
    characters XML forbids as U+FFFD, line breaks and tabs as spaces."""
    return _NOT_XML.sub("\ufffd", str(text)).translate(_ENTITIES)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with a trailing ``…`` when longer (a text line
    of an SVG never wraps)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def clip_middle(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters (at least 3) by a ``…`` in its middle when longer:
    for names whose start and end both tell them apart (a sweep's run ids end in their
    values: ``sweep__alpha-0.1_seed-1``)."""
    if len(text) <= width:
        return text
    tail = (width - 1) // 2
    return text[: width - 1 - tail] + "…" + text[len(text) - tail :]


def _num(value: float) -> str:
    """A coordinate with one decimal: enough on a 1000-wide canvas."""
    return f"{value:.1f}"


def _attrs(attributes: dict[str, object]) -> str:
    """Keyword arguments as attributes; only strings are escaped (numbers need not be)."""
    return "".join(
        f' {key.rstrip("_").replace("_", "-")}="'
        f'{escape(value) if isinstance(value, str) else value}"'
        for key, value in attributes.items()
        if value is not None
    )


def points_text(xs: Sequence[float], ys: Sequence[float]) -> str:
    """Pixel coordinates as an SVG point list, ``"80.0,365.0 81.3,360.2"``."""
    return " ".join(map("{:.1f},{:.1f}".format, xs, ys))


class Svg:
    """An SVG document of ``width`` x ``height`` user units (default :data:`WIDTH` x
    :data:`HEIGHT`), built element by element; keyword arguments become attributes
    (``stroke_width`` -> ``stroke-width``, ``class_`` -> ``class``, ``data_runs`` ->
    ``data-runs``; None leaves the attribute out)."""

    def __init__(self, title: str, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.title = title
        self.width = width
        self.height = height
        self.parts: list[str] = []

    def add(self, tag: str, **attributes: object) -> None:
        """One element without content."""
        self.parts.append(f"<{tag}{_attrs(attributes)}/>")

    def frame(self, left: float, top: float, right: float, bottom: float) -> None:
        """A plot panel's black outline, 1 px, unfilled."""
        width, height = right - left, bottom - top
        self.add(
            "rect",
            x=left,
            y=top,
            width=width,
            height=height,
            fill="none",
            stroke="#000000",
            stroke_width=1,
        )

    def line(self, x1: float, y1: float, x2: float, y2: float, **attributes: object) -> None:
        """A straight line from (x1, y1) to (x2, y2)."""
        ends = {"x1": _num(x1), "y1": _num(y1), "x2": _num(x2), "y2": _num(y2)}
        self.add("line", **ends, **attributes)

    def curve(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        style: dict[str, object],
        fill_to: float | None = None,
    ) -> None:
        """A line through the pixel points (``xs``, ``ys``) with the attributes ``style``; a
        lone point is a dot, none is nothing. ``fill_to``: also the area between the line and
        that pixel row, in the ``stroke`` colour at 15 % opacity (class ``<class>-fill``),
        drawn first."""
        if not xs:
            return
        if len(xs) == 1:
            colour, name = style.get("stroke"), style.get("class_")
            self.add("circle", cx=_num(xs[0]), cy=_num(ys[0]), r="2.5", fill=colour, class_=name)
            return
        points = points_text(xs, ys)
        if fill_to is not None:
            base = f"{xs[-1]:.1f},{fill_to:.1f} {xs[0]:.1f},{fill_to:.1f}"
            name = style.get("class_")
            self.add(
                "polygon",
                points=f"{points} {base}",
                fill=style.get("stroke"),
                fill_opacity="0.15",
                class_=f"{name}-fill" if name else None,
            )
        self.add("polyline", points=points, fill="none", **style)

    def begin(self, tag: str, **attributes: object) -> None:
        """Open an element (a group, a ``defs``); :meth:`end` closes it."""
        self.parts.append(f"<{tag}{_attrs(attributes)}>")

    def end(self, tag: str) -> None:
        """Close the element :meth:`begin` opened."""
        self.parts.append(f"</{tag}>")

    def hatch(self, pattern_id: str, colour: str = "#000000", spacing: int = 6) -> None:
        """Define a pattern of diagonal lines ``spacing`` units apart, for ``fill="url(#id)"``."""
        self.begin("defs")
        self.begin(
            "pattern",
            id=pattern_id,
            patternUnits="userSpaceOnUse",
            width=spacing,
            height=spacing,
            patternTransform="rotate(45)",
        )
        self.add("line", x1=0, y1=0, x2=0, y2=spacing, stroke=colour, stroke_width=1.5)
        self.end("pattern")
        self.end("defs")

    def dots(
        self, xs: Sequence[float], ys: Sequence[float], size: float, **attributes: object
    ) -> int:
        """Round dots ``size`` units wide at the pixel points as ONE path (a round-capped
        stroke per point: ~12 bytes a point, where a circle element takes ~50); points that
        round to the same whole pixel are drawn once. Returns how many were drawn; no points
        draw nothing. Coordinates must be finite."""
        return self._marks(xs, ys, "M{} {}h0.1", size, attributes)

    def rings(
        self, xs: Sequence[float], ys: Sequence[float], radius: int, **attributes: object
    ) -> int:
        """Open circles of ``radius`` around the pixel points as one path, drawn once per whole
        pixel like :meth:`dots`; returns how many were drawn."""
        r = radius
        ring = f"M{{}} {{}}m-{r} 0a{r} {r} 0 1 0 {2 * r} 0a{r} {r} 0 1 0 -{2 * r} 0"
        return self._marks(xs, ys, ring, None, attributes)

    def _marks(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        mark: str,
        size: float | None,
        attributes: dict[str, object],
    ) -> int:
        cells = dict.fromkeys(zip(map(round, xs), map(round, ys), strict=True))
        if not cells:
            return 0
        path = "".join(mark.format(x, y) for x, y in cells)
        dot: dict[str, object] = {"stroke_width": size, "stroke_linecap": "round"} if size else {}
        self.add("path", d=path, **({"fill": "none"} | dot | attributes))
        return len(cells)

    def text(self, x: float, y: float, text: str, **attributes: object) -> None:
        """``text`` at (x, y); ``anchor`` start / middle / end, ``size`` in user units."""
        anchor = attributes.pop("anchor", None)
        size = attributes.pop("size", 12)
        place = {"x": _num(x), "y": _num(y), "text_anchor": anchor, "font_size": size}
        self.parts.append(f"<text{_attrs(place | attributes)}>{escape(text)}</text>")

    def render(self) -> str:
        """The whole document, UTF-8 XML with a fixed viewBox and a white background."""
        width, height = self.width, self.height
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" font-family="{FONT}">\n'
            f"<title>{escape(self.title)}</title>\n"
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>\n'
        )
        return head + "\n".join(self.parts) + "\n</svg>\n"


def message_svg(title: str, message: str, css_class: str = "placeholder") -> str:
    """A :data:`WIDTH` x :data:`HEIGHT` document saying only ``message`` (cut to 140
    characters) in its middle: a plot's stand-in that says why there is no plot."""
    svg = Svg(title)
    svg.text(WIDTH / 2, HEIGHT / 2, clip(message, 140), anchor="middle", size=14, class_=css_class)
    return svg.render()


def write_svg(document: str, output: str | os.PathLike[str]) -> Path:
    """Write ``document`` to ``output`` via a temp file + rename (parents created); a failed
    write leaves any old file as it was. UserError when ``output`` is a directory."""
    path = Path(output)
    if path.is_dir():
        raise UserError(f"plot output {str(path)!r} is a directory; give a .svg file path")
    data = document.encode("utf-8")
    return replace_atomically(path, lambda tmp: tmp.write_bytes(data))
