"""A repository at a pinned commit, from a shared, locked, never-destructive cache.

Layout under the cache directory (see :func:`default_cache_dir`)::

    mirrors/<slug>-<hash12>.git            bare mirror, one per repository URL
    checkouts/<slug>-<hash12>@<sha40>/     one checkout per commit, never modified once made
    locks/<slug>-<hash12>.lock             serialises mirror and checkout creation per repository
    diffs/<sha256>.diff                    uncommitted changes of a local source, once per content

Mirrors and checkouts are built in ``.tmp-*`` directories next to their final place and renamed
into place, so a directory at a final path is always complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from simwarden.core.errors import UserError
from simwarden.core.log import say

PROVENANCE_FILE = ".simwarden-provenance.json"
_SCHEMES = ("https", "http", "ssh", "git", "file", "git+ssh", "ssh+git")
_ACCEPTED = (
    "accepted: https://, http://, ssh://, git://, file:// URLs, user@host:path, "
    "a local directory or a local .bundle file"
)
# Every git call that may talk to a remote refuses the command-running transports.
_SAFE = ["-c", "protocol.ext.allow=never", "-c", "protocol.fd.allow=never"]
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_SHORT_SHA = re.compile(r"[0-9a-f]{4,39}")

Log = Callable[[str], None]


@dataclass(frozen=True)
class Provenance:
    """Where a checkout's code came from.

    ``ref`` is None when the user named a full SHA; ``dirty`` is True when the files differ from
    ``commit`` (tracked changes or untracked files, except the provenance file itself).
    ``source_diff_sha256``: for a local-directory source with uncommitted changes, the hash of
    its diff (see :func:`source_diff`); the checkout is still ``commit``, not the dirty tree.
    """

    url: str
    commit: str
    ref: str | None
    dirty: bool
    path: str
    source_diff_sha256: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class _GitFailed(Exception):
    """A git command exited non-zero; ``str()`` is git's one-line reason."""


def default_cache_dir() -> Path:
    """``$SIMWARDEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/simwarden``, else ``~/.cache/simwarden``.

    Empty variables count as unset.
    """
    if os.environ.get("SIMWARDEN_CACHE_DIR"):
        return Path(os.environ["SIMWARDEN_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "simwarden"
    return Path.home() / ".cache" / "simwarden"


def _refuse(url: str, why: str) -> UserError:
    return UserError(f"repository {url!r} is refused: {why}; {_ACCEPTED}")


def check_url_syntax(url: str) -> str | None:
    """Return ``url`` if it is a URL or scp-like address git may use, None for a local path.

    Needs no network and no file: what makes a value unusable whatever exists (empty, control
    characters, a leading ``-``, transport helpers ``<name>::``, unknown schemes, a host starting
    with ``-``) raises UserError. Whether a local path exists is not checked here.
    """
    if not isinstance(url, str) or not url.strip():
        raise _refuse(str(url), "it is empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise _refuse(url, "it contains a newline or control character")
    if url.startswith("-"):
        raise _refuse(url, "it starts with '-'")
    if re.match(r"[A-Za-z0-9][A-Za-z0-9+.\-]*::", url):
        raise _refuse(url, "git transport helpers ('<name>::') can run commands")
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*)://", url)
    if scheme:
        if scheme.group(1).lower() not in _SCHEMES:
            raise _refuse(url, f"unknown scheme {scheme.group(1)!r}")
        if urlsplit(url).netloc.rpartition("@")[2].startswith("-"):
            raise _refuse(url, "the host starts with '-'")
        return url
    host = url.split("/", 1)[0].rpartition("@")[2]
    if ":" in host and not os.path.exists(url):  # scp-like user@host:path, as git reads it
        if host.startswith((":", "-")):
            raise _refuse(url, "the host is empty or starts with '-'")
        return url
    return None


def check_repo_url(url: str) -> str:
    """Return ``url`` normalised (local paths made absolute), or raise UserError.

    Refused: empty values, control characters, a leading ``-`` (option injection), git's
    transport-helper syntax ``<word>::…`` (``ext::`` runs commands, ``fd::`` uses descriptors),
    unknown URL schemes, hosts starting with ``-``, and local paths that are neither a
    directory nor a ``.bundle`` file.
    """
    if (remote := check_url_syntax(url)) is not None:
        return remote
    path = Path(url).expanduser().absolute()
    if path.is_dir() or (path.is_file() and path.suffix == ".bundle"):
        return str(path)
    raise _refuse(url, "no such directory or .bundle file")


def check_ref(ref: str) -> str:
    """Return ``ref`` if git may be given it as a branch, tag or commit, else raise UserError.

    Refused without the network: empty values, a leading ``-`` (option injection), whitespace
    and control characters.
    """
    if not ref or ref.startswith("-") or any(c.isspace() or ord(c) < 32 for c in ref):
        raise UserError(f"ref {ref!r} is refused; give a branch, tag or commit SHA")
    return ref


def strip_credentials(url: str) -> str:
    """Drop the password from a URL, and for http(s) also the user name (often a token).

    ``ssh://git@host/x`` keeps ``git@``; scp-like and local paths are returned unchanged.
    """
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    user, _, host = parts.netloc.rpartition("@")
    keep = "" if parts.scheme.lower() in ("http", "https") else user.split(":")[0]
    return urlunsplit(parts._replace(netloc=f"{keep}@{host}" if keep else host))


def cache_key(url: str) -> str:
    """The name of ``url``'s mirror, lock and checkouts in the cache: a readable slug of the
    repository name and 12 hex digits of the URL's SHA-256."""
    name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    name = re.sub(r"\.(git|bundle)$", "", name)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:40] or "repo"
    return f"{slug}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def _git(*args: str, cwd: Path | None = None) -> str:
    """Run git without prompts; return stdout, or raise _GitFailed with git's reason."""
    try:
        import git
    except ImportError as exc:  # GitPython raises this when no git executable is found
        raise UserError(f"git is not usable ({exc}); install git and retry") from exc
    # GIT_OPTIONAL_LOCKS=0: `git status` must not rewrite the index of a shared checkout.
    env = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "GIT_OPTIONAL_LOCKS": "0"}
    if not os.environ.get("GIT_SSH_COMMAND") and not os.environ.get("GIT_SSH"):
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    status, out, err = git.Git(str(cwd) if cwd else None).execute(
        ["git", *args], with_extended_output=True, with_exceptions=False, env=env
    )
    if status != 0:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        # git's first fatal/error line is the specific one; later lines are generic advice.
        main = [ln.split(": ", 1)[1] for ln in lines if ln.startswith(("fatal: ", "error: "))]
        last = (main or lines or [f"git {args[0]} exited with {status}"])[0 if main else -1]
        raise _GitFailed(re.sub(r"(\w://)[^/@\s']+@", r"\1", last))  # no credentials in errors
    return str(out)


def _resolve(mirror: Path, ref: str) -> str | None:
    try:
        return _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=mirror).strip()
    except _GitFailed:
        return None


def _is_dirty(path: Path, commit: str) -> bool:
    try:
        head = _git("rev-parse", "HEAD", cwd=path).strip()
        return head != commit or bool(_git("status", "--porcelain", cwd=path).strip())
    except _GitFailed:
        return True


def _clear_stale(parent: Path, key: str) -> None:
    # Called under the repository lock, so no live process is building these.
    for tmp in parent.glob(f".tmp-{key}-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def _build(parent: Path, key: str, final: Path, make: Callable[[Path], None]) -> None:
    """Run ``make(tmpdir)`` and rename the result to ``final``; remove the temp dir on failure."""
    parent.mkdir(parents=True, exist_ok=True)
    _clear_stale(parent, key)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=parent))
    try:
        make(tmp)
        os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _not_found(mirror: Path, ref: str, url: str) -> UserError:
    def names(kind: str) -> str:
        out = _git("for-each-ref", "--format=%(refname:short)", f"refs/{kind}/", cwd=mirror)
        found = out.split()
        return ", ".join(found[:8]) + (", …" if len(found) > 8 else "") if found else "none"

    return UserError(
        f"commit {ref} not found in {url}; known branches: {names('heads')}; "
        f"tags: {names('tags')}; check the ref, or push the commit"
    )


def _update_mirror(mirror: Path, url: str, ref: str, shown: str, log: Log) -> None:
    """Fetch all refs into ``mirror``; keep the cached copy when the fetch fails but ``ref``
    still resolves there. Never prunes, so pinned commits stay available."""
    log(f"Fetching {shown}")
    try:
        _git(*_SAFE, "fetch", "--quiet", "--", url, "+refs/*:refs/*", cwd=mirror)
        if ref == "HEAD":
            _follow_remote_head(mirror, url)
        else:
            _refuse_vanished_ref(mirror, url, ref, shown)
    except _GitFailed as exc:
        if _resolve(mirror, ref) is None:
            raise UserError(f"cannot fetch {shown}: {exc}") from None
        log(f"Warning: cannot fetch {shown} ({exc}); using the cached {ref}")


def _refuse_vanished_ref(mirror: Path, url: str, ref: str, shown: str) -> None:
    """Raise UserError when ``ref`` names a branch or tag the mirror holds from an earlier
    fetch but the repository no longer has (deleted or renamed there): since a fetch never
    prunes, it would otherwise resolve, with no word, to the last commit cached. A ref the
    mirror does not hold as a branch or tag (a SHA, an unknown name) is left to the caller."""
    held = [
        name
        for name in (f"refs/heads/{ref}", f"refs/tags/{ref}")
        if _git("for-each-ref", "--format=%(refname)", name, cwd=mirror).split() == [name]
    ]
    if not held:
        return
    listed = _git(*_SAFE, "ls-remote", "--", url, *held, cwd=mirror).splitlines()
    if {line.partition("\t")[2] for line in listed} & set(held):
        return
    kind = "branch" if held[0].startswith("refs/heads/") else "tag"
    last = (_resolve(mirror, ref) or "")[:12]
    raise UserError(
        f"{kind} {ref} is no longer in {shown} (deleted or renamed there); the last commit "
        f"fetched from it is {last}: give commit {last} to run that commit, or a {kind} that exists"
    )


def _follow_remote_head(mirror: Path, url: str) -> None:
    """Point the mirror's own HEAD where the repository's points now: a fetch of refs/* leaves
    it on the branch it named at the clone, which may since have been renamed (main -> master)
    or left for a detached commit. A repository that names no HEAD keeps the mirror's."""
    for line in _git(*_SAFE, "ls-remote", "--symref", "--", url, "HEAD", cwd=mirror).splitlines():
        target, _, name = line.partition("\t")
        if name == "HEAD" and target.startswith("ref: "):
            _git("symbolic-ref", "HEAD", target.removeprefix("ref: "), cwd=mirror)
            return
        if name == "HEAD" and _FULL_SHA.fullmatch(target):
            _git(*_SAFE, "fetch", "--quiet", "--", url, "HEAD", cwd=mirror)  # the commit itself
            _git("update-ref", "--no-deref", "HEAD", target, cwd=mirror)
            return


def fetch(
    url: str,
    ref: str,
    cache_dir: Path | None = None,
    *,
    lock_timeout_s: float = 600,
    log: Log = say,
) -> Provenance:
    """Return the checkout of ``url`` at ``ref`` (branch, tag, full or short SHA) from the cache.

    A full SHA whose checkout exists, or that the mirror already holds, needs no network.
    Branches and tags are fetched first; if that fails and the mirror resolves the ref, a
    warning is logged and the cached commit is used. Raises UserError for refused URLs or refs,
    unreachable repositories, unknown refs, a branch or tag the repository no longer has (its
    last cached commit named), and a lock held longer than ``lock_timeout_s``.
    A local-directory source with uncommitted changes is said in the log and its diff kept
    (:func:`source_diff`, ``source_diff_sha256`` of the result).
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    provenance = _fetch_checkout(url, ref, cache, lock_timeout_s, log)
    source = Path(url).expanduser()
    if check_url_syntax(url) is None and source.is_dir():
        digest = source_diff(source, cache, provenance.commit, log)
        provenance = replace(provenance, source_diff_sha256=digest)
    return provenance


def source_diff(source: Path, cache: Path, commit: str, log: Log = say) -> str | None:
    """The sha256 of the uncommitted changes of the local repository ``source``: ``git diff
    HEAD --binary`` followed by one ``untracked: <path>`` line per untracked file (ignored
    files do not count); None when there are none. The diff is kept once per hash as
    ``<cache>/diffs/<sha256>.diff``. A dirty source is one line in the log (the run uses
    ``commit``, not the dirty files); a source whose state git cannot tell is one warning line
    and None."""
    shown = str(source.absolute())
    try:
        diff = _git("diff", "HEAD", "--binary", cwd=source)
        untracked = _git("ls-files", "--others", "--exclude-standard", "-z", cwd=source)
    except _GitFailed as exc:
        log(f"Warning: cannot tell whether {shown} has uncommitted changes ({exc})")
        return None
    names = [name for name in untracked.split("\0") if name]
    text = (diff + "\n" if diff else "") + "".join(f"untracked: {n}\n" for n in names)
    if not text:
        return None
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    kept = cache / "diffs" / f"{digest}.diff"
    if not kept.is_file():
        kept.parent.mkdir(parents=True, exist_ok=True)
        tmp = kept.with_name(f".tmp-{digest}-{os.getpid()}")
        tmp.write_bytes(text.encode("utf-8", "surrogateescape"))
        os.replace(tmp, kept)
    log(
        f"Warning: {shown} has uncommitted changes (diff sha256 {digest[:12]}, kept in "
        f"{kept}); the run uses commit {commit[:12]}, not these changes"
    )
    return digest


def _fetch_checkout(url: str, ref: str, cache: Path, lock_timeout_s: float, log: Log) -> Provenance:
    from filelock import FileLock, Timeout

    try:
        url = check_repo_url(url)
    except UserError:
        # A deleted local source is fine while its mirror is cached: pinned commits need no source.
        local = str(Path(url).expanduser().absolute()) if check_url_syntax(url) is None else ""
        if not local or not (cache / "mirrors" / f"{cache_key(local)}.git").is_dir():
            raise
        url = local
    check_ref(ref)
    request = _Request(url, ref, strip_credentials(url), cache)
    cached = request.checkouts / f"{request.key}@{ref}"
    if request.full and cached.is_dir():
        log(f"Using cached {request.shown}@{ref[:12]}")
        return provenance_of(cached)
    (cache / "locks").mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(cache / "locks" / f"{request.key}.lock", timeout=lock_timeout_s):
            return _fetch_locked(request, log)
    except Timeout:
        msg = f"cache lock for {request.shown} is busy after {lock_timeout_s:g}s; retry later"
        raise UserError(msg) from None


@dataclass(frozen=True)
class _Request:
    """One fetch: the checked URL, the ref, the URL as shown (no credentials), the cache."""

    url: str
    ref: str
    shown: str
    cache: Path

    @property
    def key(self) -> str:
        return cache_key(self.shown)

    @property
    def mirror(self) -> Path:
        return self.cache / "mirrors" / f"{self.key}.git"

    @property
    def checkouts(self) -> Path:
        return self.cache / "checkouts"

    @property
    def full(self) -> bool:
        return _FULL_SHA.fullmatch(self.ref) is not None


def _fetch_locked(request: _Request, log: Log) -> Provenance:
    _update_or_clone(request, log)
    sha = _resolve(request.mirror, request.ref)
    if sha is None:
        raise _not_found(request.mirror, request.ref, request.shown)
    final = request.checkouts / f"{request.key}@{sha}"
    if final.is_dir():
        log(f"Using cached {request.shown}@{sha[:12]}")
        return provenance_of(final)
    log(f"Checking out {sha[:12]}")

    def checkout(tmp: Path) -> None:
        # A local clone hardlinks the mirror's objects: later gc in the mirror cannot break it.
        _git(*_SAFE, "clone", "--no-checkout", "--quiet", "--", str(request.mirror), str(tmp))
        _git("-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", sha, cwd=tmp)
        with open(tmp / ".git" / "info" / "exclude", "a", encoding="utf-8") as fh:
            fh.write(f"\n/{PROVENANCE_FILE}\n")
        ref = None if request.full else request.ref
        prov = Provenance(request.shown, sha, ref, _is_dirty(tmp, sha), str(final))
        text = json.dumps(prov.to_dict(), indent=2, sort_keys=True) + "\n"
        (tmp / PROVENANCE_FILE).write_text(text, encoding="utf-8")

    _build(request.checkouts, request.key, final, checkout)
    return provenance_of(final)


def _update_or_clone(request: _Request, log: Log) -> None:
    """Clone the mirror if there is none; else fetch, unless it holds the SHA asked for."""
    mirror, ref, shown = request.mirror, request.ref, request.shown
    if not mirror.is_dir():
        log(f"Cloning {shown}")

        def clone(tmp: Path) -> None:
            try:
                _git(*_SAFE, "clone", "--mirror", "--quiet", "--", request.url, str(tmp))
            except _GitFailed as exc:
                raise UserError(f"cannot fetch {shown}: {exc}") from None
            _git("config", "remote.origin.url", shown, cwd=tmp)  # no credentials on disk
            _git("config", "gc.pruneExpire", "never", cwd=tmp)  # never drop pinned commits

        _build(mirror.parent, request.key, mirror, clone)
        return
    # A SHA the mirror holds cannot change, so it needs no fetch (unless it is also a ref name).
    is_ref = bool(_git("for-each-ref", f"refs/heads/{ref}", f"refs/tags/{ref}", cwd=mirror))
    is_sha = request.full or (_SHORT_SHA.fullmatch(ref) is not None and not is_ref)
    if not (is_sha and _resolve(mirror, ref)):
        _update_mirror(mirror, request.url, ref, shown, log)


def provenance_of(path: Path) -> Provenance:
    """Read a checkout's provenance back; ``dirty`` is re-checked against the files now.

    Raises UserError when ``path`` has no readable provenance file.
    """
    file = Path(path) / PROVENANCE_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        prov = Provenance(**{k: data[k] for k in ("url", "commit", "ref", "dirty", "path")})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = f"{file}: no readable simwarden provenance ({exc}); fetch the code again"
        raise UserError(msg) from None
    if (Path(path) / ".git").exists() and _is_dirty(Path(path), prov.commit):
        return Provenance(prov.url, prov.commit, prov.ref, True, prov.path)
    return prov
