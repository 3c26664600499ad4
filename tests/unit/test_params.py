"""Tests for simwarden.pipeline.params: loading, validation, run ids, sweeps and atomic JSON
writes."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from simwarden.core.errors import UserError
from simwarden.core.fsutil import write_json_atomic
from simwarden.pipeline.params import (
    MAX_ALIAS_EXPANSION,
    ParamError,
    check_run_id,
    expand_sweep,
    load_param_file,
    params_hash,
    run_id,
    validate,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------------------- loading


def test_load_yaml_nested(tmp_path: Path) -> None:
    path = write(
        tmp_path / "set.yaml",
        "network:\n  n_neurons: 100\n  dt: 0.1\nlabel: demo\nseeds: [1, 2]\nmem: 4GB\n",
    )
    assert load_param_file(path) == {
        "network": {"n_neurons": 100, "dt": 0.1},
        "label": "demo",
        "seeds": [1, 2],
        "mem": "4GB",
    }


def test_load_yml_suffix_any_case(tmp_path: Path) -> None:
    assert load_param_file(write(tmp_path / "set.YML", "a: 1\n")) == {"a": 1}


def test_load_yaml_merge_key_may_override(tmp_path: Path) -> None:
    text = "base: &b {x: 1, y: 2}\nrun:\n  <<: *b\n  y: 3\n"
    assert load_param_file(write(tmp_path / "m.yaml", text)) == {
        "base": {"x": 1, "y": 2},
        "run": {"x": 1, "y": 3},
    }


def test_load_json(tmp_path: Path) -> None:
    path = write(tmp_path / "set.json", '{"network": {"n_neurons": 5}, "flag": true, "x": null}')
    assert load_param_file(path) == {"network": {"n_neurons": 5}, "flag": True, "x": None}


def test_load_cfg_sections_case_and_conversion(tmp_path: Path) -> None:
    text = (
        "[Stimulus]\n"
        "nTrials = 12\n"
        "offset = -3\n"
        "contrast = 0.8\n"
        "rate = 1e-3\n"
        "Flag = True\n"
        "other = false\n"
        "loop = yes\n"
        "stop = NO\n"
        "missing = None\n"
        "nothing = null\n"
        "oris = [0, 45, 90]\n"
        "pair = (1, 'a')\n"
        "table = {'a': [1.5, None]}\n"
        "quoted = 'hello world'\n"
        "plain = a, b\n"
        "words = [a, b]\n"
        "aset = {1, 2}\n"
        "notnum = nan\n"
        "hex = 0x10\n"
        "under = 1_000\n"
        "empty =\n"
        "\n"
        "[display]\n"
        "monitor = testMonitor\n"
    )
    assert load_param_file(write(tmp_path / "stim.cfg", text)) == {
        "Stimulus": {
            "nTrials": 12,
            "offset": -3,
            "contrast": 0.8,
            "rate": 0.001,
            "Flag": True,
            "other": False,
            "loop": True,
            "stop": False,
            "missing": None,
            "nothing": None,
            "oris": [0, 45, 90],
            "pair": [1, "a"],
            "table": {"a": [1.5, None]},
            "quoted": "hello world",
            "plain": "a, b",
            "words": "[a, b]",
            "aset": "{1, 2}",
            "notnum": "nan",
            "hex": "0x10",
            "under": "1_000",
            "empty": "",
        },
        "display": {"monitor": "testMonitor"},
    }


def test_load_ini_default_section_is_inherited(tmp_path: Path) -> None:
    text = "[DEFAULT]\nseed = 1\n[a]\nx = 2\n[b]\nseed = 3\n"
    assert load_param_file(write(tmp_path / "p.ini", text)) == {
        "a": {"x": 2, "seed": 1},
        "b": {"seed": 3},
    }


def test_cfg_code_stays_a_string_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    touch = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    text = (
        "[s]\n"
        "a = __import__('os').system('x')\n"
        f"b = {touch}\n"
        f"c = [{touch}]\n"
        f"d = ({touch})\n"
        f"e = {{'k': {touch}}}\n"
    )
    loaded = load_param_file(write(tmp_path / "evil.cfg", text))
    assert loaded == {
        "s": {
            "a": "__import__('os').system('x')",
            "b": touch,
            "c": f"[{touch}]",
            "d": f"({touch})",
            "e": f"{{'k': {touch}}}",
        }
    }
    assert not marker.exists()


def test_cfg_env_substitution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMWARDEN_T_DIR", "/data/stims")
    monkeypatch.setenv("SIMWARDEN_T_N", "42")
    text = (
        "[paths]\n"
        "stim = ${SIMWARDEN_T_DIR}/gratings\n"
        "bare = $SIMWARDEN_T_DIR/x\n"
        "count = $SIMWARDEN_T_N\n"
        "listed = [${SIMWARDEN_T_N}, 1]\n"
        "price = $$5\n"
        "lonely = a $ b\n"
    )
    assert load_param_file(write(tmp_path / "env.cfg", text)) == {
        "paths": {
            "stim": "/data/stims/gratings",
            "bare": "/data/stims/x",
            "count": 42,
            "listed": [42, 1],
            "price": "$5",
            "lonely": "a $ b",
        }
    }


def test_cfg_unset_env_var_names_file_section_key_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIMWARDEN_T_UNSET", raising=False)
    path = write(tmp_path / "env.cfg", "[sim]\nout = ${SIMWARDEN_T_UNSET}/x\n")
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == (
        f"{path}: [sim] out: environment variable SIMWARDEN_T_UNSET is not set; "
        "export it or write the value directly"
    )


def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == (
        f"{path}: parameter file does not exist; check the path in the config"
    )


def test_load_unknown_suffix(tmp_path: Path) -> None:
    path = write(tmp_path / "set.toml", "a = 1\n")
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == (
        f"{path}: unknown parameter file type '.toml'; accepted: .yaml, .yml, .json, .cfg, .ini"
    )


def test_load_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(UserError, match=r"bad\.yaml:3: not valid YAML: ") as info:
        load_param_file(path)
    assert str(info.value).startswith(f"{path}:3: not valid YAML: ")
    assert str(info.value).endswith("; fix the syntax")


def test_load_yaml_duplicate_key_names_line(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.yaml", "a: 1\nnet:\n  n: 1\n  n: 2\n")
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == f"{path}:4: not valid YAML: duplicate key 'n'; fix the syntax"


def billion_laughs() -> str:
    """Nine levels of nine aliases each: 342 bytes that expand to 10**9 values."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", ["laughs.yaml", "laughs.schema.yaml"])
def test_a_billion_laughs_yaml_is_refused_before_it_is_built(tmp_path: Path, name: str) -> None:
    text = billion_laughs()
    assert len(text.encode()) <= 520  # the file was 520 bytes
    path = write(tmp_path / name, text)
    with pytest.raises(UserError) as info:
        if name.endswith(".schema.yaml"):
            validate({}, path, source="params")
        else:
            load_param_file(path)
    assert str(info.value) == (
        f"{path}: refused: its YAML aliases expand to more than {MAX_ALIAS_EXPANSION} values; "
        "write the values out or use fewer nested aliases"
    )


def test_shared_yaml_blocks_within_the_limit_load(tmp_path: Path) -> None:
    path = write(
        tmp_path / "shared.yaml",
        "base: &base {rate_hz: 20.0, n: [1, 2, 3]}\nleft: *base\nright: {<<: *base, n: [4]}\n",
    )
    assert load_param_file(path) == {
        "base": {"rate_hz": 20.0, "n": [1, 2, 3]},
        "left": {"rate_hz": 20.0, "n": [1, 2, 3]},
        "right": {"rate_hz": 20.0, "n": [4]},
    }


def test_a_yaml_alias_inside_its_own_value_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "loop.yaml", "a: &a [1, *a]\n")
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == f"{path}: a YAML alias refers to its own value; write it out"


def test_deeply_nested_json_is_refused_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path / "deep.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == f"{path}: nested too deeply to read; flatten the structure"


def test_load_json_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.json", '{\n  "a": 1,\n  "b": \n}\n')
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == (
        f"{path}:4: not valid JSON: Expecting value (column 1); fix the syntax"
    )


def test_load_json_duplicate_key(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.json", '{"a": 1, "a": 2}')
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == f"{path}: duplicate key 'a'; keep one of them"


def test_load_cfg_without_section_names_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.cfg", "# comment\nx = 1\n")
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == (
        f"{path}:2: not a valid .cfg file: expected [section] headers and key = value lines"
    )


def test_load_cfg_garbage_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.cfg", "[s]\nx = 1\njust words\n")
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == (
        f"{path}:3: not a valid .cfg file: expected [section] headers and key = value lines"
    )


def test_load_cfg_duplicate_key_names_line(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.cfg", "[s]\nx = 1\nx = 2\n")
    with pytest.raises(UserError, match=rf"^{path}:3: .*'x'.*; keep one of them$"):
        load_param_file(path)


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("list.yaml", "- 1\n- 2\n", "a list"),
        ("num.json", "3", "an integer"),
        ("s.yaml", "hello\n", "a string"),
    ],
)
def test_load_top_level_not_a_mapping(tmp_path: Path, name: str, text: str, kind: str) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == (
        f"{path}: top level is {kind}, expected a mapping of parameter names to values"
    )


@pytest.mark.parametrize("name", ["e.yaml", "e.json", "e.cfg"])
def test_load_empty_file(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, "  \n")
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == (
        f"{path}: parameter file is empty; write {{}} for a set of defaults only"
    )


def test_load_yaml_empty_mapping_is_fine(tmp_path: Path) -> None:
    assert load_param_file(write(tmp_path / "e.yaml", "{}\n")) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("run:\n  date: 2024-01-01\n", "run.date: a date cannot be stored in JSON; quote it"),
        ("1: a\n", "1: key 1 is an integer, not a string; quote it"),
        ("x: [1, .nan]\n", "x[1]: nan cannot be stored in JSON; use a number"),
    ],
)
def test_load_yaml_values_json_cannot_hold(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "v.yaml", text)
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == f"{path}: {message}"


def test_load_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"a: caf\xe9\n")
    with pytest.raises(UserError) as info:
        load_param_file(path)
    assert str(info.value) == f"{path}: not UTF-8 text (bad byte at offset 6); save it as UTF-8"


# ------------------------------------------------------------------------------------ validation

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["model"],
    "properties": {
        "model": {"type": "string", "enum": ["lif", "adex"]},
        "network": {
            "type": "object",
            "default": {},
            "additionalProperties": False,
            "properties": {
                "n_neurons": {"type": "integer", "minimum": 1, "default": 100},
                "dt": {"type": "number", "exclusiveMinimum": 0, "default": 0.1},
                "synapse": {
                    "type": "object",
                    "default": {},
                    "properties": {"tau": {"type": "number", "default": 5.0}},
                },
            },
        },
        "seeds": {"type": "array", "items": {"type": "integer"}, "default": [1, 2]},
        "mem": {"type": ["string", "number"], "format": "size", "default": "1GB"},
        "time_limit": {"type": ["string", "number"], "format": "duration"},
        "noise": {
            "type": "object",
            "properties": {"sigma": {"type": "number", "default": 0.5}},
        },
    },
}


def test_validate_fills_nested_defaults() -> None:
    assert validate({"model": "lif"}, SCHEMA, source="p.yaml") == {
        "model": "lif",
        "network": {"n_neurons": 100, "dt": 0.1, "synapse": {"tau": 5.0}},
        "seeds": [1, 2],
        "mem": "1GB",
    }


def test_validate_fills_defaults_inside_given_objects_and_keeps_values() -> None:
    params = {"model": "adex", "network": {"dt": 0.5, "synapse": {}}, "noise": {}}
    assert validate(params, SCHEMA, source="p.yaml") == {
        "model": "adex",
        "network": {"n_neurons": 100, "dt": 0.5, "synapse": {"tau": 5.0}},
        "seeds": [1, 2],
        "mem": "1GB",
        "noise": {"sigma": 0.5},
    }


def test_validate_does_not_mutate_input_or_schema() -> None:
    params = {"model": "lif", "network": {"dt": 0.2}}
    params_before = copy.deepcopy(params)
    schema_before = copy.deepcopy(SCHEMA)
    result = validate(params, SCHEMA, source="p.yaml")
    assert params == params_before
    result["seeds"].append(99)
    result["network"]["synapse"]["tau"] = 0.0
    assert schema_before == SCHEMA
    assert validate({"model": "lif"}, SCHEMA, source="p.yaml")["seeds"] == [1, 2]


def test_validate_reports_all_errors_at_once_with_file_and_key_path() -> None:
    params = {"model": "hh", "network": {"n_neurons": 0, "dt": "fast"}}
    with pytest.raises(ParamError) as info:
        validate(params, SCHEMA, source="config/sets/a.yaml")
    assert str(info.value) == "\n".join(
        [
            'config/sets/a.yaml: model: not one of the allowed values (got "hh"; '
            'accepted: string, one of "lif", "adex")',
            'config/sets/a.yaml: network.dt: wrong type (got "fast"; accepted: number, > 0)',
            "config/sets/a.yaml: network.n_neurons: too small (got 0; accepted: integer, >= 1)",
        ]
    )
    assert len(info.value.problems) == 3
    assert isinstance(info.value, UserError)


def test_validate_names_unknown_keys_one_line_each() -> None:
    params = {"model": "lif", "netwrk": {}, "network": {"n_neuron": 3}, "zzz": 1}
    with pytest.raises(ParamError) as info:
        validate(params, SCHEMA, source="a.yaml")
    assert str(info.value).splitlines() == [
        "a.yaml: network.n_neuron: unknown key, did you mean 'n_neurons'? "
        "(got 3; accepted: dt, n_neurons, synapse)",
        "a.yaml: netwrk: unknown key, did you mean 'network'? "
        "(got {}; accepted: mem, model, network, noise, seeds, time_limit)",
        "a.yaml: zzz: unknown key (got 1; accepted: mem, model, network, noise, seeds, time_limit)",
    ]


def test_validate_missing_required_and_list_item_path() -> None:
    with pytest.raises(ParamError) as info:
        validate({"seeds": [1, "two"]}, SCHEMA, source="a.json")
    assert str(info.value).splitlines() == [
        'a.json: model: missing required key (accepted: string, one of "lif", "adex")',
        'a.json: seeds[1]: wrong type (got "two"; accepted: integer)',
    ]


def test_validate_reports_bad_default_in_schema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "default": "ten"}}}
    with pytest.raises(ParamError) as info:
        validate({}, schema, source="a.yaml")
    assert str(info.value) == 'a.yaml: n: wrong type (got "ten"; accepted: integer)'


@pytest.mark.parametrize("mem", ["500MB", "1.5GiB", "4*1024**3", "80%", 512, 0.5])
def test_validate_size_format_accepted(mem: Any) -> None:
    result = validate({"model": "lif", "mem": mem}, SCHEMA, source="a.yaml")
    assert result["mem"] == mem


@pytest.mark.parametrize("mem", ["5 parsecs", "-1GB", "0", "GB", -5])
def test_validate_size_format_rejected(mem: Any) -> None:
    with pytest.raises(ParamError) as info:
        validate({"model": "lif", "mem": mem}, SCHEMA, source="a.yaml")
    assert str(info.value) == (
        f"a.yaml: mem: not a valid size (got {json.dumps(mem)}; "
        "accepted: a size like 500MB, 1.5GiB, 4*1024**3, 80%, or a number of MB)"
    )


@pytest.mark.parametrize("limit", ["90s", "10m", "2h", "1:30:00", 3600])
def test_validate_duration_format_accepted(limit: Any) -> None:
    result = validate({"model": "lif", "time_limit": limit}, SCHEMA, source="a.yaml")
    assert result["time_limit"] == limit


@pytest.mark.parametrize("limit", ["soon", "1:99:00", "-5s", "10 parsecs"])
def test_validate_duration_format_rejected(limit: str) -> None:
    with pytest.raises(ParamError) as info:
        validate({"model": "lif", "time_limit": limit}, SCHEMA, source="a.yaml")
    assert str(info.value) == (
        f'a.yaml: time_limit: not a valid duration (got "{limit}"; '
        "accepted: a duration like 90s, 10m, 2h, 1:30:00, or a number of seconds)"
    )


def test_validate_schema_from_json_and_yaml_files(tmp_path: Path) -> None:
    json_path = tmp_path / "schema.json"
    json_path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    yaml_path = write(
        tmp_path / "schema.yaml",
        "type: object\nproperties:\n  n: {type: integer, default: 3}\n",
    )
    assert validate({"model": "lif"}, json_path, source="a")["network"]["n_neurons"] == 100
    assert validate({}, yaml_path, source="a") == {"n": 3}


def test_validate_invalid_schema() -> None:
    with pytest.raises(UserError) as info:
        validate({}, {"type": "integr"}, source="a.yaml")
    assert str(info.value).startswith("schema: invalid JSON Schema at type: ")


# --------------------------------------------------------------------------------------- run ids


def test_params_hash_is_canonical_json_sha256() -> None:
    params = {"b": [1, 2.5], "a": {"y": None, "x": "é"}}
    canonical = '{"a":{"x":"\\u00e9","y":null},"b":[1,2.5]}'
    assert params_hash(params) == hashlib.sha256(canonical.encode()).hexdigest()
    assert params_hash({"a": {"x": "é", "y": None}, "b": [1, 2.5]}) == params_hash(params)
    assert params_hash({"a": 1}) != params_hash({"a": 1.0}) != params_hash({"a": "1"})


def test_run_id_named_set_is_the_name() -> None:
    assert run_id("baseline", {}) == "baseline"
    assert run_id("v1.2_fast-run", {}) == "v1.2_fast-run"


def test_run_id_sweep_point_readable_and_stable_under_reordering() -> None:
    assert run_id("base", {"network.n": 10, "dt": 0.5}) == "base__dt-0.5_network.n-10"
    assert run_id("base", {"dt": 0.5, "network.n": 10}) == "base__dt-0.5_network.n-10"
    assert run_id("b", {"on": True, "x": None, "g": -1, "s": "lif", "e": 1e-05}) == (
        "b__e-1e-05_g--1_on-true_s-lif_x-null"
    )
    assert run_id(None, {"a": 1}) == "a-1"


@pytest.mark.parametrize(
    ("params", "canonical"),
    [
        ({"model": "lif_cond"}, '{"model":"lif_cond"}'),  # "_" in a value would be ambiguous
        ({"a": "1"}, '{"a":"1"}'),  # a string that reads as a number
        ({"my-key": 1}, '{"my-key":1}'),  # "-" in a key would be ambiguous
        ({"w": [1, 2]}, '{"w":[1,2]}'),  # not a scalar
        ({"n": 1e16}, '{"n":1e+16}'),  # "+" is not a safe character
        ({"s": "x" * 70}, '{"s":"' + "x" * 70 + '"}'),  # too long to read
    ],
)
def test_run_id_hashed_when_not_readable(params: dict[str, Any], canonical: str) -> None:
    assert run_id("base", params) == f"base__{sha12(canonical)}"
    assert run_id(None, params) == sha12(canonical)


def test_run_id_distinguishes_types() -> None:
    ids = {run_id("b", {"a": value}) for value in (1, 1.0, "1", True, "true", None, "null")}
    assert len(ids) == 7


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../etc", "etc__" + sha12("../etc")),
        ("a/b", "a_b__" + sha12("a/b")),
        ("a\\b", "a_b__" + sha12("a\\b")),
        (".hidden", "hidden__" + sha12(".hidden")),
        ("-rf", "rf__" + sha12("-rf")),
        ("..", sha12("..")),
        (".", sha12(".")),
        ("", sha12("")),
        ("a\0b", "a_b__" + sha12("a\0b")),
        ("µ-model", "model__" + sha12("µ-model")),
        ("модель", sha12("модель")),
        ("x" * 300, "x" * 50 + "__" + sha12("x" * 300)),
    ],
)
def test_run_id_nasty_names_are_safe(name: str, expected: str) -> None:
    rid = run_id(name, {})
    assert rid == expected
    assert len(rid) <= 64
    assert check_run_id(rid) == rid


def test_run_id_different_unsafe_names_differ() -> None:
    assert len({run_id(name, {}) for name in ("a b", "a_b", "a/b", "a\\b")}) == 4


def test_run_id_long_name_with_sweep_point_fits() -> None:
    base = "y" * 36 + "__" + sha12("y" * 100)  # shortened to leave room for a 12-hex hash
    assert run_id("y" * 100, {"a": 1}) == base + "__a-1"
    rid = run_id("y" * 100, {"a": "z" * 20})
    assert rid == base + "__" + sha12('{"a":"' + "z" * 20 + '"}')
    assert len(rid) == 64
    assert run_id("y" * 100, {"a": 1}, max_len=200) == "y" * 100 + "__a-1"


def test_run_id_rejects_tiny_max_len() -> None:
    with pytest.raises(ValueError, match="max_len must be at least 32, got 10"):
        run_id("a", {}, max_len=10)


@pytest.mark.parametrize("good", ["a", "base__a-1", "v1.2", "_x", "9", "a..b"])
def test_check_run_id_accepts(good: str) -> None:
    assert check_run_id(good) == good


@pytest.mark.parametrize(
    "bad", ["", ".", "..", "../x", "a/../b", "a/b", "/abs", "a\\b", "a\0b", "-rf", ".hidden", "a b"]
)
def test_check_run_id_refuses(bad: str) -> None:
    with pytest.raises(UserError) as info:
        check_run_id(bad)
    assert str(info.value) == (
        f"unsafe run id {bad!r}: use 1-255 characters from A-Z a-z 0-9 . _ - "
        "not starting with . or -; take ids from the config, not typed paths"
    )


def test_check_run_id_refuses_too_long() -> None:
    with pytest.raises(UserError):
        check_run_id("a" * 256)


# ---------------------------------------------------------------------------------------- sweeps

BASE: dict[str, Any] = {"network": {"n": 10, "dt": 0.1}, "model": "lif"}


def test_sweep_grid_is_cartesian_product_in_order() -> None:
    base = copy.deepcopy(BASE)
    runs = expand_sweep("s", base, {"grid": {"network.n": [10, 20], "model": ["lif", "adex"]}})
    assert list(runs) == [
        "s__model-lif_network.n-10",
        "s__model-adex_network.n-10",
        "s__model-lif_network.n-20",
        "s__model-adex_network.n-20",
    ]
    assert runs["s__model-adex_network.n-20"] == {"network": {"n": 20, "dt": 0.1}, "model": "adex"}
    assert base == BASE
    runs["s__model-lif_network.n-10"]["network"]["dt"] = 9.0
    assert runs["s__model-adex_network.n-10"]["network"]["dt"] == 0.1


def test_sweep_zip_is_lock_step() -> None:
    runs = expand_sweep(
        "z", BASE, {"zip": {"network.n": [1, 2, 3], "network.dt": [0.5, 0.25, 0.1]}}
    )
    assert runs == {
        "z__network.dt-0.5_network.n-1": {"network": {"n": 1, "dt": 0.5}, "model": "lif"},
        "z__network.dt-0.25_network.n-2": {"network": {"n": 2, "dt": 0.25}, "model": "lif"},
        "z__network.dt-0.1_network.n-3": {"network": {"n": 3, "dt": 0.1}, "model": "lif"},
    }


def test_sweep_grid_and_zip_product_and_new_nested_keys() -> None:
    runs = expand_sweep(
        "g",
        BASE,
        {"grid": {"model": ["lif", "adex"]}, "zip": {"noise.sigma": [0.1, 0.2], "seed": [1, 2]}},
    )
    assert list(runs) == [
        "g__model-lif_noise.sigma-0.1_seed-1",
        "g__model-lif_noise.sigma-0.2_seed-2",
        "g__model-adex_noise.sigma-0.1_seed-1",
        "g__model-adex_noise.sigma-0.2_seed-2",
    ]
    assert runs["g__model-adex_noise.sigma-0.2_seed-2"] == {
        "network": {"n": 10, "dt": 0.1},
        "model": "adex",
        "noise": {"sigma": 0.2},
        "seed": 2,
    }


def test_sweep_unreadable_points_get_hashed_ids() -> None:
    runs = expand_sweep("h", BASE, {"grid": {"network.weights": [[1, 2], [3, 4]]}})
    assert list(runs) == [
        "h__" + sha12('{"network.weights":[1,2]}'),
        "h__" + sha12('{"network.weights":[3,4]}'),
    ]
    assert runs["h__" + sha12('{"network.weights":[3,4]}')]["network"]["weights"] == [3, 4]


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        (
            {"zip": {"a": [1, 2], "b": [1, 2, 3]}},
            "sweep of 'run': zip lists must have the same length (a has 2, b has 3)",
        ),
        ({"grid": {"a": [1, 1]}}, "sweep of 'run': run id 'run__a-1' comes up twice"),
        (
            {"zip": {"a": [1, 1], "b": [2, 2]}},
            "sweep of 'run': run id 'run__a-1_b-2' comes up twice",
        ),
        ({"product": {"a": [1]}}, "sweep of 'run': unknown key 'product'; accepted: grid, zip"),
        ({}, "sweep of 'run': give grid and/or zip"),
        ({"grid": {"a": []}}, "sweep of 'run': grid.a must be a non-empty list of values"),
        ({"grid": {"a": "12"}}, "sweep of 'run': grid.a must be a non-empty list of values"),
        ({"grid": {}}, "sweep of 'run': grid must map dotted keys to lists of values"),
        (
            {"grid": {"model.kind": [1]}},
            "sweep of 'run': cannot set model.kind: model is a string",
        ),
        (
            {"grid": {"network.n.x": [1]}},
            "sweep of 'run': cannot set network.n.x: network.n is an integer",
        ),
        ({"grid": {"a..b": [1]}}, "sweep of 'run': 'a..b' is not a dotted key path"),
        (
            {"grid": {"a": [1]}, "zip": {"a": [2]}},
            "sweep of 'run': 'a' is in both grid and zip; keep it in one",
        ),
    ],
)
def test_sweep_errors(sweep: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError) as info:
        expand_sweep("run", BASE, sweep)
    assert str(info.value).startswith(message)


def test_sweep_duplicate_message_names_both_points() -> None:
    with pytest.raises(UserError) as info:
        expand_sweep("run", BASE, {"grid": {"a": [1, 1]}})
    assert str(info.value) == (
        "sweep of 'run': run id 'run__a-1' comes up twice "
        '({"a": 1} and {"a": 1}); remove the repeated values'
    )


# ----------------------------------------------------------------------------------------- files


def test_write_json_atomic_format_and_no_temp_left(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "out.json"
    write_json_atomic(target, {"b": 1, "a": {"y": [1, 2], "x": "é"}})
    assert target.read_text(encoding="utf-8") == (
        '{\n  "a": {\n    "x": "é",\n    "y": [\n      1,\n      2\n    ]\n  },\n  "b": 1\n}\n'
    )
    assert os.listdir(target.parent) == ["out.json"]


def test_write_json_atomic_replaces_by_rename(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_json_atomic(target, {"v": 1})
    old_inode = target.stat().st_ino
    with target.open(encoding="utf-8") as reader:
        write_json_atomic(target, {"v": 2})
        # The open handle still sees the complete old file: the new one was renamed into place.
        assert json.loads(reader.read()) == {"v": 1}
    assert json.loads(target.read_text(encoding="utf-8")) == {"v": 2}
    assert target.stat().st_ino != old_inode
    assert os.listdir(tmp_path) == ["out.json"]


def test_write_json_atomic_honours_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "out.json", [])
    finally:
        os.umask(old)
    assert (tmp_path / "out.json").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(("data", "error"), [({"x": float("nan")}, ValueError), ({1j}, TypeError)])
def test_write_json_atomic_bad_data_leaves_old_file(
    tmp_path: Path, data: Any, error: type[Exception]
) -> None:
    target = tmp_path / "out.json"
    write_json_atomic(target, {"v": 1})
    with pytest.raises(error):
        write_json_atomic(target, data)
    assert target.read_text(encoding="utf-8") == '{\n  "v": 1\n}\n'
    assert os.listdir(tmp_path) == ["out.json"]
