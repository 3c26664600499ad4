"""Parse the size, duration and percentage strings people already write for Snakemake and SLURM.

Nothing here calls ``eval``: every accepted form is matched by a small grammar, and anything else
raises :class:`~simwarden.core.errors.UserError` with a one-line message that names the value
and lists what is accepted.
"""

from __future__ import annotations

import math
import re

from simwarden.core.errors import UserError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

MB = 1000**2

_SIZE_UNITS: dict[str, int] = {
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": MB,
    "mb": MB,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
}
_DURATION_UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
# Upper bound on any parsed size: 2**63 bytes (8 EiB) keeps every value a valid C long.
_MAX_BYTES = 2**63

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
# Patterns, compiled at their first use (re keeps them), not when ``simwarden run`` starts.
_SIZE_RE = rf"^({_NUMBER})\s*([a-z]*)$"
_PRODUCT_TERM_RE = r"^(\d+)(?:\*\*(\d+))?$"
_DURATION_PART_RE = rf"({_NUMBER})\s*([a-z]+)"
_CLOCK_RE = r"^(?:(\d+)-)?(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?$"

SIZE_FORMS = (
    "a number with a unit (500MB, 1.5GiB), a product of integers in bytes (4*1024**3), "
    "a percentage of total memory (80%), or a bare number of MB"
)
DURATION_FORMS = "90s, 10m, 2h, 1h30m, 1:30:00 (h:mm:ss), 2-00:00:00 (d-hh:mm:ss), or bare seconds"


def _fail(what: str, text: object, forms: str) -> UserError:
    return UserError(f"invalid {what} {text!r}: expected {forms}")


def _total_memory() -> int:
    import psutil  # light, but only needed for percentages

    return int(psutil.virtual_memory().total)


def parse_size(
    text: str | int | float,
    what: str = "size",
    *,
    allow_percent: bool = True,
    allow_zero: bool = False,
    total: Callable[[], int] = _total_memory,
) -> int:
    """Return a size in bytes.

    Accepted: ``500MB`` (decimal units, case-insensitive; ``MiB``/``GiB`` binary), ``4*1024**3``
    (bytes; a product of integers with optional ``**`` powers), ``80%`` (of ``total()``, default
    total system memory; 0 < p <= 100), and a bare number meaning MB, as Snakemake's ``mem_mb``.
    Zero is refused unless ``allow_zero``; negative, infinite and NaN values always are.
    ``what`` names the value in the error message (e.g. ``"--mem"``).
    """
    if isinstance(text, bool):
        raise _fail(what, text, SIZE_FORMS)
    if isinstance(text, int | float):
        if not math.isfinite(text) or text < 0:
            raise _fail(what, text, SIZE_FORMS)
        value = int(text * MB)
    else:
        value = _parse_size_text(text, what, allow_percent, total)
    if value > _MAX_BYTES:
        raise UserError(f"invalid {what} {text!r}: larger than 8 EiB")
    if value == 0 and not allow_zero:
        raise UserError(f"invalid {what} {text!r}: must be greater than zero")
    return value


def _parse_size_text(raw: str, what: str, allow_percent: bool, total: Callable[[], int]) -> int:
    text = raw.strip()
    if not text:
        raise _fail(what, raw, SIZE_FORMS)
    if text.endswith("%"):
        if not allow_percent:
            raise _fail(what, text, SIZE_FORMS.replace(", a percentage of total memory (80%)", ""))
        return int(total() * parse_percent(text, what) / 100)
    if "*" in text:
        return _parse_product(text, what)
    match = re.match(_SIZE_RE, text, re.IGNORECASE)
    if not match:
        raise _fail(what, text, SIZE_FORMS)
    number, unit = match.groups()
    if not unit:
        return int(float(number) * MB)
    factor = _SIZE_UNITS.get(unit.lower())
    if factor is None:
        raise _fail(what, text, SIZE_FORMS)
    return int(float(number) * factor)


def _parse_product(text: str, what: str) -> int:
    result = 1
    # Split on single '*' while keeping '**' powers together.
    terms = re.split(r"(?<!\*)\*(?!\*)", text.replace(" ", ""))
    for term in terms:
        match = re.match(_PRODUCT_TERM_RE, term)
        if not match:
            raise _fail(what, text, SIZE_FORMS)
        base, exponent = int(match.group(1)), int(match.group(2) or 1)
        if exponent > 64 or (base > 1 and exponent * math.log2(base) > 64):
            raise UserError(f"invalid {what} {text!r}: larger than 8 EiB")
        result *= base**exponent
        if result > _MAX_BYTES:
            raise UserError(f"invalid {what} {text!r}: larger than 8 EiB")
    return result


def parse_percent(text: str | int | float, what: str = "percentage") -> float:
    """Return a percentage in (0, 100]; ``90`` and ``90%`` both mean ninety percent."""
    raw = str(text).strip()
    number = raw[:-1].strip() if raw.endswith("%") else raw
    if isinstance(text, bool) or not re.fullmatch(_NUMBER, number):
        raise _fail(what, text, "a percentage greater than 0 and at most 100, like 90 or 90%")
    value = float(number)
    if not 0 < value <= 100:
        raise _fail(what, text, "a percentage greater than 0 and at most 100, like 90 or 90%")
    return value


def parse_duration(
    text: str | int | float, what: str = "duration", *, allow_zero: bool = False
) -> float:
    """Return a duration in seconds.

    Accepted: ``90s``, ``500ms``, ``10m``/``10min``, ``2h``, ``1d``, sums like ``1h30m``, clock
    forms ``mm:ss``, ``h:mm:ss`` and SLURM's ``d-hh:mm:ss``, and a bare number of seconds. Zero is
    refused unless ``allow_zero``; negative, infinite and NaN values always are.
    """
    if isinstance(text, bool):
        raise _fail(what, text, DURATION_FORMS)
    if isinstance(text, int | float):
        if not math.isfinite(text) or text < 0:
            raise _fail(what, text, DURATION_FORMS)
        seconds = float(text)
    else:
        seconds = _parse_duration_text(text, what)
    if seconds == 0 and not allow_zero:
        raise UserError(f"invalid {what} {text!r}: must be greater than zero")
    if seconds > 100 * 365 * 86400:
        raise UserError(f"invalid {what} {text!r}: longer than 100 years")
    return seconds


def _parse_duration_text(raw: str, what: str) -> float:
    text = raw.strip()
    if not text:
        raise _fail(what, raw, DURATION_FORMS)
    if re.fullmatch(_NUMBER, text):
        return float(text)
    clock = re.match(_CLOCK_RE, text)
    if clock:
        days, first, second, third = clock.groups()
        if third is None:  # mm:ss
            hours, minutes, seconds = 0, int(first), float(second)
        else:
            hours, minutes, seconds = int(first), int(second), float(third)
        if (third is not None and minutes >= 60) or seconds >= 60:
            raise _fail(what, text, DURATION_FORMS)
        return int(days or 0) * 86400 + hours * 3600 + minutes * 60 + seconds
    position, total = 0, 0.0
    for match in re.finditer(_DURATION_PART_RE, text, re.IGNORECASE):
        if text[position : match.start()].strip():
            raise _fail(what, text, DURATION_FORMS)
        factor = _DURATION_UNITS.get(match.group(2).lower())
        if factor is None:
            raise _fail(what, text, DURATION_FORMS)
        total += float(match.group(1)) * factor
        position = match.end()
    if position == 0 or text[position:].strip():
        raise _fail(what, text, DURATION_FORMS)
    return total


def format_mb(value: float) -> str:
    """Bytes as whole MB (``402 MB``), one decimal below 10 MB (``3.5 MB``): for tables and plots
    where every value is in MB."""
    mb = value / MB
    return f"{mb:.1f} MB" if mb < 10 else f"{mb:.0f} MB"


def format_bytes(value: float) -> str:
    """Human form with decimal units, as the CLI prints them: ``612 MB``, ``1.50 GB``."""
    for unit, factor in (("GB", 1000**3), ("MB", MB), ("kB", 1000)):
        if value >= factor:
            scaled = value / factor
            return f"{scaled:.2f} {unit}" if scaled < 10 else f"{scaled:.1f} {unit}"
    return f"{int(value)} B"


def parse_signal(text: object, what: str = "--stop-signal") -> int:
    """``USR1``, ``SIGUSR1`` or ``10`` -> the signal number; SIGKILL and SIGSTOP are refused.

    ``what`` names the value in the error (an option, or a config key and its file).
    """
    import signal

    name = str(text).strip().upper()
    if name.isdigit():
        try:
            return int(signal.Signals(int(name)))
        except ValueError:
            pass
    else:
        name = name if name.startswith("SIG") else f"SIG{name}"
        if name in signal.Signals.__members__ and name not in ("SIGKILL", "SIGSTOP"):
            return int(signal.Signals[name])
    raise UserError(
        f"invalid {what} {text!r}: expected a catchable signal name or number "
        "such as TERM, INT, USR1, HUP"
    )
