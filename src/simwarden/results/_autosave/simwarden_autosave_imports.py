"""Record which installed distributions a Python program imported, for simwarden's run record.

Installed by the start-up hook beside this file (``sitecustomize.py``) when the environment names
a file in SIMWARDEN_IMPORTS_FILE (the pipeline sets it for every Python run). At interpreter exit
(``atexit``) it writes one JSON object ``{"numpy": "2.1.3", "h5py": "3.12.1", ...}`` to that
file, atomically: the distributions that provide the top-level names in ``sys.modules``
(``importlib.metadata.packages_distributions()``), each with its installed version. The standard
library and modules no installed distribution provides (the simulation's own) are not listed.

The first Python program of a run claims the file: the variable is removed from ``os.environ``, so
Python programs it starts do not write over it. Nothing is written on Python < 3.10 (no
``packages_distributions``), after ``os._exit`` or when the process is killed; a report that
cannot be made or written is dropped without a word: the program's output and exit status are
never changed. Cost: one scan of the installed distributions' file lists at exit (~0.15 s for
150 distributions), nothing at start-up beyond registering the handler; with a cache directory
in SIMWARDEN_DISTRIBUTIONS_CACHE (the pipeline sets one) the scan's result is kept there per
interpreter and per state of its import path (each directory's modification time changes when
a distribution is installed or removed; the program's own directory, ``sys.path[0]``, does not
count), so a sweep of short runs pays it once. Neither json nor hashlib is imported.

Standalone on purpose, like the rest of the hook: stdlib only, syntax for Python >= 3.8, never
imports simwarden.
"""

from __future__ import annotations

import os
import sys

from simwarden_autosave_error import write_bytes_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, MutableMapping

ENV_IMPORTS_FILE = "SIMWARDEN_IMPORTS_FILE"
ENV_DISTRIBUTIONS_CACHE = "SIMWARDEN_DISTRIBUTIONS_CACHE"

_installed_path: str | None = None


def install_from_env(environ: MutableMapping[str, str] | None = None) -> bool:
    """Write the imported distributions at exit to the file named by SIMWARDEN_IMPORTS_FILE, if
    set; the variable is removed from ``environ`` (default ``os.environ``). True when installed;
    the first call in a process wins."""
    global _installed_path
    env = os.environ if environ is None else environ
    path = env.pop(ENV_IMPORTS_FILE, "")
    if not path or _installed_path is not None:
        return False
    import atexit

    _installed_path = os.path.abspath(path)
    cache = env.pop(ENV_DISTRIBUTIONS_CACHE, "")
    # Registered at start-up, so it runs after every handler the program registers (LIFO).
    atexit.register(write_imports, _installed_path, os.path.abspath(cache) if cache else None)
    return True


def write_imports(path: str, cache_dir: str | None = None) -> bool:
    """Write the imported distributions now (see the module docstring); never raises. True when
    written."""
    try:
        if cache_dir:
            providers, versions = cached_environment(cache_dir)
            found = imported_distributions(list(sys.modules), providers, versions.get)
        else:
            found = imported_distributions(list(sys.modules))
        write_bytes_atomic(path, flat_json(found).encode("ascii"))
    except Exception:  # the program's own exit must go on unchanged, whatever happened here
        return False
    return True


def cached_environment(cache_dir: str) -> tuple[Mapping[str, list[str]], dict[str, str]]:
    """``(packages_distributions(), {distribution: version})`` of this interpreter's
    environment, read from ``cache_dir`` when this interpreter with this import path made them
    before, else made and kept there (a cache that cannot be read or written is made again,
    never an error). A hit imports neither importlib.metadata nor reads any distribution.

    The kept file is ``marshal``'s (this interpreter's own, and builtin: json and hashlib would
    cost ~11 ms at every run's exit), named by a CRC of the state it holds whole: a file of
    another state under that name is a miss, never a wrong answer."""
    import marshal
    import zlib

    # sys.path[0] is the program's own directory (or the working directory): not where
    # distributions are installed, and different for every run of a sweep.
    parts = [sys.executable, sys.version]
    for entry in sys.path[1:]:
        try:
            parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}:-")
    state = "\n".join(parts)
    key = zlib.crc32(state.encode("utf-8", "surrogateescape"))
    path = os.path.join(cache_dir, f"{key:08x}.marshal")
    try:
        with open(path, "rb") as handle:
            cached = marshal.load(handle)
        if cached["state"] == state:
            return cached["providers"], cached["versions"]
    except (OSError, ValueError, EOFError, KeyError, TypeError):
        pass
    from importlib import metadata

    providers = dict(metadata.packages_distributions())
    versions = {}
    for dist in {d for dists in providers.values() for d in dists}:
        try:
            versions[dist] = metadata.version(dist)
        except Exception:  # a broken or vanished distribution: not worth failing over
            continue
    try:
        os.makedirs(cache_dir, exist_ok=True)
        kept = {"state": state, "providers": providers, "versions": versions}
        write_bytes_atomic(path, marshal.dumps(kept))
    except (OSError, ValueError):
        pass
    return providers, versions


def flat_json(mapping: Mapping[str, str]) -> str:
    """``mapping`` (strings to strings) as one JSON object in ASCII, without the json module
    (its import, ~8 ms, would be paid at every Python run's exit)."""
    pairs = (f"{_json_string(key)}: {_json_string(value)}" for key, value in mapping.items())
    return "{" + ", ".join(pairs) + "}"


def _json_string(text: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        if 0x20 <= code <= 0x7E and char not in '"\\':
            out.append(char)
        elif code > 0xFFFF:  # a surrogate pair, as JSON spells a character beyond the BMP
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return '"' + "".join(out) + '"'


def imported_distributions(
    module_names: Iterable[str],
    providers: Mapping[str, list[str]] | None = None,
    version_of: Callable[[str], str | None] | None = None,
) -> dict[str, str]:
    """``{distribution: version}`` of the distributions providing ``module_names``' top-level
    names, sorted by name. ``providers`` (default: ``packages_distributions()``) maps a
    top-level name to its distributions, ``version_of`` (default: ``metadata.version``) gives a
    distribution's version; one whose version cannot be read (None, or an error) is left out."""
    if providers is None or version_of is None:
        from importlib import metadata

        providers = metadata.packages_distributions() if providers is None else providers
        version_of = metadata.version if version_of is None else version_of
    tops = {name.partition(".")[0] for name in module_names}
    found: dict[str, str] = {}
    for top in tops:
        for dist in providers.get(top, ()):
            if dist in found:
                continue
            try:
                version = version_of(dist)
            except Exception:  # a broken or vanished distribution: not worth failing over
                continue
            if version is not None:
                found[dist] = version
    return dict(sorted(found.items()))
