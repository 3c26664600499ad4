"""The workflow's own files (rules, rule scripts, schemas, report captions, profiles) as the
installed package holds them, and the new project directory ``simwarden init`` writes.

A project holds only what a user edits: ``config/``, the profiles and a Snakefile of a few lines
that includes :func:`main_snakefile`. The rules stay in the package, so upgrading simwarden with
pip upgrades them. A wheel ships the repository's ``rules/``, ``scripts/``, ``workflow/`` and
the run-config profiles as ``simwarden/_workflow/`` (pyproject.toml's force-include); an editable
or development install uses the repository's own top level.

Stdlib only: every project's Snakefile imports this module when it is parsed.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError

# The directory of the workflow files inside a wheel (relative to the package).
INSTALLED = "_workflow"
# The main Snakefile a project includes, relative to the workflow files' directory.
MAIN = "rules/main.smk"
# What `simwarden init` writes in place of the repository and commit it was not given: the
# workflow refuses it in one line (refuse_placeholders) before it fetches anything.
PLACEHOLDER = "SET-ME"
PLACEHOLDER_KEYS = ("repository", "commit")
# The run-config profiles a project gets (profiles/slurm stays in the package's docs).
PROFILES = ("short", "std", "full")
# Project file -> its template in workflow/project/ (profiles are copied as they are).
TEMPLATES = {
    "Snakefile": "Snakefile",
    "config/config.yaml": "config.yaml",
    "config/params/example.yaml": "example.yaml",
    ".gitignore": "gitignore",
}


def workflow_dir() -> Path:
    """The directory holding ``rules/``, ``scripts/``, ``workflow/`` and ``profiles/``: the
    installed copy in a wheel, the repository's top level in an editable install."""
    package = Path(__file__).resolve().parent
    for candidate in (package / INSTALLED, package.parents[1]):
        if (candidate / MAIN).is_file():
            return candidate
    raise UserError(
        f"simwarden's workflow files are missing: neither {package / INSTALLED / MAIN} nor "
        f"{package.parents[1] / MAIN} exists; reinstall simwarden (pip install --force-reinstall)"
    )


def main_snakefile() -> str:
    """The Snakefile a project includes (``include: main_snakefile()``): configfile, report,
    every rule and the handlers."""
    return str(workflow_dir() / MAIN)


def refuse_placeholders(config: Mapping[str, Any], source_of: Callable[[str], str]) -> None:
    """Refuse, in one line naming the file, a project whose repository or commit is still the
    placeholder ``simwarden init`` wrote; ``source_of(key)`` names the file that set ``key``."""
    unset = [key for key in PLACEHOLDER_KEYS if config.get(key) == PLACEHOLDER]
    if not unset:
        return
    what = {
        "repository": "repository (your simulation's git repository: a URL, a directory or a "
        "git bundle)",
        "commit": "commit (the commit to run: a full SHA, a tag or a branch)",
    }
    raise UserError(
        f"{source_of(unset[0])}: set {' and '.join(what[key] for key in unset)} in place of "
        f"{PLACEHOLDER}"
    )


def new_project(
    directory: Path,
    *,
    repository: str | None = None,
    commit: str | None = None,
    force: bool = False,
) -> list[Path]:
    """Write a new project into ``directory`` (created if needed): the Snakefile, config/
    (repository and commit filled in when given), profiles/short|std|full and a .gitignore.
    Refuses a non-empty directory unless ``force``. Returns the files written, in order."""
    _check_target(directory, force)
    source = workflow_dir()
    written: list[Path] = []
    for name, template in TEMPLATES.items():
        text = (source / "workflow" / "project" / template).read_text(encoding="utf-8")
        if name == "config/config.yaml":
            text = fill_config(text, repository=repository, commit=commit)
        written.append(_write(directory / name, text))
    for profile in PROFILES:
        for path in sorted((source / "profiles" / profile).iterdir()):
            if path.is_file():
                written.append(_write(directory / "profiles" / profile / path.name, None, path))
    return written


def fill_config(text: str, *, repository: str | None, commit: str | None) -> str:
    """The config template with ``repository:`` and ``commit:`` set (a local path that exists
    made absolute: the project may live elsewhere); a value not given stays the placeholder."""
    values = {"repository": repository, "commit": commit}
    if repository is not None and os.path.exists(repository):
        values["repository"] = str(Path(repository).resolve())
    for key, value in values.items():
        if value is not None:
            # A JSON string is a YAML scalar: quotes and backslashes in the value stay data.
            text = text.replace(f"\n{key}: {PLACEHOLDER}\n", f"\n{key}: {json.dumps(value)}\n", 1)
    return text


def _check_target(directory: Path, force: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise UserError(
            f"{directory} is not empty: init writes a new project into a new or empty directory "
            "(--force writes into it, replacing the project files it has)"
        )


def _write(path: Path, text: str | None, copy_of: Path | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if copy_of is not None:
        shutil.copyfile(copy_of, path)
    else:
        path.write_text(text or "", encoding="utf-8")
    return path
