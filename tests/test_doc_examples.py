"""The `benchctl ...` examples in README.md and docs/*.md, run or checked, so the docs cannot drift
(as Go benchstat's doc_test runs its examples).

Every command line in a code block (indented, or fenced as shell or unlabelled) is one example:
- a synopsis (placeholders: `[...]`, `A|B`, `DIR`, `...`) is checked against `--help`: the command
  exists and takes every option it names;
- a concrete example is run here when it can (RUNNABLE: bash in a prepared folder, under a deadline,
  exit code 0, and the output block the doc shows beside it, SHOWN), else it is listed in NOT_RUN
  with the reason, and its options are checked like a synopsis.
An example in neither table fails the test, and so does a table entry no doc holds any more.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import click
import deadline  # tests/support/deadline.py: waits with a deadline
import pytest

from benchctl.cli import cli

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
CAMPAIGNS = REPO / "tests" / "fixtures" / "arm64-trixie-campaign"
SHELL_FENCES = {"", "sh", "shell", "bash", "console"}
PLACEHOLDER = re.compile(r"\.\.\.|[\[\]|(){}]|\b[A-Z][A-Z_]*\b")
TIMEOUT_S = 60

# The example as written (continuations joined, comments dropped) -> the folder it runs in (WORKSPACES).
RUNNABLE = {
    "benchctl env": "empty",
    "benchctl model pagetables --ram 256G": "empty",
    "benchctl model predict --cpu ampereone": "empty",
    "benchctl model simulate --cpu ampereone --arms pte,block --boots 4 --iterations 5 -o sim/": "empty",
    "benchctl analyze results/*/* --baseline pte --candidate block --claims bbml2 --brief --plots plots/": "simulated",
    "benchctl plan results/*/* --baseline pte --candidate block --claims bbml2": "simulated",
    "benchctl analyze results/*/* --baseline pte --candidate block --candidate noalias --claims bbml2": "three arms",
    "benchctl campaign plan --arm before=6.17.13+deb13-arm64 --arm after=6.18.15+deb13-arm64 --hosts lab.ini "
    "--boots 4 -o camp/": "inventory",
    "benchctl campaign status camp/": "campaign",
    "benchctl analyze camp/ --claims bbml2": "campaign",
}

# Examples that cannot run here, each with its reason (reviewed: add one only with a reason).
NOT_RUN = {
    "benchctl run --suite bbml2 --preset claim --arm block": "the claim preset runs minutes of workloads, "
    "root devices (brd, dm-crypt)",
    "benchctl run --suite bbml2 --preset claim --arm pte": "as the block arm: minutes, root devices",
    "benchctl campaign run camp/": "reboots the inventory's hosts over ssh",
    "benchctl campaign run camp/ --until-decided": "reboots the inventory's hosts over ssh",
    "benchctl bisect run bis/": "reboots the inventory's hosts over ssh",
    "benchctl bisect log bis/": "reads the log that `bisect run` writes on real hosts",
    "benchctl run tlb-probe --arm probe --preset quick": "compiles and runs the native probe: "
    "tests/parsers/test_tlb_probe.py runs it live",
    "benchctl run tlb-probe --arm probe --preset claim": "64 GiB per arm, on the target",
    "benchctl cleanup": "removes what dead runs left on this host (the state dir is shared with live tests)",
}

# Output a doc shows for a runnable example: (doc, a line of its block); every line of that block must appear.
SHOWN = {"benchctl model pagetables --ram 256G": ("docs/model.md", "MemTotal change (block - PTE): +516,412 kB")}


def _blocks(text: str) -> list[tuple[int, list[str], bool]]:
    """(first line number, lines, is output-capable fenced block) of each code block in markdown."""
    blocks: list[tuple[int, list[str], bool]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            blocks.append((i + 2, lines[i + 1 : end], fence.group(1) in SHELL_FENCES))
            i = end + 1
        elif lines[i].startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            end = i
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            blocks.append((i + 1, [ln[4:] for ln in lines[i:end]], True))
            i = end
        else:
            i += 1
    return blocks


def _commands(block: list[str]) -> list[tuple[int, str]]:
    """(offset, command) per `benchctl` line; deeper-indented lines and `\\` continue it; `&&` splits it."""
    found: list[tuple[int, str]] = []
    for k, line in enumerate(block):
        stripped = line.strip().removeprefix("$ ")
        if not stripped.startswith("benchctl "):
            continue
        indent = len(line) - len(line.lstrip())
        parts = [stripped]
        for more in block[k + 1 :]:
            if not more.strip() or len(more) - len(more.lstrip()) <= indent:
                break
            parts.append(more.strip())
        joined = " ".join(re.sub(r"(^|\s)#\s.*$", "", p).rstrip(" \\") for p in parts)
        found += [(k, " ".join(c.split())) for c in joined.split("&&")]
    return found


def examples() -> list[tuple[str, str]]:
    """(doc:line, command) for every benchctl example in README.md and docs/*.md."""
    found = []
    for doc in DOCS:
        for start, block, shell in _blocks(doc.read_text()):
            if shell:
                found += [(f"{doc.relative_to(REPO)}:{start + k}", cmd) for k, cmd in _commands(block)]
    return found


EXAMPLES = examples()


def _help(words: list[str]) -> str:
    """The --help of the deepest command the words name, through click (no process per example)."""
    ctx = click.Context(cli, info_name="benchctl")
    cmd: click.Command = cli
    for w in words:
        if not isinstance(cmd, click.Group) or w not in cmd.list_commands(ctx):
            break
        sub = cmd.get_command(ctx, w)
        assert sub is not None, w
        cmd = sub
        ctx = click.Context(cmd, info_name=w, parent=ctx)
    return cmd.get_help(ctx)


@pytest.mark.parametrize(("where", "cmd"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_every_option_an_example_names_exists(where: str, cmd: str) -> None:
    text = _help(cmd.split()[1:])
    missing = [o for o in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", cmd) if o != "--help" and o not in text]
    assert not missing, f"{where}: {cmd!r} names options its command does not take: {missing}"


def test_every_concrete_example_is_run_or_listed_with_its_reason() -> None:
    concrete = {cmd for _, cmd in EXAMPLES if not PLACEHOLDER.search(cmd.removeprefix("benchctl "))}
    unlisted = sorted(concrete - RUNNABLE.keys() - NOT_RUN.keys())
    assert not unlisted, f"doc examples neither run nor listed in NOT_RUN with a reason: {unlisted}"
    stale = sorted((RUNNABLE.keys() | NOT_RUN.keys()) - concrete)
    assert not stale, f"RUNNABLE / NOT_RUN name examples no doc holds any more: {stale}"


def _workspace(kind: str, root: Path) -> Path:
    """A fresh folder holding what the example's command reads, made the way the docs say."""
    home = root / kind.replace(" ", "-")
    home.mkdir()
    if kind == "simulated":  # README: run folders in results/HOST/RUN, here the model's simulated ones
        bench(home, RUNNABLE_SIMULATE)
        (home / "results").symlink_to("sim")
    elif kind == "three arms":  # a recorded campaign's run folders of pte, block and noalias
        for run in sorted(CAMPAIGNS.glob("three-arms/boots/*/*/runs/*")):
            link = home / "results" / run.parts[-4] / f"{run.parts[-3]}-{run.name}"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(run)
    elif kind == "inventory":
        (home / "lab.ini").write_text("[lab]\nhost1 ansible_host=192.0.2.1\n")
    elif kind == "campaign":  # a recorded campaign folder (docs/campaign.md)
        shutil.copytree(CAMPAIGNS / "same-kernel", home / "camp")
    return home


RUNNABLE_SIMULATE = next(c for c in RUNNABLE if c.startswith("benchctl model simulate"))


def bench(cwd: Path, cmd: str) -> str:
    """Run one example as the docs do (bash, `benchctl` on PATH) in cwd; its stdout, exit code 0 checked.

    `benchctl` is a shim running this interpreter's `-m benchctl`, so the examples run the code under
    test also where the package is not installed (scripts/lowest-deps.sh puts it on PYTHONPATH)."""
    shim = cwd.parent / "bin" / "benchctl"
    if not shim.exists():
        shim.parent.mkdir(exist_ok=True)
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m benchctl "$@"\n')
        shim.chmod(0o755)
    env = {**os.environ, "PATH": _path(shim.parent), "COLUMNS": "80"}
    r = deadline.run(["bash", "-c", cmd], TIMEOUT_S, phase=cmd, cwd=cwd, env=env, text=True)
    assert r.returncode == 0, f"{cmd!r} exited {r.returncode}:\n{r.stderr[-2000:]}"
    return r.stdout


def _path(first: Path) -> str:
    """PATH for the examples: the benchctl shim, then this interpreter's bin (ansible's tools in a venv)."""
    return f"{first}:{Path(sys.executable).parent}:{os.environ['PATH']}"


def _shown(doc: str, line: str) -> list[str]:
    for _, block, _ in _blocks((REPO / doc).read_text()):
        if line in block:
            return [ln.rstrip() for ln in block if ln.strip()]
    raise AssertionError(f"{doc} shows no block with {line!r}")


@pytest.mark.slow
def test_runnable_examples_run_and_print_what_the_docs_show(tmp_path: Path) -> None:
    homes: dict[str, Path] = {}
    no_ansible = shutil.which("ansible-inventory", path=_path(tmp_path / "bin")) is None
    for cmd, kind in RUNNABLE.items():
        if kind == "inventory" and no_ansible:  # scripts/lowest-deps.sh: no campaign extra; make test has it
            continue
        if kind not in homes:
            homes[kind] = _workspace(kind, tmp_path)
        out = bench(homes[kind], cmd)
        if cmd in SHOWN:
            lines = out.splitlines()
            missing = [ln for ln in _shown(*SHOWN[cmd]) if ln not in lines]
            assert not missing, f"{cmd!r} no longer prints what {SHOWN[cmd][0]} shows: {missing}"
