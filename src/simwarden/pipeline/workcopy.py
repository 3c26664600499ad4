"""A private working copy of a shared checkout, so a script runs where it expects to be.

Scripts often assume the repository root as their working directory: they read ``data/…`` and
write ``dev/figure.png`` relative to it. The checkouts in the git cache are shared by every run
of a commit and must never be written, so a run that wants the repository root gets its own
copy (:func:`working_copy`), runs in it, and afterwards everything it created or changed there is
moved into the run's results and the copy is removed.

How the copy is made (measured in ``benchmarks/results/workcopy.md``):

- Regular files are cloned (``FICLONE``, a copy-on-write reflink) where the filesystem offers it
  (btrfs, XFS with reflink, bcachefs), else copied inside the kernel with ``copy_file_range``
  (ext4, tmpfs; NFS 4.2 copies on the server), else read and written. Modes and modification
  times are kept, and every copy is made writable by its owner.
- Symlinks are recreated with the same target text: never followed, neither while copying nor
  while collecting, so a link pointing out of the checkout stays a link.
- ``.git`` (a directory) is copied without its object store; the copy borrows the checkout's
  objects through ``objects/info/alternates``, read only. ``git rev-parse HEAD``, ``git
  describe`` and ``git status`` work in the copy, and nothing git does there writes into the
  checkout. Nothing under ``.git`` or in a ``__pycache__`` directory is collected.
- Hardlinks were rejected: a script that opens a hardlinked file for writing (``open(p, "w")``,
  ``"a"``, ``"r+"``) writes into the shared checkout, and we cannot make every script replace a
  file instead of writing it in place.

What changed is found by comparing two stat walks (before and after the run) of the copy:
relative path -> (type, size, mtime_ns, ctime_ns, inode). A write changes mtime and ctime; an
atomic replace changes the inode; ``os.utime`` resetting the mtime still changes the ctime.
The one miss: a file rewritten with the same size within the same kernel timestamp tick (a few
milliseconds on Linux) in which the snapshot saw it, and with the same inode. The snapshot is
taken before the simulation starts, so this cannot happen to a run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from simwarden.core.log import say

GIT_DIR = ".git"
# Directories never snapshotted nor collected, wherever they are: Python's bytecode cache, which
# an import from the repository writes into the copy, is no output of the run.
NOT_COLLECTED = frozenset({"__pycache__"})
# Where a collected path goes when its own place in collect_into is taken (the simulation also
# wrote it through SIMWARDEN_OUTDIR, or a parent there is a file or a symlink).
CONFLICTS_DIR = ".simwarden-workdir-conflicts"
_PREFIX = ".workcopy-"
_FICLONE = 0x40049409  # _IOW(0x94, 9, int) from linux/fs.h
_NO_CLONE = {errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.ENOSYS, errno.EPERM}
_NO_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EPERM}

Log = Callable[[str], None]


@dataclass(frozen=True)
class FileState:
    """What a stat walk records of one path (``kind`` is ``stat.S_IFMT`` of its mode)."""

    kind: int
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int


# Relative POSIX path -> state, directories included; ``.git`` at the top is left out.
Snapshot = dict[str, FileState]


@dataclass(frozen=True)
class Collected:
    """What :func:`collect` found and did, as relative POSIX paths, sorted.

    ``new`` and ``changed`` list files and symlinks (a new directory's files are listed, the
    directory itself is moved in one rename); ``deleted`` lists files and symlinks of the copy
    that the run removed (they are not in collect_into). ``displaced`` lists paths that went to
    :data:`CONFLICTS_DIR` because their own place was taken.
    """

    new: tuple[str, ...]
    changed: tuple[str, ...]
    deleted: tuple[str, ...]
    displaced: tuple[str, ...]

    def summary(self) -> str:
        """One line: counts, and the first deleted and displaced paths."""
        line = f"{len(self.new)} new, {len(self.changed)} changed, {len(self.deleted)} deleted"
        for label, paths in (("deleted", self.deleted), ("displaced", self.displaced)):
            if paths:
                more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
                line += f"; {label}: {', '.join(paths[:5])}{more}"
        return line


@dataclass
class _Copier:
    """Copies regular files; remembers whether cloning or copy_file_range failed for good."""

    clone: bool = True
    copy_range: bool = True
    files: int = 0

    def copy_file(self, src: str, dst: str, st: os.stat_result) -> None:
        mode = stat.S_IMODE(st.st_mode) | stat.S_IWUSR
        fin = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            try:
                self._copy_data(fin, fout, st.st_size)
                os.fchmod(fout, mode)  # the umask may have masked bits off at creation
                os.utime(fout, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(fout)
        finally:
            os.close(fin)
        self.files += 1

    def _copy_data(self, fin: int, fout: int, size: int) -> None:
        import fcntl

        if self.clone and size:
            try:
                fcntl.ioctl(fout, _FICLONE, fin)
                return
            except OSError as exc:
                if exc.errno not in _NO_CLONE:
                    raise
                self.clone = False
        if self.copy_range:
            try:
                while os.copy_file_range(fin, fout, 1 << 30):
                    pass
                return
            except OSError as exc:
                if exc.errno not in _NO_RANGE:
                    raise
                self.copy_range = False
                os.lseek(fin, 0, os.SEEK_SET)
                os.ftruncate(fout, 0)
                os.lseek(fout, 0, os.SEEK_SET)
        while chunk := os.read(fin, 1 << 20):
            view = memoryview(chunk)
            while view:
                view = view[os.write(fout, view) :]


def reflink_supported(directory: Path) -> bool:
    """Whether files in ``directory`` can be cloned copy-on-write (``FICLONE``): True on btrfs,
    XFS with reflink and bcachefs, False on ext4 and tmpfs. Writes and removes two probe files."""
    import fcntl

    with tempfile.TemporaryDirectory(prefix=_PREFIX + "probe-", dir=directory) as tmp:
        src, dst = Path(tmp) / "a", Path(tmp) / "b"
        src.write_bytes(b"x" * 4096)
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            try:
                fcntl.ioctl(fout.fileno(), _FICLONE, fin.fileno())
            except OSError as exc:
                if exc.errno in _NO_CLONE:
                    return False
                raise
    return True


def _copy_tree(src: str, dst: str, copier: _Copier, skip: frozenset[str] = frozenset()) -> None:
    """Copy directory ``src`` to the new ``dst``: files through ``copier``, symlinks as links,
    other kinds (sockets, FIFOs, devices) left out; names in ``skip`` are left out at the top."""
    st = os.stat(src, follow_symlinks=False)
    os.mkdir(dst, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
    with os.scandir(src) as entries:
        for entry in entries:
            if entry.name in skip:
                continue
            target = os.path.join(dst, entry.name)
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), target)
            elif entry.is_dir(follow_symlinks=False):
                _copy_tree(entry.path, target, copier)
            elif entry.is_file(follow_symlinks=False):
                copier.copy_file(entry.path, target, entry.stat(follow_symlinks=False))
    os.chmod(dst, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def _copy_git_dir(src_git: str, dst_git: str, copier: _Copier) -> None:
    """``.git`` without its objects: the copy borrows them through ``objects/info/alternates``."""
    _copy_tree(src_git, dst_git, copier, skip=frozenset({"objects"}))
    info = Path(dst_git, "objects", "info")
    info.mkdir(parents=True)
    Path(dst_git, "objects", "pack").mkdir()
    (info / "alternates").write_text(os.path.abspath(os.path.join(src_git, "objects")) + "\n")
    st = os.stat(src_git)
    os.utime(dst_git, ns=(st.st_atime_ns, st.st_mtime_ns))


def copy_checkout(checkout: Path, dest: Path) -> int:
    """Copy ``checkout`` into the new directory ``dest`` as described in the module docstring;
    returns the number of regular files copied. ``dest`` must not exist."""
    copier = _Copier()
    src = os.fspath(checkout)
    _copy_tree(src, os.fspath(dest), copier, skip=frozenset({GIT_DIR}))
    git = os.path.join(src, GIT_DIR)
    if os.path.isdir(git) and not os.path.islink(git):
        _copy_git_dir(git, os.path.join(dest, GIT_DIR), copier)
    elif os.path.lexists(git):  # a gitdir file or a link: kept as it is
        shutil.copy2(git, os.path.join(dest, GIT_DIR), follow_symlinks=False)
    return copier.files


def snapshot(root: Path) -> Snapshot:
    """Every path under ``root`` (``.git`` at the top and :data:`NOT_COLLECTED` directories left
    out) -> its :class:`FileState`. Symlinks are recorded, never followed."""
    result: Snapshot = {}
    stack = [("", os.fspath(root))]
    while stack:
        prefix, directory = stack.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                if (not prefix and entry.name == GIT_DIR) or entry.name in NOT_COLLECTED:
                    continue
                st = entry.stat(follow_symlinks=False)
                rel = prefix + entry.name
                kind = stat.S_IFMT(st.st_mode)
                result[rel] = FileState(kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                if kind == stat.S_IFDIR:
                    stack.append((rel + "/", entry.path))
    return result


def _blocked(collect_into: Path, rel: str) -> bool:
    """Whether ``rel`` cannot go to its own place: it exists, or a parent is not a real
    directory (a file, or a symlink that could lead out of collect_into)."""
    path = collect_into
    for part in rel.split("/")[:-1]:
        path = path / part
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            return True
    return os.path.lexists(path / rel.rsplit("/", 1)[-1])


def _place(src: Path, collect_into: Path, rel: str) -> bool:
    """Move ``src`` to ``collect_into/rel``, or under :data:`CONFLICTS_DIR` when that place is
    taken; returns True when displaced. Renames on one filesystem, copies across."""
    displaced = _blocked(collect_into, rel)
    base = collect_into / CONFLICTS_DIR if displaced else collect_into
    dest = base / rel
    if displaced and _blocked(base, rel):
        say(f"working copy: {rel} not collected: {dest} is taken")
        return True
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(os.fspath(src), os.fspath(dest))
    return displaced


def _drop_not_collected(directory: Path) -> None:
    """Remove :data:`NOT_COLLECTED` directories under ``directory`` (symlinks not followed)."""
    for parent, dirnames, _ in os.walk(directory):
        for name in [d for d in dirnames if d in NOT_COLLECTED]:
            dirnames.remove(name)
            remove_tree(Path(parent, name))


def collect(copy: Path, before: Snapshot, collect_into: Path) -> Collected:
    """Move what changed in ``copy`` since ``before`` into ``collect_into``, keeping relative
    paths: new and changed files and symlinks, and new directories whole. Deleted files are
    listed, not recreated. A path whose place in ``collect_into`` is taken goes under
    :data:`CONFLICTS_DIR` there, never over an existing file."""
    after = snapshot(copy)
    new: list[str] = []
    changed: list[str] = []
    displaced: list[str] = []
    moved_dirs: set[str] = set()
    for rel in sorted(after):
        state, old = after[rel], before.get(rel)
        parts = rel.split("/")
        if any("/".join(parts[:i]) in moved_dirs for i in range(1, len(parts))):
            if state.kind != stat.S_IFDIR:
                new.append(rel)
            continue
        if (
            old is not None
            and old.kind == state.kind
            and (state.kind == stat.S_IFDIR or old == state)
        ):
            continue  # unchanged, or a directory that existed (its files are judged one by one)
        if state.kind == stat.S_IFDIR:
            if _blocked(collect_into, rel + "/x"):
                continue  # its files are placed one by one (some may be displaced)
            if not os.path.lexists(collect_into / rel):
                collect_into.joinpath(rel).parent.mkdir(parents=True, exist_ok=True)
                _drop_not_collected(copy / rel)
                shutil.move(os.fspath(copy / rel), os.fspath(collect_into / rel))
                moved_dirs.add(rel)
            continue
        (new if old is None or old.kind != state.kind else changed).append(rel)
        if _place(copy / rel, collect_into, rel):
            displaced.append(rel)
    deleted = sorted(r for r, s in before.items() if r not in after and s.kind != stat.S_IFDIR)
    return Collected(tuple(new), tuple(changed), tuple(deleted), tuple(displaced))


def remove_tree(path: Path) -> None:
    """Remove ``path`` and everything under it, also what the run made read-only; symlinks are
    removed, never followed. A missing ``path`` is fine."""

    def make_writable_and_retry(func: Callable[..., object], failed: str, _exc: object) -> None:
        parent = os.path.dirname(failed)
        os.chmod(parent, stat.S_IMODE(os.stat(parent).st_mode) | stat.S_IRWXU)
        if os.path.isdir(failed) and not os.path.islink(failed):
            os.chmod(failed, stat.S_IRWXU)
            shutil.rmtree(failed)
        else:
            func(failed)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=make_writable_and_retry)


def _clear_stale(parent: Path, name: str) -> None:
    """Remove working copies beside ``parent/name`` left by a process that is gone (SIGKILL)."""
    for old in parent.glob(f"{_PREFIX}{name}-*-*"):
        pid = old.name[len(_PREFIX) + len(name) + 1 :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            remove_tree(old)
        except PermissionError:
            pass  # alive, someone else's


@contextlib.contextmanager
def working_copy(
    checkout: Path, collect_into: Path, *, scratch: Path | None = None, log: Log = say
) -> Iterator[Path]:
    """A private copy of ``checkout`` to run in; yields its path.

    On exit, also after an exception or Ctrl-C (KeyboardInterrupt passes through), what the run
    created or changed in the copy is moved into ``collect_into`` (created if missing) keeping
    relative paths (``dev/figure.png`` -> ``collect_into/dev/figure.png``), one line through
    ``log`` says what was collected and deleted, and the copy is removed. ``checkout`` is only
    read.

    ``scratch`` is the directory the copy is made in; by default the directory holding
    ``collect_into``, so the final moves are renames, and copies there left by a killed process
    are removed. A scratch directory on another filesystem (a node-local disk) works: the
    final moves copy.
    """
    collect_into = Path(collect_into)
    collect_into.mkdir(parents=True, exist_ok=True)
    parent = Path(scratch) if scratch is not None else collect_into.parent
    if scratch is None:
        _clear_stale(parent, collect_into.name)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{collect_into.name}-{os.getpid()}-", dir=parent))
    copy = tmp / Path(checkout).name  # the same directory name as the checkout's
    try:
        copy_checkout(Path(checkout), copy)
        before = snapshot(copy)
    except BaseException:
        remove_tree(tmp)
        raise
    try:
        yield copy
    finally:
        try:
            collected = collect(copy, before, collect_into)
            log(f"working copy of {Path(checkout).name}: {collected.summary()}")
        finally:
            remove_tree(tmp)
