"""A run's jobs as Snakemake would expand them from their rules, without building the DAG:
files, params serialised as Snakemake stores them, code and script. Used by
:mod:`simwarden.results.status` with the checks of :mod:`simwarden.results.snakemake_view`."""

from __future__ import annotations

from typing import Any

from simwarden.results.snakemake_view import Job


def _serializer() -> Any:
    """Snakemake's own serialisation of a param value, pandas imported only when needed."""
    from snakemake.persistence import UNREPRESENTABLE, PersistenceBase

    class _Shim:
        _serialize_param_builtin = PersistenceBase._serialize_param_builtin

    shim = _Shim()

    def serialize(value: Any) -> str | None:
        if type(value).__module__.startswith("pandas"):
            result = PersistenceBase._serialize_param_pandas(shim, value)
        else:
            result = PersistenceBase._serialize_param_builtin(shim, value)
        return None if result is UNREPRESENTABLE else result

    return serialize


class Expander:
    """Jobs of a rule for given wildcards, as Snakemake's Job would expand them."""

    def __init__(self, workflow: Any) -> None:
        from snakemake.io import apply_wildcards, get_flag_value, is_callable, is_flagged
        from snakemake.rules import Rule

        self.workflow = workflow
        self._apply_wildcards = apply_wildcards
        self._is_callable = is_callable
        self._is_flagged = is_flagged
        self._get_flag_value = get_flag_value
        self._is_deriving = Rule._is_deriving_function
        self._serialize = _serializer()
        self._static: dict[str, tuple[str | None, str | None]] = {}

    def rule(self, name: str) -> Any:
        """The workflow's rule ``name``, or None when it has none."""
        try:
            return self.workflow.get_rule(name)
        except Exception:
            return None

    def job(self, rule: Any, wildcards: dict[str, str]) -> Job:
        """The job of ``rule`` for ``wildcards``: its files, params (serialised as Snakemake
        stores them), code and script, as Snakemake's Job would expand them."""
        inputs, _, _, _ = rule.expand_input(wildcards)
        outputs, _ = rule.expand_output(wildcards)
        paths = [self._input_path(f) for f in inputs]
        ancient = {str(f) for f in inputs if self._is_flagged(f, "ancient")}
        params: dict[str, str] = {}
        for index, (name, item) in enumerate(rule.params._allitems()):
            if self._is_callable(item):
                if self._is_deriving(item):
                    continue  # Snakemake does not store params derived from input/output/...
                value, _ = rule.apply_input_function(item, wildcards)
            elif isinstance(item, str):
                value = self._apply_wildcards(item, wildcards)
            elif isinstance(item, list):
                value = [
                    self._apply_wildcards(v, wildcards) if isinstance(v, str) else v for v in item
                ]
            else:
                value = item
            serialized = self._serialize(value)
            if serialized is not None:
                params[name or f"#{index}"] = serialized
        benchmark = rule.expand_benchmark(wildcards) if rule.benchmark else None
        log = [str(f) for f in rule.expand_log(wildcards)] if rule.log else []
        code, script = self._code_and_script(rule)
        return Job(
            rule=rule.name,
            inputs=paths,
            ancient=ancient,
            outputs=[str(f) for f in outputs],
            named_outputs={name: str(outputs[name]) for name in outputs._names},
            params=params,
            code=code,
            script=script,
            benchmark=str(benchmark) if benchmark else None,
            log=log,
        )

    def _input_path(self, f: Any) -> str:
        """An input file as Snakemake records it (a source-cache entry, a pipe, a service)."""
        if self._is_flagged(f, "sourcecache_entry"):
            return str(self._get_flag_value(f, "sourcecache_entry"))
        if self._is_flagged(f, "pipe"):
            return "<pipe>"
        if self._is_flagged(f, "service"):
            return "<service>"
        return str(f)

    def _code_and_script(self, rule: Any) -> tuple[str | None, str | None]:
        if rule.name not in self._static:
            # PersistenceBase._code: the shell command or the run:/script: block's source.
            code = rule.shellcmd if rule.shellcmd is not None else rule.run_func_src
            script = None
            path = rule.script or rule.notebook
            if path and "{" not in str(path):
                from snakemake.sourcecache import LocalSourceFile, infer_source_file

                source = infer_source_file(str(path))
                if isinstance(source, LocalSourceFile) and rule.basedir:
                    source = rule.basedir.join(source)
                if isinstance(source, LocalSourceFile):
                    script = source.get_path_or_uri(secret_free=True)
            self._static[rule.name] = (code, script)
        return self._static[rule.name]
