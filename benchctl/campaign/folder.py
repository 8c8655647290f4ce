"""A new campaign folder: plan.json, inventory.yml, campaign.yml, ansible.cfg, written all or nothing."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchctl.campaign.inventory import write_config, write_inventory
from benchctl.campaign.playbook import write_playbook
from benchctl.campaign.schedule import PLAN_FILE, validate
from benchctl.errors import ResourceError, UsageError
from benchctl.osutil.fsutil import atomic_write_json


def create(folder: Path, plan: dict[str, Any], hostvars: dict[str, dict[str, Any]], source: str) -> Path:
    """Write the four files into a private temporary folder beside `folder`, then rename it into place,
    so an interrupted or failed plan leaves no half campaign behind."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(f"-o {folder}: exists and is not an empty folder; a campaign gets a folder of its own")
    validate(plan, folder / PLAN_FILE)  # what we write is what we will read back
    parent = folder.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=parent))
    except OSError as e:
        raise ResourceError(f"cannot create the campaign folder {folder}: {e.strerror or e}") from None
    try:
        atomic_write_json(tmp / PLAN_FILE, plan)
        write_inventory(tmp, hostvars, source)
        write_playbook(tmp)
        write_config(tmp)
        tmp.chmod(0o755)
        if folder.exists():
            folder.rmdir()
        tmp.rename(folder)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ResourceError(f"cannot write the campaign folder {folder}: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def plan_campaign(
    output: Path,
    inventory: Path,
    *,
    arms: tuple[str, ...],
    boot: tuple[str, str | None, tuple[str, ...], tuple[str, ...]],
    order: tuple[int, str, int],
    run: tuple[str | None, tuple[str, ...], str, tuple[str, ...], bool],
    timeouts: dict[str, int],
) -> dict[str, Any]:
    """`benchctl campaign plan`: the arms (LABEL=KERNEL[:CMDLINE], with their initrds and expectations),
    the hosts of the inventory, the boot order and what runs on each boot -> the new folder's plan.

    boot is (method, the user's boot command, --initrd ARM=PATH, --expect ARM:KEY=VALUE); order
    is (boots per arm and host, abab/abba/random, seed); run is (suite, workloads, preset, --set,
    perf). The workload request is resolved here, as `benchctl run` would, before any file exists.
    """
    from benchctl.campaign import inventory as inv
    from benchctl.campaign import schedule
    from benchctl.run.specs import resolve_request

    method, boot_command, initrds, expects = boot
    suite, workloads, preset, sets, perf = run
    if suite and workloads:
        raise UsageError("give --suite or --workload, not both")
    suite = None if workloads else (suite or "bbml2")
    resolve_request(suite, workloads, preset, sets)
    parsed = [schedule.parse_arm(a, method) for a in arms]
    if len(parsed) < 2:
        raise UsageError(f"a campaign compares arms: give --arm at least twice (got {len(parsed)})")
    schedule.apply_overrides({a.label: a for a in parsed}, initrds, expects)
    argv = schedule.parse_boot_command(boot_command, method)
    hostvars = inv.read_inventory(inventory)
    boots, sequence, seed = order
    doc = schedule.make_schedule(
        arms=parsed,
        hosts=list(hostvars),
        boots=boots,
        order=sequence,
        seed=seed,
        method=method,
        boot_command=argv,
        run={"suite": suite, "workloads": list(workloads) or None, "preset": preset, "set": list(sets), "perf": perf},
        timeouts=timeouts,
        inventory_source=str(inventory),
    )
    create(output, doc, hostvars, str(inventory))
    return doc


def roots(paths: list[str] | tuple[str, ...]) -> list[Path]:
    """The campaign folders these paths are, or lie in (a few levels up), in order, once each."""
    out: list[Path] = []
    for p in paths:
        here = Path(p).absolute()
        cand = next((c for c in [here, *here.parents][:5] if (c / PLAN_FILE).is_file()), None)
        if cand is not None and cand not in out:
            out.append(cand)
    return out


def find(paths: list[str] | tuple[str, ...]) -> tuple[Path | None, dict[str, Any] | None]:
    """The campaign folder (and its plan) that the first of these paths is, or lies in (a few levels up)."""
    from benchctl.campaign.schedule import load_schedule

    found = roots(paths)
    return (found[0], load_schedule(found[0])) if found else (None, None)


def boot_records(root: Path) -> dict[str, dict[str, Any]]:
    """{boot id: boots/HOST/NNN-ARM/boot.json} of a campaign folder (how each boot was started, what
    verification saw); unreadable records are skipped: they describe, they do not carry results."""
    from benchctl.campaign.collect import BOOT_FILE, BOOT_FORMAT
    from benchctl.documents import load_json
    from benchctl.errors import InputError

    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(root).glob(f"boots/*/*/{BOOT_FILE}")):
        try:
            rec = load_json(path)
        except InputError:
            continue
        if isinstance(rec, dict) and rec.get("format") == BOOT_FORMAT and rec.get("boot_id"):
            out[str(rec["boot_id"])] = rec
    return out
