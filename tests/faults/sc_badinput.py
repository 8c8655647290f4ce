"""Bad input everywhere: every file benchctl reads, broken in the ways files break.

Each case writes a broken file, runs the real CLI on it, and checks the
contract of benchctl/errors.py: either a single error line naming the file
(and the line where there is one) with exit code 3 (bad input) -- or, where
analysis can go on, exit 0 with the bad lines skipped and reported by file
and line. Never a traceback; huge garbage is refused without reading it
all into memory.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

from tests.faults import probe
from tests.faults.common import PY, ROOT, Outcome, benchctl, check, one_line_error, scope
from tests.faults.registry import add

EXIT_INPUT = 3
HUGE_MB = 50
RSS_LIMIT_MB = 200 + 3 * HUGE_MB  # interpreter + pandas, plus a small multiple of the file: no blow-up


def good_csv(path: Path, extra: str = "", bad_rows: list[str] = ()) -> int:
    """A valid tidy table: 2 arms x 3 boots x 4 iterations of memcached ops_per_sec."""
    lines = ["arm,host,boot,run,workload,iteration,metric,value,unit" + (",extra" if extra else "")]
    for arm, base in (("pte", 100000.0), ("block", 103000.0)):
        for b in range(3):
            for it in range(1, 5):
                v = base + 500 * b + 37 * it
                lines.append(
                    f"{arm},h,{arm}-boot{b},{arm}-run{b},memcached,{it},ops_per_sec,{v},ops/s"
                    + (f",{extra}" if extra else "")
                )
    lines += list(bad_rows)
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def synth_run(root: Path, n_iter: int = 3) -> Path:
    """A run folder written by the real store code (no tool needed)."""
    from benchctl.results.store import RunFolder

    f = RunFolder.create(
        root, host="h", workload="boot-memory", arm="pte", run_id="r1", boot_id="b1", iterations_requested=n_iter
    )
    for it in range(1, n_iter + 1):
        f.record(it, "mem_free_kb", 1000.0 + it, "kB")
    f.update(status="complete", iterations_done=n_iter)
    return f.path


def expect_input_error(p: subprocess.CompletedProcess, path: Path, line: int | None = None) -> str:
    check(p.returncode == EXIT_INPUT, f"rc {p.returncode} (want {EXIT_INPUT}): {p.stderr[-600:]}")
    msg = one_line_error(p)
    check(str(path) in msg, f"the message does not name {path}: {msg}")
    if line is not None:
        check(f"{path}:{line}" in msg, f"the message does not name line {line}: {msg}")
    return msg


def analyze(s: probe.Scope, *args: str) -> subprocess.CompletedProcess:
    return benchctl(s, ["analyze", "--baseline", "pte", "--candidate", "block", "--resamples", "200", *args])


def _case(name: str, fn, fast: bool = True) -> None:
    def run() -> Outcome:
        with scope("input") as s:
            before = probe.snapshot()
            detail = fn(s)
            return Outcome(leftovers=s.leftovers(before), detail=detail)

    add(name, "bad input", run, fast=fast)


# -- run folders / JSON lines ------------------------------------------------------


def torn_last_record(s: probe.Scope) -> str:
    rd = synth_run(s.results)
    with open(rd / "records.jsonl", "ab") as f:
        f.write(b'{"run":"r1","arm":"pte","iteration":4,"metric":"mem_fr')
    p = benchctl(s, ["export", str(rd)])
    check(p.returncode == 0 and "Traceback" not in p.stderr, f"export rc {p.returncode}: {p.stderr[-500:]}")
    rows = p.stdout.splitlines()[1:]
    check(len(rows) == 3, f"{len(rows)} rows exported, want the 3 complete records")
    check(f"{rd / 'records.jsonl'}: line 4" in p.stderr and "truncated" in p.stderr, f"no skip message: {p.stderr}")
    return "torn line 4 skipped and reported; 3 records kept"


def corrupt_middle_record(s: probe.Scope) -> str:
    rd = synth_run(s.results)
    lines = (rd / "records.jsonl").read_text().splitlines()
    lines.insert(1, '{"run": "r1", "iteration": 9, "value": ]]] garbage')
    lines.insert(2, "\x00\xff binary junk")
    (rd / "records.jsonl").write_text("\n".join(lines) + "\n")
    p = benchctl(s, ["export", str(rd)])
    check(p.returncode == 0 and "Traceback" not in p.stderr, f"export rc {p.returncode}: {p.stderr[-500:]}")
    check(len(p.stdout.splitlines()[1:]) == 3, "valid records lost next to corrupted ones")
    check("records.jsonl: lines 2, 3" in p.stderr, f"skipped lines not named: {p.stderr}")
    return "lines 2, 3 skipped and named; 3 records kept"


def nan_inf_records(s: probe.Scope) -> str:
    rd = synth_run(s.results)
    with open(rd / "records.jsonl", "a") as f:
        for v in ("NaN", "Infinity", "-Infinity", '"12abc"', "null", "1e999"):
            f.write(
                '{"run":"r1","arm":"pte","host":"h","boot":"b1","workload":"boot-memory","iteration":5,'
                f'"metric":"mem_free_kb","value":{v},"unit":"kB","warmup":false}}\n'
            )
    p = benchctl(s, ["export", str(rd)])
    check(p.returncode == 0 and "Traceback" not in p.stderr, f"export rc {p.returncode}: {p.stderr[-500:]}")
    rows = p.stdout.splitlines()[1:]
    vals = [float(r.split(",")[7]) for r in rows]
    check(len(rows) == 3 and all(math.isfinite(v) for v in vals), f"non-finite values exported: {rows}")
    check("not a number" in p.stderr and "infinite" in p.stderr, f"skips not explained: {p.stderr}")
    return "NaN/inf/null/'12abc' rows skipped with reasons"


def newer_format(s: probe.Scope) -> str:
    rd = synth_run(s.results)
    (rd / "env-before.json").write_text(json.dumps({"format": "benchctl-env/7", "kernel": {"release": "x"}}))
    p = benchctl(s, ["export", str(rd)])
    check(p.returncode == 0 and "Traceback" not in p.stderr, f"export rc {p.returncode}: {p.stderr[-500:]}")
    check("env-before.json" in p.stderr and "newer" in p.stderr, f"newer fingerprint not reported: {p.stderr}")
    man = json.loads((rd / "run.json").read_text())
    man["format"] = "benchctl-run/2"
    man["status"] = "interrupted"
    (rd / "run.json").write_text(json.dumps(man))
    p = benchctl(s, ["run", "--resume", str(rd)])
    msg = expect_input_error(p, rd / "run.json")
    check("newer" in msg, f"{msg}")
    return "newer env: reported, data kept; newer run.json: resume refused (exit 3)"


def empty_files(s: probe.Scope) -> str:
    rd = synth_run(s.results)
    (rd / "records.jsonl").write_text("")
    p = benchctl(s, ["export", str(rd)])
    check(p.returncode == 0 and "Traceback" not in p.stderr, f"export of empty records rc {p.returncode}: {p.stderr}")
    csv = s.root / "empty.csv"
    csv.write_text("")
    expect_input_error(analyze(s, "--csv", str(csv)), csv)
    (rd / "run.json").write_text("")
    expect_input_error(benchctl(s, ["run", "--resume", str(rd)]), rd / "run.json")
    claims = s.root / "empty.toml"
    claims.write_text("")
    good = s.root / "good.csv"
    good_csv(good)
    p = analyze(s, "--csv", str(good), "--claims", str(claims))
    check(p.returncode in (0, EXIT_INPUT) and "Traceback" not in p.stderr, f"empty claims: rc {p.returncode}")
    if p.returncode == EXIT_INPUT:
        expect_input_error(p, claims)
    return "empty records/CSV/run.json/claims: one line each"


def _run_measured(s: probe.Scope, argv: list[str]) -> tuple[subprocess.CompletedProcess, int]:
    """Run benchctl in a fresh interpreter and return (result, its peak RSS in MB)."""
    code = (
        "import resource,subprocess,sys;"
        "p=subprocess.run(sys.argv[1:],capture_output=True,text=True,errors='replace');"
        "sys.stdout.write(p.stdout[-2000:]+'\\x00'+p.stderr);"
        "sys.stdout.write('\\x00%d' % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss//1024));"
        "sys.exit(p.returncode)"
    )
    p = subprocess.run(
        [PY, "-c", code, PY, "-m", "benchctl", *argv],
        env=s.env(),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    out, err, mb = p.stdout.split("\x00")
    return subprocess.CompletedProcess(argv, p.returncode, out, err), int(mb)


def _garbage(path: Path, ascii_only: bool) -> None:
    import random

    rnd = random.Random(7)
    with open(path, "wb") as f:
        for _ in range(HUGE_MB):
            if ascii_only:  # printable text with newlines: looks like a log, is nothing
                f.write(bytes(rnd.choice(b"abcdefghij 0123456789,.:%-\n") for _ in range(1 << 16)) * 16)
            else:
                f.write(os.urandom(1 << 20))


def huge_garbage(s: probe.Scope) -> str:
    rss = {}
    for kind in ("binary", "text"):
        big = s.root / f"huge-{kind}.csv"
        _garbage(big, kind == "text")
        for what, argv in (
            ("analyze --csv", ["analyze", "--baseline", "pte", "--candidate", "block", "--csv", str(big)]),
            ("import memtier", ["import", "memtier", str(big), "--arm", "x", "-o", str(s.results)]),
            ("import perf", ["import", "perf", str(big), "--arm", "x", "-o", str(s.results)]),
        ):
            p, mb = _run_measured(s, argv)
            rss[f"{what} ({kind})"] = mb
            expect_input_error(p, big)
            check(mb < RSS_LIMIT_MB, f"{what} on {kind} garbage: {mb} MB of memory for a {HUGE_MB} MB file")
        big.unlink()
    rd = synth_run(s.results / "r")
    with open(rd / "records.jsonl", "ab") as f:
        for _ in range(HUGE_MB):
            f.write(os.urandom(1 << 20))
    p, mb = _run_measured(s, ["export", str(rd)])
    rss["export (binary records)"] = mb
    check(p.returncode == 0 and "Traceback" not in p.stderr, f"export of huge records rc {p.returncode}")
    check(len(p.stderr) < 4000, f"the skip report is {len(p.stderr)} bytes long: not summarised")
    check(mb < RSS_LIMIT_MB, f"export: {mb} MB of memory for a {HUGE_MB} MB records file")
    return f"{HUGE_MB} MB garbage: one line each; peak RSS MB " + ", ".join(f"{k} {v}" for k, v in rss.items())


# -- CSV --------------------------------------------------------------------------


def csv_missing_column(s: probe.Scope) -> str:
    csv = s.root / "t.csv"
    good_csv(csv)
    text = csv.read_text().splitlines()
    csv.write_text("\n".join(",".join(ln.split(",")[:7] + ln.split(",")[8:]) for ln in text) + "\n")  # no `value`
    msg = expect_input_error(analyze(s, "--csv", str(csv)), csv, 1)
    check("value" in msg, msg)
    return "missing `value` column: exit 3, file:1 named"


def csv_extra_column_and_bad_rows(s: probe.Scope) -> str:
    csv = s.root / "t.csv"
    n = good_csv(
        csv,
        extra="x",
        bad_rows=[
            "pte,h,pte-boot0,pte-run0,memcached,9,ops_per_sec,inf,ops/s,x",
            "pte,h,pte-boot0,pte-run0,memcached,10,ops_per_sec,zzz,ops/s,x",
            "pte,h,pte-boot0,pte-run0,memcached,one,ops_per_sec,5,ops/s,x",
        ],
    )
    # Bad rows are an error by default (issue 13): exit 3 naming the first one.
    msg = expect_input_error(analyze(s, "--csv", str(csv)), csv)
    check(f"{csv}:{n - 2}" in msg and "--skip-bad-rows" in msg, f"the first bad row {n - 2} is not named: {msg}")
    p = analyze(s, "--csv", str(csv), "--skip-bad-rows")
    check(p.returncode == 0 and "Traceback" not in p.stderr, f"analyze rc {p.returncode}: {p.stderr[-500:]}")
    out = p.stdout + p.stderr
    for line in (n - 2, n - 1, n):
        check(f"{csv}" in out and str(line) in out, f"skipped line {line} not reported:\n{out[-1500:]}")
    check("ops_per_sec" in p.stdout, "no analysis of the valid rows")
    return "extra column accepted; inf/zzz/'one' rows: exit 3 naming the first; --skip-bad-rows: named, rest analysed"


def csv_ragged_row(s: probe.Scope) -> str:
    csv = s.root / "t.csv"
    n = good_csv(csv, bad_rows=["block,h,block-boot0,block-run0,memcached,11,ops_per_sec,5,ops/s,x,y,z"])
    p = analyze(s, "--csv", str(csv))
    check("Traceback" not in p.stderr, p.stderr[-800:])
    if p.returncode == EXIT_INPUT:
        msg = expect_input_error(p, csv)
        check(f"line {n}" in msg or f"{csv}:{n}" in msg, f"the ragged line {n} is not named: {msg}")
        return f"row with 3 extra fields: exit 3 naming line {n} (whole file refused)"
    check(p.returncode == 0 and str(n) in p.stdout + p.stderr, f"rc {p.returncode}; line {n} not reported")
    return f"row with 3 extra fields: line {n} skipped, the rest analysed"


def csv_binary(s: probe.Scope) -> str:
    csv = s.root / "bin.csv"
    csv.write_bytes(b"arm,host\n\xff\xfe\x00\x00garbage\x00\n" * 10)
    expect_input_error(analyze(s, "--csv", str(csv)), csv)
    return "binary CSV: exit 3"


# -- TOML: workloads and claims -----------------------------------------------------


def workload_wrong_types(s: probe.Scope) -> str:
    src = (ROOT / "workloads" / "boot-memory.toml").read_text()
    cases = {
        "iterations": src.replace(
            "iterations = 1\nwarmup = 0\nset = { max_uptime_s = 31536000.0 }",
            'iterations = "one"\nwarmup = 0\nset = { max_uptime_s = 31536000.0 }',
            1,
        ),
        "param type": src.replace("default = 600.0", 'default = "ten minutes"'),
        "unknown key": src.replace('default_preset = "quick"', 'default_preset = "quick"\ncolour = "blue"'),
        "syntax": src.replace("[needs]", "[needs"),
        "set value": src.replace("set = { max_uptime_s = 31536000.0 }", "set = { max_uptime_s = [1, 2] }", 1),
    }
    for what, text in cases.items():
        check(text != src, f"case {what} did not change the file")
        d = s.root / what.replace(" ", "_")
        d.mkdir()
        wl = d / "boot-memory.toml"
        wl.write_text(text)
        p = benchctl(s, ["run", str(wl), "--arm", "x", "-o", str(s.results)])
        line = text.splitlines().index("[needs") + 1 if what == "syntax" else None
        expect_input_error(p, wl, line)
    p = benchctl(s, ["run", "boot-memory", "--arm", "x", "--set", "max_uptime_s=soon", "-o", str(s.results)])
    check(p.returncode in (2, 3), f"--set max_uptime_s=soon: rc {p.returncode}")
    one_line_error(p)
    return f"{len(cases)} broken workload files + a bad --set: one line each"


def claims_wrong_types(s: probe.Scope) -> str:
    good = s.root / "good.csv"
    good_csv(good)
    base = (
        'format = "benchctl-claims/1"\n[[claim]]\nid = "c1"\nworkload = "memcached"\nmetric = "ops_per_sec"\n'
        'direction = "increase"\n'
    )
    cases = {
        "string value": base + 'value = "ten"\n',
        "list id": base.replace('id = "c1"', "id = [1]") + "value = 3.0\n",
        "nan": base + "value = nan\n",
        "bad direction": base.replace("increase", "sideways") + "value = 3.0\n",
        "syntax": base + "value = = 3\n",
        "claim not a table": 'claim = "x"\n',
    }
    for what, text in cases.items():
        f = s.root / f"{what.replace(' ', '_')}.toml"
        f.write_text(text)
        expect_input_error(analyze(s, "--csv", str(good), "--claims", str(f)), f)
    f = s.root / "binary.toml"
    f.write_bytes(b"\xaf\x00\xff" + os.urandom(2000))
    expect_input_error(analyze(s, "--csv", str(good), "--claims", str(f)), f)
    return f"{len(cases) + 1} broken claims files (incl. binary): exit 3 naming the file"


def corrupt_ledger(s: probe.Scope) -> str:
    led = s.state / "ledgers"
    led.mkdir(parents=True)
    (led / "dead-run.json").write_text('{"format": "benchctl-ledger/1", "resources": [')
    (led / "other.json").write_text(
        json.dumps(
            {
                "format": "benchctl-ledger/1",
                "run_id": "x",
                "owner": {"pid": "12"},
                "token": "t",
                "resources": [{"id": "r1", "kind": "warp-drive", "state": "present", "attrs": {}}],
            }
        )
    )
    p = benchctl(s, ["cleanup"])
    check(p.returncode == 5, f"cleanup with broken ledgers: rc {p.returncode}: {p.stdout} {p.stderr}")
    one_line_error(p)
    check("dead-run" in p.stdout and "refused" in p.stdout and "warp-drive" in p.stdout, p.stdout)
    check((led / "dead-run.json").exists(), "cleanup deleted a ledger it could not read")
    for f in led.glob("*.json"):  # ours: remove them so the leftover check looks at the rest
        f.unlink()
    return "corrupt + unknown-kind ledgers: refused, listed, exit 5"


def import_garbage(s: probe.Scope) -> str:
    n = 0
    for tool in ("memtier", "mutilate", "memaslap", "perf", "fio", "xfs_io"):
        f = s.root / f"{tool}.out"
        f.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(3000))
        p = benchctl(s, ["import", tool, str(f), "--arm", "x", "-o", str(s.results)])
        if p.returncode == 2:  # this tool name is spelt differently; the CLI said so in one line
            one_line_error(p)
            continue
        expect_input_error(p, f)
        n += 1
    check(n >= 4, f"only {n} importers exercised")
    check(not list(s.results.rglob("records.jsonl")), "garbage import left a run folder with records")
    return f"{n} importers refuse garbage (exit 3), no run folder"


def env_tree_cpu_list(s: probe.Scope) -> str:
    """`benchctl env --root TREE` on a recorded tree whose CPU list is corrupt or absurdly large."""
    cases = ["0-99999999999999999999", "0-300000000", "3-1", "x-y", "0-3,,5-"]
    for text in cases:
        tree = s.root / "tree"
        (tree / "sys/devices/system/cpu").mkdir(parents=True, exist_ok=True)
        (tree / "proc").mkdir(exist_ok=True)
        (tree / "sys/devices/system/cpu/online").write_text(text + "\n")
        # a 2 GB address-space cap: a list of 300 million CPUs fails fast instead of eating the machine
        p = subprocess.run(
            ["prlimit", f"--as={2 << 30}", PY, "-m", "benchctl", "env", "--root", str(tree), "--format", "json"],
            env=s.env(),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        check("Traceback" not in p.stderr, f"cpu list {text!r}: traceback:\n{p.stderr[-600:]}")
        check(p.returncode in (0, EXIT_INPUT), f"cpu list {text!r}: rc {p.returncode}: {p.stderr[-300:]}")
        if p.returncode == 0:
            count = json.loads(p.stdout).get("cpu", {}).get("count")
            check(count is None or count < 1 << 16, f"cpu list {text!r}: cpu.count {count}")
    return f"{len(cases)} corrupt CPU lists: no traceback, bounded memory"


def analyze_run_folders_with_damage(s: probe.Scope) -> str:
    """analyze over real run folders (2 arms x 3 boots) where some are damaged: it goes on and says what it skipped."""
    from benchctl.results.store import RunFolder

    dirs = []
    for arm, base in (("pte", 1000.0), ("block", 1100.0)):
        for b in range(3):
            f = RunFolder.create(
                s.results,
                host="h",
                workload="boot-memory",
                arm=arm,
                run_id=f"{arm}{b}",
                boot_id=f"{arm}-boot{b}",
                iterations_requested=3,
            )
            for it in range(1, 4):
                f.record(it, "mem_free_kb", base + 3 * b + it, "kB")
            f.update(status="complete", iterations_done=3)
            dirs.append(f.path)
    torn, bad, newer = dirs[0] / "records.jsonl", dirs[4] / "records.jsonl", dirs[2] / "env-before.json"
    with open(torn, "ab") as fh:
        fh.write(b'{"iteration": 4, "metric": "mem_fr')
    lines = bad.read_text().splitlines()
    lines[1] = lines[1].replace('"value":', '"value":]', 1)  # structurally broken, not just odd
    bad.write_text("\n".join(lines) + "\n")
    newer.write_text('{"format": "benchctl-env/9"}')
    p = analyze(s, *map(str, dirs))
    check(p.returncode == 0 and "Traceback" not in p.stderr, f"analyze rc {p.returncode}: {p.stderr[-800:]}")
    out = p.stdout + p.stderr
    for what in (f"{torn}", f"{bad}", f"{newer}"):
        check(what in out, f"analyze does not say it skipped something in {what}:\n{out[-2000:]}")
    check("mem_free_kb" in p.stdout, "no result for the valid records")
    return "torn line, corrupted line, newer fingerprint: named as skipped; the rest analysed"


def outputs_unwritable(s: probe.Scope) -> str:
    """export -o / analyze --plots onto a full or read-only filesystem: one line, no half-written file."""
    from tests.faults.sc_storage import _fill, _ro, _ro_bind, _small_tmpfs, _umount

    rd = synth_run(s.results)
    full = _small_tmpfs(s, "outfull", "1m")
    _, ro = _ro_bind(s, "outro")
    try:
        _fill(full)
        _ro(ro)
        for target in (full / "t.csv", ro / "t.csv"):
            p = benchctl(s, ["export", str(rd), "-o", str(target)])
            check(p.returncode not in (0, 130), f"export -o {target}: rc {p.returncode}")
            msg = one_line_error(p)
            check(str(target.parent) in msg, f"the error does not name {target.parent}: {msg}")
            junk = [x.name for x in target.parent.iterdir() if x.name.endswith(".tmp") or x.name == "t.csv"]
            check(not junk, f"half-written output left: {junk}")
        good = s.root / "good.csv"
        good_csv(good)
        p = analyze(s, "--csv", str(good), "--plots", str(ro / "plots"))
        check(p.returncode not in (0, 130), f"analyze --plots on a read-only fs: rc {p.returncode}")
        one_line_error(p)
    finally:
        _umount(full)
        _umount(ro)
    return "export -o (full, read-only), analyze --plots (read-only): one line each, nothing half-written"


_case("analyze over damaged run folders", analyze_run_folders_with_damage)
_case("export/analyze output on a full or read-only filesystem", outputs_unwritable)
_case("env tree with a corrupt CPU list", env_tree_cpu_list)
_case("torn last record (killed writer)", torn_last_record)
_case("corrupted records in the middle", corrupt_middle_record)
_case("NaN / inf / non-numeric values", nan_inf_records)
_case("fingerprint and run.json from a newer format", newer_format)
_case("empty files (records, CSV, run.json, claims)", empty_files)
_case(f"{HUGE_MB} MB garbage files", huge_garbage, fast=False)
_case("CSV with a missing column", csv_missing_column)
_case("CSV with an extra column and bad rows", csv_extra_column_and_bad_rows)
_case("CSV with a ragged row", csv_ragged_row)
_case("binary CSV", csv_binary)
_case("workload files with wrong types", workload_wrong_types)
_case("claims files with wrong types", claims_wrong_types)
_case("corrupt and unknown ledgers", corrupt_ledger)
_case("garbage fed to every importer", import_garbage)
