"""What the warden reports to notifiers: the :class:`Event`, the :class:`Notifier` protocol, and
the helpers every notifier uses to write one scrubbed ``simwarden: ...`` line.

Stdlib only, and light: the supervisor builds events without loading SMTP or subprocess code.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from simwarden.core.fields import Fields, field
from simwarden.core.log import PREFIX

# typing costs ~5 ms of a run's job; at run time Notifier is an ABC that knows a notifier by its
# send method, as typing's runtime_checkable Protocol does.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Protocol
else:
    from abc import ABC as Protocol

__all__ = ["Event", "Notifier", "NotifyError", "one_line", "scrub", "write_line"]

SCRUBBED = "***"


class NotifyError(Exception):
    """A notifier could not deliver an event; the message is one line and holds no secret."""


class Event(Fields, frozen=True):
    """Something the warden reports.

    ``kind`` is a lowercase word (``mem_warn``, ``stop``, ``end``); ``message`` is one human line;
    ``fields`` carries details (``reason``, ``rss_bytes``, ``command``, ``pid``, ``run_id``, ...).
    Field keys and values are converted with ``str()`` and stored in a read-only mapping that keeps
    the caller's order, so later changes to the caller's dict do not leak into a posted event.
    ``detail`` is optional longer text (several lines allowed) for notifiers with room for it:
    an email's body, a hook's ``SIMWARDEN_DETAIL``; one-line notifiers leave it out.
    """

    kind: str
    message: str
    fields: Mapping[str, str] = field(default_factory=dict)
    detail: str = ""

    def __post_init__(self) -> None:
        frozen = MappingProxyType({str(k): str(v) for k, v in self.fields.items()})
        object.__setattr__(self, "fields", frozen)


class Notifier(Protocol):  # noqa: B024 - an ABC at run time only for isinstance
    """Anything with ``send(event)``.

    ``send`` may raise; :class:`NotifierHub` logs the error. A notifier that holds secrets may
    also expose ``secrets: tuple[str, ...]``: the hub removes those strings from every line it logs.
    """

    def send(self, event: Event) -> None: ...  # noqa: B027 - a protocol's method

    @classmethod
    def __subclasshook__(cls, other: type) -> bool:
        """``isinstance(x, Notifier)``: whether the class of ``x`` has a callable ``send``."""
        return callable(getattr(other, "send", None)) or NotImplemented


def one_line(text: str) -> str:
    """Collapse all whitespace runs (newlines included) into single spaces."""
    return " ".join(text.split())


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every non-empty secret in ``text`` with ``***`` (longest first)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, SCRUBBED)
    return text


def write_line(stream: IO[str] | None, line: str) -> None:
    """Write ``simwarden: <line>`` to ``stream`` (``None``: the current ``sys.stderr``) and flush.

    A closed or broken stream is ignored: reporting must never take the warden down.
    """
    out = sys.stderr if stream is None else stream
    try:
        out.write(f"{PREFIX}{line}\n")
        out.flush()
    except (OSError, ValueError):
        pass
