"""Why a run failed, captured: the stdlib-only hook records a Python simulation's uncaught
exception, the warden folds it into the record as ``error`` and keeps the last stderr lines of
every command as ``stderr_tail``. Real simulations in small lab-shaped repositories, run as
real subprocesses under the warden with the environment the pipeline gives them."""

from __future__ import annotations

import importlib.util
import io
import json
import marshal
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from simwarden.results.figures import HOOK_DIR, autosave_env
from simwarden.warden import RunOptions, run
from simwarden.warden.cause import (
    ENV_ERROR_FILE,
    LINE_CHARS,
    ErrorFileProblem,
    StderrTail,
    parse_error_report,
)
from simwarden.warden.record import STDERR_TAIL_LINES, Record, RunError
from tests.conftest import PYTHON, TIMEOUT, simwarden_argv

CONTEXT = {"run": "ei-balanced-3f2a", "attempt": 1}

# A lab's simulation script: simulate, draw the raster, then fail on a typo'd attribute.
SIM = """\
    \"\"\"Balanced E/I network: simulate, draw the raster, report the mean rate.\"\"\"
    import json
    import sys

    import matplotlib.pyplot as plt

    from network import simulate

    params = json.loads(open(sys.argv[1]).read()) if len(sys.argv) > 1 else {"n": 20, "steps": 40}
    result = simulate(params["n"], params["steps"])
    fig, ax = plt.subplots()
    ax.set_title("raster")
    ax.imshow(result["spikes"], aspect="auto")
    print(f"simulated {params['steps']} steps of {params['n']} neurons", flush=True)
    print(f"mean rate: {result.mean_rate:.2f} Hz")
"""
NETWORK = """\
    def simulate(n, steps):
        spikes = [[float((i * 7 + t) % 5 == 0) for i in range(n)] for t in range(steps)]
        return {"spikes": spikes}
"""


def lab_repo(root: Path, files: dict[str, str]) -> Path:
    """A simulation repository holding ``files`` (dedented)."""
    root.mkdir(parents=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def simulation_env(figures: Path, **extra: str) -> dict[str, str]:
    """The environment the pipeline gives a Python simulation: the hook on PYTHONPATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "MPLBACKEND") and not key.startswith("SIMWARDEN_")
    }
    env.update(autosave_env(figures, ["png"], CONTEXT))
    env.update(extra)
    return env


def line_of(source: str, text: str) -> int:
    """The 1-based number of the line of (dedented) ``source`` that holds ``text``."""
    lines = textwrap.dedent(source).splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def guarded(
    argv: list[str], tmp_path: Path, cwd: Path, env: dict[str, str]
) -> tuple[int, Record, str]:
    """Run ``argv`` under the warden as the pipeline does (the Python API, a log file, the
    environment passed through); returns the exit code, the record read back, the warden's
    own console lines."""
    console = io.StringIO()
    options = RunOptions(
        record=str(tmp_path / "record.json"),
        log=str(tmp_path / "run.log"),
        quiet=True,
        cwd=str(cwd),
        env=env,
        console=console,
        context=CONTEXT,
    )
    result = run(argv, options)
    record = Record.from_dict(json.loads((tmp_path / "record.json").read_text()))
    return result.exit_code, record, console.getvalue()


def test_a_crash_after_drawing_keeps_the_figure_and_records_the_error(tmp_path: Path) -> None:
    repo = lab_repo(tmp_path / "ei-network", {"sim.py": SIM, "network.py": NETWORK})
    figures = tmp_path / "figures"

    code, record, console = guarded([PYTHON, "sim.py"], tmp_path, repo, simulation_env(figures))

    line = line_of(SIM, "result.mean_rate")
    message = "'dict' object has no attribute 'mean_rate'"
    assert (code, record.reason, console) == (1, "exited", "")
    assert record.error is not None
    assert (record.error.type, record.error.message, record.error.where) == (
        "AttributeError",
        message,
        f"sim.py:{line}",
    )
    assert record.cause == f"AttributeError: {message} (sim.py:{line})"
    traceback = record.error.traceback or ""
    assert traceback.startswith("Traceback (most recent call last):\n")
    assert f'  File "{repo / "sim.py"}", line {line}, in <module>\n' in traceback
    assert traceback.endswith(f"AttributeError: {message}\n")
    # The traceback Python printed is the tail of stderr, line for line.
    assert record.stderr_tail == traceback.splitlines()
    assert sorted(p.relative_to(figures).as_posix() for p in figures.rglob("*.png")) == [
        "png/raster.png"
    ]
    # stdout and stderr reach the log through two pipes, each whole line by whole line; which
    # pipe the warden reads first is the kernel's choice, so only each stream's order is fixed.
    lines = (tmp_path / "run.log").read_text().splitlines(keepends=True)
    printed = "simulated 40 steps of 20 neurons\n"
    assert lines.count(printed) == 1, lines
    assert [line for line in lines if line != printed] == traceback.splitlines(keepends=True)


def test_a_missing_module_is_named_with_its_line_in_the_repository(tmp_path: Path) -> None:
    repo = lab_repo(
        tmp_path / "tuning",
        {
            "src/tuned.py": """\
                import numpy as np
                import brian
                """,
        },
    )
    elsewhere = tmp_path / "run-dir"  # the run's working directory is not the repository
    elsewhere.mkdir()
    env = simulation_env(tmp_path / "figures", SIMWARDEN_REPO_ROOT=str(repo))

    code, record, _ = guarded([PYTHON, str(repo / "src" / "tuned.py")], tmp_path, elsewhere, env)

    assert code == 1
    assert record.error is not None
    assert (record.error.type, record.error.message, record.error.where) == (
        "ModuleNotFoundError",
        "No module named 'brian'",
        "src/tuned.py:2",
    )
    assert record.cause == "ModuleNotFoundError: No module named 'brian' (src/tuned.py:2)"
    assert record.stderr_tail[-1] == "ModuleNotFoundError: No module named 'brian'"


FIT_REPO = {
    "analysis/fit.py": """\
        import json


        def load(path):
            return json.loads(open(path).read())
        """,
    "params.json": "{tau_m: 20}\n",
    "fit.py": """\
        from analysis.fit import load

        params = load("params.json")
        """,
    "convert.py": """\
        from helper import parse

        tau = parse("20 ms")
        """,
    ".venv/lib/python3/site-packages/helper.py": """\
        def parse(text):
            return float(text)
        """,
}


@pytest.mark.parametrize(
    ("script", "cause"),
    [
        (
            "fit.py",
            "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1) (analysis/fit.py:5)",
        ),
        ("convert.py", "ValueError: could not convert string to float: '20 ms' (convert.py:3)"),
    ],
    ids=["stdlib", "virtualenv-in-the-repository"],
)
def test_where_is_the_innermost_frame_of_the_repository_not_of_a_library(
    tmp_path: Path, script: str, cause: str
) -> None:
    repo = lab_repo(tmp_path / "lab", FIT_REPO)
    env = simulation_env(tmp_path / "figures")
    env["PYTHONPATH"] += os.pathsep + str(repo / ".venv/lib/python3/site-packages")

    code, record, _ = guarded([PYTHON, script], tmp_path, repo, env)

    assert (code, record.cause) == (1, cause)


def test_a_syntax_error_is_placed_at_the_line_that_does_not_parse(tmp_path: Path) -> None:
    repo = lab_repo(tmp_path / "lab", {"sim.py": "rate = 5\nif rate > 3\n    print(rate)\n"})

    code, record, _ = guarded(
        [PYTHON, "sim.py"], tmp_path, repo, simulation_env(tmp_path / "figures")
    )

    assert code == 1
    assert record.error is not None
    assert (record.error.type, record.error.where) == ("SyntaxError", "sim.py:2")
    assert record.error.message == "expected ':' (sim.py, line 2)"


def test_the_first_python_program_claims_the_error_file(tmp_path: Path) -> None:
    """A helper the simulation starts (and whose failure it handles) does not write the run's
    error: the simulation's own exception is the one recorded."""
    repo = lab_repo(
        tmp_path / "lab",
        {
            "helper.py": """\
                import os

                print(os.environ.get("SIMWARDEN_ERROR_FILE"))
                raise ValueError("helper")
                """,
            "sim.py": """\
                import subprocess
                import sys

                done = subprocess.run([sys.executable, "helper.py"], capture_output=True, text=True)
                print("helper saw", done.stdout.strip(), "and exited", done.returncode)
                raise RuntimeError("calibration failed")
                """,
        },
    )

    code, record, _ = guarded(
        [PYTHON, "sim.py"], tmp_path, repo, simulation_env(tmp_path / "figures")
    )

    assert code == 1
    assert record.cause == "RuntimeError: calibration failed (sim.py:6)"
    assert (tmp_path / "run.log").read_text().startswith("helper saw None and exited 1\n")


def test_an_error_is_not_kept_when_the_run_succeeds(tmp_path: Path) -> None:
    """A wrapper that shrugs off its simulation's crash ends well: the record has no error."""
    repo = lab_repo(tmp_path / "lab", {"sim.py": "raise ValueError('ignored')\n"})
    env = simulation_env(tmp_path / "figures")

    code, record, _ = guarded(["sh", "-c", f"{PYTHON} sim.py || true"], tmp_path, repo, env)

    assert (code, record.failed, record.error, record.cause) == (0, False, None, None)
    assert record.stderr_tail[-1] == "ValueError: ignored"


STDERR_SCRIPT = """\
    #!/bin/sh
    # A lab's shell wrapper around a compiled model.
    echo "loading params.json" >&2
    echo "progress 10%\\rprogress 100%" >&2
    echo "step 40 done"
    printf '\\n\\n' >&2
    echo "model: error: parameter 'tau_m' must be positive (got -5)" >&2
    exit 3
"""


@pytest.mark.parametrize("with_log", [True, False], ids=["log", "no-log"])
def test_a_command_that_writes_to_stderr_and_exits_3(tmp_path: Path, with_log: bool) -> None:
    repo = lab_repo(tmp_path / "model", {"run.sh": STDERR_SCRIPT})
    (repo / "run.sh").chmod(0o755)
    record_path = tmp_path / "record.json"
    log = ["--log", str(tmp_path / "run.log")] if with_log else []

    result = subprocess.run(
        simwarden_argv("run", "--record", str(record_path), *log, "--", "./run.sh"),
        cwd=repo,
        capture_output=True,
        timeout=TIMEOUT,
    )

    assert result.returncode == 3, result.stderr
    assert result.stdout == b"step 40 done\n"
    last = "model: error: parameter 'tau_m' must be positive (got -5)"
    # What the command wrote still reaches the terminal byte for byte.
    assert result.stderr.decode() == (
        f"loading params.json\nprogress 10%\rprogress 100%\n\n\n{last}\n"
    )
    record = Record.from_dict(json.loads(record_path.read_text()))
    assert record.stderr_tail == ["loading params.json", "progress 100%", last]
    assert (record.error, record.cause) == (None, last)


def test_a_corrupt_error_file_is_named_in_one_line_and_ignored(tmp_path: Path) -> None:
    """A report cut short (the program was killed while writing it, or wrote it by hand)."""
    record_path = tmp_path / "record.json"
    command = (
        'printf \'{"type": "Val\' > "$SIMWARDEN_ERROR_FILE"; '
        'echo "$SIMWARDEN_ERROR_FILE"; stat -c %a "$(dirname "$SIMWARDEN_ERROR_FILE")"; '
        "echo 'simulation aborted' >&2; exit 1"
    )

    result = subprocess.run(
        simwarden_argv("run", "--record", str(record_path), "--", "sh", "-c", command),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )

    assert result.returncode == 1, result.stderr
    path, mode = result.stdout.splitlines()
    assert mode == "700"  # private to this user
    assert result.stderr == (
        "simulation aborted\n"
        f"simwarden: error file {path!r} is not complete JSON (Unterminated string starting at: "
        "line 1 column 10 (char 9)); the record has no error\n"
    )
    record = Record.from_dict(json.loads(record_path.read_text()))
    assert (record.error, record.cause, record.stderr_tail) == (
        None,
        "simulation aborted",
        ["simulation aborted"],
    )
    assert not Path(path).parent.exists()  # the warden's temporary directory is removed


def test_every_run_gets_its_own_error_file_and_an_outer_one_is_not_passed_on(
    tmp_path: Path,
) -> None:
    code = "import os; print(os.environ['SIMWARDEN_ERROR_FILE'])"
    outer = str(tmp_path / "outer-error.json")
    paths = []
    for _ in range(2):
        result = subprocess.run(
            simwarden_argv("run", "--", PYTHON, "-c", code),
            env={**os.environ, ENV_ERROR_FILE: outer},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert result.returncode == 0, result.stderr
        paths.append(result.stdout.strip())
    assert paths[0] != paths[1]
    assert outer not in paths
    assert [Path(p).name for p in paths] == ["error.json", "error.json"]
    assert not any(Path(p).parent.exists() for p in paths)


# ------------------------------------------------------------------- the hook on its own


CRASH = """\
    import sys
    print("integrating", flush=True)
    print("warning: dt is large", file=sys.stderr, flush=True)
    raise ValueError("membrane potential diverged")
"""


def plain_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if key != "PYTHONPATH" and not key.startswith("SIMWARDEN_")
    }


def run_crash(cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    done = subprocess.run(
        [PYTHON, "sim.py"], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("writable", [True, False], ids=["writable", "unwritable"])
def test_the_hook_never_changes_exit_status_or_output(tmp_path: Path, writable: bool) -> None:
    repo = lab_repo(tmp_path / "lab", {"sim.py": CRASH})
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    error_file = (tmp_path if writable else blocker) / "error.json"
    env = simulation_env(tmp_path / "figures", SIMWARDEN_ERROR_FILE=str(error_file))

    without_hook = run_crash(repo, plain_env())
    with_hook = run_crash(repo, env)

    assert without_hook[0] == 1
    assert without_hook[2].endswith("ValueError: membrane potential diverged\n")
    assert with_hook == without_hook
    assert error_file.exists() is writable
    if writable:
        report = json.loads(error_file.read_text())
        assert [report[key] for key in ("type", "message", "where")] == [
            "ValueError",
            "membrane potential diverged",
            "sim.py:4",
        ]
        assert report["traceback"] == without_hook[2].split("warning: dt is large\n")[1]
    left = ["a-file", "error.json", "lab"] if writable else ["a-file", "lab"]
    assert sorted(p.name for p in tmp_path.iterdir()) == left  # no temp file left behind


def test_the_capture_wraps_an_excepthook_the_hidden_sitecustomize_installs(tmp_path: Path) -> None:
    """Debian's and Ubuntu's sitecustomize install their own crash hook: it still runs, after
    the error is recorded."""
    repo = lab_repo(tmp_path / "lab", {"sim.py": CRASH})
    other = tmp_path / "site"
    other.mkdir()
    (other / "sitecustomize.py").write_text(
        "import sys\n"
        "def report(kind, value, tb):\n"
        "    print('crash reporter saw', kind.__name__, file=sys.stderr)\n"
        "sys.excepthook = report\n"
    )
    error_file = tmp_path / "error.json"
    env = simulation_env(
        tmp_path / "figures",
        PYTHONPATH=f"{HOOK_DIR}{os.pathsep}{other}",
        SIMWARDEN_ERROR_FILE=str(error_file),
    )

    code, stdout, stderr = run_crash(repo, env)

    assert (code, stdout) == (1, "integrating\n")
    assert stderr == "warning: dt is large\ncrash reporter saw ValueError\n"
    assert json.loads(error_file.read_text())["where"] == "sim.py:4"


def test_the_hook_keeps_to_python_3_8_syntax() -> None:
    """The simulation's interpreter may be an older Python than simwarden's."""
    import ast

    for path in sorted(HOOK_DIR.glob("*.py")):
        ast.parse(path.read_text(), str(path), feature_version=(3, 8))


def load_hook_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "simwarden_autosave_error", HOOK_DIR / "simwarden_autosave_error.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_hook_and_the_warden_spell_the_variable_alike() -> None:
    """The stdlib-only hook cannot import simwarden, so it spells the variable itself."""
    assert load_hook_module().ENV_ERROR_FILE == ENV_ERROR_FILE


def test_type_names_are_short_for_builtins_and_qualified_otherwise() -> None:
    hook = load_hook_module()

    diverged = type("Diverged", (Exception,), {"__module__": "__main__"})
    assert hook.type_name(KeyError) == "KeyError"
    assert hook.type_name(diverged) == "Diverged"
    assert hook.type_name(json.JSONDecodeError) == "json.decoder.JSONDecodeError"


# ------------------------------------------------------------------- the warden's side


def tail_of(*chunks: bytes) -> list[str]:
    tail = StderrTail()
    for chunk in (*chunks, b""):
        tail.feed(chunk)
    return tail.lines()


def test_the_tail_keeps_the_last_lines_as_a_terminal_shows_them() -> None:
    many = b"".join(b"line %d\n" % n for n in range(1, 31))
    assert tail_of(many) == [f"line {n}" for n in range(31 - STDERR_TAIL_LINES, 31)]
    assert tail_of(b"Trace", b'back\r\n  File "sim.py"\n\n   \nValueError: x') == [
        "Traceback",
        '  File "sim.py"',
        "ValueError: x",
    ]
    assert tail_of(b"0%\r50%\r100%\r\n") == ["100%"]
    assert tail_of(b"\x1b[31mERROR\x1b[0m: bad \xff byte\n") == ["ERROR: bad \ufffd byte"]
    long = tail_of(b"x" * 100_000 + b"\nend\n")
    assert long == ["x" * (LINE_CHARS - 1) + "…", "end"]
    assert tail_of(b"\xc3\xa9" * 600 + b"\n") == ["é" * (LINE_CHARS - 1) + "…"]


def test_a_long_unfinished_progress_line_keeps_its_last_state() -> None:
    chunks = [b"step %06d\r" % n for n in range(20_000)]  # 240 kB without a newline
    assert tail_of(*chunks, b"done\n") == ["done"]
    assert tail_of(*chunks) == ["step 019999"]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (
            b'{"type": "Val',
            "is not complete JSON (Unterminated string starting at: line 1 column 10 (char 9))",
        ),
        (b"", "is not complete JSON (Expecting value: line 1 column 1 (char 0))"),
        (
            b"\xff\xfe",
            "is not complete JSON ('utf-8' codec can't decode byte 0xff in position 0: "
            "invalid start byte)",
        ),
        (b"[1, 2]", "holds list, not an object"),
        (b'{"message": "boom"}', "has no exception type"),
        (b'{"type": "ValueError", "where": 12}', "has a where that is not text: 12"),
        (b" " * 1_000_001, "is over 1000000 bytes: not a report"),
    ],
)
def test_a_report_that_is_not_complete_is_refused_naming_the_file(raw: bytes, problem: str) -> None:
    with pytest.raises(ErrorFileProblem) as caught:
        parse_error_report(raw, "/tmp/simwarden-1-2/error.json")
    assert str(caught.value) == f"error file '/tmp/simwarden-1-2/error.json' {problem}"


def test_a_complete_report_reads_back() -> None:
    raw = json.dumps(
        {"type": "KeyError", "message": "'tau'", "where": "sim.py:3", "traceback": None, "new": 1}
    ).encode()
    assert parse_error_report(raw, "e.json") == RunError("KeyError", "'tau'", "sim.py:3", None)


if sys.platform != "linux":  # pragma: no cover - the suite is run on Linux
    pytestmark = pytest.mark.skip(reason="process tests are written for Linux")


# -- the imported distributions ------------------------------------------------------------------
IMPORTS_NOTHING = """\
    import os
    print("child sees", os.environ.get("SIMWARDEN_IMPORTS_FILE"))
"""
IMPORTS_NUMPY = """\
    import numpy.linalg

    print(float(numpy.linalg.norm([3.0, 4.0])))
"""


def run_recording_imports(
    tmp_path: Path, name: str, source: str, target: Path, cache: Path | None = None
) -> str:
    """Run ``source`` as a simulation whose imports are recorded to ``target`` (the scan of the
    installed distributions kept in ``cache``, when given); its stdout."""
    repo = lab_repo(tmp_path / name, {"sim.py": source})
    env = simulation_env(tmp_path / "figures", SIMWARDEN_IMPORTS_FILE=str(target))
    if cache is not None:
        env["SIMWARDEN_DISTRIBUTIONS_CACHE"] = str(cache)
    done = subprocess.run(
        [PYTHON, "sim.py"], cwd=repo, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return done.stdout


def test_the_imported_distributions_are_written_at_exit_with_their_versions(
    tmp_path: Path,
) -> None:
    from importlib.metadata import version

    baseline, with_numpy = tmp_path / "baseline.json", tmp_path / "numpy.json"
    # The variable is claimed: the simulation's own environment no longer holds it.
    stdout = run_recording_imports(tmp_path, "plain", IMPORTS_NOTHING, baseline)
    assert stdout == "child sees None\n"
    assert run_recording_imports(tmp_path, "numeric", IMPORTS_NUMPY, with_numpy) == "5.0\n"

    before, after = json.loads(baseline.read_text()), json.loads(with_numpy.read_text())
    # What start-up imports (a .pth's module) is listed in both; numpy only where imported.
    assert "numpy" not in before
    assert after == {**before, "numpy": version("numpy")}
    assert list(after) == sorted(after)


def test_the_scan_of_the_distributions_is_kept_and_read_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    uncached, first, second = (tmp_path / f"{n}.json" for n in ("uncached", "first", "second"))
    run_recording_imports(tmp_path, "a", IMPORTS_NUMPY, uncached)
    run_recording_imports(tmp_path, "b", IMPORTS_NUMPY, first, cache)
    assert json.loads(first.read_text()) == json.loads(uncached.read_text())
    [kept] = cache.iterdir()
    assert marshal.loads(kept.read_bytes())["providers"]["numpy"] == ["numpy"]
    # The next run (another repository: sys.path[0] is not part of the key) reads the kept scan:
    # planted, it names another distribution for numpy.
    planted = marshal.loads(kept.read_bytes())
    planted["providers"]["numpy"] = ["setuptools"]
    kept.write_bytes(marshal.dumps(planted))
    run_recording_imports(tmp_path, "c", IMPORTS_NUMPY, second, cache)
    assert "numpy" not in json.loads(second.read_text())
    assert "setuptools" in json.loads(second.read_text())
    assert [p.name for p in cache.iterdir()] == [kept.name]
    # A kept scan of another state under the same name is a miss: scanned again, kept anew.
    planted["state"] = "another interpreter"
    kept.write_bytes(marshal.dumps(planted))
    run_recording_imports(tmp_path, "d", IMPORTS_NUMPY, second, cache)
    assert json.loads(second.read_text()) == json.loads(uncached.read_text())
    assert marshal.loads(kept.read_bytes())["state"] != "another interpreter"


def hook_module(monkeypatch: pytest.MonkeyPatch, name: str) -> Any:
    """The hook's module ``name``, loaded from its file as a simulation's Python loads it."""
    monkeypatch.syspath_prepend(str(HOOK_DIR))  # as in a simulation: the hook's modules import
    spec = importlib.util.spec_from_file_location(name, HOOK_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "mapping",
    [
        {},
        {"numpy": "2.1.3", "h5py": "3.12.1"},
        {'we"ird\\': "tab\there\nnewline", "ünïcode": "😀 beyond the BMP", "nul": "\x00\x7f"},
    ],
)
def test_the_imports_file_is_json_made_without_the_json_module(
    monkeypatch: pytest.MonkeyPatch, mapping: dict[str, str]
) -> None:
    text = hook_module(monkeypatch, "simwarden_autosave_imports").flat_json(mapping)
    assert text.isascii()
    assert json.loads(text) == mapping


def test_an_unwritable_imports_file_changes_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    stdout = run_recording_imports(tmp_path, "numeric", IMPORTS_NUMPY, blocker / "imports.json")
    assert stdout == "5.0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "numeric"]


def test_distributions_come_from_top_level_names_each_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = hook_module(monkeypatch, "simwarden_autosave_imports")
    from importlib.metadata import version

    providers = {"numpy": ["numpy"], "h5py": ["h5py"], "gone": ["no-such-dist-xyz"]}
    names = ["numpy.linalg", "numpy", "h5py._hl", "json", "gone", "mysim"]
    assert module.imported_distributions(names, providers) == {
        "h5py": version("h5py"),
        "numpy": version("numpy"),
    }

    from simwarden.pipeline.manifest import ENV_DISTRIBUTIONS_CACHE, ENV_IMPORTS_FILE

    assert module.ENV_IMPORTS_FILE == ENV_IMPORTS_FILE
    assert module.ENV_DISTRIBUTIONS_CACHE == ENV_DISTRIBUTIONS_CACHE
