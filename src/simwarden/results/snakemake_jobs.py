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


def _memoise_signatures(rule: Any) -> None:
    """Give the rule's input and params functions their signature once, through Snakemake's own
    override attribute: Snakemake otherwise calls ``inspect.signature`` several times per job
    (half the expansion time of a 10,000-run sweep). The parsed workflow is this process's own,
    so no Snakemake run sees the attribute."""
    import inspect

    from snakemake.common import FUNC_OVERWRITE_PARAMS_ATTR

    for _, item in (*rule.input._allitems(), *rule.params._allitems()):
        if callable(item) and not hasattr(item, FUNC_OVERWRITE_PARAMS_ATTR):
            try:
                setattr(item, FUNC_OVERWRITE_PARAMS_ATTR, inspect.signature(item).parameters)
            except (AttributeError, TypeError, ValueError):  # a builtin or a slotted object
                continue


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
        self._static: dict[str, dict[str, str | None]] = {}
        self._plain: dict[str, bool] = {}

    def rule(self, name: str) -> Any:
        """The workflow's rule ``name``, or None when it has none."""
        try:
            rule = self.workflow.get_rule(name)
        except Exception:
            return None
        _memoise_signatures(rule)
        return rule

    def job(self, rule: Any, wildcards: dict[str, str]) -> Job:
        """The job of ``rule`` for ``wildcards``: its files, params (serialised as Snakemake
        stores them), code and script, as Snakemake's Job would expand them. Plain rules (files
        as patterns or from functions of the wildcards alone, paths no modifier changes) are
        expanded here, 3x faster than through Snakemake's Rule; any other rule through it."""
        fast = self.plain_job(rule, wildcards)
        return fast if fast is not None else self.snakemake_job(rule, wildcards)

    def snakemake_job(self, rule: Any, wildcards: dict[str, str]) -> Job:
        """The job as Snakemake's Rule expands it (what :meth:`job` does faster for plain
        rules, and the reference it is tested against)."""
        inputs, _, _, _ = rule.expand_input(wildcards)
        outputs, _ = rule.expand_output(wildcards)
        paths = [self._input_path(f) for f in inputs]
        ancient = {str(f) for f in inputs if self._is_flagged(f, "ancient")}
        params = self._params(rule, wildcards, lambda f: rule.apply_input_function(f, wildcards)[0])
        benchmark = rule.expand_benchmark(wildcards) if rule.benchmark else None
        log = [str(f) for f in rule.expand_log(wildcards)] if rule.log else []
        return Job(
            rule=rule.name,
            inputs=paths,
            ancient=ancient,
            outputs=[str(f) for f in outputs],
            named_outputs={name: str(outputs[name]) for name in outputs._names},
            params=params,
            benchmark=str(benchmark) if benchmark else None,
            log=log,
            **self._code_and_script(rule),
        )

    def plain_job(self, rule: Any, wildcards: dict[str, str]) -> Job | None:
        """The job expanded here; None when an item needs Snakemake's own expansion (a flag
        other than ancient, a function of more than the wildcards, a result not a path)."""
        from snakemake.iocontainers import Wildcards

        if not self._is_plain(rule):
            return None
        given = Wildcards(fromdict=wildcards)
        try:
            files = self._plain_inputs(rule, wildcards, given)
            if files is None:
                return None
            if not all(isinstance(f, str) for _, f in rule.output._allitems()):
                return None  # a named list of outputs (multiext)
            outputs = [self._apply_wildcards(str(f), wildcards) for f in rule.output]
            named = {
                name: self._apply_wildcards(str(f), wildcards)
                for name, f in rule.output._allitems()
                if name is not None
            }
            params = self._params(rule, wildcards, lambda f: f(given))
            log = [self._apply_wildcards(str(f), wildcards) for f in rule.log] if rule.log else []
        except Exception:  # Snakemake's expansion says it as Snakemake would
            return None
        benchmark = (
            self._apply_wildcards(str(rule.benchmark), wildcards) if rule.benchmark else None
        )
        return Job(
            rule=rule.name,
            inputs=files[0],
            ancient=files[1],
            outputs=outputs,
            named_outputs=named,
            params=params,
            benchmark=benchmark,
            log=log,
            **self._code_and_script(rule),
        )

    def _plain_inputs(
        self, rule: Any, wildcards: dict[str, str], given: Any
    ) -> tuple[list[str], set[str]] | None:
        paths: list[str] = []
        ancient: set[str] = set()
        for _, item in rule.input._allitems():
            if callable(item):
                if not self._takes_wildcards_only(item):
                    return None
                found = item(given)
                found = [found] if isinstance(found, str) else found
                if not isinstance(found, list) or any(type(f) is not str for f in found):
                    return None
                found = [self._apply_wildcards(f, wildcards) if "{" in f else f for f in found]
                modifier = rule.input_modifier  # a module's prefix, a default storage
                if modifier and any(modifier.modify(f, "input") is not f for f in found):
                    return None
                paths += found
                continue
            if not isinstance(item, str) or set(getattr(item, "flags", {})) - {"ancient"}:
                return None  # a list (named inputs), or a flag to leave to Snakemake
            path = self._apply_wildcards(str(item), wildcards)
            paths.append(path)
            if self._is_flagged(item, "ancient"):
                ancient.add(path)
        return paths, ancient

    def _is_plain(self, rule: Any) -> bool:
        """No default input flags, no flagged input function."""
        if rule.name not in self._plain:
            flagged = any(
                callable(item) and hasattr(item, "flags") for _, item in rule.input._allitems()
            )
            defaults = list(getattr(self.workflow.modifier, "default_input_flags", []))
            self._plain[rule.name] = not (defaults or flagged)
        return self._plain[rule.name]

    @staticmethod
    def _takes_wildcards_only(function: Any) -> bool:
        from snakemake.common import get_function_params

        parameters = list(get_function_params(function).values())
        return len(parameters) == 1 and parameters[0].kind in (
            parameters[0].POSITIONAL_ONLY,
            parameters[0].POSITIONAL_OR_KEYWORD,
        )

    def _params(self, rule: Any, wildcards: dict[str, str], call: Any) -> dict[str, str]:
        """The params Snakemake stores, serialised; ``call`` evaluates a params function."""
        params: dict[str, str] = {}
        for index, (name, item) in enumerate(rule.params._allitems()):
            if self._is_callable(item):
                if self._is_deriving(item):
                    continue  # Snakemake does not store params derived from input/output/...
                value = call(item)
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
        return params

    def _input_path(self, f: Any) -> str:
        """An input file as Snakemake records it (a source-cache entry, a pipe, a service)."""
        if self._is_flagged(f, "sourcecache_entry"):
            return str(self._get_flag_value(f, "sourcecache_entry"))
        if self._is_flagged(f, "pipe"):
            return "<pipe>"
        if self._is_flagged(f, "service"):
            return "<service>"
        return str(f)

    def _code_and_script(self, rule: Any) -> dict[str, str | None]:
        """``code`` and ``script`` of the rule's jobs (the same for every job)."""
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
            self._static[rule.name] = {"code": code, "script": script}
        return self._static[rule.name]
