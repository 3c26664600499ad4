"""A Python simulation's own virtual environment, built once per content hash in the shared cache.

Layout under the cache directory (the checkouts' one, :func:`~.gitcache.default_cache_dir`)::

    envs/<hash>/                     one virtual environment, never modified once made
    envs/<hash>/simwarden-env.json   what it holds (written before the rename: a directory at a
                                     final path is always complete)
    locks/env-<hash>.lock            serialises building it

The hash covers everything that decides what gets installed: the requirements file's bytes, the
project's build files and commit (``project: true``), the base interpreter (version and path) and
the builder (name and version). Runs of any commit with the same requirements share one
environment. ``uv`` builds it when installed (measured faster: benchmarks/bench_envs.py), else
``python -m venv`` and pip.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from simwarden.core.errors import UserError
from simwarden.core.log import say
from simwarden.pipeline.codefile import read_code_file

ENV_FILE = "simwarden-env.json"
# The files that make ``project: true`` what it installs (besides the commit).
PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
Log = Callable[[str], None]


@dataclass(frozen=True)
class EnvironmentSpec:
    """``runner.environment``: a requirements file inside the repository, and/or the checkout
    itself installed as a project (``project: true``). At least one is given."""

    requirements: str | None = None
    project: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"requirements": self.requirements, "project": self.project}


def environment_of(runner: Mapping[str, Any], where: str = "config") -> EnvironmentSpec | None:
    """The runner's checked ``environment``, or None when it has none.

    Raises UserError (one line naming ``where``) when it is given with ``runner.python`` (two
    ways to say which interpreter), for a runner kind other than python, when it names nothing,
    or when the requirements path is absolute or climbs out of the repository.
    """
    section = runner.get("environment")
    if section is None:
        return None
    if "python" in runner:
        raise UserError(
            f"{where}: runner.environment and runner.python conflict: give python for an "
            "interpreter you installed, or environment for one simwarden builds"
        )
    if runner.get("kind") != "python":
        raise UserError(f"{where}: runner.environment is for runner.kind 'python' only")
    requirements = section.get("requirements")
    spec = EnvironmentSpec(requirements, bool(section.get("project", False)))
    if requirements is None and not spec.project:
        raise UserError(
            f"{where}: runner.environment: give requirements: PATH and/or project: true"
        )
    if requirements is not None:
        path = PurePosixPath(requirements)
        if path.is_absolute() or ".." in path.parts:
            raise UserError(
                f"{where}: runner.environment.requirements {requirements!r} points outside the "
                "repository; give a path inside it"
            )
    return spec


def env_id(code: str, spec: EnvironmentSpec) -> str:
    """The environment's id in the workflow (``results/envs/<id>.json``): the checkout's code id
    and 8 hex digits of the spec, so a new commit is a new id (Snakemake sees stale code) and
    runs of one checkout with one spec share it."""
    digest = hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True).encode()).hexdigest()
    return f"{code}-env{digest[:8]}"


# ---------------------------------------------------------------------------- the builders


@dataclass(frozen=True)
class Builder:
    """How environments are made: ``uv`` (its executable) or ``pip`` (``python -m venv``)."""

    name: str
    version: str
    uv: str | None = None

    def create(self, base_python: str, target: Path) -> list[str]:
        """argv making an empty environment at ``target`` from ``base_python``. uv's is
        relocatable (scripts without absolute paths), so it survives the rename into place."""
        if self.uv:
            return [
                self.uv,
                "venv",
                "--quiet",
                "--relocatable",
                "--python",
                base_python,
                str(target),
            ]
        return [base_python, "-m", "venv", str(target)]

    def install(self, python: Path, args: Sequence[str]) -> list[str]:
        """argv installing ``args`` (``-r FILE``, a directory) into the environment."""
        if self.uv:
            return [self.uv, "pip", "install", "--quiet", "--python", str(python), *args]
        return [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *args,
        ]

    def freeze(self, python: Path) -> list[str]:
        """argv printing the environment's packages, one ``name==version`` a line."""
        if self.uv:
            return [self.uv, "pip", "freeze", "--python", str(python)]
        return [str(python), "-m", "pip", "freeze", "--disable-pip-version-check"]


def find_builder(prefer: str | None = None) -> Builder:
    """uv when it is installed (the ``uv`` package or on PATH), else pip; ``prefer="pip"``
    forces pip, ``prefer="uv"`` raises UserError when uv is not found."""
    uv = None if prefer == "pip" else _uv_binary()
    if uv is not None:
        out = _check_output([uv, "--version"]).split()
        return Builder("uv", out[1] if len(out) > 1 else "?", uv)
    if prefer == "uv":
        raise UserError("uv is not installed; pip install uv, or leave the builder to choose pip")
    import venv  # noqa: F401 - the stdlib module pip's route needs; fails early when missing
    from importlib.metadata import version

    return Builder("pip", version("pip"))


def _uv_binary() -> str | None:
    try:
        import uv  # type: ignore[import-not-found, unused-ignore]

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _check_output(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


# ---------------------------------------------------------------------------- the cache


@dataclass(frozen=True)
class EnvRequest:
    """One environment to have: the spec, the checkout it reads files from and its commit."""

    spec: EnvironmentSpec
    checkout: Path
    commit: str
    base_python: str = sys.executable

    def requirements_file(self) -> Path | None:
        """The requirements file, resolved; UserError when it is missing or (through a symlink)
        outside the checkout."""
        if self.spec.requirements is None:
            return None
        root = self.checkout.resolve()
        path = (root / self.spec.requirements).resolve()
        shown = f"runner.environment.requirements {self.spec.requirements!r}"
        if not path.is_relative_to(root):
            raise UserError(f"{shown} points outside the repository")
        if not path.is_file():
            raise UserError(f"{shown} not found in the fetched repository {self.checkout}")
        return path

    def content_hash(self, builder: Builder) -> str:
        """sha256 of what decides the environment's contents (see the module docstring)."""
        digest = hashlib.sha256()

        def part(name: str, value: bytes) -> None:
            digest.update(f"{name}\0{len(value)}\0".encode() + value)

        requirements = self.requirements_file()
        if requirements is not None:
            part("requirements", requirements.read_bytes())
        if self.spec.project:
            part("commit", self.commit.encode())
            for name in PROJECT_FILES:
                if (self.checkout / name).is_file():
                    part(name, (self.checkout / name).read_bytes())
        part("python", f"{os.path.realpath(self.base_python)}\0{_python_version(self)}".encode())
        part("builder", f"{builder.name}\0{builder.version}".encode())
        return digest.hexdigest()


def _python_version(request: EnvRequest) -> str:
    if request.base_python == sys.executable:
        return sys.version
    return _check_output([request.base_python, "-c", "import sys; print(sys.version)"]).strip()


def ensure_env(
    request: EnvRequest,
    cache_dir: Path,
    *,
    builder: Builder | None = None,
    lock_timeout_s: float = 1800,
    log: Log = say,
) -> dict[str, Any]:
    """The environment of ``request`` from ``cache_dir/envs``, built first when it is not there;
    returns its ``simwarden-env.json`` content (python, python_version, builder, packages, hash,
    path). Two processes asking at once build it once (a file lock; the second uses the first's).
    A failed or killed build leaves no directory at the final path. Raises UserError naming the
    requirements file and the builder's last error line when the build fails."""
    from filelock import FileLock, Timeout

    builder = builder or find_builder()
    digest = request.content_hash(builder)
    final = cache_dir / "envs" / digest
    if (final / ENV_FILE).is_file():
        log(f"Using cached environment {digest[:12]}")
        return read_env_file(final / ENV_FILE)
    (cache_dir / "locks").mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(cache_dir / "locks" / f"env-{digest}.lock", timeout=lock_timeout_s):
            if (final / ENV_FILE).is_file():  # built by another job while we waited
                log(f"Using cached environment {digest[:12]}")
                return read_env_file(final / ENV_FILE)
            return _build_locked(request, builder, digest, final, log)
    except Timeout:
        msg = f"environment lock {digest[:12]} is busy after {lock_timeout_s:g}s; retry later"
        raise UserError(msg) from None


def _build_locked(
    request: EnvRequest, builder: Builder, digest: str, final: Path, log: Log
) -> dict[str, Any]:
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".tmp-{digest}-*"):  # a killed build's; we hold the lock
        shutil.rmtree(stale, ignore_errors=True)
    what = " and ".join(_what(request.spec))
    log(f"Building environment {digest[:12]} with {builder.name} {builder.version} ({what})")
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{digest}-", dir=final.parent))
    try:
        _run_builder(builder.create(request.base_python, tmp / "venv"), request, what)
        python = tmp / "venv" / "bin" / "python"
        args = _install_args(request, tmp)
        _run_builder(builder.install(python, args), request, what)
        packages = parse_freeze(_run_builder(builder.freeze(python), request, what))
        version = _check_output(
            [str(python), "-c", "import platform; print(platform.python_version())"]
        )
        shutil.rmtree(tmp / "src", ignore_errors=True)
        content = {
            "hash": digest,
            "path": str(final / "venv"),
            "python": str(final / "venv" / "bin" / "python"),
            "python_version": version.strip(),
            "builder": {"name": builder.name, "version": builder.version},
            "packages": packages,
            **request.spec.to_dict(),
        }
        (tmp / ENV_FILE).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache's environment from others
        os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"Built environment {digest[:12]} in {time.monotonic() - started:.1f} s")
    return content


def _what(spec: EnvironmentSpec) -> list[str]:
    return [
        *([spec.requirements] if spec.requirements else []),
        *(["the project"] if spec.project else []),
    ]


def _install_args(request: EnvRequest, tmp: Path) -> list[str]:
    """``-r FILE`` and, for the project, a copy of the checkout (a build writes into its source
    directory, and the shared checkout is never modified)."""
    args: list[str] = []
    requirements = request.requirements_file()
    if requirements is not None:
        args += ["-r", str(requirements)]
    if request.spec.project:
        ignore = shutil.ignore_patterns(".git", "__pycache__")
        shutil.copytree(request.checkout, tmp / "src", ignore=ignore, symlinks=True)
        args.append(str(tmp / "src"))
    return args


def _run_builder(argv: list[str], request: EnvRequest, what: str) -> str:
    """Run one builder step (no shell, no secrets in its environment, in the checkout); its
    stdout, or UserError with its last error line."""
    from simwarden.warden.spawn import without_secrets

    env = {**without_secrets(os.environ), "UV_PYTHON_DOWNLOADS": "never", "PIP_NO_INPUT": "1"}
    done = subprocess.run(
        argv, cwd=request.checkout, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise UserError(
            f"environment from {what} in {request.checkout} failed to build: "
            f"{last_error_line(done.stderr or done.stdout)}"
        )
    return done.stdout


def last_error_line(text: str) -> str:
    """The line of a builder's output that says what failed: pip's last ``ERROR:`` line, else the
    last non-blank line without uv's tree decorations; ``(no output)`` when there is none."""
    lines = [
        line.strip().lstrip("×╰─▶│ ").removeprefix("cause:").strip() for line in text.splitlines()
    ]
    lines = [line for line in lines if line]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or ["(no output)"])[-1]


def parse_freeze(text: str) -> dict[str, str]:
    """``{name: version}`` from freeze output; a line without ``==`` (a direct reference such
    as ``proj @ file:///...``) keeps the whole reference as its version."""
    packages: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        if not sep:
            name, _, version = line.partition(" @ ")
        packages[name.strip()] = version.strip()
    return packages


def read_env_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """An environment's JSON (the cache's or ``results/envs/<id>.json``); UserError when it
    cannot be read."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: no readable environment file ({error}); build it again") from None
    if not isinstance(data, dict) or not isinstance(data.get("python"), str):
        raise UserError(f"{path}: no 'python' in the environment file; build it again")
    return data


def env_python(files: str | Sequence[str] | None) -> str | None:
    """The interpreter of a run's environment file (the rule's ``env`` input: one path, or none
    for a run without an environment). UserError naming the file and the way out when the
    environment was removed from the cache since (Snakemake does not know)."""
    paths = [files] if isinstance(files, str) else list(files or [])
    if not paths:
        return None
    python = str(read_env_file(paths[0])["python"])
    if not os.path.exists(python):
        raise UserError(
            f"{paths[0]}: its environment's interpreter {python!r} is gone from the cache (was "
            "the cache cleared?); build it again: snakemake --forcerun build_env with your profile"
        )
    return python


def env_id_of(files: str | Sequence[str] | None) -> str | None:
    """The environment id (``results/envs/<id>.json``) of a run's ``env`` input; None for a run
    without an environment."""
    paths = [files] if isinstance(files, str) else list(files or [])
    return Path(paths[0]).name.removesuffix(".json") if paths else None


def build_env(
    code_file: str,
    environment: Mapping[str, Any],
    cache_dir: str | None,
    output: str,
) -> dict[str, Any]:
    """Rule build_env: the environment of ``environment`` (a checked runner.environment) for the
    checkout named by ``code_file``, from the cache or built; writes its JSON (with the env's id
    inputs: repository and commit) to ``output``."""
    from simwarden.core.fsutil import write_json_atomic
    from simwarden.pipeline.gitcache import default_cache_dir

    provenance = read_code_file(code_file)
    spec = EnvironmentSpec(environment.get("requirements"), bool(environment.get("project")))
    request = EnvRequest(spec, Path(provenance["path"]), str(provenance["commit"]))
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    content = ensure_env(request, cache)
    record = {**content, "repository": provenance.get("url"), "commit": provenance.get("commit")}
    write_json_atomic(output, record)
    return record
