"""check_config names the config file that set a bad key: a wrong type or a misspelt key in a
profile's run.yaml is reported against that file, not against "config.yaml + profile"."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from simwarden.pipeline.config import ConfigFiles, Notify, RunConfig, check_config
from simwarden.pipeline.params import ParamError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def test_each_bad_key_names_the_file_that_set_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    Path("config").mkdir()
    Path("config/config.yaml").write_text(yaml.safe_dump(config))
    run_yaml = {"run_config": {"mem_mb": "400MB", "mem_mbs": 10}}
    Path("run.yaml").write_text(yaml.safe_dump(run_yaml))
    merged = {**config, "run_config": {**config["run_config"], **run_yaml["run_config"]}}
    files = ConfigFiles(("config/config.yaml", "run.yaml"))

    with pytest.raises(ParamError) as raised:
        check_config(merged, SCHEMA, files=files)

    lines = str(raised.value).splitlines()
    assert len(lines) == 2, lines
    assert all(line.startswith("run.yaml: run_config.") for line in lines), lines
    assert any("run_config.mem_mb: wrong type" in line for line in lines), lines
    assert any("run_config.mem_mbs: unknown key" in line for line in lines), lines
    # Without the files, as before: one source for every line.
    with pytest.raises(ParamError) as unnamed:
        check_config(merged, SCHEMA)
    assert str(unnamed.value).startswith("config (config/config.yaml + profile): run_config.")


@pytest.mark.parametrize("profile", ["short", "std", "full"])
def test_each_shipped_run_config_passes_the_schema_and_the_parse(
    profile: str, tmp_path: Path
) -> None:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    run_yaml = yaml.safe_load((ROOT / "profiles" / profile / "run.yaml").read_text())
    checked = check_config({**config, **run_yaml}, SCHEMA)
    parsed = RunConfig.from_config(checked["run_config"], workflow_dir=tmp_path, environ={})
    assert parsed.stop_file == str(tmp_path.resolve() / "STOP")


def test_the_full_profile_guards_the_night_and_mails_the_users_address(tmp_path: Path) -> None:
    run_yaml = yaml.safe_load((ROOT / "profiles" / "full" / "run.yaml").read_text())
    env = {"SIMWARDEN_NOTIFY_EMAIL": "me@example.org"}
    parsed = RunConfig.from_config(run_yaml["run_config"], workflow_dir=tmp_path, environ=env)
    assert (parsed.min_free_disk_bytes, parsed.host_mem_percent) == (2 * 10**9, 90.0)
    assert (parsed.disk_path, parsed.stall_timeout_s) == (
        str(tmp_path.resolve() / "results"),
        1800.0,
    )
    assert parsed.notify == Notify(
        email=("me@example.org",),
        events=("memory", "timeout", "stalled", "disk", "host_memory", "failed"),
    )


def test_a_misspelt_notify_key_names_the_file_that_set_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    run_yaml = {"run_config": {"notify": {"emails": ["me@example.org"]}}}
    Path("run.yaml").write_text(yaml.safe_dump(run_yaml))
    merged = {**config, "run_config": {**config["run_config"], **run_yaml["run_config"]}}
    with pytest.raises(ParamError) as raised:
        check_config(merged, SCHEMA, files=ConfigFiles(("run.yaml",)))
    [line] = str(raised.value).splitlines()
    assert line.startswith("run.yaml: run_config.notify.emails: unknown key"), line
