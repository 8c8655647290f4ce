"""Security: loopback only, no shell strings, dm-crypt keys on a pipe, private temp files, no symlink following.

- loopback: the socket table (psutil and /proc/net/tcp{,6}, udp{,6}) of a
  real memcached run, read while it runs;
- no shell: an ast scan of benchctl/ (and a self-test showing the scan
  catches each pattern, so the test can fail);
- dm-crypt keys: the real BlockStack/dmcrypt code with a fake `cryptsetup`
  and `dmsetup` first on PATH that record argv and the bytes on stdin --
  and whose `dmsetup table` even prints the real key, as --showkeys would --
  then every file benchctl wrote (run folder, state dir) is searched for the
  key in raw, hex and base64 form;
- private temp files: modes of everything a paused real storage run created
  under its TMPDIR and state dir;
- symlinks planted where a shared directory lets others plant them.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

from tests.faults import probe
from tests.faults.common import PY, ROOT, Outcome, benchctl, check, one_line_error, scope, start, wait_paused
from tests.faults.registry import add

# -- loopback only ------------------------------------------------------------------


def _proc_net_listeners(port: int) -> list[str]:
    """Local addresses listening (TCP LISTEN) or bound (UDP) on `port`, from /proc/net."""
    out = []
    for f in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/net/{f}").read_text().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            parts = ln.split()
            addr, p = parts[1].split(":")
            if int(p, 16) == port and (f.startswith("udp") or parts[3] == "0A"):
                out.append(f"{f}:{addr}")
    return out


LOOPBACK_HEX = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1 (little-endian words)


def loopback_only() -> Outcome:
    import psutil

    with scope("loopback") as s:
        before = probe.snapshot()
        mark, hold = s.root / "mark", s.root / "hold"
        hold.touch()
        proc = start(
            s,
            [
                "run",
                "memcached",
                "--preset",
                "quick",
                "--iterations",
                "2",
                "--warmup",
                "0",
                "--arm",
                "x",
                "-o",
                str(s.results),
            ],
            s.env(FAULTS_MARK=str(mark), FAULTS_PAUSE="measure:2", FAULTS_HOLD=str(hold)),
        )
        try:
            wait_paused(proc, mark, "the server to run", 90)
            needle = f"{probe.SCOPE_ENV}={s.token}".encode()
            pids = []
            for p in psutil.process_iter(["pid", "name"]):
                try:
                    if p.info["name"] == "memcached" and needle in Path(f"/proc/{p.pid}/environ").read_bytes():
                        pids.append(p.pid)
                except OSError:
                    pass
            check(pids, "no memcached of this run found")
            socks = [c for c in psutil.net_connections(kind="inet") if c.pid in pids]
            listening = [c for c in socks if c.status == psutil.CONN_LISTEN or c.type == 2]
            check(listening, "memcached has no listening socket")
            bad = [c for c in listening if c.laddr.ip not in ("127.0.0.1", "::1")]
            check(not bad, f"memcached listens beyond loopback: {bad}")
            ports = {c.laddr.port for c in listening}
            raw = [a for port in ports for a in _proc_net_listeners(port)]
            check(raw and all(a.split(":", 1)[1] in LOOPBACK_HEX for a in raw), f"/proc/net shows {raw}")
        finally:
            proc.send_signal(signal.SIGINT)
            if hold.exists():
                hold.unlink()
            proc.communicate(timeout=90)
        return Outcome(
            leftovers=s.leftovers(before),
            detail=f"memcached {pids}: {len(listening)} listening socket(s), all on "
            f"{sorted({c.laddr.ip for c in listening})} (psutil + /proc/net)",
        )


# -- no shell strings ------------------------------------------------------------------

SUBPROCESS_FUNCS = {"run", "Popen", "call", "check_call", "check_output"}
FORBIDDEN_CALLS = {
    ("os", "system"),
    ("os", "popen"),
    ("subprocess", "getoutput"),
    ("subprocess", "getstatusoutput"),
    ("asyncio", "create_subprocess_shell"),
    ("os", "execl"),
    ("os", "execlp"),
    ("pty", "spawn"),
    ("commands", "getoutput"),
}


def _stringy(node: ast.AST, assigned: dict[str, list[ast.AST]]) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        return True
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and (_stringy(node.left, assigned) or _stringy(node.right, assigned)):
        return True
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("format", "join")
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    ):
        return True
    if isinstance(node, ast.Name):
        return any(_stringy(v, {}) for v in assigned.get(node.id, []))
    return False


def scan_source(src: str, filename: str) -> list[str]:
    """Shell hazards in one module: shell=True, os.system & co, subprocess with a str command."""
    tree = ast.parse(src, filename)
    problems = []
    scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))] + [tree]
    for sc in scopes:
        assigned: dict[str, list[ast.AST]] = {}
        for n in ast.walk(sc):
            if isinstance(n, ast.Assign):
                for t in n.targets:
                    if isinstance(t, ast.Name):
                        assigned.setdefault(t.id, []).append(n.value)
        for n in ast.walk(sc):
            if not isinstance(n, ast.Call):
                continue
            where = f"{filename}:{n.lineno}"
            for kw in n.keywords:
                if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    problems.append(f"{where}: shell={ast.unparse(kw.value)}")
            f = n.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                if (f.value.id, f.attr) in FORBIDDEN_CALLS:
                    problems.append(f"{where}: {f.value.id}.{f.attr}()")
                if f.value.id == "subprocess" and f.attr in SUBPROCESS_FUNCS:
                    first = n.args[0] if n.args else next((k.value for k in n.keywords if k.arg == "args"), None)
                    if first is not None and _stringy(first, assigned):
                        problems.append(f"{where}: subprocess.{f.attr} with a string command")
            if isinstance(f, ast.Name) and f.id in ("system", "popen"):
                problems.append(f"{where}: {f.id}() (imported from os?)")
        for n in ast.walk(sc):
            if (
                isinstance(n, ast.Constant)
                and isinstance(n.value, str)
                and n.value.startswith(("/tmp", "/var/tmp", "/dev/shm"))
            ):
                problems.append(f"{filename}:{n.lineno}: hard-coded temp path {n.value!r} (use tempfile: TMPDIR)")
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "mktemp":
                problems.append(f"{filename}:{n.lineno}: tempfile.mktemp (racy)")
        for n in ast.walk(sc):
            if (
                isinstance(n, ast.ImportFrom)
                and n.module == "os"
                and any(a.name in ("system", "popen") for a in n.names)
            ):
                problems.append(f"{filename}:{n.lineno}: from os import system/popen")
    return sorted(set(problems))


SELF_TEST = {
    "shell=True": "import subprocess\nsubprocess.run(['ls'], shell=True)\n",
    "os.system": "import os\nos.system('ls')\n",
    "os.popen": "import os\nos.popen('ls')\n",
    "str argv": "import subprocess\nsubprocess.run('ls -l')\n",
    "f-string argv": "import subprocess\nx=1\nsubprocess.Popen(f'ls {x}')\n",
    "str via a name": "import subprocess\ndef f(d):\n    cmd = 'rm -rf ' + d\n    subprocess.check_call(cmd)\n",
    "shell=var": "import subprocess\ndef f(s):\n    subprocess.run(['x'], shell=s)\n",
    "hard-coded /tmp": "from pathlib import Path\nPath('/tmp/benchctl-x').mkdir()\n",
    "mktemp": "import tempfile\nname = tempfile.mktemp()\n",
}


def no_shell_strings() -> Outcome:
    for what, src in SELF_TEST.items():
        check(scan_source(src, what), f"the scanner misses {what}")
    check(not scan_source("import subprocess\nsubprocess.run(['ls', '-l'], shell=False)\n", "ok"), "false positive")
    problems, n = [], 0
    for py in sorted((ROOT / "benchctl").rglob("*.py")):
        problems += scan_source(py.read_text(), str(py.relative_to(ROOT)))
        n += 1
    check(not problems, "shell hazards:\n" + "\n".join(problems))
    return Outcome(detail=f"{n} modules scanned; the scanner catches all {len(SELF_TEST)} planted patterns")


# -- dm-crypt keys ---------------------------------------------------------------------

FAKE_CRYPTSETUP = r"""#!{py}
import json, os, sys
log = {log!r}
data = sys.stdin.buffer.read() if "open" in sys.argv[1:2] else b""
with open(log, "a") as f:
    f.write(json.dumps({{"tool": "cryptsetup", "argv": sys.argv[1:], "stdin_len": len(data),
                         "key_hex": data.hex()}}) + "\n")
if sys.argv[1:2] == ["status"]:
    sys.stdout.write(open({status!r}).read().replace("benchctl-fixture", sys.argv[2]))
"""

FAKE_DMSETUP = r"""#!{py}
import json, sys
log = {log!r}
keys = [json.loads(l)["key_hex"] for l in open(log) if '"open"' in l]
with open(log, "a") as f:
    f.write(json.dumps({{"tool": "dmsetup", "argv": sys.argv[1:]}}) + "\n")
if sys.argv[1:2] == ["table"]:
    # worst case: a dmsetup that prints the key (as `dmsetup table --showkeys` does)
    print("0 131072 crypt aes-xts-plain64 " + keys[-1] + " 0 7:0 0 1 allow_discards")
"""


def crypt_key_on_pipe() -> Outcome:
    from benchctl.osutil.fsutil import atomic_write_json
    from benchctl.results.store import RunFolder
    from benchctl.run.drivers.fio_dmcrypt import record_note
    from benchctl.run.ledger import Ledger
    from benchctl.run.storage import blockstack

    with scope("crypt") as s:
        before = probe.snapshot()
        bindir = s.root / "fakebin"
        bindir.mkdir()
        log = s.root / "fake.log"
        fix = ROOT / "tests" / "fixtures" / "dmcrypt"
        for name, body in (("cryptsetup", FAKE_CRYPTSETUP), ("dmsetup", FAKE_DMSETUP)):
            (bindir / name).write_text(
                body.format(py=sys.executable, log=str(log), status=str(fix / "cryptsetup-status.txt"))
            )
            (bindir / name).chmod(0o755)
        old_path = os.environ["PATH"]
        os.environ["PATH"] = f"{bindir}:{old_path}"
        folders = []
        try:
            for i, bits in enumerate((512, 512, 256)):
                folder = RunFolder.create(s.results, host="h", workload="fio-dmcrypt", arm="x", run_id=f"crypt{i}")
                ledger = Ledger.create(f"crypt{i}", state=s.state, run_dir=folder.path)
                spec = blockstack.StackSpec(size=64 << 20, crypt="dm-crypt", key_bits=bits)
                stack = blockstack.BlockStack(spec, ledger, log_command=folder.log_command, warn=folder.warn)
                dev = stack._crypt("/dev/loop-lower-not-used")  # the code path build() takes
                check(dev.startswith("/dev/mapper/benchctl-"), dev)
                atomic_write_json(folder.path / "stack.json", stack.info)  # as the fio-dmcrypt driver does
                folder.update(run_info={"stack": stack.info})
                for it in (1, 2):
                    folder.record(it, "iops", 1000.0, "IO/s", note=record_note(stack.info))
                stack.teardown()
                ledger.close()
                folders.append(folder.path)
        finally:
            os.environ["PATH"] = old_path
        calls = [json.loads(ln) for ln in log.read_text().splitlines()]
        opens = [c for c in calls if c["tool"] == "cryptsetup" and c["argv"][:1] == ["open"]]
        check(len(opens) == 3, f"{len(opens)} cryptsetup open calls")
        check(
            [c["stdin_len"] for c in opens] == [64, 64, 32], f"key lengths on stdin: {[c['stdin_len'] for c in opens]}"
        )
        keys = [bytes.fromhex(c["key_hex"]) for c in opens]
        check(len(set(keys)) == 3, "the same key was used twice")
        for c in opens:
            check(c["argv"][c["argv"].index("--key-file") + 1] == "-", f"key not read from stdin: {c['argv']}")
        forms = []
        for k in keys:
            forms += [
                k,
                k.hex().encode(),
                k.hex().upper().encode(),
                base64.b64encode(k),
                base64.b64encode(k).rstrip(b"="),
            ]
        for c in calls:
            joined = " ".join(c["argv"]).encode()
            check(not any(f in joined for f in forms), f"key material in argv: {c['argv']}")
        files = [p for d in (s.results, s.state) for p in d.rglob("*") if p.is_file()]
        check(
            any(p.name == "commands.jsonl" for p in files) and any(p.name == "run.json" for p in files),
            "the run folders hold no commands.jsonl/run.json to check",
        )
        leaks = [str(p) for p in files if any(f in p.read_bytes() for f in forms)]
        check(not leaks, f"key material on disk: {leaks}")
        return Outcome(
            leftovers=s.leftovers(before),
            detail=f"3 opens: {[c['stdin_len'] for c in opens]} key bytes on stdin, all different; "
            f"none in argv or in {len(files)} files written",
        )


# -- private temporary files --------------------------------------------------------------


def private_temp() -> Outcome:
    with scope("private") as s:
        before = probe.snapshot()
        mark, hold = s.root / "mark", s.root / "hold"
        hold.touch()
        proc = start(
            s,
            [
                "run",
                "seqread-xfs",
                "--preset",
                "quick",
                "--iterations",
                "1",
                "--warmup",
                "0",
                "--arm",
                "x",
                "-o",
                str(s.results),
            ],
            s.env(FAULTS_MARK=str(mark), FAULTS_PAUSE="setup", FAULTS_HOLD=str(hold)),
        )
        bad, seen = [], 0
        try:
            wait_paused(proc, mark, "the stack to be built", 90)
            mount_roots = {t for t, _, _ in probe.mounts() if t.startswith(str(s.tmp))}
            for base in (s.tmp, s.state):
                for p in [base, *base.rglob("*")] if base == s.state else base.rglob("*"):
                    try:
                        st = os.lstat(p)
                    except FileNotFoundError:
                        continue
                    seen += 1
                    if str(p) in mount_roots or any(str(p).startswith(m + "/") for m in mount_roots):
                        continue  # inside a filesystem benchctl mounted under a 0700 directory
                    if stat.S_IMODE(st.st_mode) & 0o077:
                        bad.append(f"{p} mode {oct(stat.S_IMODE(st.st_mode))}")
            tops = list(s.tmp.iterdir())
            check(tops, "the run created nothing under TMPDIR (is TMPDIR honoured?)")
        finally:
            proc.send_signal(signal.SIGINT)
            if hold.exists():
                hold.unlink()
            proc.communicate(timeout=90)
        check(not bad, "not private: " + "; ".join(bad))
        return Outcome(
            leftovers=s.leftovers(before),
            detail=f"{seen} temp/state entries checked: all 0700/0600 (mounts only inside 0700 dirs)",
        )


# -- symlinks ----------------------------------------------------------------------------


def symlinks() -> Outcome:
    from benchctl.results.store import RunFolder

    with scope("symlink") as s:
        before = probe.snapshot()
        shared = s.root / "shared"  # think /tmp: anyone can plant a name here
        shared.mkdir(mode=0o1777)
        victim = s.root / "victim"
        victim.mkdir()
        (victim / "etc-file").write_text("root's file\n")
        checks = []
        # 1. -o DIR is a planted symlink
        (shared / "results").symlink_to(victim)
        p = benchctl(s, ["run", "boot-memory", "--arm", "x", "-o", str(shared / "results")])
        check(p.returncode == 5, f"-o symlink: rc {p.returncode}: {p.stderr[-400:]}")
        one_line_error(p)
        checks.append("-o symlink")
        # 2. the <host> level inside a real results dir is a planted symlink
        res = shared / "res2"
        res.mkdir()
        import socket as _s

        from benchctl.human import slug

        for host in {_s.gethostname(), "vm"}:
            (res / slug(host)).symlink_to(victim)
        p = benchctl(s, ["run", "boot-memory", "--arm", "x", "-o", str(res)])
        check(p.returncode == 5, f"host-dir symlink: rc {p.returncode}: {p.stderr[-400:]}")
        one_line_error(p)
        checks.append("results/<host> symlink")
        # 3. the state dir is a planted symlink
        (shared / "state").symlink_to(victim)
        p = benchctl(
            s,
            ["run", "boot-memory", "--arm", "x", "-o", str(s.results)],
            env=s.env(BENCHCTL_STATE_DIR=str(shared / "state")),
        )
        check(p.returncode == 5, f"state-dir symlink: rc {p.returncode}: {p.stderr[-400:]}")
        one_line_error(p)
        checks.append("state dir symlink")
        # 4. --resume of a folder whose records.jsonl was replaced by a symlink to root's file
        f = RunFolder.create(
            s.results,
            host="h",
            workload="boot-memory",
            arm="x",
            run_id="r",
            boot_id=None,
            iterations_requested=2,
            spec={"name": "boot-memory", "driver": "boot_memory", "params": {"max_uptime_s": 1e9}},
        )
        f.update(status="interrupted")
        (f.path / "records.jsonl").symlink_to(victim / "etc-file")
        p = benchctl(s, ["run", "--resume", str(f.path)])
        check(p.returncode != 0, f"resume through a records.jsonl symlink succeeded (rc {p.returncode})")
        one_line_error(p)
        checks.append("records.jsonl symlink on resume")
        # 5-6. an unprivileged user's default state dir ($TMPDIR/benchctl-UID) planted by someone else
        if shutil.which("setpriv"):
            s.root.chmod(0o755)
            utmp, ures = s.root / "utmp", s.root / "ures"
            for d in (utmp, ures):
                d.mkdir()
                d.chmod(0o1777)
            planted = utmp / "benchctl-65534"
            env = {
                k: v for k, v in s.env(TMPDIR=str(utmp)).items() if k not in ("BENCHCTL_STATE_DIR", "XDG_RUNTIME_DIR")
            }
            for how in ("a directory owned by root", "a symlink to root's folder"):
                if how.startswith("a directory"):
                    planted.mkdir()
                else:
                    planted.rmdir()
                    planted.symlink_to(victim)
                p = subprocess.run(
                    [
                        "setpriv",
                        "--reuid",
                        "65534",
                        "--regid",
                        "65534",
                        "--clear-groups",
                        PY,
                        "-m",
                        "benchctl",
                        "run",
                        "boot-memory",
                        "--arm",
                        "x",
                        "-o",
                        str(ures),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    cwd=ROOT,
                )
                check(p.returncode == 5, f"nobody's state dir is {how}: rc {p.returncode}: {p.stderr[-400:]}")
                one_line_error(p)
                check(not list(ures.rglob("records.jsonl")), f"a run started with a planted state dir ({how})")
            checks.append("planted per-user state dir (as uid 65534)")
        check([x.name for x in victim.iterdir()] == ["etc-file"], f"victim dir changed: {list(victim.iterdir())}")
        check((victim / "etc-file").read_text() == "root's file\n", "victim file written through a symlink")
        return Outcome(leftovers=s.leftovers(before), detail="refused, victim untouched: " + ", ".join(checks))


add("servers listen on loopback only", "security", loopback_only, fast=True)
add("no shell strings or hard-coded temp paths in benchctl/ (ast scan)", "security", no_shell_strings, fast=True)
add("dm-crypt key: random, on a pipe, never on disk/argv", "security", crypt_key_on_pipe, fast=True)
add("temporary files and folders are private", "security", private_temp, fast=True)
add("planted symlinks are not followed", "security", symlinks, fast=True)
