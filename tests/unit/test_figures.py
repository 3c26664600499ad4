"""Tests for simwarden.results.figures and its start-up hook: real Python subprocesses running small
matplotlib scripts, the exact files they leave, the provenance read back from PNG, PDF and SVG,
exit codes and output kept, one warning line per figure that cannot be saved, chaining to another
sitecustomize, and the hand-run ``import simwarden.autosave`` with its switches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from simwarden.cli import main as simwarden_main
from simwarden.cli.figures import main
from simwarden.core.errors import UserError
from simwarden.results.figures import (
    FORMATS,
    HOOK_DIR,
    autosave_env,
    check_formats,
    load_impl,
    read_provenance,
    save_figures,
)
from simwarden.warden.record import RunContext

TIMEOUT = 60  # seconds for one script; each takes about 1 s
PROVENANCE: dict[str, Any] = {
    "run": "base-3f2a",
    "repository": "https://example.org/lab/sim (fork).git",
    "commit": "0123456789abcdef0123456789abcdef01234567",
    "params_hash": "9c1d",
    "run_config": "short",
    "attempt": 2,
    "mem_mb": 512,
    "runtime_min": 1.5,
    "note": 'café \\ ( ) ))( \n\ttab ✓ "quoted"',
    "nested": {"list": [1, None, True, 2.25]},
}


def files(root: Path) -> set[str]:
    """Every file under ``root`` (hidden ones too), relative, with forward slashes."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without anything that changes matplotlib or the autosave."""
    dropped = ("PYTHONPATH", "MPLBACKEND", "DISPLAY")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in dropped and not key.startswith("SIMWARDEN_")
    }
    env.update(extra)
    return env


def run_script(
    where: Path, source: str, env: dict[str, str], name: str = "script.py"
) -> subprocess.CompletedProcess[str]:
    script = where / name
    script.write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"


def pipeline_env(
    figures_dir: Path, formats: list[str], pythonpath: str | None = None, **extra: str
) -> dict[str, str]:
    # DISPLAY set: matplotlib's own show() would warn under Agg, so silence proves the no-op.
    env = clean_env(DISPLAY=":99", **extra)
    env.update(autosave_env(figures_dir, formats, PROVENANCE, pythonpath))
    return env


# ---------------------------------------------------------------------------- under the pipeline

MANY_FIGURES = """
    import matplotlib.pyplot as plt

    plt.figure("raster").add_subplot().plot([0, 1], [1, 0])
    plt.figure().add_subplot().plot([1, 2])                    # figure 2: nothing to name it by
    plt.figure().suptitle("Rate: E/I (Hz)")
    plt.figure().add_subplot().set_title("voltage trace", loc="left")
    early = plt.figure("closed early")
    plt.close(early)                                           # saved when closed
    plt.figure(num=7, label="raster")                          # same label again
    plt.show()
    plt.show(block=True)
    print("after show:", plt.get_backend(), len(plt.get_fignums()))
"""


def test_pipeline_run_saves_every_figure_with_provenance(tmp_path: Path) -> None:
    # A package named simwarden that cannot be imported, ahead of the real one: the hook
    # must not need simwarden (the simulation's Python may be another environment).
    poison = tmp_path / "poison" / "simwarden"
    poison.mkdir(parents=True)
    (poison / "__init__.py").write_text("raise ImportError('the hook imported simwarden')\n")
    out = tmp_path / "figures"
    env = pipeline_env(out, ["png", "pdf", "svg"], pythonpath=str(poison.parent))
    assert env["PYTHONPATH"] == f"{HOOK_DIR}{os.pathsep}{poison.parent}"

    result = run_script(tmp_path, MANY_FIGURES, env)

    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "after show: agg 5\n",
        "",
    ), shown(result)
    names = ["raster", "figure-2", "Rate_E_I_Hz", "voltage_trace", "closed_early", "raster-2"]
    expected = {f"{fmt}/{name}.{fmt}" for fmt in FORMATS for name in names}
    assert files(out) == expected
    for path in sorted(expected):
        assert read_provenance(out / path) == PROVENANCE, path


@pytest.mark.parametrize(
    ("ending", "code"),
    [
        ("sys.exit(3)", 3),
        ("raise RuntimeError('boom')", 1),
        ("os.kill(os.getpid(), signal.SIGTERM)\nwhile True:\n    pass", 143),
    ],
    ids=["sys-exit-3", "uncaught-exception", "sigterm-to-systemexit"],
)
def test_figures_saved_and_exit_status_kept(tmp_path: Path, ending: str, code: int) -> None:
    source = (
        "import os, signal, sys\n"
        "import matplotlib.pyplot as plt\n"
        "signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))\n"
        "plt.figure('kept')\n"
        "plt.figure()\n"
        "print('own output', flush=True)\n"
        "print('own error', file=sys.stderr, flush=True)\n" + ending + "\n"
    )
    out = tmp_path / "figures"

    result = run_script(tmp_path, source, pipeline_env(out, ["png"]))

    assert result.returncode == code, shown(result)
    assert result.stdout == "own output\n", shown(result)
    if code == 1:
        assert result.stderr.startswith("own error\nTraceback (most recent call last):\n")
        assert result.stderr.endswith("RuntimeError: boom\n"), shown(result)
    else:
        assert result.stderr == "own error\n", shown(result)
    assert files(out) == {"png/kept.png", "png/figure-2.png"}


def test_figure_that_fails_gives_one_warning_line(tmp_path: Path) -> None:
    source = """
        import matplotlib.pyplot as plt

        plt.figure("bad").add_subplot().set_title(r"$\\frac{$")  # mathtext that cannot parse
        plt.figure("good")
    """
    out = tmp_path / "figures"

    result = run_script(tmp_path, source, pipeline_env(out, ["png", "svg"]))

    assert result.returncode == 0, shown(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, shown(result)
    assert lines[0].startswith("simwarden: figure 'bad' not saved (png, svg): ValueError: ")
    assert files(out) == {"png/good.png", "svg/good.svg"}  # no partial file left behind


def test_unwritable_figures_dir_keeps_exit_status(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    source = """
        import sys
        import matplotlib.pyplot as plt

        plt.figure("one")
        plt.figure("two")
        print("own error", file=sys.stderr, flush=True)
        sys.exit(3)
    """

    result = run_script(tmp_path, source, pipeline_env(blocker / "figures", ["png", "pdf"]))

    assert result.returncode == 3, shown(result)
    lines = result.stderr.splitlines()
    assert [line.split(": ")[:3] for line in lines] == [
        ["own error"],
        ["simwarden", "figure 'one' not saved (png, pdf)", "NotADirectoryError"],
        ["simwarden", "figure 'two' not saved (png, pdf)", "NotADirectoryError"],
    ], shown(result)
    assert str(blocker) in lines[1]


def test_hook_chains_to_the_sitecustomize_it_hides(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    # The other module also imports pyplot: the autosave must be in place before it runs.
    (other / "sitecustomize.py").write_text(
        "import os\nimport matplotlib.pyplot\n"
        "with open(os.environ['MARKER'], 'a') as handle:\n    handle.write('chained\\n')\n"
    )
    copy = tmp_path / "hook-copy"  # a second copy of the hook must be skipped, not run again
    shutil.copytree(HOOK_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    marker = tmp_path / "marker"
    out = tmp_path / "figures"
    env = pipeline_env(out, ["png"], pythonpath=f"{copy}{os.pathsep}{other}", MARKER=str(marker))

    result = run_script(tmp_path, "import matplotlib.pyplot as plt\nplt.figure('one')\n", env)

    assert (result.returncode, result.stderr) == (0, ""), shown(result)
    assert marker.read_text() == "chained\n"
    assert files(out) == {"png/one.png"}


# ----------------------------------------------------------------------------------- by hand


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT,
    )
    return done.stdout.strip()


def test_hand_run_import_saves_pngs_with_git_commit(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    source = """
        import simwarden.autosave
        import matplotlib.pyplot as plt

        plt.figure("spikes")
        plt.show()
    """

    result = run_script(repo, source, clean_env(DISPLAY=":99", MPLBACKEND="Agg"))

    assert result.returncode == 0, shown(result)
    # SIMWARDEN_SHOW_FIGURES unset: show() is matplotlib's own, which warns under Agg.
    assert "FigureCanvasAgg is non-interactive" in result.stderr, shown(result)
    assert files(repo / "figures") == {"png/spikes.png"}
    expected = dict.fromkeys(
        ["run", "params_hash", "run_config", "attempt", "mem_mb", "runtime_min"]
        + ["simulation", "param_set", "ref"]
        + ["runner", "params", "run_config_section", "source_diff_sha256"]
    )
    expected.update(
        repository=git(repo, "rev-parse", "--show-toplevel"),
        commit=git(repo, "rev-parse", "HEAD"),
        script=str(repo / "script.py"),
    )
    assert read_provenance(repo / "figures/png/spikes.png") == expected


def test_hand_run_show_off_after_pyplot_import(tmp_path: Path) -> None:
    source = """
        import matplotlib.pyplot as plt
        import simwarden.autosave

        plt.figure("a").add_subplot().set_title("ignored: the label names it")
        plt.show()
        print(plt.get_backend())
    """
    env = clean_env(
        DISPLAY=":99",
        SIMWARDEN_SHOW_FIGURES="0",
        SIMWARDEN_FIGURE_FORMATS="svg, PDF",
        SIMWARDEN_FIGURES_DIR="out/figs",
    )

    result = run_script(tmp_path, source, env)

    assert (result.returncode, result.stdout, result.stderr) == (0, "agg\n", ""), shown(result)
    assert files(tmp_path / "out/figs") == {"svg/a.svg", "pdf/a.pdf"}
    provenance = read_provenance(tmp_path / "out/figs/pdf/a.pdf")
    assert (provenance["commit"], provenance["script"]) == (None, str(tmp_path / "script.py"))


def test_hand_run_save_off_saves_nothing(tmp_path: Path) -> None:
    source = """
        import simwarden.autosave
        import matplotlib.pyplot as plt

        plt.figure("a")
        plt.close("all")
        plt.figure("b")
    """
    result = run_script(tmp_path, source, clean_env(SIMWARDEN_SAVE_FIGURES="0"))

    assert (result.returncode, result.stderr) == (0, ""), shown(result)
    assert files(tmp_path) == {"script.py"}


# ------------------------------------------------------------------------------- in process


def test_save_figures_sanitises_and_uniquifies_names(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    def figure(label: str = "", suptitle: str = "", title: str = "") -> Figure:
        fig = Figure(figsize=(1, 1), dpi=20)
        fig.set_label(label)
        if suptitle:
            fig.suptitle(suptitle)
        if title:
            fig.add_subplot().set_title(title, loc="right")
        return fig

    figures = [
        figure("a/b c"),
        figure("../etc/passwd"),
        figure("Ünïcode ✓"),
        figure(suptitle="Rate (Hz)"),
        figure(title="V_m"),
        figure(),
        figure("***"),
        figure("x"),
        figure("X"),
        figure("x"),
        figure("figure-6"),
        figure("L" * 150),
    ]

    written = save_figures(figures, tmp_path, ["png"], PROVENANCE)

    names = [
        "a_b_c",
        "etc_passwd",
        "n_code",
        "Rate_Hz",
        "V_m",
        "figure-6",
        "figure-7",
        "x",
        "X-2",
        "x-3",
        "figure-6-2",
        "L" * 100,
    ]
    assert written == [tmp_path / "png" / f"{name}.png" for name in names]
    assert files(tmp_path) == {f"png/{name}.png" for name in names}


def test_provenance_round_trips_in_every_format(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1])

    written = save_figures([fig], tmp_path, ["svg", "pdf", "png", "pdf"], PROVENANCE)

    assert written == [tmp_path / fmt / f"figure-1.{fmt}" for fmt in ("svg", "pdf", "png")]
    for path in written:
        assert read_provenance(path) == PROVENANCE, path


def test_read_provenance_refuses_other_files(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    plain = tmp_path / "plain.png"
    Figure(figsize=(1, 1)).savefig(plain)
    (tmp_path / "notes.txt").write_text("x\n")
    with pytest.raises(UserError, match=r"plain\.png: holds no simwarden provenance$"):
        read_provenance(plain)
    with pytest.raises(UserError, match=r"'\.txt': can read provenance from \.png, \.pdf and"):
        read_provenance(tmp_path / "notes.txt")
    with pytest.raises(UserError, match="No such file"):
        read_provenance(tmp_path / "missing.svg")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["png", "pdf", "svg"], ("png", "pdf", "svg")),
        (("SVG", "png", "svg"), ("svg", "png")),
        ("png, pdf", ("png", "pdf")),
        ([], ()),
        ("", ()),
    ],
)
def test_check_formats_accepts(value: object, expected: tuple[str, ...]) -> None:
    assert check_formats(value, "config/config.yaml: figures.formats") == expected


@pytest.mark.parametrize(
    ("value", "shown_value"),
    [
        (["png", "jpg"], "unknown format 'jpg' in figure formats ['png', 'jpg']"),
        ("png;pdf", "unknown format 'png;pdf' in figure formats 'png;pdf'"),
        ([1], "unknown format 1 in figure formats [1]"),
        (None, "figure formats None"),
        ({"png": True}, "figure formats {'png': True}"),
    ],
)
def test_check_formats_refuses(value: object, shown_value: str) -> None:
    with pytest.raises(UserError) as caught:
        check_formats(value, "config/config.yaml: figures.formats")
    assert str(caught.value) == (
        f"config/config.yaml: figures.formats: {shown_value}: accepted: png, pdf, svg as a "
        "list, e.g. [png, pdf] (an empty list saves no figures)"
    )


def test_autosave_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = autosave_env("results/figures/r1", ("pdf",), {"run": "r1"}, f"/a{os.pathsep}{HOOK_DIR}")
    assert env == {
        "PYTHONPATH": f"{HOOK_DIR}{os.pathsep}/a",
        "MPLBACKEND": "Agg",
        "SIMWARDEN_FIGURES_DIR": str(tmp_path / "results/figures/r1"),
        "SIMWARDEN_FIGURE_FORMATS": "pdf",
        "SIMWARDEN_SAVE_FIGURES": "1",
        "SIMWARDEN_SHOW_FIGURES": "0",
        "SIMWARDEN_FIGURES_PROVENANCE": '{"run":"r1"}',
    }
    off = autosave_env(tmp_path, [], {}, "")
    assert (off["PYTHONPATH"], off["SIMWARDEN_SAVE_FIGURES"]) == (str(HOOK_DIR), "0")
    with pytest.raises(UserError, match="unknown format 'gif'"):
        autosave_env(tmp_path, ["gif"], {})


def test_cli_prints_pythonpath_and_provenance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from matplotlib.figure import Figure

    monkeypatch.setenv("PYTHONPATH", "/x")
    assert main(["--print-pythonpath"]) == 0
    assert capsys.readouterr().out == f"{HOOK_DIR}{os.pathsep}/x\n"
    [path] = save_figures([Figure(figsize=(1, 1))], tmp_path, ["png"], {"run": "r1"})
    assert main(["--provenance", str(path), str(tmp_path / "none.png")]) == 125
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"file": str(path), "provenance": {"run": "r1"}}
    assert captured.err.startswith("simwarden: reading figure provenance: ")
    assert captured.err.count("\n") == 1


def test_figures_command_exits_125_for_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert simwarden_main(["figures"]) == 125
    assert capsys.readouterr().err == (
        "simwarden: one of the arguments --print-pythonpath --provenance is required "
        "(see: simwarden figures --help)\n"
    )
    assert simwarden_main(["figures", "--provenance", "a.gif"]) == 125
    assert capsys.readouterr().err == (
        "simwarden: reading figure provenance: a.gif: '.gif': can read provenance from .png, "
        ".pdf and .svg only\n"
    )


def test_the_hook_spells_the_run_context_as_the_record_defines_it(tmp_path: Path) -> None:
    """The stdlib-only hook cannot import simwarden, so it spells the context keys itself."""
    impl = load_impl()
    assert RunContext.field_names() == impl.CONTEXT_KEYS
    by_hand = impl.hand_provenance(str(tmp_path), None)
    assert list(by_hand) == [*impl.CONTEXT_KEYS, "script"]
