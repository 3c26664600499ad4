"""The jobs upstream of a run's per-run jobs (fetch_code, one per checkout), as
``simwarden status`` judges them: which rule makes an input path, and that job's verdict, judged
once however many runs read it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from simwarden.pipeline.layout import PER_RUN_RULES
from simwarden.results.snakemake_jobs import Expander
from simwarden.results.snakemake_view import Job, Judge, Verdict


class Upstream:
    """The verdicts of the jobs other than the per-run ones whose outputs the per-run jobs read
    (fetch_code, one per checkout): judged once each, and only if read (rules that collect all
    runs are never expanded)."""

    def __init__(self, expander: Expander, judge: Judge, producers: Producers) -> None:
        self.expander = expander
        self.judge = judge
        self.producers = producers
        self.verdicts: dict[str, Verdict] = {}

    def of(self, job: Job, seen: tuple[str, ...] = ()) -> dict[str, Verdict]:
        """Input path of ``job`` -> the verdict of the shared job that makes it."""
        found: dict[str, Verdict] = {}
        for path in job.inputs:
            name = self.producers.get(path)
            if name is None or path in seen:
                continue
            if path not in self.verdicts:
                rule = self.expander.rule(name)
                shared_job = self.expander.job(rule, self.producers.wildcards(path))
                self.verdicts[path] = self.judge.judge(
                    shared_job, self.of(shared_job, (*seen, path))
                )
            found[path] = self.verdicts[path]
        return found


class Producers(Mapping[str, str]):
    """Output path -> the name of the rule that makes it, for the rules other than the per-run
    ones: the wildcard-free rules' outputs are listed; a path of a rule with wildcards (such as
    ``results/code/{code}.json``) is matched when asked for."""

    def __init__(self, workflow: Any) -> None:
        rules = [rule for rule in workflow.rules if rule.name not in PER_RUN_RULES]
        self.fixed: dict[str, str] = {
            str(p): rule.name for rule in rules if not rule.wildcard_names for p in rule.output
        }
        self.patterned = [rule for rule in rules if rule.wildcard_names]
        self.matched: dict[str, tuple[str, dict[str, str]] | None] = {}

    def _match(self, path: str) -> tuple[str, dict[str, str]] | None:
        if path not in self.matched:
            rule = next((r for r in self.patterned if r.is_producer(path)), None)
            found = (rule.name, dict(rule.get_wildcards(path))) if rule is not None else None
            self.matched[path] = found
        return self.matched[path]

    def __getitem__(self, path: str) -> str:
        if path in self.fixed:
            return self.fixed[path]
        found = self._match(path)
        if found is None:
            raise KeyError(path)
        return found[0]

    def wildcards(self, path: str) -> dict[str, str]:
        """The wildcards of the job that makes ``path`` ({} for a wildcard-free rule)."""
        found = None if path in self.fixed else self._match(path)
        return found[1] if found else {}

    def __iter__(self) -> Iterator[str]:
        return iter(self.fixed)

    def __len__(self) -> int:
        return len(self.fixed)
