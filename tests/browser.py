"""Headless Chromium through ChromeDriver (Debian ``chromium``, ``chromium-driver``) for tests
that look at HTML the way a user does. Skips when Chromium cannot be had, unless
``SIMWARDEN_REQUIRE_BROWSER=1`` (CI), which makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import ROOT
from tests.system_packages import require_debian_packages

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Without the networking flags Chromium keeps trying to reach Google, which this closed
# network refuses; a fresh profile directory keeps runs independent.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)


def artifacts_dir() -> Path:
    """Where tests keep files for people to look at afterwards (screenshots)."""
    path = Path(os.environ.get("SIMWARDEN_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def chromium() -> Iterator[Any]:
    """A selenium WebDriver on headless Chromium that records the browser console; quit after."""
    require_debian_packages(
        ["chromium", "chromium-driver"], [CHROMIUM, CHROMEDRIVER], "SIMWARDEN_REQUIRE_BROWSER"
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="simwarden-chromium-")
    try:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        try:
            yield driver
        finally:
            driver.quit()  # ends chromedriver and every Chromium process it started
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver: Any) -> list[str]:
    """The SEVERE entries of the browser console so far (JavaScript errors, failed loads)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
