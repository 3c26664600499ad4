"""Save every pyplot figure a program makes, with its provenance inside each file.

Shared by the start-up hook beside this file (``sitecustomize.py``) and by
``simwarden.results.figures`` / ``simwarden.autosave``, which load it under this same top-level
name, so a process holds one copy however it got here. This module installs the hook; the saving
itself (formats, names, provenance) is ``simwarden_autosave_save``, whose public names are
re-exported here. Standalone on purpose: stdlib only (matplotlib is the program's own), syntax
for Python >= 3.8, because the simulation's interpreter may be another environment that cannot
import simwarden. Reading provenance back is simwarden.results.figures' job.

A figure is saved when pyplot closes it (``plt.close``, a window closed by hand) or, if still open,
when the interpreter exits (normal end, ``sys.exit``, an uncaught exception, a signal handler that
raises SystemExit); ``os._exit`` and SIGKILL skip the exit save. Figures made without pyplot
(``matplotlib.figure.Figure()``) are not tracked. A figure is saved once, in its state at that time.
"""

from __future__ import annotations

import atexit
import os
import sys

from simwarden_autosave_save import (
    CONTEXT_KEYS,
    DEFAULT_DIR,
    DEFAULT_FORMATS,
    ENV_DIR,
    ENV_FORMATS,
    ENV_PROVENANCE,
    ENV_SAVE,
    ENV_SHOW,
    FORMATS,
    PDF_KEY,
    PNG_KEY,
    SVG_KEY,
    Saver,
    describe,
    figure_name,
    figure_number,
    hand_provenance,
    parse_formats,
    provenance_json,
    sanitize_name,
    save_figures,
    split_formats,
    unique_name,
    warn,
)

# Every Python started with the hook on its path imports this module: keep start-up imports to
# the few above (json, re, pathlib, subprocess are imported where needed).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

__all__ = [
    "CONTEXT_KEYS",
    "DEFAULT_DIR",
    "DEFAULT_FORMATS",
    "ENV_DIR",
    "ENV_FORMATS",
    "ENV_PROVENANCE",
    "ENV_SAVE",
    "ENV_SHOW",
    "FORMATS",
    "PDF_KEY",
    "PNG_KEY",
    "SVG_KEY",
    "Saver",
    "describe",
    "figure_name",
    "figure_number",
    "hand_provenance",
    "install",
    "install_from_env",
    "installed",
    "parse_formats",
    "provenance_json",
    "sanitize_name",
    "save_figures",
    "split_formats",
    "unique_name",
    "warn",
]
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


# --- the autosave hook ------------------------------------------------------------------------


class _Config:
    def __init__(self, saver: Saver | None) -> None:
        import weakref

        self.saver = saver
        self.saved: weakref.WeakSet[Any] = weakref.WeakSet()  # figures already saved


_config: _Config | None = None


def installed() -> bool:
    """Whether install() ran in this process."""
    return _config is not None


def install(
    figures_dir: str | os.PathLike[str],
    formats: Iterable[str],
    provenance: Mapping[str, Any] | None = None,
    save: bool = True,
    show: bool = True,
    *,
    provenance_text: str | None = None,
) -> None:
    """Save every pyplot figure when it is closed or at exit; ``show=False`` makes ``plt.show()``
    a silent no-op and selects the Agg backend (unless pyplot already holds open figures).

    The first call in a process wins; later calls do nothing. Works whether or not matplotlib
    is imported yet: the changes are made when pyplot is imported, so that the exit save is
    registered after matplotlib's own ``atexit`` handler and runs before it.
    ``provenance_text`` in place of ``provenance``: its JSON text, read at the first save.
    """
    global _config
    if _config is not None:
        return
    saver = None
    if save:
        saver = Saver(figures_dir, formats, provenance, provenance_text=provenance_text)
    if saver is not None and not saver.formats:
        saver = None
    _config = _Config(saver)
    hooks: dict[str, Callable[[Any], None]] = {}
    if saver is not None:
        hooks["matplotlib._pylab_helpers"] = _patch_gcf
    if not show:
        hooks["matplotlib.pyplot"] = _patch_pyplot
    pending = {}
    for name, hook in hooks.items():
        module = sys.modules.get(name)
        if module is None:
            pending[name] = hook
        else:
            _run_hook(hook, module)
    if pending:
        sys.meta_path.insert(0, _PostImportFinder(pending))


def install_from_env(environ: Mapping[str, str] | None = None) -> None:
    """install() configured by the SIMWARDEN_* variables (module docstring of simwarden.autosave);
    a bad value is warned about in one line and its default used; never raises."""
    env = os.environ if environ is None else environ
    save = _switch(env, ENV_SAVE)
    show = _switch(env, ENV_SHOW)
    raw = env.get(ENV_FORMATS)
    formats: Iterable[str] = DEFAULT_FORMATS
    if raw is not None:
        formats, bad = split_formats(raw)
        if bad:
            warn(
                f"{ENV_FORMATS}={raw!r}: ignoring {', '.join(map(str, bad))}; "
                f"accepted: {', '.join(FORMATS)}, comma-separated"
            )
    # Read at the first save (json costs ~7 ms at start-up, for every program, drawing or not).
    text = env.get(ENV_PROVENANCE) or None
    figures_dir = os.path.abspath(env.get(ENV_DIR) or DEFAULT_DIR)
    install(figures_dir, formats, save=save, show=show, provenance_text=text)


def _switch(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _FALSE:
        return False
    if raw and raw not in _TRUE:
        warn(f"{name}={raw!r}: use 1 or 0; using 1")
    return True


def _run_hook(hook: Callable[[Any], None], module: Any) -> None:
    try:
        hook(module)
    except Exception as error:  # the program must run on even if matplotlib changed
        warn(f"figure autosave not set up for {module.__name__}: {describe(error)}")


def _patch_gcf(module: Any) -> None:
    """Save figures before pyplot destroys them, and at exit: this handler is registered after
    matplotlib's ``atexit.register(Gcf.destroy_all)`` (which holds the original, unpatched
    method), and atexit runs handlers last-in first-out."""
    gcf = module.Gcf
    original_destroy = gcf.destroy
    original_destroy_all = gcf.destroy_all

    def destroy(cls: Any, num: Any) -> None:
        try:
            is_manager = hasattr(num, "num") and hasattr(num, "destroy")
            manager = num if is_manager else cls.figs.get(num)
            if manager is not None and cls.figs.get(manager.num) is manager:
                _save_managers([manager])
        except Exception as error:  # e.g. an unhashable num: pyplot itself reports it below
            warn(f"figure autosave failed on close: {describe(error)}")
        original_destroy(num)

    def destroy_all(cls: Any) -> None:
        _save_managers(list(cls.figs.values()))
        original_destroy_all()

    gcf.destroy = classmethod(destroy)
    gcf.destroy_all = classmethod(destroy_all)
    atexit.register(_save_at_exit, gcf)


def _save_at_exit(gcf: Any) -> None:
    _save_managers(list(gcf.figs.values()))


def _save_managers(managers: list[Any]) -> None:
    """Save the figures of pyplot's ``managers`` (by figure number) that were not saved yet."""
    if _config is None or _config.saver is None:
        return
    try:
        managers = sorted(managers, key=lambda manager: manager.num)
    except Exception:  # numbers that do not compare: keep pyplot's order
        pass
    for manager in managers:
        try:
            figure = manager.canvas.figure
            if figure in _config.saved:
                continue
            _config.saved.add(figure)
        except Exception as error:  # a half-destroyed manager
            warn(f"figure {manager.num!r} not saved: {describe(error)}")
            continue
        _config.saver.save_one(figure, manager.num)


def _no_show(*args: Any, **kwargs: Any) -> None:
    """``plt.show()`` under SIMWARDEN_SHOW_FIGURES=0: returns at once, opens nothing, warns
    nothing; the figures stay open and are saved when closed or at exit."""


def _patch_pyplot(module: Any) -> None:
    module.show = _no_show
    # switch_backend closes every figure: only safe while there are none.
    if not sys.modules["matplotlib._pylab_helpers"].Gcf.figs:
        module.switch_backend("agg")


class _HookedLoader:
    """Delegates to the real loader; runs ``hook(module)`` after the module has executed."""

    def __init__(self, loader: Any, hook: Callable[[Any], None]) -> None:
        self._loader = loader
        self._hook = hook

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        _run_hook(self._hook, module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _PostImportFinder:
    """A meta path finder that finds nothing itself: it asks the other finders and wraps the
    loader of the modules in ``pending``; it leaves sys.meta_path once all have been seen."""

    def __init__(self, pending: dict[str, Callable[[Any], None]]) -> None:
        self._pending = pending

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        hook = self._pending.get(fullname)
        if hook is None:
            return None
        spec = None
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            if finder is self or find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None:
                break
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return None
        del self._pending[fullname]
        if not self._pending and self in sys.meta_path:
            sys.meta_path.remove(self)
        spec.loader = _HookedLoader(spec.loader, hook)
        return spec

    def invalidate_caches(self) -> None:
        """Nothing cached."""
