"""The shipped demo bundle is a reproducible build of examples/demo_sim/."""

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
REFS = {"HEAD", "refs/heads/main", "refs/tags/v0.1", "refs/tags/v0.2"}
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
    assert shipped["HEAD"] == shipped["refs/heads/main"] == shipped["refs/tags/v0.2"]
    assert shipped["refs/tags/v0.1"] != shipped["refs/tags/v0.2"]
    assert builder.check() == []


def test_check_names_stale_refs(tmp_path: Path, builder: ModuleType) -> None:
    changed = tmp_path / "demo_sim"
    for rel, content in tree_files(SOURCES).items():
        (changed / rel).parent.mkdir(parents=True, exist_ok=True)
        (changed / rel).write_bytes(content)
    (changed / "README.md").write_bytes((SOURCES / "README.md").read_bytes() + b"\nedited\n")
    diffs = builder.check(BUNDLE, changed)
    assert [line.split(":")[0] for line in diffs] == [
        "HEAD",
        "refs/heads/main",
        "refs/tags/v0.1",
        "refs/tags/v0.2",
    ]
    assert builder.check(tmp_path / "missing.bundle") == [
        f"{tmp_path / 'missing.bundle'} does not exist"
    ]


def test_bundle_verifies_and_is_small(tmp_path: Path) -> None:
    git("init", "-q", str(tmp_path), cwd=tmp_path)
    git("bundle", "verify", "-q", str(BUNDLE), cwd=tmp_path)
    assert BUNDLE.stat().st_size < 100_000


def test_clone_equals_sources_byte_for_byte(clone: Path) -> None:
    expected = tree_files(SOURCES)
    expected["VERSION"] = b"0.2\n"
    expected["CHANGELOG.md"] = (
        b"# Changelog\n\n"
        b"- 0.2: add this changelog; the model and its output are unchanged from 0.1.\n"
    )
    got = tree_files(clone)
    assert sorted(got) == sorted(expected)
    for rel, content in expected.items():
        assert got[rel] == content, rel
    modes = {line.split()[0] for line in git("ls-files", "-s", cwd=clone).splitlines()}
    assert modes == {"100644"}


def test_switch_to_v0_1_offline(clone: Path, builder: ModuleType) -> None:
    heads = builder.list_heads(BUNDLE)
    assert git("rev-parse", "v0.2^", cwd=clone) == heads["refs/tags/v0.1"]
    log = git("log", "--format=%an|%ae|%cn|%ce|%at|%ct", "v0.2", cwd=clone).splitlines()
    assert log == [
        f"{IDENTITY}|{IDENTITY}|1706745600|1706745600",
        f"{IDENTITY}|{IDENTITY}|1704067200|1704067200",
    ]
    try:
        git("checkout", "-q", "v0.1", cwd=clone)
        assert git("rev-parse", "HEAD", cwd=clone) == heads["refs/tags/v0.1"]
        got = tree_files(clone)
        assert got == {**tree_files(SOURCES), "VERSION": b"0.1\n"}
    finally:
        git("checkout", "-q", "main", cwd=clone)


def test_config_pins_the_bundles_v02_commit():
    """The demo config runs tag v0.2 of the shipped bundle, by its full SHA."""
    import yaml

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    heads = subprocess.run(
        ["git", "bundle", "list-heads", str(ROOT / "examples" / "demo-sim.bundle")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{config['commit']} refs/tags/v0.2" in heads
    assert config["repository"] == "examples/demo-sim.bundle"
