"""simwarden's figure autosave and error capture, for any Python that has this directory first
on PYTHONPATH.

Python imports the first ``sitecustomize`` module on sys.path at start-up. This one installs the
autosave configured by the SIMWARDEN_* variables (see simwarden_autosave_impl.install_from_env),
then runs the ``sitecustomize`` that would otherwise have been imported (Debian's system Python
has one), skipping every directory that holds a copy of this hook, and last installs the error
capture (simwarden_autosave_error.install_from_env), so that its ``sys.excepthook`` wraps any
that the other module installed, and the record of imported distributions
(simwarden_autosave_imports.install_from_env). An error in that other module is reported by
Python exactly as without this hook. Standalone: stdlib only, never imports simwarden, so it works
in an interpreter that cannot. ``python -S`` and ``-I`` skip it.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
from types import ModuleType

IMPL = "simwarden_autosave_impl"
chained: ModuleType | None = None  # the other sitecustomize, once run


def _enable() -> None:
    try:
        import simwarden_autosave_impl
    except Exception as error:  # a broken hook must not stop the program from starting
        sys.stderr.write(f"simwarden: figure autosave off: {type(error).__name__}: {error}\n")
        return
    simwarden_autosave_impl.install_from_env()


def _enable_error_capture() -> None:
    for name, what in (
        ("simwarden_autosave_error", "error capture"),
        ("simwarden_autosave_imports", "imported-package record"),
    ):
        try:
            module = importlib.import_module(name)
        except Exception as error:  # a broken hook must not stop the program from starting
            sys.stderr.write(f"simwarden: {what} off: {type(error).__name__}: {error}\n")
            continue
        module.install_from_env()


def _chain() -> ModuleType | None:
    """Run the next ``sitecustomize`` on sys.path that is not a copy of this hook, if any."""
    rest = [
        entry
        for entry in sys.path
        if not os.path.isfile(os.path.join(entry or os.curdir, f"{IMPL}.py"))
    ]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return None
    # What importlib.util.module_from_spec sets for a source file, without its import (~5 ms
    # at every Python start: it loads contextlib).
    module = ModuleType(spec.name)
    module.__spec__ = spec
    module.__loader__ = spec.loader
    module.__package__ = spec.parent
    if spec.has_location:
        module.__file__ = spec.origin
        module.__cached__ = spec.cached  # type: ignore[attr-defined]
    spec.loader.exec_module(module)
    return module


_enable()
try:
    chained = _chain()
finally:
    _enable_error_capture()
