"""The shipped demo bundle: released commits frozen, the newest built from examples/demo_sim/."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SOURCES = EXAMPLES / "demo_sim"
BUNDLE = EXAMPLES / "demo-sim.bundle"
BUILDER = EXAMPLES / "build_bundle.py"
TIMEOUT = 60
REFS = {"HEAD", "refs/heads/main", *(f"refs/tags/v0.{n}" for n in (1, 2, 3, 4))}
# Released commits: these SHAs must never change (workflows and users pin them).
V01 = "b37f8a68b1f9f330cb9da370a4439b1f22af10de"
V02 = "71d87757eadd7abef2e0c38caada0572f4f7ad3a"
V03 = "9777f8893e520d1555b5eb4e04400beb9c67ce16"
CHANGELOG_02 = (
    b"# Changelog\n\n- 0.2: add this changelog; the model and its output are unchanged from 0.1.\n"
)
IDENTITY = "simwarden demo|demo@simwarden.invalid"


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_bundle", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def git(*args: str, cwd: Path) -> str:
    """Run git without user/system config; fail with its output if it fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    done = subprocess.run(
        ["git", "-c", "core.autocrlf=false", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"git {args} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout.strip()


def tree_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative POSIX path, skipping .git and Python caches."""
    files: dict[str, bytes] = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if {".git", "__pycache__"} & set(rel.parts) or path.suffix == ".pyc":
            continue
        if path.is_file():
            files[rel.as_posix()] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("clone") / "demo_sim"
    git("clone", "-q", str(BUNDLE), str(target), cwd=target.parent)
    return target


def test_check_mode_reports_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(BUILDER), "--check"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("demo-sim.bundle is up to date: HEAD "), done.stdout
    assert done.stderr == ""


def test_shipped_heads_equal_fresh_rebuild(tmp_path: Path, builder: ModuleType) -> None:
    rebuilt = tmp_path / "rebuilt.bundle"
    refs = builder.build_bundle(rebuilt)
    shipped = builder.list_heads(BUNDLE)
    assert set(shipped) == REFS
    assert builder.list_heads(rebuilt) == shipped
    assert refs == {ref: sha for ref, sha in shipped.items() if ref != "HEAD"}
    assert shipped["HEAD"] == shipped["refs/heads/main"] == shipped["refs/tags/v0.4"]
    released = (shipped["refs/tags/v0.1"], shipped["refs/tags/v0.2"], shipped["refs/tags/v0.3"])
    assert released == (V01, V02, V03)
    assert shipped["refs/tags/v0.4"] not in released
    assert builder.FROZEN == (("v0.1", V01), ("v0.2", V02), ("v0.3", V03))
    assert builder.check() == []


def test_check_names_stale_refs(tmp_path: Path, builder: ModuleType) -> None:
    changed = tmp_path / "demo_sim"
    for rel, content in tree_files(SOURCES).items():
        (changed / rel).parent.mkdir(parents=True, exist_ok=True)
        (changed / rel).write_bytes(content)
    (changed / "README.md").write_bytes((SOURCES / "README.md").read_bytes() + b"\nedited\n")
    diffs = builder.check(BUNDLE, changed)
    # Only the newest release is built from the sources; the released ones stay as they are.
    assert [line.split(":")[0] for line in diffs] == ["HEAD", "refs/heads/main", "refs/tags/v0.4"]
    assert builder.check(tmp_path / "missing.bundle") == [
        f"{tmp_path / 'missing.bundle'} does not exist"
    ]


def test_released_commits_come_only_from_a_history_that_has_them(
    tmp_path: Path, builder: ModuleType, clone: Path
) -> None:
    missing = tmp_path / "missing.bundle"
    with pytest.raises(SystemExit, match=r"missing\.bundle: not found; the released commits"):
        builder.build_bundle(tmp_path / "out.bundle", history=missing)

    # A history whose v0.2 tag points at another commit is refused, naming tag and SHAs.
    work = tmp_path / "tampered"
    git("clone", "-q", str(clone), str(work), cwd=tmp_path)
    git("tag", "-f", "v0.2", "v0.1", cwd=work)
    tampered = tmp_path / "tampered.bundle"
    git("bundle", "create", "-q", str(tampered), "--tags", cwd=work)
    with pytest.raises(SystemExit) as raised:
        builder.build_bundle(tmp_path / "out.bundle", history=tampered)
    assert str(raised.value) == (
        f"{tampered}: tag v0.2 is {V01}, but the release is {V02}; restore the shipped bundle "
        "from version control (released commits never change)"
    )
    assert not (tmp_path / "out.bundle").exists()


def test_bundle_verifies_and_is_small(tmp_path: Path) -> None:
    git("init", "-q", str(tmp_path), cwd=tmp_path)
    git("bundle", "verify", "-q", str(BUNDLE), cwd=tmp_path)
    assert BUNDLE.stat().st_size < 100_000


def test_clone_equals_sources_byte_for_byte(clone: Path) -> None:
    expected = tree_files(SOURCES)
    expected["VERSION"] = b"0.4\n"
    changelog = (clone / "CHANGELOG.md").read_bytes()
    assert changelog.startswith(b"# Changelog\n\n- 0.4: report the steps done ")
    assert b"\n- 0.3: time the phases " in changelog
    assert changelog.endswith(CHANGELOG_02.removeprefix(b"# Changelog\n\n"))
    expected["CHANGELOG.md"] = changelog
    got = tree_files(clone)
    assert sorted(got) == sorted(expected)
    for rel, content in expected.items():
        assert got[rel] == content, rel
    modes = {line.split()[0] for line in git("ls-files", "-s", cwd=clone).splitlines()}
    assert modes == {"100644"}


def test_history_and_older_releases_offline(clone: Path) -> None:
    parents = git("rev-parse", "v0.4^", "v0.3^", "v0.2^", cwd=clone).splitlines()
    assert parents == [V03, V02, V01]
    log = git("log", "--format=%an|%ae|%cn|%ce|%at|%ct", "v0.4", cwd=clone).splitlines()
    assert log == [
        f"{IDENTITY}|{IDENTITY}|1711929600|1711929600",
        f"{IDENTITY}|{IDENTITY}|1709251200|1709251200",
        f"{IDENTITY}|{IDENTITY}|1706745600|1706745600",
        f"{IDENTITY}|{IDENTITY}|1704067200|1704067200",
    ]
    sources = tree_files(SOURCES)
    try:
        git("checkout", "-q", "v0.1", cwd=clone)
        assert git("rev-parse", "HEAD", cwd=clone) == V01
        v01 = tree_files(clone)
        git("checkout", "-q", "v0.2", cwd=clone)
        v02 = tree_files(clone)
        git("checkout", "-q", "v0.3", cwd=clone)
        v03 = tree_files(clone)
    finally:
        git("checkout", "-q", "main", cwd=clone)
    assert sorted(v01) == sorted({*sources, "VERSION"})
    assert v01["VERSION"] == b"0.1\n"
    # The releases before 0.3 still save their figures themselves and have no timers.
    assert b"fig.savefig(" in v01["simulate.py"] and b"Timers" not in v01["simulate.py"]
    assert v02 == {**v01, "VERSION": b"0.2\n", "CHANGELOG.md": CHANGELOG_02}
    # 0.3 has timers but does not report its progress yet; 0.4 does.
    assert b"Timers" in v03["simulate.py"] and b"report_progress" not in v03["simulate.py"]
    assert b"report_progress(k, steps)" in sources["simulate.py"]
    assert v03["VERSION"] == b"0.3\n"
    unchanged = {"schema.json", "params/default.json", "params/big.json"}
    assert {rel for rel in sources if v01[rel] == sources[rel]} == unchanged


def test_config_pins_the_bundles_newest_commit() -> None:
    """The demo config runs tag v0.4 of the shipped bundle, by its full SHA."""
    import yaml

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    heads = subprocess.run(
        ["git", "bundle", "list-heads", str(ROOT / "examples" / "demo-sim.bundle")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{config['commit']} refs/tags/v0.4" in heads
    assert config["repository"] == "examples/demo-sim.bundle"
