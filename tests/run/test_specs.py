"""Workload specs: every shipped file loads; typos and bad values name the file and key."""

from __future__ import annotations

import pytest

from benchctl.errors import InputError, UsageError
from benchctl.run.specs import (
    list_workload_names,
    load_suite,
    load_workload,
    parse_cpus,
    parse_overrides,
    parse_size,
    workloads_dir,
)

GOOD = """
format = "benchctl-workload/1"
name = "w"
driver = "memcached"
[needs]
programs = { memcached = "memcached" }
[params.n]
type = "int"
default = 2
min = 1
[params.size]
type = "size"
default = "1G"
[params.mode]
type = "str"
default = "a"
choices = ["a", "b"]
[params.flag]
type = "bool"
default = false
[presets.quick]
iterations = 2
set = { n = 3 }
[presets.claim]
iterations = 10
set = { size = "128G" }
"""


def write(tmp_path, text, name="w"):
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return p


def test_every_shipped_workload_loads():
    names = list_workload_names()
    assert "memcached" in names
    for n in names:
        w = load_workload(n)
        assert {"quick", "claim"} <= set(w.presets)
        w.resolve("quick")


def test_resolution_order_and_types(tmp_path):
    w = load_workload(write(tmp_path, GOOD))
    r = w.resolve("quick", {"flag": "yes", "size": "512M"})
    assert r.params == {"n": 3, "size": "512M", "mode": "a", "flag": True}
    assert r.iterations == 2 and r.warmup == 1
    assert w.resolve("claim").params["size"] == "128G"
    assert w.resolve("quick", iterations=7).iterations == 7


@pytest.mark.parametrize(
    "override, needle",
    [
        ({"nope": "1"}, "--set nope: workload w has no such parameter"),
        ({"n": "x"}, "--set n: expected an integer, got 'x'"),
        ({"n": "0"}, "--set n: must be >= 1"),
        ({"mode": "c"}, "--set mode: must be one of a, b"),
        ({"flag": "maybe"}, "--set flag: expected true or false"),
        ({"size": "lots"}, "--set size"),
    ],
)
def test_bad_overrides_name_the_key(tmp_path, override, needle):
    """A bad --set is a command-line error (exit 2) in plain words: no internal path, no Python wording."""
    p = write(tmp_path, GOOD)
    with pytest.raises(UsageError) as e:
        load_workload(p).resolve("quick", override)
    assert needle in str(e.value) and str(p) not in str(e.value) and "literal" not in str(e.value)
    assert e.value.exit_code == 2


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda s: s + "\nbogus = 1\n", "bogus: unknown key"),
        (lambda s: s.replace("min = 1", "min = 1\nmni = 2"), "params.n.mni: unknown key"),
        (lambda s: s.replace("default = 2", 'default = "two"'), "params.n.default: expected an integer"),
        (lambda s: s.replace('type = "bool"', 'type = "boolean"'), "params.flag.type"),
        (lambda s: s.replace("set = { n = 3 }", "set = { m = 3 }"), "presets.quick.set.m: unknown parameter"),
        (lambda s: s.replace("iterations = 2", 'iterations = "2"'), "presets.quick.iterations: expected int"),
        (lambda s: s.replace("[presets.claim]", "[presets.other]"), "presets.claim: missing"),
        (lambda s: s.replace('name = "w"', 'name = "v"'), "does not match the file name"),
        (lambda s: s.replace("benchctl-workload/1", "benchctl-workload/9"), "format"),
        (lambda s: s + "\n[[[\n", "not valid TOML"),
    ],
)
def test_bad_spec_files_name_file_and_key(tmp_path, edit, needle):
    p = write(tmp_path, edit(GOOD))
    with pytest.raises(InputError) as e:
        load_workload(p)
    assert needle in str(e.value) and str(p) in str(e.value)


def test_unknown_workload_lists_known():
    """A workload name typed on the command line is a usage error (exit 2), a missing file an input error."""
    with pytest.raises(UsageError, match="no workload 'no-such-workload' \\(known: .*memcached"):
        load_workload("no-such-workload")
    with pytest.raises(InputError, match="no such workload"):
        load_workload("/nonexistent/w.toml")


def test_helpers():
    assert parse_size("128G") == 128 << 30 and parse_size("4k") == 4096 and parse_size(10) == 10
    assert parse_cpus("0-2,5") == [0, 1, 2, 5]
    assert parse_overrides(["a=1", "b = x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(UsageError):
        parse_overrides(["novalue"])


def test_suite_routes_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHCTL_WORKLOADS", str(tmp_path))
    write(tmp_path, GOOD)
    (tmp_path / "suites").mkdir()
    s = tmp_path / "suites" / "s.toml"
    s.write_text(
        'format = "benchctl-suite/1"\nname = "s"\n[[run]]\nworkload = "w"\n'
        'presets = { quick = "claim" }\nset = { n = 5 }\n'
    )
    plan = load_suite("s").resolve("quick", {"flag": "1"})
    assert plan[0].preset == "claim" and plan[0].params["n"] == 5 and plan[0].params["flag"] is True
    with pytest.raises(UsageError, match="--set zz: no workload"):
        load_suite("s").resolve("quick", {"zz": "1"})


def test_shipped_suites_load():
    d = workloads_dir() / "suites"
    for p in sorted(d.glob("*.toml")) if d.is_dir() else []:
        suite = load_suite(p)
        for e in suite.entries:
            load_workload(e.workload)


def test_workloads_command_lists_presets_and_needs(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from benchctl.cli import cli

    res = CliRunner().invoke(cli, ["workloads", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    mc = rows["memcached"]
    assert {"quick", "claim"} <= set(mc["presets"]) and mc["needs"]["programs"] == {"memcached": "memcached"}
    assert mc["presets"]["claim"]["set"]["threads"] >= 96
    monkeypatch.setenv("BENCHCTL_WORKLOADS", str(tmp_path))
    write(tmp_path, GOOD)
    write(tmp_path, GOOD.replace("default = 2", "default = 'x'"), name="bad")
    res = CliRunner().invoke(cli, ["workloads"])
    assert "w:" in res.stdout and isinstance(res.exception, InputError) and "bad.toml" in str(res.exception)
