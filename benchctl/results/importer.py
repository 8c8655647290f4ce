"""Read outputs of runs made by hand (`benchctl import TOOL FILE...`) with the same parsers as `run`.

Each file's format is detected from its content (memtier JSON or text,
perf CSV with any separator, ...), restricted to the formats TOOL can
produce; a file that looks like another tool's output is refused rather
than read as something it is not. write_run turns the parsed files into a
run folder marked imported.
"""

from __future__ import annotations

from pathlib import Path

from benchctl.errors import InputError, UsageError
from benchctl.osutil.fsutil import atomic_write_text
from benchctl.parsers import PARSERS, TOOL_FORMATS, ParseError, ParseResult, detect
from benchctl.results.store import RunFolder, new_run_id, utc_now

FALLBACK_MAX_CHARS = 8 << 20  # undetected text larger than this is not tried with every parser
MAX_BYTES = 256 << 20  # tool outputs are KiB to a few MiB; anything this large is not one
ALIASES = {"memcaslap": "memaslap", "memtier_benchmark": "memtier", "xfs-io": "xfs_io", "perf-stat": "perf"}


def read_text(path: Path) -> str:
    """The file as text (undecodable bytes replaced), or InputError naming it."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{size} bytes is too large for a tool output (limit {MAX_BYTES})", path=path)
        with open(path, "rb") as f:
            head = f.read(1 << 16)
        # tool outputs are text: refuse binary data before decoding all of it (8x its size in memory)
        if b"\0" in head:
            raise InputError("binary data (NUL bytes), not a text output of a benchmark tool", path=path)
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path=path) from None
    return data.decode("utf-8", errors="replace")


def format_of(tool: str, text: str, path: Path) -> str | None:
    """The detected format if it belongs to tool; None when nothing was recognised."""
    fmt = detect(text)
    if fmt is None or fmt in TOOL_FORMATS[tool]:
        return fmt
    owner = next((t for t, fmts in TOOL_FORMATS.items() if fmt in fmts), "another tool")
    raise InputError(f"this looks like {owner} output ({fmt}), not {tool}", path=path)


def import_file(tool: str, path: Path) -> ParseResult:
    """Parse one file made by TOOL; InputError naming the file when it cannot be read as such."""
    tool = ALIASES.get(tool, tool)
    if tool not in TOOL_FORMATS:
        raise UsageError(f"unknown tool {tool!r}; choose one of {', '.join(sorted(TOOL_FORMATS))}")
    text = read_text(path)
    if not text.strip():
        raise InputError(f"empty file: expected {tool} output", path=path)
    fmt = format_of(tool, text, path)
    if fmt is None and len(text) > FALLBACK_MAX_CHARS:
        # every parser of the tool over megabytes of unrecognised text costs ~10x the file in memory
        raise InputError(f"not recognised as {tool} output ({len(text)} characters of something else)", path=path)
    candidates = [fmt] if fmt else list(TOOL_FORMATS[tool])
    first_error: ParseError | None = None
    for candidate in candidates:
        try:
            result = PARSERS[candidate](text)
        except ParseError as e:
            first_error = first_error or e
            continue
        result.info.setdefault("format", candidate)
        result.info["parser_format"] = candidate
        result.info["source_file"] = str(path)
        return _last_command(tool, result)
    assert first_error is not None
    if fmt is None and len(candidates) > 1:
        raise InputError(f"not recognised as {tool} output (tried {', '.join(candidates)})", path=path)
    raise InputError(f"not readable as {fmt or candidates[0]}: {first_error}", path=path)


def _last_command(tool: str, result: ParseResult) -> ParseResult:
    """xfs_io: one iteration is the last command, as `benchctl run` records it (a pwrite that
    created the file, then the measured pread). Earlier commands are left out, and said so."""
    if tool != "xfs_io" or len(result.measurements) < 2:
        return result
    dropped = result.measurements[:-1]
    ops = sorted({str((m.note or {}).get("op", "?")) for m in dropped})
    result.measurements = result.measurements[-1:]
    result.warnings.append(
        f"{len(dropped)} earlier command(s) ({', '.join(ops)}) left out: an iteration is the output's last command"
    )
    return result


def import_files(tool: str, files: list[Path]) -> list[tuple[Path, ParseResult]]:
    """Parse every file; the first one that fails stops the import with an InputError naming it."""
    return [(Path(f), import_file(tool, Path(f))) for f in files]


def write_run(
    tool: str,
    parsed: list[tuple[Path, ParseResult]],
    *,
    arm: str,
    results: Path,
    workload: str,
    host: str,
    boot: str | None = None,
    setup: dict[str, str] | None = None,
    given: dict[str, str] | None = None,
) -> tuple[int, RunFolder]:
    """A run folder marked imported: one iteration per file, its raw copy, warnings and records.

    (number of records, folder). Without `boot` every import is its own boot, so analyze never
    pools it with another one by accident. `setup` (results/measured.py: what the outputs show,
    and the user's --set, `given`) goes into every record's note and run.json.
    """
    run_id = new_run_id(workload, arm)
    folder = RunFolder.create(
        results,
        host=host,
        workload=workload,
        arm=arm,
        run_id=run_id,
        boot_id=boot or f"import-{run_id}",
        status="imported",
        imported=True,
        iterations_requested=len(parsed),
        warmup=0,
        spec={"name": workload, "imported_from": tool, "setup": setup or {}},
        overrides=given or {},
        tool_versions={},
        kernel_release=None,
    )
    n = 0
    for i, (path, res) in enumerate(parsed, 1):
        fmt = res.info["parser_format"]
        raw = folder.raw_dir(i)
        atomic_write_text(raw / path.name, read_text(path))
        folder.log_command(["import", tool, str(path.resolve())], rc=0, iteration=i, format=fmt)
        for w in res.warnings:
            folder.warn(f"{path.name}: {w}")
        if not res.measurements:
            folder.warn(f"{path.name}: no metrics in this {fmt} output")
        for m in res.measurements:
            folder.record(
                i,
                m.metric,
                m.value,
                m.unit,
                note={**(m.note or {}), **(setup or {}), "imported_from": path.name, "format": fmt},
            )
            n += 1
    folder.update(iterations_done=len(parsed), finished=utc_now())
    return n, folder
