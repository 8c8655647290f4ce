"""One look for every figure benchctl writes: `analyze --plots` and `model sensitivity --plots`.

matplotlib (Agg) is imported only here, only when a figure is asked for.
Figures are sized and lettered to stay readable when a mail client scales
them to ~600 px wide; each is written as PNG (for mail) and SVG (for
reviews), carries its data source in a footer and, for simulated data, a
large SIMULATED stamp.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RC: dict[Any, Any] = {  # rc keys are a Literal type in matplotlib's stubs
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 11,
    "savefig.dpi": 110,
}
ARM_COLOURS = ("#1f77b4", "#d62728")  # baseline, candidate
BOOT_CMAPS = ("Blues", "Reds")
LOW_HIGH = ("#4477aa", "#ee6677")  # low / high end of a swept assumption
FORMATS = ("png", "svg")


@contextlib.contextmanager
def pyplot() -> Iterator[Any]:
    """matplotlib.pyplot on the Agg backend, inside benchctl's rc settings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(RC):
        yield plt


def shorten(text: str, limit: int = 110) -> str:
    """Cut from the middle, keeping the end (a path's last folders are the ones that say what it is)."""
    return text if len(text) <= limit else text[:10] + "..." + text[len(text) - limit + 13 :]


def stamp(fig: Any, footer: str, simulated: bool) -> None:
    """The data source at the bottom left; simulated data gets a watermark and a red corner label."""
    fig.text(0.01, 0.005, footer, fontsize=8, color="#555555", ha="left", va="bottom")
    if simulated:
        for ax in fig.axes:  # the watermark goes behind the data: axes let it show through
            ax.patch.set_alpha(0.0)
        fig.text(
            0.5,
            0.5,
            "SIMULATED",
            fontsize=60,
            color="red",
            alpha=0.18,
            ha="center",
            va="center",
            rotation=25,
            weight="bold",
            zorder=-1,
        )
        fig.text(0.99, 0.005, "SIMULATED DATA", fontsize=12, color="red", ha="right", va="bottom", weight="bold")


def save(plt: Any, fig: Any, out_dir: Path, name: str) -> list[Path]:
    """Write `name`.png and `name`.svg into out_dir, close the figure, return the paths."""
    paths = []
    for ext in FORMATS:
        p = Path(out_dir) / f"{name}.{ext}"
        if ext == "png":
            save_png(fig, p)
        else:
            fig.savefig(p)
        paths.append(p)
    plt.close(fig)
    return paths


def save_png(fig: Any, path: Path) -> None:
    """A PNG small enough to attach to a list mail (~100 KB once base64-encoded is the usual limit):
    a figure of flat colours loses nothing visible in a 256-colour palette, at a third of the bytes."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    buf.seek(0)
    with Image.open(buf) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


# The public entry points: what a command, another package or a test may import from here.
__all__ = ["ARM_COLOURS", "BOOT_CMAPS", "LOW_HIGH", "pyplot", "save", "shorten", "stamp"]
