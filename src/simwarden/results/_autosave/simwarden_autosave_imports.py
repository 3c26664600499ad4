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
never changed. Cost: one scan of the installed distributions' file lists at exit, nothing at
start-up beyond registering the handler.

Standalone on purpose, like the rest of the hook: stdlib only, syntax for Python >= 3.8, never
imports simwarden.
"""

from __future__ import annotations

import os
import sys

from simwarden_autosave_error import write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, MutableMapping

ENV_IMPORTS_FILE = "SIMWARDEN_IMPORTS_FILE"

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
    # Registered at start-up, so it runs after every handler the program registers (LIFO).
    atexit.register(write_imports, _installed_path)
    return True


def write_imports(path: str) -> bool:
    """Write the imported distributions now (see the module docstring); never raises. True when
    written."""
    try:
        found = imported_distributions(list(sys.modules))
        write_atomic(path, found)
    except Exception:  # the program's own exit must go on unchanged, whatever happened here
        return False
    return True


def imported_distributions(
    module_names: Iterable[str], providers: Mapping[str, list[str]] | None = None
) -> dict[str, str]:
    """``{distribution: version}`` of the distributions providing ``module_names``' top-level
    names, sorted by name. ``providers`` (default: ``packages_distributions()``) maps a
    top-level name to its distributions; a distribution whose version cannot be read is left
    out."""
    from importlib import metadata

    if providers is None:
        providers = metadata.packages_distributions()
    tops = {name.partition(".")[0] for name in module_names}
    found: dict[str, str] = {}
    for top in tops:
        for dist in providers.get(top, ()):
            if dist in found:
                continue
            try:
                found[dist] = metadata.version(dist)
            except Exception:  # a broken or vanished distribution: not worth failing over
                continue
    return dict(sorted(found.items()))
