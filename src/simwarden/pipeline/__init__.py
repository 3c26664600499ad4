"""The pipeline: what the Snakemake rules call. May import the warden and the core, never results
or the CLI.

- :mod:`.layout`: every path and rule name the rules declare, and the attempt-record naming.
- :mod:`.config`: the typed ``RunConfig`` and the checks made when the Snakefile is parsed.
- :mod:`.plan`: param sets and sweeps expanded into runs with stable ids.
- :mod:`.steps`: the ``fetch_code`` and ``validate_params`` steps.
- :mod:`.job`: one ``run_simulation`` job; building the warden's options is pure.
- :mod:`.scripting`: what every rule script shares (the job's log, exit 125 on a user error).
- :mod:`.gitcache`, :mod:`.runners`, :mod:`.params`: the cache, the argv builders, parameter sets.
"""
