"""Which builder makes a simulation's environment faster: uv or ``python -m venv`` + pip?

Builds the same small environment (one pure-Python package from PyPI) with each builder into a
fresh cache, interleaved, ``--repeat`` times each, and prints the times and the pip/uv ratio.
Both builders' own download caches are warm after the first round (a lab builds the same
packages again and again), so later rounds measure what a rebuild costs. Needs PyPI.

    python benchmarks/bench_envs.py [--repeat 3] [--package pyjokes==0.8.3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from simwarden.pipeline.envs import EnvironmentSpec, EnvRequest, ensure_env, find_builder


def build_once(builder_name: str, package: str) -> float:
    """Seconds to build an environment holding ``package`` into an empty cache."""
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp, "repo")
        repo.mkdir()
        (repo / "requirements.txt").write_text(package + "\n")
        request = EnvRequest(EnvironmentSpec("requirements.txt"), repo, "bench")
        builder = find_builder(builder_name)
        started = time.perf_counter()
        ensure_env(request, Path(tmp, "cache"), builder=builder, log=lambda _: None)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--package", default="pyjokes==0.8.3")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"uv": [], "pip": []}
    for _ in range(args.repeat):
        for name in times:  # interleaved: a slow moment of the network hits both
            times[name].append(build_once(name, args.package))
    for name, values in times.items():
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name:4} median {statistics.median(values):6.2f} s  ({shown})")
    ratio = statistics.median(times["pip"]) / statistics.median(times["uv"])
    print(f"pip / uv: {ratio:.1f}x")


if __name__ == "__main__":
    main()
