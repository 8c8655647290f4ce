"""The bisect folder and its steps: each step is a one-arm campaign folder, booted for real.

    DIR/bisect.json      benchctl-bisect/1: the kernels in order (campaign arms), the criterion,
                         boots per step, boot method, timeouts, the inventory's hosts
    DIR/steps/NN-LABEL/  the step's campaign folder (plan, boots, each boot's runs and kernel log)
    DIR/log.jsonl        one decision a line, appended and fsynced: kernel, good/bad/skip, the boots
                         and each boot's evidence

A killed controller resumes with `benchctl bisect run DIR`: decided steps are read from the log,
a step under way is its campaign resumed (boots done are kept). `bisect step` is the same step for
one kernel, for `git bisect run`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchctl.bisect import criteria, search
from benchctl.campaign import folder as campaign_folder
from benchctl.campaign import schedule
from benchctl.campaign.progress import now
from benchctl.documents import load_json
from benchctl.errors import BenchctlError, InputError, RunFailed, UsageError
from benchctl.osutil.fsutil import append_json, atomic_write_json, read_jsonl

FORMAT = "benchctl-bisect/1"
BISECT_FILE = "bisect.json"
LOG_FILE = "log.jsonl"
HOSTVARS_FILE = "hostvars.json"
RUN = {"suite": None, "workloads": ["boot-memory"], "preset": "quick", "set": [], "perf": False}
EXIT = {"good": 0, "bad": 1, "skip": 125}  # git bisect run's convention


def start(
    output: Path,
    arms: list[schedule.Arm],
    criterion: criteria.Criterion,
    hostvars: dict[str, dict[str, Any]],
    *,
    inventory_source: str,
    boots: int,
    method: str,
    boot_command: list[str] | None,
    timeouts: dict[str, int],
    run: dict[str, Any] | None = None,
    git: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write DIR/bisect.json (and the inventory's hosts); UsageError on a bad list. `run` is what
    each boot runs (default: boot-memory, quick: a fingerprint and the kernel log)."""
    if len(arms) < 2 and not git:
        raise UsageError("a bisection needs at least two --kernel (the first assumed good, the last bad)")
    if arms and git:
        raise UsageError("give --kernel (a list) or --git (a range), not both")
    labels = [a.label for a in arms]
    dup = next((x for x in labels if labels.count(x) > 1), None)
    if dup:
        raise UsageError(f"two kernels are labelled {dup!r}: give LABEL=KERNEL")
    if output.exists() and any(output.iterdir()):
        raise UsageError(f"{output} exists and is not empty: give a new folder")
    doc = {
        "format": FORMAT,
        "id": schedule.new_campaign_id(),
        "created": now(),
        "kernels": [a.as_dict() | {"label": a.label} for a in arms],
        "criterion": criterion.as_dict(),
        "boots_per_step": boots,
        "boot_method": method,
        "boot_command": boot_command,
        "timeouts": timeouts,
        "run": run or dict(RUN),
        "git": git,
        "inventory_source": inventory_source,
        "hosts": sorted(hostvars),
    }
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_json(output / HOSTVARS_FILE, hostvars)
    (output / HOSTVARS_FILE).chmod(0o600)  # an inventory's variables may hold secrets
    atomic_write_json(output / BISECT_FILE, doc)
    return doc


def load(folder: Path) -> dict[str, Any]:
    path = Path(folder) / BISECT_FILE
    if not path.is_file():
        raise InputError("not a bisect folder: no bisect.json; make one with `benchctl bisect start`", folder)
    doc = load_json(path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"not a {FORMAT} document", path)
    return doc


def decisions(folder: Path) -> list[dict[str, Any]]:
    """The log, in order (torn lines of a killed writer are left out by read_jsonl)."""
    path = Path(folder) / LOG_FILE
    return read_jsonl(path)[0] if path.is_file() else []


def states(doc: dict[str, Any], log: list[dict[str, Any]]) -> dict[int, str]:
    """index -> the latest decision on each listed kernel."""
    index = {k["label"]: i for i, k in enumerate(doc["kernels"])}
    return {index[d["kernel"]]: d["decision"] for d in log if d["kernel"] in index}


def _arm(k: dict[str, Any]) -> schedule.Arm:
    arm = schedule.Arm(k["label"], k["kernel"], k.get("release"), k.get("initrd"), k["cmdline"], k["cmdline_mode"])
    arm.expect = dict(k["expect"])
    return arm


def _step_folder(folder: Path, doc: dict[str, Any], arm: schedule.Arm, number: int) -> Path:
    """The step's campaign folder: planned once, resumed after a killed controller."""
    existing = sorted((folder / "steps").glob(f"*-{arm.label}"))
    if existing and (existing[-1] / schedule.PLAN_FILE).is_file():
        return existing[-1]
    out = folder / "steps" / f"{number:02d}-{arm.label}"
    hostvars = load_json(folder / HOSTVARS_FILE)
    plan = schedule.make_schedule(
        arms=[arm],
        hosts=list(doc["hosts"]),
        boots=doc["boots_per_step"],
        order="abab",
        seed=0,
        method=doc["boot_method"],
        boot_command=doc["boot_command"],
        run=dict(doc.get("run") or RUN),
        timeouts=doc["timeouts"],
        inventory_source=doc["inventory_source"],
    )
    campaign_folder.create(out, plan, hostvars, doc["inventory_source"])
    return out


def step(folder: Path, arm: schedule.Arm, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Boot one kernel (its step's campaign), judge every boot, append the decision; returns it.

    On a claim the reference is booted first, and the step stops booting once the claim is decided
    on its sequence (bisect/claim.py): the boots per step are then its most, not its number."""
    from benchctl.campaign.runner import RunnerOptions, run_campaign

    folder = Path(folder)
    doc = load(folder)
    crit = criteria.from_dict(doc["criterion"])
    stop_when = _claim_stop(folder, doc, crit, arm, echo) if crit.kind == "claim" else None
    log = decisions(folder)
    sdir = _step_folder(folder, doc, arm, len({d["step"] for d in log}) + 1)
    t0 = time.monotonic()
    failure = None
    try:
        run_campaign(sdir, RunnerOptions(echo=echo, stop_when=stop_when))
    except RunFailed as e:  # the kernel did not boot, verify or measure: git bisect's "skip"
        failure = _why_failed(sdir) or str(e)
    if crit.kind == "claim":
        boots, lines, decision = _claim_step(folder, doc, crit, arm, sdir)
    else:
        evidence = [
            criteria.judge_boot(crit, rec.parent, str(load_json(rec).get("boot_id")))
            for rec in sorted(sdir.glob("boots/*/*/boot.json"))
        ]
        boots, lines, decision = [e.boot_id for e in evidence], [e.line for e in evidence], criteria.decide(evidence)
    decision = "skip" if failure else decision
    entry = log_entry(
        arm.label,
        arm.release,
        decision,
        boots,
        lines + ([f"failed: {failure}"] if failure else []),
        str(sdir.relative_to(folder)),
        round(time.monotonic() - t0, 1),
    )
    append_json(folder / LOG_FILE, entry)
    return entry


def log_entry(
    kernel: str, release: str | None, decision: str, boots: list[str], evidence: list[str], step: str, seconds: float
) -> dict[str, Any]:
    """One line of log.jsonl (a booted step, or a git commit that did not build)."""
    return {
        "kernel": kernel,
        "release": release,
        "decision": decision,
        "boots": boots,
        "evidence": evidence,
        "step": step,
        "seconds": seconds,
        "at": now(),
    }


def _reference_dir(folder: Path, doc: dict[str, Any]) -> Path | None:
    """The first kernel's step folder (the last one, should it have been planned again), or None."""
    dirs = sorted((folder / "steps").glob(f"*-{_arm(doc['kernels'][0]).label}"))
    return dirs[-1] if dirs else None


def _judge_claim(
    folder: Path, doc: dict[str, Any], crit: criteria.Criterion, label: str, sdir: Path
) -> tuple[str, str]:
    """(decision, evidence line) of a claim step's boots so far against the reference's."""
    from benchctl.bisect import claim as claim_rule
    from benchctl.claims import load_claims
    from benchctl.results.loader import load_runs

    claim = next(c for c in load_claims(crit.value) if c.id == crit.key)
    tidy = load_runs([d for d in (_reference_dir(folder, doc), sdir) if d is not None])
    return claim_rule.decide(tidy, doc["kernels"][0]["label"], label, claim, horizon=doc["boots_per_step"])


def _claim_stop(
    folder: Path, doc: dict[str, Any], crit: criteria.Criterion, arm: schedule.Arm, echo: Callable[[str], None]
) -> Callable[[Path], bool] | None:
    """For a claim step other than the reference's: the reference booted, and a check after every
    boot that stops the step once the claim is decided (good or bad) on its sequence."""
    ref = _arm(doc["kernels"][0])
    if arm.label == ref.label:
        return None
    ref_dir = _reference_dir(folder, doc)
    if ref_dir is None or not any(ref_dir.glob("boots/*/*/boot.json")):
        echo(f"bisect: booting the reference {ref.label} first")
        step(folder, ref, echo)

    def decided(sdir: Path) -> bool:
        if not any(sdir.glob("boots/*/*/runs/*/*/records.jsonl")):
            return False
        try:
            decision, line = _judge_claim(folder, doc, crit, arm.label, sdir)
        except BenchctlError as e:  # e.g. no usable rows yet: keep booting
            echo(f"bisect: {arm.label}: not judged yet ({e})")
            return False
        echo(f"bisect: {arm.label}: {line} -> {decision}")
        return decision != "skip"

    return decided


def _claim_step(
    folder: Path, doc: dict[str, Any], crit: criteria.Criterion, arm: schedule.Arm, sdir: Path
) -> tuple[list[str], list[str], str]:
    """(boot ids, evidence, decision) of a claim step: its boots against the first kernel's."""
    boots = [str(load_json(r).get("boot_id")) for r in sorted(sdir.glob("boots/*/*/boot.json"))]
    if arm.label == doc["kernels"][0]["label"]:
        return boots, [f"reference for {crit.key}: {len(boots)} boot(s) {' '.join(b[:8] for b in boots)}"], "good"
    decision, line = _judge_claim(folder, doc, crit, arm.label, sdir)
    return boots, [line], decision


def _why_failed(sdir: Path) -> str | None:
    """Each stopped host's last error (phase and message) from the step's campaign books."""
    from benchctl.campaign import progress

    plan = schedule.load_schedule(sdir)
    rep = progress.status_report(plan, progress.load(sdir, plan))
    errs = [
        f"{host} {e.get('phase')}: {e.get('message')}" for host, h in rep["hosts"].items() if (e := h["last_error"])
    ]
    return "; ".join(errs) or None


def kernel_arm(doc: dict[str, Any], spec: str) -> schedule.Arm:
    """A listed kernel by label, or a new LABEL=KERNEL[:CMDLINE] (git bisect run: one per commit)."""
    for k in doc["kernels"]:
        if k["label"] == spec:
            return _arm(k)
    if "=" not in spec:
        names = ", ".join(k["label"] for k in doc["kernels"])
        raise UsageError(f"no kernel {spec!r} in this bisection ({names}); or give LABEL=KERNEL[:CMDLINE]")
    return schedule.parse_arm(spec, doc["boot_method"])


def run(folder: Path, echo: Callable[[str], None] = print) -> search.Answer:
    """Bisect until the answer is known; every step's decision is in the log as it is made."""
    folder = Path(folder)
    doc = load(folder)
    n = len(doc["kernels"])
    while (i := search.next_index(n, states(doc, decisions(folder)))) is not None:
        arm = _arm(doc["kernels"][i])
        echo(f"bisect: booting {arm.label} ({i + 1} of {n})")
        d = step(folder, arm, echo)
        echo(f"bisect: {arm.label} is {d['decision']}: {'; '.join(d['evidence'])[:200]}")
    return search.answer(n, states(doc, decisions(folder)))


def result_doc(folder: Path) -> dict[str, Any]:
    """The log and the answer as one document (`bisect log --format json`)."""
    doc = load(folder)
    log = decisions(folder)
    if doc.get("git"):
        return _git_doc(folder, doc, log)
    a = search.answer(len(doc["kernels"]), states(doc, log))
    label = [k["label"] for k in doc["kernels"]]
    return {
        "format": "benchctl-bisect-log/1",
        "bisect": doc["id"],
        "criterion": criteria.from_dict(doc["criterion"]).text(),
        "kernels": label,
        "steps": log,
        "answer": {
            "kind": a.kind,
            "first_bad": label[a.first_bad] if a.first_bad is not None else None,
            "last_good": label[a.last_good] if a.last_good is not None else None,
            "candidates": [label[i] for i in a.candidates],
        },
        "boots": sum(len(d["boots"]) for d in log),
        "seconds": round(sum(d.get("seconds", 0) for d in log), 1),
    }


def _git_doc(folder: Path, doc: dict[str, Any], log: list[dict[str, Any]]) -> dict[str, Any]:
    """result_doc of a git-range bisection: the commits tested, git's own answer."""
    import re

    said = (folder / "git-answer.txt").read_text() if (folder / "git-answer.txt").is_file() else ""
    first = re.search(r"^([0-9a-f]{7,40}) is the first bad commit", said, re.M)
    maybe = re.findall(r"^([0-9a-f]{40})$", said.split("could be any of:", 1)[1], re.M) if "any of:" in said else []
    kind = "culprit" if first else "range" if maybe else "pending"
    return {
        "format": "benchctl-bisect-log/1",
        "bisect": doc["id"],
        "criterion": criteria.from_dict(doc["criterion"]).text(),
        "kernels": [d["kernel"] for d in log],
        "steps": log,
        "answer": {
            "kind": kind,
            "first_bad": first.group(1)[:12] if first else None,
            "last_good": None,
            "candidates": [m[:12] for m in maybe],
        },
        "boots": sum(len(d["boots"]) for d in log),
        "seconds": round(sum(d.get("seconds", 0) for d in log), 1),
    }


def log_text(folder: Path) -> str:
    """`git bisect log`-like: one decision a line with its evidence (<= 72 columns), then the answer."""
    r = result_doc(folder)
    from benchctl.human import wrap

    out = wrap(f"bisect {r['bisect']}: bad if {r['criterion']}", "#   ", "# ")
    out += wrap(" ".join(r["kernels"]), "#   ", "# kernels: ")
    for d in r["steps"]:
        head = f"git bisect {d['decision']} {d['kernel']}"
        ev = "; ".join(d["evidence"]) or "no boots"
        out.append(f"{head}  # {ev}"[:72])
    a = r["answer"]
    last = next((d for d in reversed(r["steps"]) if d["kernel"] == a["first_bad"]), None)
    what = {
        "culprit": f"# first bad: {a['first_bad']}" + (f" (last good {a['last_good']})" if a["last_good"] else ""),
        "range": f"# first bad is one of: {' '.join(a['candidates'])} (skipped kernels between)",
        "no-change": "# no change found: the last kernel is good",
        "bad-from-start": "# bad from the start: the first kernel is already bad",
        "ends-skipped": "# undecided: an end of the list could not be judged (skipped)",
        "pending": "# not finished: run `benchctl bisect run` again",
    }[a["kind"]]
    out.append(what)
    if last and a["kind"] == "culprit":
        out.append(f"#   decided by {'; '.join(last['evidence'])}"[:72])
    out.append(f"# {len(r['steps'])} steps, {r['boots']} boots, {r['seconds']:.0f} s of steps")
    return "\n".join(out) + "\n"


def as_json(folder: Path) -> str:
    return json.dumps(result_doc(folder), indent=2) + "\n"
