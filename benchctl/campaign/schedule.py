"""The campaign plan: its arms (a baseline, one or more candidates), the boot sequence per host,
and what each boot must look like.

plan.json (format benchctl-campaign-plan/1, docs/campaign.md) is the one
source the playbook, the runner and `status` read. It is written once by
`benchctl campaign plan`; a user may edit it (another order, one host less),
so every read validates it and names the first key that makes no sense.

Why the expectation is stored per arm: a boot that comes up as the other arm
(a stale grub default, a kexec that silently fell back) would be recorded
under the wrong label and bias every verdict; the host checks the release,
the command line, rodata's effective mode and the linear-map state against
it before anything is measured (verify.py).
"""

from __future__ import annotations

import random
import re
import secrets
import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchctl.campaign import adaptive
from benchctl.documents import format_version, load_json, wrong_type
from benchctl.env.arm64 import expected
from benchctl.errors import InputError, UsageError
from benchctl.human import fit

PLAN_FORMAT = "benchctl-campaign-plan/1"
PLAN_FILE = "plan.json"
BOOT_METHODS = ("kexec", "grub-reboot", "command")
ORDERS = ("abab", "abba", "random")
EXPECT_KEYS = ("release", "rodata", "linear_map", "linear_map_source", "midr", "bbml2")
LINEAR_MAP_STATES = ("pte", "block", "mixed")
LINEAR_MAP_SOURCES = ("ptdump", "kcore", "meminfo-directmap", "inferred")
BBML2_ANSWERS = ("yes", "no")
PLACEHOLDERS = ("host", "arm", "kernel", "initrd", "cmdline", "boot", "midr")
DEFAULT_TIMEOUTS = {"reboot_s": 600, "suite_s": 7200, "connect_s": 30}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_VMLINUZ = re.compile(r"^(?:vmlinuz|vmlinux|Image|bzImage)-(.+)$")
_GRUB_RELEASE = re.compile(r"Linux (\d+\.\d+\S*)")


def check_name(kind: str, name: str) -> str:
    """Arm labels and host names become folder names: letters, digits, . _ - only."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsageError(
            f"{kind} {name!r}: use letters, digits, '.', '_' and '-' (max 63, not starting "
            "with a punctuation mark); it names folders in the campaign"
        )
    return name


@dataclass
class Arm:
    """One kernel configuration: what to boot and what the boot must look like."""

    label: str
    kernel: str  # path on the host (kexec, command) or grub menu entry
    release: str | None  # uname -r the boot must report (None: not checked)
    initrd: str | None
    cmdline: str  # whole command line, or the extra parameters (mode "extra")
    cmdline_mode: str  # "whole" | "extra" | "keep" (the host's current one)
    expect: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kernel": self.kernel,
            "release": self.release,
            "initrd": self.initrd,
            "cmdline": self.cmdline,
            "cmdline_mode": self.cmdline_mode,
            "expect": self.expect,
        }


def parse_arm(text: str, method: str) -> Arm:
    """`LABEL=KERNEL[:CMDLINE]`; KERNEL is a path, a release (-> /boot/vmlinuz-RELEASE) or, for
    grub-reboot, a menu entry; CMDLINE is the whole command line or `+extra` parameters."""
    label, eq, rest = text.partition("=")
    if not eq or not rest.strip():
        raise UsageError(
            f"--arm {text!r}: expected LABEL=KERNEL[:CMDLINE], e.g. pte=/boot/vmlinuz-6.1.0-57-arm64:+rodata=full"
        )
    check_name("arm label", label.strip())
    kernel, colon, cmdline = rest.partition(":")
    kernel, cmdline = kernel.strip(), cmdline.strip()
    if not kernel:
        raise UsageError(f"--arm {text!r}: no kernel given")
    if method == "grub-reboot":
        m = _GRUB_RELEASE.search(kernel)
        release = m[1] if m else None
    elif kernel.startswith("/"):
        m = _VMLINUZ.match(Path(kernel).name)
        release = m[1] if m else None
    else:
        if "/" in kernel or not expected.parse_release(kernel):
            raise UsageError(f"--arm {text!r}: {kernel!r} is neither an absolute path nor a kernel release")
        release, kernel = kernel, f"/boot/vmlinuz-{kernel}"
    if not colon or not cmdline:
        mode, cmdline = "keep", ""
    elif cmdline.startswith("+"):
        mode, cmdline = "extra", cmdline[1:].strip()
    else:
        mode = "whole"
    try:
        shlex.split(cmdline)
    except ValueError as e:
        raise UsageError(f"--arm {text!r}: command line does not parse ({e})") from None
    initrd = None
    if method != "grub-reboot" and release and kernel == f"/boot/vmlinuz-{release}":
        initrd = f"/boot/initrd.img-{release}"  # Debian's naming; --initrd overrides
    arm = Arm(label.strip(), kernel, release, initrd, cmdline, mode)
    arm.expect = default_expectation(arm)
    return arm


def default_expectation(arm: Arm) -> dict[str, Any]:
    """What verification checks unless --expect says otherwise (None: not checked)."""
    params = expected.parse_cmdline(arm.cmdline) if arm.cmdline_mode != "keep" else {}
    rodata = None
    if "rodata" in params:
        rodata = expected.rodata(expected.parse_release(arm.release), params, None).effective
    return {
        "release": arm.release,
        "cmdline": arm.cmdline.split() if arm.cmdline_mode != "keep" else [],
        "rodata": rodata,
        "linear_map": arm.label if arm.label in LINEAR_MAP_STATES else None,
    }


def apply_overrides(arms: dict[str, Arm], initrds: tuple[str, ...], expects: tuple[str, ...]) -> None:
    """--initrd ARM=PATH|none and --expect ARM:KEY=VALUE|any."""
    for item in initrds:
        label, eq, path = item.partition("=")
        if not eq or label not in arms:
            raise UsageError(f"--initrd {item!r}: expected ARM=PATH with ARM one of {', '.join(arms)}")
        arms[label].initrd = None if path in ("", "none") else path
    for item in expects:
        head, eq, value = item.partition("=")
        label, colon, key = head.partition(":")
        if not eq or not colon or label not in arms or key not in EXPECT_KEYS:
            raise UsageError(
                f"--expect {item!r}: expected ARM:KEY=VALUE with ARM one of {', '.join(arms)} "
                f"and KEY one of {', '.join(EXPECT_KEYS)} (VALUE 'any' = not checked)"
            )
        arms[label].expect[key] = None if value == "any" else expect_value(item, key, value)


def expect_value(item: str, key: str, value: str) -> str:
    """One --expect value, checked where its key has a fixed vocabulary; MIDRs normalised to 0x%08x
    (the CPU identity the arm must boot as: every CPU's MIDR_EL1, compared in full)."""
    allowed = {"linear_map": LINEAR_MAP_STATES, "linear_map_source": LINEAR_MAP_SOURCES, "bbml2": BBML2_ANSWERS}
    if key in allowed and value not in allowed[key]:
        raise UsageError(f"--expect {item!r}: {key} is one of {', '.join(allowed[key])} or any")
    if key == "midr":
        try:
            return f"0x{int(value, 16) & 0xFFFFFFFF:08x}"
        except ValueError:
            raise UsageError(f"--expect {item!r}: a MIDR is a hexadecimal number, e.g. 0xc00fac30") from None
    return value


def boot_order(order: str, arms: list[str], n: int, seed: int, host: str) -> list[str]:
    """n boots of each arm: ABAB... (ABCABC... for three), ABBA ABBA (each round reversed: ABC CBA,
    counterbalanced) or a seeded shuffle per host."""
    if order == "abab":
        return list(arms) * n
    if order == "abba":
        seq: list[str] = []
        for i in range(n):
            seq += list(arms) if i % 2 == 0 else list(reversed(arms))
        return seq
    seq = [a for a in arms for _ in range(n)]
    random.Random(f"{seed}:{host}").shuffle(seq)
    return seq


def parse_boot_command(text: str | None, method: str) -> list[str] | None:
    if method != "command":
        if text:
            raise UsageError("--boot-command is for --boot-method command")
        return None
    if not text:
        raise UsageError(
            "--boot-method command needs --boot-command 'PROGRAM ARGS...' "
            f"(placeholders: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})"
        )
    try:
        argv = shlex.split(text)
    except ValueError as e:
        raise UsageError(f"--boot-command does not parse: {e}") from None
    for word in argv:
        for name in re.findall(r"\{([^{}]*)\}", word):
            if name not in PLACEHOLDERS:
                raise UsageError(
                    f"--boot-command: unknown placeholder {{{name}}} "
                    f"(known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})"
                )
    return argv


def new_campaign_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def make_schedule(
    *,
    arms: list[Arm],
    hosts: list[str],
    boots: int,
    order: str,
    seed: int,
    method: str,
    boot_command: list[str] | None,
    run: dict[str, Any],
    timeouts: dict[str, int],
    inventory_source: str,
) -> dict[str, Any]:
    """The plan document; the first arm is the baseline, the others candidates ("candidate" is the
    first of them, as plans with two arms have always said). One arm (candidate None) is a bisect
    step: boots of one kernel, judged by the bisection's criterion, not compared."""
    if not arms:
        raise UsageError("a campaign needs at least one --arm")
    labels = [arm.label for arm in arms]
    dup = next((x for x in labels if labels.count(x) > 1), None)
    if dup:
        raise UsageError(f"two arms are labelled {dup!r}")
    if boots < 1:
        raise UsageError("--boots must be at least 1")
    if boot_command and any("{midr}" in w for w in boot_command):
        lacking = [arm.label for arm in arms if not arm.expect.get("midr")]
        if lacking:
            raise UsageError(
                f"--boot-command uses {{midr}} but arm {lacking[0]} has no CPU identity: "
                f"add --expect {lacking[0]}:midr=0x..."
            )
    a, b = labels[0], (labels[1] if len(labels) > 1 else None)
    return {
        "format": PLAN_FORMAT,
        "id": new_campaign_id(),
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "baseline": a,
        "candidate": b,
        "candidates": labels[1:],
        "arms": {arm.label: arm.as_dict() for arm in arms},
        "boot_method": method,
        "boot_command": boot_command,
        "order": order,
        "seed": seed,
        "boots_per_arm": boots,
        "run": run,
        "timeouts": timeouts,
        "inventory_source": inventory_source,
        "hosts": {
            h: [{"index": i, "arm": arm} for i, arm in enumerate(boot_order(order, labels, boots, seed, h))]
            for h in hosts
        },
    }


# -- reading a plan (possibly edited by hand) ---------------------------------------------


def _bad(path: Path, key: str, problem: str) -> InputError:
    return InputError(f"{key}: {problem}; fix it or write a new plan with `benchctl campaign plan`", path)


def _typed(path: Path, obj: dict, key: str, types: type | tuple[type, ...], where: str, optional: bool = False) -> Any:
    if key not in obj:
        if optional:
            return None
        raise _bad(path, f"{where}{key}", "missing")
    value = obj[key]
    if value is None and optional:
        return None
    names = wrong_type(value, types)
    if names:
        raise _bad(path, f"{where}{key}", f"{value!r} is not a {names}")
    return value


def _validate_arms(path: Path, arms: dict) -> None:
    if not arms:
        raise _bad(path, "arms", "a campaign has at least one arm, this plan has none")
    for label, arm in arms.items():
        if not isinstance(label, str) or not _NAME.match(label):
            raise _bad(path, f"arms.{label}", "not a valid arm label")
        if not isinstance(arm, dict):
            raise _bad(path, f"arms.{label}", "not an object")
        w = f"arms.{label}."
        _typed(path, arm, "kernel", str, w)
        _typed(path, arm, "release", str, w, optional=True)
        _typed(path, arm, "initrd", str, w, optional=True)
        _typed(path, arm, "cmdline", str, w)
        mode = _typed(path, arm, "cmdline_mode", str, w)
        if mode not in ("whole", "extra", "keep"):
            raise _bad(path, w + "cmdline_mode", f"{mode!r} is not whole, extra or keep")
        exp = _typed(path, arm, "expect", dict, w)
        for k in EXPECT_KEYS:
            _typed(path, exp, k, str, w + "expect.", optional=True)
        tokens = _typed(path, exp, "cmdline", list, w + "expect.", optional=True) or []
        if not all(isinstance(t, str) for t in tokens):
            raise _bad(path, w + "expect.cmdline", "not a list of strings")
        for key, allowed in (
            ("linear_map", LINEAR_MAP_STATES),
            ("linear_map_source", LINEAR_MAP_SOURCES),
            ("bbml2", BBML2_ANSWERS),
        ):
            if exp.get(key) not in (None, *allowed):
                raise _bad(path, w + "expect." + key, f"{exp[key]!r} is not one of {', '.join(allowed)}")


def _validate_run(path: Path, data: dict) -> None:
    run = _typed(path, data, "run", dict, "")
    suite = _typed(path, run, "suite", str, "run.", optional=True)
    workloads = _typed(path, run, "workloads", list, "run.", optional=True) or []
    if bool(suite) == bool(workloads) or not all(isinstance(w, str) and w for w in workloads):
        raise _bad(path, "run", "give either a suite name or a non-empty list of workload names")
    _typed(path, run, "preset", str, "run.", optional=True)
    sets = _typed(path, run, "set", list, "run.", optional=True) or []
    if not all(isinstance(s, str) and "=" in s for s in sets):
        raise _bad(path, "run.set", "not a list of KEY=VALUE strings")
    _typed(path, run, "perf", bool, "run.")
    timeouts = _typed(path, data, "timeouts", dict, "")
    for k in DEFAULT_TIMEOUTS:
        v = _typed(path, timeouts, k, int, "timeouts.")
        if v <= 0:
            raise _bad(path, f"timeouts.{k}", f"{v} is not a positive number of seconds")


def _validate_hosts(path: Path, hosts: dict, arms: dict) -> None:
    if not hosts:
        raise _bad(path, "hosts", "no hosts")
    for host, seq in hosts.items():
        if not isinstance(host, str) or not _NAME.match(host):
            raise _bad(path, f"hosts.{host}", "not a valid host name (letters, digits, . _ -)")
        if not isinstance(seq, list) or not seq:
            raise _bad(path, f"hosts.{host}", "not a non-empty list of boots")
        for i, boot in enumerate(seq):
            w = f"hosts.{host}[{i}]"
            if not isinstance(boot, dict):
                raise _bad(path, w, "not an object")
            if boot.get("index") != i or isinstance(boot.get("index"), bool):
                raise _bad(path, w + ".index", f"{boot.get('index')!r}, expected {i} (boots are numbered in order)")
            if boot.get("arm") not in arms:
                raise _bad(path, w + ".arm", f"{boot.get('arm')!r} is not an arm of this plan ({', '.join(arms)})")


def validate(data: Any, path: Path) -> dict[str, Any]:
    """Check a plan document; InputError naming the file and the first bad key."""
    if not isinstance(data, dict):
        raise InputError("not a campaign plan (a JSON object is expected)", path)
    fmt = data.get("format")
    try:
        major = format_version(fmt, "benchctl-campaign-plan")
    except ValueError:
        major = None
    if major is not None and major > 1:
        raise InputError(f"written in {fmt}, newer than this benchctl reads ({PLAN_FORMAT}); upgrade benchctl", path)
    if major != 1:
        raise _bad(path, "format", f"{fmt!r} is not {PLAN_FORMAT!r}")
    _typed(path, data, "id", str, "")
    arms = _typed(path, data, "arms", dict, "")
    _validate_arms(path, arms)
    for role in ("baseline", "candidate"):
        if role == "candidate" and len(arms) == 1 and data.get(role) is None:
            continue  # a one-arm plan: a bisect step
        if _typed(path, data, role, str, "") not in arms:
            raise _bad(path, role, f"{data[role]!r} is not an arm of this plan ({', '.join(arms)})")
    if data["baseline"] == data.get("candidate"):
        raise _bad(path, "candidate", "the same arm as the baseline")
    cands = _typed(path, data, "candidates", list, "", optional=True) or [c for c in [data.get("candidate")] if c]
    if any(c not in arms or c == data["baseline"] for c in cands) or len(set(cands)) != len(cands):
        raise _bad(path, "candidates", f"must list other arms of this plan ({', '.join(arms)}) once each")
    method = _typed(path, data, "boot_method", str, "")
    if method not in BOOT_METHODS:
        raise _bad(path, "boot_method", f"{method!r} is not one of {', '.join(BOOT_METHODS)}")
    cmd = _typed(path, data, "boot_command", list, "", optional=True)
    if method == "command" and (not cmd or not all(isinstance(w, str) for w in cmd)):
        raise _bad(path, "boot_command", "boot method 'command' needs a list of strings")
    _validate_run(path, data)
    _validate_hosts(path, _typed(path, data, "hosts", dict, ""), arms)
    adaptive.validate(path, data)
    return data


def load_schedule(folder: Path) -> dict[str, Any]:
    """Read and validate DIR/plan.json."""
    path = Path(folder) / PLAN_FILE
    if not Path(folder).is_dir():
        raise InputError("not a campaign folder (no such directory); make one with `benchctl campaign plan`", folder)
    if not path.exists():
        raise InputError("not a campaign folder: no plan.json; make one with `benchctl campaign plan`", folder)
    return validate(load_json(path), path)


def candidates(plan: dict[str, Any]) -> list[str]:
    """The plan's candidate arms ([] for a one-arm bisect step; plans before "candidates": [candidate])."""
    return list(plan.get("candidates") or [c for c in [plan.get("candidate")] if c])


def expected_arm(plan: dict[str, Any], host: str, index: int) -> str:
    return plan["hosts"][host][index]["arm"]


def describe(plan: dict[str, Any]) -> str:
    """A few lines saying what the plan will do, for the person who just wrote it."""
    hosts = plan["hosts"]
    n = plan["boots_per_arm"]
    run = plan["run"]
    what = f"suite {run['suite']}" if run.get("suite") else "workloads " + ", ".join(run["workloads"])
    head = (
        f"campaign {plan['id']}: {len(hosts)} host(s) x {len(plan['arms']) * n} boots ({n} per arm, "
        f"order {plan['order']}), "
        f"boot method {plan['boot_method']}; each boot runs {what} (preset {run.get('preset')})"
    )
    lines = [head]
    for role, label in [("baseline" if plan.get("candidate") else "arm", plan["baseline"])] + [
        ("candidate", c) for c in candidates(plan)
    ]:
        arm = plan["arms"][label]
        cmd = {
            "whole": f"command line '{arm['cmdline']}'",
            "extra": f"current command line + '{arm['cmdline']}'",
            "keep": "current command line",
        }[arm["cmdline_mode"]]
        exp = arm["expect"]
        checks = [f"{k.replace('_', ' ')} {exp[k]}" for k in EXPECT_KEYS if exp.get(k)]
        if exp.get("cmdline"):
            checks.append("parameters " + " ".join(exp["cmdline"]))
        lines.append(f"  {role} {label}: {arm['kernel']}, {cmd}, initrd {arm['initrd'] or 'none'}")
        lines.append(f"    a boot counts as {label} only with: {'; '.join(checks) or 'nothing checked (see --expect)'}")
    for host, seq in list(hosts.items())[:8]:
        lines.append(f"  {host}: {' '.join(b['arm'] for b in seq)}")
    if len(hosts) > 8:
        lines.append(f"  ... and {len(hosts) - 8} more host(s)")
    return fit("\n".join(lines))
