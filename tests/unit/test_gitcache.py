"""Tests for simwarden.pipeline.gitcache against real git repositories and bundles made in
tmp_path."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from simwarden.core.errors import UserError
from simwarden.pipeline import gitcache
from simwarden.pipeline.codefile import read_code_file
from simwarden.pipeline.gitcache import (
    Provenance,
    check_repo_url,
    fetch,
    provenance_of,
    strip_credentials,
)
from tests.conftest import GIT_FIXED

TIMEOUT_S = 60
GIT_ENV = GIT_FIXED


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, **GIT_ENV, "HOME": str(cwd)}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    assert done.returncode == 0, f"git {args}: {done.stderr}"
    return done.stdout.strip()


def commit(repo: Path, name: str, text: str) -> str:
    (repo / name).write_text(text)
    git("add", "--", name, cwd=repo)
    git("commit", "-q", "-m", f"add {name}", cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo)


@pytest.fixture
def repo(tmp_path: Path) -> dict[str, object]:
    """A repository with two commits on main, tag v1 on the first, and a branch 'dev'."""
    path = tmp_path / "sim"
    path.mkdir()
    git("init", "-q", "-b", "main", cwd=path)
    first = commit(path, "model.py", "print('v1')\n")
    git("tag", "-a", "v1", "-m", "version 1", cwd=path)
    second = commit(path, "model.py", "print('v2')\n")
    git("branch", "dev", first, cwd=path)
    return {"path": path, "first": first, "second": second}


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def quiet(msg: str) -> None:
    pass


def checkout_entries(cache: Path) -> list[str]:
    folder = cache / "checkouts"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_no_temp_dirs(cache: Path) -> None:
    for sub in ("mirrors", "checkouts"):
        if (cache / sub).exists():
            assert [p.name for p in (cache / sub).iterdir() if p.name.startswith(".tmp")] == []
    for name in checkout_entries(cache):
        assert re.fullmatch(r"sim-[0-9a-f]{12}@[0-9a-f]{40}", name), name


@pytest.mark.parametrize(
    ("ref", "which", "recorded"),
    [
        ("main", "second", "main"),
        ("dev", "first", "dev"),
        ("v1", "first", "v1"),
        ("full", "first", None),
        ("short", "second", "short"),
    ],
)
def test_fetch_by_ref(repo: dict, cache: Path, ref: str, which: str, recorded: str | None) -> None:
    sha = str(repo[which])
    ref = {"full": sha, "short": sha[:8]}.get(ref, ref)
    recorded = ref if recorded == "short" else recorded
    prov = fetch(str(repo["path"]), ref, cache, log=quiet)
    path = Path(prov.path)
    assert prov == Provenance(str(repo["path"]), sha, recorded, False, prov.path)
    assert path == cache / "checkouts" / f"{path.name.split('@')[0]}@{sha}"
    expected = "print('v1')\n" if which == "first" else "print('v2')\n"
    assert (path / "model.py").read_text() == expected
    on_disk = json.loads((path / gitcache.PROVENANCE_FILE).read_text())
    assert on_disk == prov.to_dict()
    assert provenance_of(path) == prov
    assert git("rev-parse", "HEAD", cwd=path) == sha
    assert git("status", "--porcelain", cwd=path) == ""


def test_fetch_from_file_url_and_bundle(repo: dict, cache: Path, tmp_path: Path) -> None:
    url = f"file://{repo['path']}"
    prov = fetch(url, "main", cache, log=quiet)
    assert (prov.url, prov.commit) == (url, repo["second"])
    bundle = tmp_path / "sim.bundle"
    git("bundle", "create", str(bundle), "--all", cwd=repo["path"])
    prov = fetch(str(bundle), "v1", cache, log=quiet)
    assert (prov.url, prov.commit, prov.ref) == (str(bundle), repo["first"], "v1")
    assert (Path(prov.path) / "model.py").read_text() == "print('v1')\n"
    assert len(list((cache / "mirrors").iterdir())) == 2  # one mirror per URL


def test_relative_path_is_made_absolute(repo: dict, cache: Path, monkeypatch) -> None:
    monkeypatch.chdir(repo["path"].parent)
    prov = fetch("sim", "main", cache, log=quiet)
    assert prov.url == str(repo["path"])


def test_log_lines_and_cached_sha_needs_no_source(repo: dict, cache: Path) -> None:
    src, first, second = str(repo["path"]), str(repo["first"]), str(repo["second"])
    lines: list[str] = []
    fetch(src, "main", cache, log=lines.append)
    assert lines == [f"Cloning {src}", f"Checking out {second[:12]}"]
    lines.clear()
    fetch(src, "main", cache, log=lines.append)
    assert lines == [f"Fetching {src}", f"Using cached {src}@{second[:12]}"]

    shutil.rmtree(repo["path"])
    lines.clear()
    assert fetch(src, second, cache, log=lines.append).commit == second
    assert lines == [f"Using cached {src}@{second[:12]}"]
    lines.clear()  # in the mirror but not checked out yet: still no fetch
    assert fetch(src, first, cache, log=lines.append).commit == first
    assert lines == [f"Checking out {first[:12]}"]
    lines.clear()  # a branch whose fetch fails falls back to the mirror, with a warning
    assert fetch(src, "main", cache, log=lines.append).commit == second
    assert lines[0] == f"Fetching {src}"
    assert lines[1].startswith(f"Warning: cannot fetch {src} (")
    assert lines[2] == f"Using cached {src}@{second[:12]}"
    with pytest.raises(UserError, match=r"^cannot fetch .*sim: .+"):
        fetch(src, "nosuchbranch", cache, log=quiet)


def test_new_commit_gives_new_checkout_and_old_is_untouched(repo: dict, cache: Path) -> None:
    old = fetch(str(repo["path"]), "main", cache, log=quiet)
    old_files = {
        p: (p.read_bytes(), p.stat().st_mtime_ns) for p in Path(old.path).rglob("*") if p.is_file()
    }
    third = commit(repo["path"], "model.py", "print('v3')\n")
    new = fetch(str(repo["path"]), "main", cache, log=quiet)
    assert (new.commit, old.commit) == (third, repo["second"])
    assert new.path != old.path
    assert (Path(new.path) / "model.py").read_text() == "print('v3')\n"
    now = {
        p: (p.read_bytes(), p.stat().st_mtime_ns) for p in Path(old.path).rglob("*") if p.is_file()
    }
    assert now == old_files
    assert len(checkout_entries(cache)) == 2


def test_head_follows_the_repositorys_default_branch_when_it_changes(
    repo: dict, cache: Path
) -> None:
    """A lab renames its default branch (main -> master): commit HEAD is the new branch's tip,
    not the tip the cached mirror's own HEAD last pointed to."""
    path = repo["path"]
    assert fetch(str(path), "HEAD", cache, log=quiet).commit == repo["second"]
    git("checkout", "-q", "-b", "master", cwd=path)
    third = commit(path, "model.py", "print('v3')\n")
    git("branch", "-q", "-D", "main", cwd=path)
    assert fetch(str(path), "HEAD", cache, log=quiet).commit == third
    # A detached HEAD upstream (a checkout of the tag) is followed too.
    git("checkout", "-q", "--detach", "v1", cwd=path)
    assert fetch(str(path), "HEAD", cache, log=quiet).commit == repo["first"]


@pytest.mark.parametrize(("ref", "kind"), [("dev", "branch"), ("v1", "tag")])
def test_a_branch_or_tag_deleted_upstream_is_refused_not_run_at_its_cached_tip(
    repo: dict, cache: Path, ref: str, kind: str
) -> None:
    """A fetch never prunes the mirror (pinned commits must stay), so a branch merged and
    deleted in the lab's repository would still resolve to its last cached commit: refused,
    naming that commit to pin. The other refs and that commit by SHA still work."""
    path = repo["path"]
    assert fetch(str(path), ref, cache, log=quiet).commit == repo["first"]
    git(*({"branch": ["branch", "-q", "-D"], "tag": ["tag", "-d"]}[kind]), ref, cwd=path)
    with pytest.raises(UserError) as refused:
        fetch(str(path), ref, cache, log=quiet)
    short = str(repo["first"])[:12]
    assert str(refused.value) == (
        f"{kind} {ref} is no longer in {path} (deleted or renamed there); the last commit "
        f"fetched from it is {short}: give commit {short} to run that commit, or a {kind} that "
        "exists"
    )
    assert fetch(str(path), "main", cache, log=quiet).commit == repo["second"]
    assert fetch(str(path), short, cache, log=quiet).commit == repo["first"]


def test_dirty_checkout_is_reported(repo: dict, cache: Path) -> None:
    prov = fetch(str(repo["path"]), "main", cache, log=quiet)
    (Path(prov.path) / "model.py").write_text("edited\n")
    assert provenance_of(Path(prov.path)).dirty is True
    # A fetch of the same commit reuses the checkout as it is: never reset or cleaned.
    again = fetch(str(repo["path"]), str(repo["second"]), cache, log=quiet)
    assert again.dirty is True
    assert (Path(prov.path) / "model.py").read_text() == "edited\n"


def test_provenance_of_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no readable simwarden provenance"):
        provenance_of(tmp_path)


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        ("https://user:secret@example.org/x.git", "https://example.org/x.git"),
        ("https://secret@example.org:8443/x.git", "https://example.org:8443/x.git"),
        ("ssh://git:secret@example.org/x.git", "ssh://git@example.org/x.git"),
        ("ssh://git@example.org/x.git", "ssh://git@example.org/x.git"),
        ("git@example.org:org/x.git", "git@example.org:org/x.git"),
        ("/srv/repo", "/srv/repo"),
    ],
)
def test_strip_credentials(url: str, stripped: str) -> None:
    assert strip_credentials(url) == stripped


@pytest.fixture
def http_url(repo: dict, tmp_path: Path):
    """The repo as a bare repository served over git's dumb HTTP protocol on loopback."""
    served = tmp_path / "www"
    served.mkdir()
    git("clone", "-q", "--bare", str(repo["path"]), str(served / "sim.git"), cwd=tmp_path)
    git("update-server-info", cwd=served / "sim.git")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(served))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://user:secret@127.0.0.1:{server.server_address[1]}/sim.git"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=TIMEOUT_S)


def test_credentials_never_reach_provenance_or_disk(repo: dict, cache: Path, http_url: str) -> None:
    lines: list[str] = []
    prov = fetch(http_url, "main", cache, log=lines.append)
    public = http_url.replace("user:secret@", "")
    assert prov.url == public
    assert prov.commit == repo["second"]
    assert "secret" not in json.dumps(prov.to_dict()) + "".join(lines)
    assert fetch(http_url, "main", cache, log=lines.append).commit == repo["second"]
    for path in cache.rglob("*"):
        if path.is_file():
            assert b"secret" not in path.read_bytes(), path
    # A failing fetch does not echo the secret either.
    with pytest.raises(UserError) as info:
        fetch(http_url.replace("sim.git", "nope.git"), "main", cache, log=quiet)
    assert "secret" not in str(info.value)
    assert str(info.value).startswith(f"cannot fetch {public.replace('sim.git', 'nope.git')}: ")


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% {tmp}/pwned",
        "EXT::sh -c touch% {tmp}/pwned",
        "-uhelp",
        "--upload-pack=touch {tmp}/pwned",
        "fd::3",
        "",
        "   ",
        "a\nb",
        "a\0b",
        "ssh://-oProxyCommand=touch% {tmp}/pwned/x",
        "-oProxyCommand=touch {tmp}/pwned:x",
        "gopher://example.org/x",
        "{tmp}/does-not-exist",
    ],
)
def test_refused_urls(url: str, cache: Path, tmp_path: Path) -> None:
    url = url.format(tmp=tmp_path)
    with pytest.raises(UserError, match=r"is refused: .*; accepted: https://") as info:
        fetch(url, "main", cache, log=quiet)
    assert "\n" not in str(info.value)
    with pytest.raises(UserError):
        check_repo_url(url)
    assert not (tmp_path / "pwned").exists()
    assert not (cache / "mirrors").exists()


@pytest.mark.parametrize("ref", ["", "-uhelp", "--upload-pack=x", "a b", "a\nb"])
def test_refused_refs(repo: dict, cache: Path, ref: str) -> None:
    with pytest.raises(UserError, match="is refused; give a branch, tag or commit SHA"):
        fetch(str(repo["path"]), ref, cache, log=quiet)


def test_accepted_urls(tmp_path: Path) -> None:
    for url in (
        "https://h/x.git",
        "http://h/x",
        "ssh://git@h/x",
        "git://h/x",
        "file:///srv/x",
        "git@github.com:org/x.git",
        "host:x.git",
    ):
        assert check_repo_url(url) == url
    bundle = tmp_path / "x.bundle"
    bundle.write_bytes(b"")
    assert check_repo_url(str(bundle)) == str(bundle)
    with pytest.raises(UserError, match="no such directory or .bundle file"):
        check_repo_url(str(tmp_path / "x.txt"))


def test_unknown_ref_and_missing_repo_leave_nothing_behind(repo: dict, cache: Path) -> None:
    src = str(repo["path"])
    with pytest.raises(UserError) as info:
        fetch(src, "nosuch", cache, log=quiet)
    assert str(info.value) == (
        f"commit nosuch not found in {src}; known branches: dev, main; tags: v1; "
        "check the ref, or push the commit"
    )
    with pytest.raises(UserError, match=f"commit {'0' * 40} not found"):
        fetch(src, "0" * 40, cache, log=quiet)
    with pytest.raises(
        UserError,
        match="^cannot fetch file:///nonexistent/x.git: '/nonexistent/x.git' does not "
        "appear to be a git repository$",
    ):
        fetch("file:///nonexistent/x.git", "main", cache, log=quiet)
    assert checkout_entries(cache) == []
    assert_no_temp_dirs(cache)
    assert [p.name for p in (cache / "mirrors").iterdir()] == [gitcache.cache_key(src) + ".git"]


def test_stale_temp_dirs_are_cleared(repo: dict, cache: Path) -> None:
    key = gitcache.cache_key(str(repo["path"]))
    stale = cache / "checkouts" / f".tmp-{key}-dead"
    stale.mkdir(parents=True)
    fetch(str(repo["path"]), "main", cache, log=quiet)
    assert not stale.exists()
    assert_no_temp_dirs(cache)


def test_default_cache_dir(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SIMWARDEN_CACHE_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))
    assert gitcache.default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("SIMWARDEN_CACHE_DIR")
    assert gitcache.default_cache_dir() == tmp_path / "b" / "simwarden"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert gitcache.default_cache_dir() == tmp_path / "home" / ".cache" / "simwarden"


def test_env_cache_dir_is_used(repo: dict, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SIMWARDEN_CACHE_DIR", str(tmp_path / "envcache"))
    prov = fetch(str(repo["path"]), "v1", log=quiet)
    assert Path(prov.path).parent == tmp_path / "envcache" / "checkouts"


CHILD = """
import json, sys
from pathlib import Path
from simwarden.pipeline.gitcache import fetch
print("ready", flush=True)
sys.stdin.readline()  # wait for the parent's "go", so both fetch at once
lines = []
prov = fetch(sys.argv[1], "main", Path(sys.argv[2]), log=lines.append)
print(json.dumps({"prov": prov.to_dict(), "log": lines}), flush=True)
"""


def test_two_processes_fetch_at_once(repo: dict, cache: Path) -> None:
    src_dir = Path(gitcache.__file__).parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src_dir), os.environ.get("PYTHONPATH", "")]),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(repo["path"]), str(cache)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline() == "ready\n", proc.stderr.read()
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [proc.communicate(timeout=TIMEOUT_S) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=TIMEOUT_S)
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    first, second = (json.loads(out) for out, _ in results)
    assert first["prov"] == second["prov"]
    assert first["prov"]["commit"] == repo["second"]
    # The lock lets exactly one of them clone and check out; the other reuses both.
    logs = sorted(first["log"] + second["log"])
    assert [m.split()[0] for m in logs] == ["Checking", "Cloning", "Fetching", "Using"], logs
    mirror = cache / "mirrors" / f"{gitcache.cache_key(str(repo['path']))}.git"
    git("fsck", "--strict", cwd=mirror)
    assert len(checkout_entries(cache)) == 1
    assert_no_temp_dirs(cache)


def test_a_code_file_whose_checkout_left_the_cache_says_how_to_fetch_it_again(
    tmp_path: Path,
) -> None:
    checkout = tmp_path / "cache" / "checkouts" / "lab@abc"
    checkout.mkdir(parents=True)
    code_file = tmp_path / "lab@master.json"
    code_file.write_text(json.dumps({"url": "/lab", "commit": "abc", "path": str(checkout)}))
    assert read_code_file(code_file)["path"] == str(checkout)
    checkout.rmdir()
    with pytest.raises(UserError) as caught:
        read_code_file(code_file)
    assert str(caught.value) == (
        f"{code_file}: its checkout {str(checkout)!r} is gone from the cache (was the cache "
        f"cleared?); fetch it again: snakemake --forcerun {code_file} with your profile"
    )
