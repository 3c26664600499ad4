"""What a scientist looks at after `snakemake --profile profiles/short`: every figure with its
provenance, a resource plot per run, one benchmark table, and the HTML report in a real browser."""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from simwarden.pipeline import layout
from simwarden.results.plots.common import CATEGORY_COLOURS
from tests.browser import artifacts_dir, chromium, console_errors
from tests.workflow.conftest import Workflow, make_workflow, output

# The figures the demo makes (each labelled; voltage only with record_voltage), saved as png
# and pdf by the demo config.
DEMO_FIGURES = {"raster", "population_rate"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Workflow:
    """One short run of two tiny parameter sets, shared by the tests of this module."""
    flow = make_workflow(tmp_path_factory.mktemp("results"), shared_cache)
    done = flow.snakemake()
    assert done.returncode == 0, output(done)
    return flow


def test_every_figure_is_saved_as_png_and_pdf_with_its_provenance(finished: Workflow) -> None:
    from simwarden.results.figures import read_provenance

    (code,) = (finished.root / "results" / "code").glob("*.json")  # the one checkout
    provenance = json.loads(code.read_text())
    for run in ("a", "b"):
        figures = finished.root / "results" / "figures" / run
        assert {p.stem for p in (figures / "png").iterdir()} == DEMO_FIGURES
        assert {p.stem for p in (figures / "pdf").iterdir()} == DEMO_FIGURES
        params_hash = finished.record(run)["context"]["params_hash"]
        for path in [*(figures / "png").iterdir(), *(figures / "pdf").iterdir()]:
            meta = read_provenance(path)
            assert meta["commit"] == provenance["commit"], path
            assert meta["run"] == run, path
            assert meta["run_config"] == "short", path
            assert meta["params_hash"] == params_hash, path
            assert meta["repository"] == provenance["url"], path


def test_a_resource_plot_per_run_and_a_summary(finished: Workflow) -> None:
    plots = finished.root / "results" / "plots"
    assert sorted(p.name for p in plots.iterdir()) == [
        "a.resources.svg",
        "b.resources.svg",
        "summary.svg",
    ]
    # The summary: one bar per run in each panel, in the colour of a run that exited ok.
    summary = ElementTree.parse(plots / "summary.svg").getroot()
    texts = [t.text for t in summary.iter("{http://www.w3.org/2000/svg}text")]
    assert texts[:2] == ["2 runs: 2 exited ok", "exited ok (2)"], texts
    bars = [e for e in summary.iter() if e.get("class") == "bar"]
    assert [(b.get("data-run"), b.get("fill")) for b in bars] == [
        (run, CATEGORY_COLOURS["exited ok"]) for run in ("a", "b", "a", "b")
    ]
    assert (finished.root / layout.log(layout.PLOT_SUMMARY, layout.PLOT_SUMMARY)).read_text() == ""
    for run in ("a", "b"):
        svg = ElementTree.parse(plots / f"{run}.resources.svg").getroot()
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
        assert svg.get("viewBox") == "0 0 1000 600"
        texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
        assert texts[0] is not None and texts[0].startswith(f"{run} · commit "), texts


def test_benchmark_table_has_one_row_per_run(finished: Workflow) -> None:
    import pandas

    with open(finished.root / "results" / "benchmarks.csv", newline="") as handle:
        rows = {row["run"]: row for row in csv.DictReader(handle)}
    assert sorted(rows) == ["a", "b"]
    commit = finished.record("a")["context"]["commit"]
    for run, row in rows.items():
        record = finished.record(run)
        assert row["commit"] == commit
        assert row["run_config"] == "short"
        assert (row["reason"], row["exit_code"]) == ("exited", "0")
        # The best-known peak: the sampled tree's, or the kernel's per-process peak when higher.
        peak = max(record["peak_rss_bytes"], record["kernel_peak_rss_bytes"])
        assert float(row["peak_rss_mb"]) == pytest.approx(peak / 1e6, abs=0.01)
        assert row["param.seed"] == {"a": "1", "b": "2"}[run]
        # Snakemake's benchmark columns under their own names, and the demo's own timers.
        for column in ("s", "max_rss", "mean_load", "cpu_time"):
            assert row[column] != "", column
        assert float(row["timer.simulate"]) > 0
    table = pandas.read_hdf(finished.root / "results" / "benchmarks.h5", key="benchmarks")
    assert sorted(table["run"]) == ["a", "b"]


def test_the_failures_page_says_that_no_run_failed(finished: Workflow) -> None:
    page = (finished.root / "results" / "failures.html").read_text(encoding="utf-8")
    assert "<p>No run failed.</p>" in page
    assert "<img" not in page


def test_the_commits_page_says_that_no_simulation_lists_two_commits(finished: Workflow) -> None:
    from simwarden.results.commits import CSV_COLUMNS

    page = (finished.root / "results" / "commits.html").read_text(encoding="utf-8")
    assert "<h1>Did the results change?</h1>" in page
    assert "<p>No simulation lists two commits: nothing to compare.</p>" in page
    assert "<table" not in page
    header = (finished.root / "results" / "commits.csv").read_text().splitlines()
    assert header == [",".join(CSV_COLUMNS)]


def test_the_report_lists_each_runs_figures_under_the_run(finished: Workflow) -> None:
    """One commit: the Figures category has one entry per run, each figure labelled by its
    name only (as before runs at several commits were grouped)."""
    report = finished.root / "report-index.html"
    done = finished.snakemake("--report", str(report))
    assert done.returncode == 0, output(done)
    text = report.read_text(encoding="utf-8")
    index = {
        name: json.loads(found.group(1))
        for name in ("categories", "results")
        if (found := re.search(rf"^\s*var {name} = (\{{.*\}});$", text, re.MULTILINE))
    }
    figures = index["categories"]["Figures"]
    assert sorted(figures) == ["a", "b"]
    for run, paths in figures.items():
        assert sorted(paths) == [
            f"results/figures/{run}/png/{name}.png" for name in sorted(DEMO_FIGURES)
        ]
        labels = [index["results"][path]["labels"] for path in paths]
        assert sorted(label["figure"] for label in labels) == sorted(DEMO_FIGURES)
        assert all(list(label) == ["figure"] for label in labels)
    assert list(index["categories"]["Commits"].values()) == [["results/commits.html"]]


@pytest.mark.browser
def test_report_opens_in_chromium_without_errors_and_shows_the_figures(
    finished: Workflow,
) -> None:
    report = finished.root / "report.html"
    done = finished.snakemake("--report", str(report))
    assert done.returncode == 0, output(done)
    with chromium() as driver:
        driver.get(report.as_uri())
        shown = _open_figure(driver, "a", "raster")
        driver.save_screenshot(str(artifacts_dir() / "report.png"))
        assert console_errors(driver) == []
    assert shown["naturalWidth"] > 100, shown
    # The picture on screen is the saved figure itself, byte for byte.
    header, _, payload = shown["src"].partition(";base64,")
    assert header.startswith("data:image/png;"), header
    saved = finished.root / "results" / "figures" / "a" / "png" / "raster.png"
    assert base64.b64decode(payload) == saved.read_bytes()


def _open_figure(driver, run: str, figure: str) -> dict:
    """Click Figures → the run → the figure's eye button, as a reader would; return the <img>."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 30)

    def click(xpath: str) -> None:
        wait.until(ec.element_to_be_clickable((By.XPATH, xpath))).click()

    click("//nav//a[normalize-space()='Figures']")
    click(f"//nav//a[normalize-space()='{run}']")
    click(f"//nav//tr[td[normalize-space()='{figure}']]//a[@iconname='eye']")
    image = wait.until(
        ec.visibility_of_element_located((By.XPATH, "//img[starts-with(@src, 'data:image/png')]"))
    )
    wait.until(lambda d: d.execute_script("return arguments[0].complete", image))
    return driver.execute_script(
        "return {src: arguments[0].src, naturalWidth: arguments[0].naturalWidth}", image
    )
