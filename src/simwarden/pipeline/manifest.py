"""What a run made and what it ran with: the record's ``manifest`` and ``environment``.

:func:`file_manifest` lists every file under a run's data and figures directories with its size
and sha256 (streamed: outputs may be GBs); :func:`run_environment` says which interpreter or
program ran, its version line, the distributions the simulation imported (written by the
autosave hook to :data:`ENV_IMPORTS_FILE`), the config files in force with their hashes and the
simwarden and Snakemake versions. :func:`add_provenance` puts both into a finished attempt's
record and writes it back, before a failed attempt is kept (so the kept record lists its files
too). No value of an environment variable is ever recorded: only paths, hashes and versions.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from simwarden.core.fields import Fields
from simwarden.warden.record import Record

# typing costs ~5 ms of every run's job, which loads this module; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The autosave hook writes {distribution: version} of what the simulation imported to the file
# this variable names (simwarden_autosave_imports.ENV_IMPORTS_FILE spells it too; a test keeps
# both equal: the hook cannot import simwarden).
ENV_IMPORTS_FILE = "SIMWARDEN_IMPORTS_FILE"
# ...and keeps which installed distribution provides which module (one scan of the environment,
# ~0.15 s) in the directory this variable names (layout.DISTRIBUTIONS_CACHE), per interpreter.
ENV_DISTRIBUTIONS_CACHE = "SIMWARDEN_DISTRIBUTIONS_CACHE"
# The keys of Record.environment, in this order.
ENVIRONMENT_KEYS = (
    "python",
    "python_version",
    "executable",
    "executable_sha256",
    "version_line",
    "packages",
    "config_files",
    "simwarden_version",
    "snakemake_version",
    "env_id",
)
# Bytes read at a time while hashing: a large output is never held in memory.
CHUNK_BYTES = 1 << 20
# A profile's own settings file, beside the run config file it loads (profiles/std/run.yaml).
PROFILE_FILE = "config.yaml"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of the file at ``path``, read in :data:`CHUNK_BYTES` pieces.

    Raises OSError when it cannot be read."""
    import hashlib  # here: a run that made no file never loads OpenSSL

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def file_manifest(
    directories: Iterable[str | os.PathLike[str] | None], root: str | os.PathLike[str]
) -> list[dict[str, Any]]:
    """``{"path", "size", "sha256"}`` of every regular file under ``directories`` (hidden ones
    too; a symlink to a file counts as that file), ``path`` relative to ``root`` with ``/``,
    sorted by path. A None or missing directory adds nothing; a file that vanishes or cannot be
    read while listed (a broken symlink) is left out. Directories are not followed through
    symlinks."""
    base = Path(root).absolute()
    entries: dict[str, dict[str, Any]] = {}
    for directory in directories:
        if directory is None:
            continue
        for parent, _dirs, names in os.walk(Path(directory).absolute()):
            for name in names:
                path = Path(parent) / name
                try:
                    if not path.is_file():
                        continue
                    size, digest = path.stat().st_size, sha256_file(path)
                except OSError:
                    continue
                shown = Path(os.path.relpath(path, base)).as_posix()
                entries[shown] = {"path": shown, "size": size, "sha256": digest}
    return [entries[key] for key in sorted(entries)]


def relocate_manifest(
    manifest: Sequence[Mapping[str, Any]], moves: Mapping[str, str]
) -> list[dict[str, Any]]:
    """``manifest`` with each path under a directory of ``moves`` (old -> new, relative to the
    same root as the paths, ``/``-separated) renamed under the new one, sorted again; other
    entries unchanged. For a failed attempt's files moved to ``results/failed/``."""
    moved = []
    for entry in manifest:
        path = str(entry.get("path", ""))
        for old, new in moves.items():
            prefix = old.rstrip("/") + "/"
            if path.startswith(prefix):
                path = new.rstrip("/") + "/" + path[len(prefix) :]
                break
        moved.append({**entry, "path": path})
    return sorted(moved, key=lambda entry: entry["path"])


def read_imports(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``{distribution: version}`` the hook wrote to ``path``; ``{}`` when it wrote none
    (not a Python run, Python < 3.10, killed) or the file is not such an object."""
    import json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in sorted(data.items()) if isinstance(v, str)}


def config_files_in_force(
    configfiles: Iterable[str | os.PathLike[str]], argv: Sequence[str] = ()
) -> list[str]:
    """The config files a workflow runs with: Snakemake's ``configfiles`` (config/config.yaml,
    a profile's run.yaml, ``--configfile``), each one's profile (a :data:`PROFILE_FILE` beside a
    loaded file that is not itself) and the :data:`PROFILE_FILE` of every ``--profile`` /
    ``--workflow-profile`` directory in ``argv`` (the Snakemake command line). Existing files
    only, each once, in that order; relative to the working directory (the workflow's) when
    inside it, else absolute."""
    found: list[str] = []
    for file in (os.fspath(path) for path in configfiles):
        beside = os.path.join(os.path.dirname(file), PROFILE_FILE)
        found += [file, beside] if os.path.basename(file) != PROFILE_FILE else [file]
    for i, token in enumerate(argv[:-1]):
        if token in ("--profile", "--workflow-profile"):
            found.append(os.path.join(argv[i + 1], PROFILE_FILE))
    for token in argv:
        for option in ("--profile=", "--workflow-profile="):
            if token.startswith(option):
                found.append(os.path.join(token[len(option) :], PROFILE_FILE))
    unique = dict.fromkeys(_relative_to_cwd(path) for path in found)
    return [path for path in unique if os.path.isfile(path)]


def _relative_to_cwd(path: str) -> str:
    """``path`` relative to the working directory when inside it (Snakemake gives a profile's
    files as absolute paths), else absolute."""
    absolute, here = os.path.abspath(path), os.getcwd()
    inside = os.path.commonpath([absolute, here]) == here
    return os.path.relpath(absolute, here) if inside else absolute


class ConfigFilesInForce(Fields, frozen=True):
    """The config files a workflow runs with, as the ``run_simulation`` rule hands them to its
    script: an object, not a list, so Snakemake does not track it as a param (the same runs
    under another profile are not stale for that alone)."""

    paths: tuple[str, ...] = ()

    @classmethod
    def of_workflow(
        cls, configfiles: Iterable[str | os.PathLike[str]], argv: Sequence[str] = ()
    ) -> ConfigFilesInForce:
        """See :func:`config_files_in_force`."""
        return cls(tuple(config_files_in_force(configfiles, argv)))


def _hashes(paths: Iterable[str]) -> dict[str, str]:
    hashes = {}
    for path in paths:
        try:
            hashes[path] = sha256_file(path)
        except OSError:
            continue
    return hashes


def resolve_executable(program: str, env: Mapping[str, str], cwd: str | None) -> str | None:
    """The absolute path of ``program`` as the command would find it: a path with ``/``
    against ``cwd``, else on ``env``'s PATH; None when it is not found. Symbolic links are kept:
    a virtual environment's ``bin/python`` links to its base interpreter, and which environment
    ran is the point."""
    if os.sep in program:
        path = Path(cwd or ".", program)
        return os.path.abspath(path) if path.is_file() else None
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    return os.path.abspath(found) if found else None


def python_version_line(python: str) -> str | None:
    """``Python 3.11.2`` for the interpreter ``python``: this one's without starting a process,
    else from ``python --version`` (30 s at most); None when it cannot tell."""
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return f"Python {sys.version.split()[0]}"  # platform.python_version(), unimported
    import subprocess

    try:
        done = subprocess.run(
            [python, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    line = (done.stdout or done.stderr).strip().splitlines()
    return line[0] if done.returncode == 0 and line else None


def _version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def run_environment(  # noqa: PLR0913 - one keyword per thing the record says
    kind: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    imports_file: str | os.PathLike[str] | None,
    config_files: Iterable[str] = (),
    env_id: str | None = None,
    snakemake_version: str | None = None,
) -> dict[str, Any]:
    """The record's ``environment`` for a run of runner ``kind`` that ran ``argv``; keys
    :data:`ENVIRONMENT_KEYS`. ``snakemake_version``: the Snakemake that ran the job, when the
    rule says (else looked up among the installed distributions, ~30 ms).
    ``python``/``python_version``/``version_line``: the interpreter of a Python runner (None
    for others: a ``command`` program is never run to ask a version; its ``executable_sha256``
    says which file it was). ``packages``: from ``imports_file`` (``{}`` when unknown).
    ``config_files``: path -> sha256 of those that can be read."""
    from simwarden._version import __version__

    executable = resolve_executable(argv[0], env, cwd) if argv else None
    python = executable if kind == "python" else None
    line = python_version_line(python) if python else None
    digest = None
    if kind == "command" and executable is not None:
        try:
            digest = sha256_file(executable)
        except OSError:
            digest = None
    values = {
        "python": python,
        "python_version": line.split()[-1] if line else None,
        "executable": executable,
        "executable_sha256": digest,
        "version_line": line,
        "packages": read_imports(imports_file) if imports_file else {},
        "config_files": _hashes(config_files),
        "simwarden_version": __version__,
        "snakemake_version": snakemake_version or _version("snakemake"),
        "env_id": env_id,
    }
    return {key: values[key] for key in ENVIRONMENT_KEYS}


def add_provenance(
    record: Record,
    record_path: str | os.PathLike[str],
    directories: Iterable[str | os.PathLike[str] | None],
    root: str | os.PathLike[str],
    environment: Mapping[str, Any],
) -> Record:
    """``record`` with the manifest of ``directories`` (relative to ``root``, the workflow
    directory) and ``environment``, written back to ``record_path`` atomically."""
    from simwarden.core.fsutil import write_json_atomic

    manifest = file_manifest(directories, root)
    record = record.replace(manifest=manifest, environment=dict(environment))
    write_json_atomic(record_path, record.to_dict())
    return record
