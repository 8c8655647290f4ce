"""Workload drivers: one module per driver, each exposing DRIVER (a drivers.base.Driver).

load_driver finds a driver by the name a workload file gives;
check_requirements refuses a run before anything is created when a program
it needs is missing, naming the Debian package.
"""

from __future__ import annotations

import importlib
import os
import shutil
from typing import Any

from benchctl.errors import InputError, ResourceError, ToolMissingError


def load_driver(name: str) -> Any:
    """The DRIVER of benchctl/run/drivers/<name>.py (InputError when there is none)."""
    mod_name = "benchctl.run.drivers." + name.replace("-", "_")
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name == mod_name:
            raise InputError(f"no driver {name!r} (module {mod_name})") from None
        raise
    drv = getattr(mod, "DRIVER", None)
    if drv is None:
        raise InputError(f"driver module {mod_name} has no DRIVER")
    return drv


def check_requirements(spec_json: dict[str, Any], driver: Any, params: dict[str, Any]) -> None:
    """Refuse before anything is created when a program is missing, naming its package."""
    needs = spec_json.get("needs", {})
    missing = [(p, pkg) for p, pkg in needs.get("programs", {}).items() if shutil.which(p) is None]
    missing += [(p, pkg) for p, pkg in driver.requirements(params) if shutil.which(p) is None]
    if missing:
        seen = dict(missing)
        raise ToolMissingError("missing program(s): " + ", ".join(f"{p} (install {pkg})" for p, pkg in seen.items()))
    for group in needs.get("one_of", []):
        if group and not any(shutil.which(p) for p in group):
            raise ToolMissingError(
                "none of "
                + ", ".join(group)
                + " is installed; install one of: "
                + "; ".join(f"{p}: {pkg}" for p, pkg in group.items())
            )
    if needs.get("root") and os.geteuid() != 0:
        raise ResourceError(f"workload {spec_json.get('name')} must run as root (it builds block devices)")


# The public entry points: what a command, another package or a test may import from here.
__all__ = ["load_driver", "base", "boot_memory", "fio_dmcrypt", "memcached", "seqread_xfs"]
