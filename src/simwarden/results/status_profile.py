"""Which profiles ``simwarden status`` judges the runs against: the ones given, else those of
the last logged run of the workflow, else ``profiles/std``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simwarden.results.snakemake_view import in_directory

DEFAULT_PROFILE = "profiles/std"
# Snakemake's default locations of the Snakefile (snakemake.common.SNAKEFILE_CHOICES).
SNAKEFILE_CHOICES = ("Snakefile", "snakefile", "workflow/Snakefile", "workflow/snakefile")
# Options of a logged command that mean it was not a run of the workflow.
_NOT_A_RUN = ("--unlock", "--cleanup-metadata", "--cm", "--touch", "-t", "--dry-run", "-n")


@dataclass(frozen=True)
class ProfileChoice:
    """The profiles the status is computed for, in ``--profile`` order (later ones override
    earlier ones' keys, as in Snakemake; none: config/config.yaml alone), and why."""

    profiles: tuple[str, ...]
    source: str

    @property
    def label(self) -> str:
        return " + ".join(self.profiles) or "none (config/config.yaml only)"


def find_snakefile(workdir: Path) -> Path | None:
    """The Snakefile Snakemake would use in ``workdir``, or None."""
    for name in SNAKEFILE_CHOICES:
        if (workdir / name).is_file():
            return workdir / name
    return None


def last_run_profile(workdir: Path) -> tuple[list[str], Path] | None:
    """The ``--profile`` options of the newest logged run in ``workdir`` and its log, or None.

    Snakemake writes ``.snakemake/log/<time>.snakemake.log`` for every real run (not for dry
    runs), with a ``Command:`` line (``sys.argv`` joined by spaces, so a profile path holding a
    space is not recovered). Logs of ``--unlock``, ``--touch`` and ``--cleanup-metadata`` are
    skipped. A run without ``--profile`` (or with ``--profile none``) gives ``([], log)``;
    ``--workflow-profile`` counts as a profile applied last.
    """
    logdir = workdir / ".snakemake" / "log"
    try:
        logs = sorted(logdir.glob("*.snakemake.log"), reverse=True)
    except OSError:
        return None
    for log in logs:
        command = _logged_command(log)
        if command is None or any(_has_option(command, o) for o in _NOT_A_RUN):
            continue
        profiles: list[str] = []
        workflow_profile: list[str] = []
        for i, token in enumerate(command):
            option, equals, value = token.partition("=")
            if option in ("--profile", "--workflow-profile"):
                if not equals:
                    value = command[i + 1] if i + 1 < len(command) else ""
                (profiles if option == "--profile" else workflow_profile).append(value)
        used = [p for p in profiles + workflow_profile[-1:] if p and p != "none"]
        return used, log
    return None


def _logged_command(log: Path) -> list[str] | None:
    try:
        with log.open(encoding="utf-8", errors="replace") as handle:
            for _, line in zip(range(40), handle, strict=False):
                if line.strip().startswith("Command:"):
                    return line.split(":", 1)[1].split()[1:]
    except OSError:
        return None
    return None


def _has_option(command: list[str], option: str) -> bool:
    return any(t == option or t.startswith(option + "=") for t in command)


def choose_profile(workdir: Path, profiles: Sequence[str] | None) -> ProfileChoice:
    """The given ``profiles`` (``["none"]``: none); else the last run's; else ``profiles/std``.

    The last run's are used only if every one is still found (in ``workdir``, or by name where
    Snakemake looks); else the default, with the reason in ``source``."""
    if profiles:
        return ProfileChoice(tuple(p for p in profiles if p != "none"), "--profile")
    last = last_run_profile(workdir)
    if last is not None:
        used, log = last
        gone = [p for p in used if not (workdir / p).exists() and not _named_profile(workdir, p)]
        if not gone:
            return ProfileChoice(tuple(used), f"used by the last run, {log.relative_to(workdir)}")
        return ProfileChoice(
            (DEFAULT_PROFILE,), f"default; the last run's profile {gone[0]!r} is not in {workdir}"
        )
    return ProfileChoice((DEFAULT_PROFILE,), "default: no logged run")


def _named_profile(workdir: Path, profile: str) -> bool:
    """True if Snakemake finds ``profile`` by name (``~/.config/snakemake/NAME``, ...)."""
    from snakemake.cli import get_profile_dir

    with in_directory(workdir):
        return get_profile_dir(profile) is not None
