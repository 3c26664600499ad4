"""The floor plan of ``src/simwarden``, held by a test that reads its source (AST, no imports).

``check_architecture(package_dir)`` returns one line per violation; the real tree must return none.
The rules, and the reasons behind the less obvious ones:

Layers (importer -> what it may import from simwarden; anything not listed is a violation):

- ``core``      -> core only: the floor everything stands on (errors, log, units, fsutil).
- ``warden``    -> warden, core. At run time also only the standard library and psutil: this is
  what ``simwarden run`` loads (imports under ``if TYPE_CHECKING:`` never run and are not counted).
- ``pipeline``  -> pipeline, warden, core.
- ``results``   -> results, the pipeline's layout and plan API (``simwarden.pipeline.layout``,
  ``.plan``, ``.config``), the warden's record (``simwarden.warden.record``), core, and
  ``simwarden.timers``: the timers file is read through the module that defines it (one schema
  per artefact), and timers is a leaf that imports at most core.
- ``results/_autosave/*`` -> nothing from simwarden and only the standard library (plus its
  sibling modules, which it imports by their top-level names): the hook runs inside the user's
  interpreter through PYTHONPATH, where simwarden may not be importable at all.
- ``cli``       -> anything. Nothing imports ``simwarden.cli`` except cli itself and
  ``simwarden/__main__.py``.
- The front door and the in-simulation API, at the top level:
  ``simwarden/__init__.py`` -> ``_version``, core, warden (it re-exports the warden's ``run``
  API); ``_version.py`` -> nothing; ``timers.py`` -> core (it runs inside simulations, including
  the pinned demo bundle); ``autosave.py`` -> ``results.figures``, core;
  ``workflow_files.py`` -> core (every project's Snakefile imports it); ``__main__.py`` ->
  anything. The root package ``simwarden`` itself is imported only by cli and ``__main__``;
  ``simwarden._version`` may be imported by anyone (a leaf with no imports).

A target is the module an import resolves to: ``from simwarden.warden import record`` is
``simwarden.warden.record`` when that module exists, else the package ``simwarden.warden``.
Imports inside functions count (a lazy import is still a dependency), and so do
``importlib.import_module("...")`` calls with a literal name, and imports under
``if TYPE_CHECKING:`` for the layer and private-name rules (a type is a dependency too); only the
cycle and the standard-library rules leave them out, since they never run.

Cycles: no cycle in the graph of module -> imported simwarden module (lazy imports included).

Private names: no ``_name`` (leading underscore, not a dunder) of another module, neither imported
(``from simwarden.a import _x``) nor reached through an imported module (``a._x``). A private
*module* (``_version``, ``_autosave``) is private to its parent package: anything inside that
package may import it.

Sizes: no module over 500 lines; no function (or method) over 60 lines, from its ``def`` to its
last line, unless it says why: a comment containing "long because" on the line just above the
``def`` (or above its decorators), or between the ``def`` and its first statement, for example::

    def main(argv):  # long because every subcommand's flags are declared here, in one table
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE_DIR = ROOT / "src" / "simwarden"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
LONG_BECAUSE = re.compile(r"#.*long because")
WARDEN_THIRD_PARTY = frozenset({"psutil"})

# Importer prefix (relative to the package) -> allowed target prefixes; the longest importer prefix
# that matches a module decides. "*" allows everything. "" stands for the root package itself.
LAYERS: dict[str, tuple[str, ...]] = {
    "core": ("core",),
    "warden": ("warden", "core"),
    "pipeline": ("pipeline", "warden", "core"),
    "results": (
        "results",
        "pipeline.layout",
        "pipeline.plan",
        "pipeline.config",
        "warden.record",
        "timers",
        "core",
    ),
    "results._autosave": (),
    "cli": ("*",),
    "": ("_version", "core", "warden"),
    "_version": (),
    "timers": ("core",),
    "autosave": ("results.figures", "core"),
    "workflow_files": ("core",),
    "jobs": ("pipeline", "results", "warden", "core"),  # the rules' lean entry point
    "progress": (),  # in-simulation API: runs in the simulation's own Python
    "__main__": ("*",),
}
# Targets anyone may import, whatever LAYERS says (leaves with no imports of their own).
OPEN_TARGETS = ("_version",)
# Targets only these importers may use (besides the target's own subtree).
CLOSED_TARGETS: dict[str, tuple[str, ...]] = {"cli": ("cli", "__main__"), "": ("cli", "__main__")}
STDLIB_ONLY = {
    "warden": "warden may import only the standard library and psutil",
    "results._autosave": "the autosave hook may import only the standard library",
    "progress": "the progress helper may import only the standard library",
}


@dataclass
class Import:
    """One import statement's effect: the module it loads and the names it takes from it."""

    line: int
    target: str  # the absolute module name ("os.path", "simwarden.core.log")
    names: tuple[str, ...] = ()  # names taken with ``from target import ...`` (not submodules)
    type_checking: bool = False  # under ``if TYPE_CHECKING:``: never runs


@dataclass
class Module:
    """One source file of the package, parsed."""

    name: str  # "simwarden.core.log"; a package's __init__.py is the package's name
    path: Path
    rel: str  # path shown in messages: "simwarden/core/log.py"
    tree: ast.Module
    lines: list[str]
    imports: list[Import] = field(default_factory=list)


def _module_name(package_dir: Path, path: Path) -> str:
    parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement anywhere in ``tree`` (functions included), with whether it sits
    under ``if TYPE_CHECKING:``."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append((node, guarded))
        elif (  # importlib.import_module("a.b") with a literal name is an import too
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id == "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            alias = ast.alias(name=node.args[0].value)
            found.append((ast.Import(names=[alias], lineno=node.lineno), guarded))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, guarded)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(tree, False)
    return found


def _resolve(module: Module, node: ast.Import | ast.ImportFrom, known: set[str]) -> list[Import]:
    """What ``node`` loads, as absolute module names (relative imports resolved)."""
    if isinstance(node, ast.Import):
        return [Import(node.lineno, alias.name) for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.name.split(".")
        if module.path.name != "__init__.py":
            package.pop()
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    result: list[Import] = []
    names: list[str] = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in known:
            result.append(Import(node.lineno, submodule))
        else:
            names.append(alias.name)
    if names or not result:
        result.insert(0, Import(node.lineno, base, tuple(names)))
    return result


def _resolve_each(module: Module, node: ast.ImportFrom, known: Iterable[str]) -> list[str]:
    """For each name of ``from X import a, b``: the module it binds (``X.a`` when that is a
    module), else "" (a plain name)."""
    targets = [i for i in _resolve(module, node, set(known)) if not i.names]
    found = {t.target.rsplit(".", 1)[-1]: t.target for t in targets}
    return [found.get(alias.name, "") for alias in node.names]


def _dotted(node: ast.expr, bound: dict[str, str]) -> str:
    """``a.b.c`` written in the source, with ``a`` replaced by the module it is bound to."""
    if isinstance(node, ast.Name):
        return bound.get(node.id, "")
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, bound)
        return f"{base}.{node.attr}" if base else ""
    return ""


def load_modules(package_dir: Path) -> dict[str, Module]:
    """Parse every ``.py`` file under ``package_dir``, keyed by module name, imports resolved."""
    modules: dict[str, Module] = {}
    for path in sorted(package_dir.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(package_dir.parent).as_posix()
        name = _module_name(package_dir, path)
        modules[name] = Module(name, path, rel, ast.parse(text, rel), text.splitlines())
    known = set(modules)
    for module in modules.values():
        for node, guarded in _import_nodes(module.tree):
            for imported in _resolve(module, node, known):
                imported.type_checking = guarded
                module.imports.append(imported)
    return modules


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _relative(package: str, name: str) -> str:
    """``simwarden.core.log`` -> ``core.log``; the root package -> ``""``."""
    return "" if name == package else name.removeprefix(package + ".")


def _layer(relative: str) -> str:
    """The LAYERS key that governs a module: the longest matching prefix."""
    keys = [key for key in LAYERS if key and _within(relative, key)]
    return max(keys, key=len) if keys else ""


def _allowed_text(package: str, allowed: tuple[str, ...]) -> str:
    if not allowed:
        return f"import nothing from {package}"
    return "import only " + ", ".join(f"{package}.{prefix}" for prefix in allowed)


def _check_layers(package: str, module: Module) -> list[str]:
    relative = _relative(package, module.name)
    layer = _layer(relative)
    allowed = LAYERS[layer]
    violations = []
    for imported in module.imports:
        if not _within(imported.target, package):
            continue
        target = _relative(package, imported.target)
        where = f"{module.rel}:{imported.line}: {module.name} imports {imported.target}"
        closed = next(
            (t for t in CLOSED_TARGETS if target == t or (t and _within(target, t))), None
        )
        if closed is not None and not (
            (closed and _within(relative, closed))
            or any(_within(relative, who) for who in CLOSED_TARGETS[closed])
        ):
            users = " and ".join(f"{package}.{who}" for who in CLOSED_TARGETS[closed])
            violations.append(f"{where}: only {users} may import it")
            continue
        if "*" in allowed or any(_within(target, prefix) for prefix in OPEN_TARGETS):
            continue
        if not any(prefix and _within(target, prefix) for prefix in allowed):
            who = f"{package}.{layer}" if layer else package
            violations.append(f"{where}: {who} may {_allowed_text(package, allowed)}")
    return violations


def _check_stdlib_only(package: str, module: Module) -> list[str]:
    layer = _layer(_relative(package, module.name))
    rule = next((STDLIB_ONLY[key] for key in STDLIB_ONLY if _within(layer, key)), None)
    if rule is None:
        return []
    siblings = {path.stem for path in module.path.parent.glob("*.py")}
    allowed = set(sys.stdlib_module_names) | (WARDEN_THIRD_PARTY if layer == "warden" else siblings)
    return [
        f"{module.rel}:{imported.line}: {module.name} imports {imported.target}: {rule}"
        for imported in module.imports
        if not imported.type_checking
        and imported.target.split(".")[0] not in allowed
        and not _within(imported.target, package)
    ]


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _bound_modules(module: Module, modules: dict[str, Module]) -> dict[str, str]:
    """Local name -> the package module it is bound to, by any import in ``module``."""
    bound: dict[str, str] = {}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                bound[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom):
            targets = _resolve_each(module, node, modules)
            for imported, alias in zip(targets, node.names, strict=True):
                if imported in modules:
                    bound[alias.asname or alias.name] = imported
    return bound


def _check_private(package: str, module: Module, modules: dict[str, Module]) -> list[str]:
    uses: list[tuple[int, str, str]] = []  # (line, private name, owner)
    for imported in module.imports:
        if not _within(imported.target, package):
            continue
        parts = imported.target.split(".")
        owners = [".".join(parts[:depth]) for depth in range(len(parts))]
        private_module = next(
            (
                (imported.line, part, owner)
                for part, owner in zip(parts, owners, strict=True)
                if _is_private(part) and not _within(module.name, owner)
            ),
            None,
        )
        if private_module:
            uses.append(private_module)
        if imported.target != module.name:
            uses += [(imported.line, n, imported.target) for n in imported.names if _is_private(n)]
    # ``from simwarden import a; a._x`` and ``import simwarden.a; simwarden.a._x``
    bound = _bound_modules(module, modules)
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            owner = _dotted(node.value, bound)
            if owner in modules and owner != module.name and f"{owner}.{node.attr}" not in modules:
                uses.append((node.lineno, node.attr, owner))
    return [
        f"{module.rel}:{line}: {module.name} uses private name {name} of {owner}"
        for line, name, owner in uses
    ]


def _import_graph(modules: dict[str, Module]) -> dict[str, list[str]]:
    """Module -> the package modules it imports when it runs (TYPE_CHECKING imports left out)."""
    return {
        name: sorted(
            {
                i.target
                for i in module.imports
                if not i.type_checking and i.target in modules and i.target != name
            }
        )
        for name, module in modules.items()
    }


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """The groups of two or more modules that all reach each other (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = stack[stack.index(node) :]
            del stack[stack.index(node) :]
            if len(group) > 1:
                groups.append(sorted(group))

    for name in sorted(graph):
        if name not in index:
            connect(name)
    return sorted(groups)


def _shortest_cycle(start: str, members: set[str], graph: dict[str, list[str]]) -> list[str]:
    """The shortest way from ``start`` back to itself inside ``members`` (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier and start not in previous:
        following = []
        for node in frontier:
            for nxt in graph[node]:
                if nxt in members and nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    path = [start]
    while len(path) == 1 or path[-1] != start:
        path.append(previous[path[-1]])
    return path[::-1]


def _cycles(modules: dict[str, Module]) -> list[str]:
    """One line per group of modules that import each other, naming one cycle through it."""
    graph = _import_graph(modules)
    lines = []
    for group in _strongly_connected(graph):
        path = _shortest_cycle(group[0], set(group), graph)
        more = f" ({len(group)} modules in the cycle)" if len(group) > len(path) - 1 else ""
        lines.append("import cycle: " + " -> ".join(path) + more)
    return lines


def _check_sizes(module: Module) -> list[str]:
    violations = []
    if len(module.lines) > MAX_MODULE_LINES:
        violations.append(f"{module.rel}: {len(module.lines)} lines (limit {MAX_MODULE_LINES})")

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{scope}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    check(child, name)
                visit(child, name + ".")
            else:
                visit(child, scope)

    def check(func: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> None:
        assert func.end_lineno is not None
        length = func.end_lineno - func.lineno + 1
        if length <= MAX_FUNCTION_LINES:
            return
        first = min([func.lineno, *(d.lineno for d in func.decorator_list)])
        said = {first - 1, func.lineno - 1, *range(func.lineno, func.body[0].lineno + 1)}
        if any(LONG_BECAUSE.search(module.lines[n - 1]) for n in said if n >= 1):
            return
        violations.append(
            f"{module.rel}:{func.lineno}: function {name} is {length} lines (limit"
            f" {MAX_FUNCTION_LINES}, unless a '# ... long because ...' comment says why)"
        )

    visit(module.tree, "")
    return violations


def check_architecture(package_dir: Path) -> list[str]:
    """Every violation of the rules in this file's docstring under ``package_dir`` (the directory
    of the top-level package, e.g. ``src/simwarden``), one line each, sorted; [] when clean."""
    package = package_dir.name
    modules = load_modules(package_dir)
    violations = []
    for module in modules.values():
        violations += _check_layers(package, module)
        violations += _check_stdlib_only(package, module)
        violations += _check_private(package, module, modules)
        violations += _check_sizes(module)
    return sorted(violations) + _cycles(modules)


# --- the real tree -----------------------------------------------------------------------------


def test_the_package_keeps_its_floor_plan():
    violations = check_architecture(PACKAGE_DIR)
    assert violations == [], f"{len(violations)} violations:\n" + "\n".join(violations)


def test_the_check_reads_the_whole_package():
    modules = load_modules(PACKAGE_DIR)
    wings = {name.split(".")[1] for name in modules if name.count(".") >= 1}
    assert {"core", "warden", "pipeline", "results", "cli"} <= wings
    assert len(modules) >= 30
    assert any(i.target.startswith("simwarden.") for m in modules.values() for i in m.imports)


def test_a_broken_import_added_to_the_real_tree_is_reported(tmp_path):
    """The closing note's demonstration: one import against the direction fails the test."""
    import shutil

    copy = tmp_path / "simwarden"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = set(check_architecture(copy))
    (copy / "warden" / "broken.py").write_text("from simwarden.pipeline import gitcache\n")
    after = set(check_architecture(copy))
    assert after - before == {
        "simwarden/warden/broken.py:1: simwarden.warden.broken imports"
        " simwarden.pipeline.gitcache: simwarden.warden may import only"
        " simwarden.warden, simwarden.core"
    }
    assert before - after == set()


# --- synthetic trees ---------------------------------------------------------------------------

CLEAN_TREE = {
    "__init__.py": '"""Front door."""\nfrom simwarden._version import __version__\n',
    "__main__.py": "from simwarden.cli import main\n\nmain()\n",
    "_version.py": '__version__ = "1"\n',
    "timers.py": "import time\n\nfrom simwarden.core.errors import UserError\n",
    "autosave.py": "from simwarden.results.figures import install\n\ninstall()\n",
    "core/__init__.py": "",
    "core/errors.py": "class UserError(Exception):\n    pass\n",
    "core/log.py": "import logging\n\nfrom .errors import UserError\n",
    "warden/__init__.py": "",
    "warden/record.py": "import json\n\nfrom simwarden.core import errors\n",
    "warden/supervisor.py": (
        "import os\n\nimport psutil\n\nfrom simwarden.warden.record import Record\n"
        "from ..core.log import say\n"
    ),
    "pipeline/__init__.py": "",
    "pipeline/layout.py": "from simwarden.warden import record\n",
    "pipeline/steps.py": (
        "import yaml\n\nfrom simwarden.pipeline.layout import RUNS\n"
        "from simwarden.warden.supervisor import run\n\n\n"
        "def lazy():\n    import pandas\n\n    from simwarden.core import log\n"
    ),
    "results/__init__.py": "",
    "results/figures.py": (
        "import matplotlib\n\nfrom simwarden.results import _autosave\n"
        "from simwarden.pipeline.layout import RUNS\nfrom simwarden.warden.record import Record\n"
    ),
    "results/_autosave/__init__.py": "",
    "results/_autosave/hook.py": "import os\n\nimport impl\n",
    "results/_autosave/impl.py": "import sys\n",
    "results/table.py": (
        "from typing import TYPE_CHECKING\n\nfrom simwarden.results.figures import install\n"
        "if TYPE_CHECKING:\n    from simwarden.results.plots import Figure\n"
    ),
    "results/plots.py": "from simwarden.results.table import read\n",
    "cli/__init__.py": (
        "from simwarden import __version__\nfrom simwarden.results import table\n"
        "from simwarden.pipeline import steps\nfrom . import run\n"
    ),
    "cli/run.py": "from simwarden.warden.supervisor import run\n",
}


def make_tree(root: Path, changes: dict[str, str] | None = None) -> Path:
    """A small package ``simwarden`` under ``root`` that keeps every rule, with ``changes``
    (relative path -> source) applied on top."""
    package = root / "simwarden"
    for relative, text in {**CLEAN_TREE, **(changes or {})}.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_a_clean_synthetic_tree_passes(tmp_path):
    """Lazy, relative, TYPE_CHECKING-guarded and private-module imports, all within the rules."""
    assert check_architecture(make_tree(tmp_path)) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {"core/units.py": '"""Units."""\n\nfrom simwarden.warden.record import Record\n'},
            "simwarden/core/units.py:3: simwarden.core.units imports simwarden.warden.record:"
            " simwarden.core may import only simwarden.core",
            id="core-imports-warden",
        ),
        pytest.param(
            {"warden/notify.py": "def send():\n    from simwarden.results import table\n"},
            "simwarden/warden/notify.py:2: simwarden.warden.notify imports simwarden.results.table:"
            " simwarden.warden may import only simwarden.warden, simwarden.core",
            id="lazy-import-against-the-direction",
        ),
        pytest.param(
            {"results/status.py": "from simwarden.pipeline.steps import plan\n"},
            "simwarden/results/status.py:1: simwarden.results.status imports"
            " simwarden.pipeline.steps: simwarden.results may import only simwarden.results,"
            " simwarden.pipeline.layout, simwarden.pipeline.plan, simwarden.pipeline.config,"
            " simwarden.warden.record, simwarden.timers, simwarden.core",
            id="results-imports-pipeline-internals",
        ),
        pytest.param(
            {"results/status.py": "from simwarden.warden import supervisor\n"},
            "simwarden/results/status.py:1: simwarden.results.status imports"
            " simwarden.warden.supervisor: simwarden.results may import only simwarden.results,"
            " simwarden.pipeline.layout, simwarden.pipeline.plan, simwarden.pipeline.config,"
            " simwarden.warden.record, simwarden.timers, simwarden.core",
            id="results-imports-the-supervisor",
        ),
        pytest.param(
            {"pipeline/scripting.py": "from simwarden.cli import main\n"},
            "simwarden/pipeline/scripting.py:1: simwarden.pipeline.scripting imports"
            " simwarden.cli: only simwarden.cli and simwarden.__main__ may import it",
            id="library-imports-cli",
        ),
        pytest.param(
            {"pipeline/scripting.py": "import simwarden\n"},
            "simwarden/pipeline/scripting.py:1: simwarden.pipeline.scripting imports simwarden:"
            " only simwarden.cli and simwarden.__main__ may import it",
            id="library-imports-the-root-package",
        ),
        pytest.param(
            {"results/_autosave/hook.py": "import os\n\nfrom simwarden.core import log\n"},
            "simwarden/results/_autosave/hook.py:3: simwarden.results._autosave.hook imports"
            " simwarden.core.log: simwarden.results._autosave may import nothing from simwarden",
            id="autosave-hook-imports-simwarden",
        ),
        pytest.param(
            {"results/_autosave/impl.py": "import sys\n\n\ndef f():\n    import numpy\n"},
            "simwarden/results/_autosave/impl.py:5: simwarden.results._autosave.impl imports"
            " numpy: the autosave hook may import only the standard library",
            id="autosave-hook-imports-third-party",
        ),
        pytest.param(
            {"warden/cgroup.py": "import os\n\nimport yaml\n"},
            "simwarden/warden/cgroup.py:3: simwarden.warden.cgroup imports yaml:"
            " warden may import only the standard library and psutil",
            id="warden-imports-third-party",
        ),
        pytest.param(
            {"timers.py": "from simwarden.warden.record import Record\n"},
            "simwarden/timers.py:1: simwarden.timers imports simwarden.warden.record:"
            " simwarden.timers may import only simwarden.core",
            id="in-simulation-api-imports-warden",
        ),
        pytest.param(
            {"results/plots.py": "from simwarden.results.table import _as_float\n"},
            "simwarden/results/plots.py:1: simwarden.results.plots uses private name _as_float"
            " of simwarden.results.table",
            id="private-name-imported",
        ),
        pytest.param(
            {"results/plots.py": "from simwarden.results import table\n\ntable._as_float(1)\n"},
            "simwarden/results/plots.py:3: simwarden.results.plots uses private name _as_float"
            " of simwarden.results.table",
            id="private-name-through-module",
        ),
        pytest.param(
            {"cli/run.py": "from simwarden.results._autosave import impl\n"},
            "simwarden/cli/run.py:1: simwarden.cli.run uses private name _autosave of"
            " simwarden.results",
            id="private-module-from-outside-its-package",
        ),
        pytest.param(
            {"core/log.py": "import importlib\n\nimportlib.import_module('simwarden.warden')\n"},
            "simwarden/core/log.py:3: simwarden.core.log imports simwarden.warden:"
            " simwarden.core may import only simwarden.core",
            id="import-module-call",
        ),
        pytest.param(
            {"core/errors.py": "from simwarden.core.log import say\n"},
            "import cycle: simwarden.core.errors -> simwarden.core.log -> simwarden.core.errors",
            id="cycle",
        ),
        pytest.param(
            {
                "core/a.py": "from simwarden.core import b\n",
                "core/b.py": "from simwarden.core import c\n",
                "core/c.py": "import simwarden.core.a\n",
            },
            "import cycle: simwarden.core.a -> simwarden.core.b -> simwarden.core.c"
            " -> simwarden.core.a",
            id="cycle-of-three",
        ),
        pytest.param(
            {
                "core/a.py": "from simwarden.core import b\n",
                "core/b.py": "from simwarden.core import a, c\n",
                "core/c.py": "from simwarden.core.b import x\n",
            },
            "import cycle: simwarden.core.a -> simwarden.core.b -> simwarden.core.a"
            " (3 modules in the cycle)",
            id="cycles-sharing-a-module",
        ),
        pytest.param(
            {"results/table.py": "def read():\n    from simwarden.results.plots import draw\n"},
            "import cycle: simwarden.results.plots -> simwarden.results.table"
            " -> simwarden.results.plots",
            id="cycle-through-a-lazy-import",
        ),
        pytest.param(
            {"core/big.py": "x = 1\n" * 501},
            "simwarden/core/big.py: 501 lines (limit 500)",
            id="module-too-long",
        ),
        pytest.param(
            {"core/big.py": "def f():\n" + "    x = 1\n" * 60},
            "simwarden/core/big.py:1: function f is 61 lines (limit 60, unless a"
            " '# ... long because ...' comment says why)",
            id="function-too-long",
        ),
        pytest.param(
            {"core/big.py": "class A:\n    @staticmethod\n    def f():\n" + "        x = 1\n" * 60},
            "simwarden/core/big.py:3: function A.f is 61 lines (limit 60, unless a"
            " '# ... long because ...' comment says why)",
            id="method-too-long",
        ),
    ],
)
def test_one_broken_rule_is_one_exact_violation(tmp_path, changes, expected):
    assert check_architecture(make_tree(tmp_path, changes)) == [expected]


@pytest.mark.parametrize(
    "source",
    [
        "# long because it is a table\ndef f():\n" + "    x = 1\n" * 60,
        "# long because it is a table\n@decorator\ndef f():\n" + "    x = 1\n" * 60,
        "def f():  # long because it is a table\n" + "    x = 1\n" * 60,
        "def f():\n    # long because it is a table\n" + "    x = 1\n" * 60,
        "def f():\n" + "    x = 1\n" * 59,
    ],
    ids=["above", "above-decorators", "on-the-def", "first-body-line", "exactly-60"],
)
def test_a_long_function_that_says_why_passes(tmp_path, source):
    assert check_architecture(make_tree(tmp_path, {"core/big.py": source})) == []


def test_type_checking_imports_make_no_cycle_but_still_obey_the_layers(tmp_path):
    changes = {
        "core/errors.py": (
            "TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from simwarden.core.log import say\n"
            "    from simwarden.warden.record import Record\n"
        )
    }
    assert check_architecture(make_tree(tmp_path, changes)) == [
        "simwarden/core/errors.py:4: simwarden.core.errors imports simwarden.warden.record:"
        " simwarden.core may import only simwarden.core"
    ]
