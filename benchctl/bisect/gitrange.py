"""A bisection over a git range: git picks the commit, benchctl builds, installs, boots and judges it.

    bisect.json "git": {"repo", "good", "bad", "build": argv, "install": argv, "kernel": template,
                        "build_timeout_s", "install_timeout_s"}

Each commit git checks out is built and installed by the user's commands (argument lists, run
on the controller in the repository, each under its deadline, their output kept in
DIR/builds/REV.{build,install}.log; placeholders {rev} {repo}), then booted as the kernel the
template names ("{rev}=/boot/vmlinuz-{rev}:+rodata=full") through the same step as a listed
kernel (driver.step), and the decision handed back with `git bisect good|bad|skip`. A commit
that does not build or install is a skip, as in `git bisect run` (exit 125). git's own answer
("is the first bad commit", or the commits only skips leave) is kept in DIR/git-answer.txt.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchctl.bisect import driver
from benchctl.campaign import schedule
from benchctl.errors import InputError, RunFailed, UsageError
from benchctl.osutil.fsutil import append_json, atomic_write_text

GIT_TIMEOUT_S = 120
PLACEHOLDERS = ("rev", "repo")
TAIL = 20


def git(repo: str, *args: str) -> subprocess.CompletedProcess:
    from benchctl.run.proctree import run

    try:
        return run(["git", "-C", repo, *args], timeout=GIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"git {' '.join(args)} gave no answer in {GIT_TIMEOUT_S} s") from None


def check_template(text: str, what: str) -> None:
    for name in re.findall(r"\{([^{}]*)\}", text):
        if name not in PLACEHOLDERS:
            raise UsageError(f"{what}: unknown placeholder {{{name}}} (known: {{rev}} {{repo}})")


def config(repo: str, good: str, bad: str, build: list[str], install: list[str], kernel: str, **timeouts: int) -> dict:
    """The "git" section of bisect.json, after checking the repository knows both revisions."""
    for rev in (good, bad):
        r = git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        if r.returncode != 0:
            raise UsageError(f"--good/--bad: {rev!r} is not a commit of {repo}")
    for word in [*build, *install]:
        check_template(word, "--build/--install")
    check_template(kernel, "--kernel-of")
    return {"repo": repo, "good": good, "bad": bad, "build": build, "install": install, "kernel": kernel, **timeouts}


def _command(folder: Path, g: dict[str, Any], rev: str, which: str) -> str | None:
    """Run --build or --install for rev under its deadline; None if it worked, else why (with the tail)."""
    from benchctl.run.proctree import run

    argv = [w.replace("{rev}", rev).replace("{repo}", g["repo"]) for w in g[which]]
    if not argv:
        return None
    log = folder / "builds" / f"{rev}.{which}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    timeout = g[f"{which}_timeout_s"]
    try:
        r = run(argv, timeout=timeout, cwd=g["repo"])
    except subprocess.TimeoutExpired:
        atomic_write_text(log, f"$ {' '.join(argv)}\n(killed after {timeout} s)\n")
        return f"{which} gave no answer in {timeout} s (log {log.name})"
    except OSError as e:
        return f"{which}: cannot run {argv[0]}: {e.strerror or e}"
    atomic_write_text(log, f"$ {' '.join(argv)}\n{r.stdout}{r.stderr}\nexit {r.returncode}\n")
    if r.returncode != 0:
        tail = " | ".join((r.stdout + r.stderr).strip().splitlines()[-3:])
        return f"{which} exited {r.returncode}: {tail[:160]}"
    return None


def run(folder: Path, echo: Callable[[str], None] = print) -> str:
    """Bisect the range to git's answer; returns it (also in DIR/git-answer.txt)."""
    folder = Path(folder)
    doc = driver.load(folder)
    g = doc["git"]
    repo = g["repo"]
    if git(repo, "bisect", "log").returncode != 0:  # not bisecting yet (a resumed run goes on)
        r = git(repo, "bisect", "start", g["bad"], g["good"])
        if r.returncode != 0:
            raise InputError(f"git bisect start: {(r.stderr or r.stdout).strip()}", repo)
    while True:
        rev = git(repo, "rev-parse", "--short=12", "HEAD").stdout.strip()
        echo(f"bisect: commit {rev}")
        why = _command(folder, g, rev, "build") or _command(folder, g, rev, "install")
        if why:
            decision = "skip"
            append_json(folder / driver.LOG_FILE, driver.log_entry(rev, None, "skip", [], [why], f"builds/{rev}", 0))
        else:
            arm = schedule.parse_arm(g["kernel"].replace("{rev}", rev).replace("{repo}", repo), doc["boot_method"])
            decision = driver.step(folder, arm, echo)["decision"]
        echo(f"bisect: {rev} is {decision}")
        r = git(repo, "bisect", decision)
        out = r.stdout + r.stderr
        if "is the first bad commit" in out or "only 'skip'ped commits left" in out:
            atomic_write_text(folder / "git-answer.txt", out)
            return out
        if r.returncode != 0:
            raise RunFailed(f"git bisect {decision}: {out.strip()[:300]}")
