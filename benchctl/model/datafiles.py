"""Where the model's data files are, and the CPU profiles they name: light enough for `--help`.

`benchctl model --help` lists the CPU profiles of data/cpus.toml and must
not import numpy (tests/model/test_model_command.py); profiles.py, which does, reads
the same files through these two functions.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from benchctl.documents import load_toml


def data_path(name: str) -> Path:
    """A file of benchctl/model/data/."""
    return Path(str(resources.files("benchctl.model") / "data" / name))


def cpu_names(path: Path | None = None) -> list[str]:
    """The CPU profiles of a cpus.toml (default: the shipped one), sorted."""
    return sorted(load_toml(Path(path) if path else data_path("cpus.toml")))
