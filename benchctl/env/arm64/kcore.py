"""The arm64 linear map seen through /proc/kcore: a page-table walk without ptdump.

Debian's arm64 kernels have PROC_KCORE=y but neither PTDUMP_DEBUGFS nor DirectMap lines: this
is the one direct observation they allow. /proc/kcore is an ELF64 core of kernel memory
(fs/proc/kcore.c): a PT_NOTE, then a PT_LOAD per region with p_vaddr, p_offset and p_paddr =
__pa(addr) for KCORE_RAM, __pa_symbol(addr) for KCORE_TEXT, else -1. Its VMCOREINFO note
(kernel/vmcore_info.c, arch/arm64/kernel/vmcore_info.c) gives SYMBOL(swapper_pg_dir), PAGESIZE,
NUMBER(VA_BITS) (built), NUMBER(TCR_EL1_T1SZ) (run time: va_bits = 64 - T1SZ), NUMBER(kimage_voffset).
The walk starts at swapper_pg_dir, covers only the KCORE_RAM ranges in the linear region
[-(1 << va_bits), -(1 << (va_bits - 1))), and reads each table page through the segment whose
p_paddr range holds it. kcore is sparse and as large as the address space: everything goes
through `pread(offset, size)`, the file is never read whole.

Descriptors (arch/arm64/include/asm/pgtable-hwdef.h): bit 0 valid; above the last level bits[1:0]
0b11 is a table, 0b01 a block; at the last level 0b11 is a page; bit 52 contiguous; AP[2] (bit 7)
read-only. Read-only leaves are the kernel image alias (never split, alike in both arms): kept out
of the state, as in ptdump.py. A zero descriptor is a hole; a non-zero one with bit 0 clear is
"invalid" (ptdump's F: KFENCE, debug_pagealloc). The linear map has no APTable bits to honour.

Extract format `benchctl-kcore-extract/1`: a gzip stream of the line "benchctl-kcore-extract/1\\n",
one line of JSON ({"format", "source", "recorded_utc", "osrelease", "state", "bytes_read", "chunks":
[[offset, size, encoding], ...]}), then the chunks' stored bytes back to back in that order. The chunks
are exactly the kcore bytes the walk read (ELF header, program headers, notes, table pages), by file
offset, merged where they touch; a read is served from the chunk holding it. "delta64" stores a chunk
as little-endian 64-bit words, each minus the one before (mod 2**64: a PTE table becomes one repeated
word, so a PTE-mapped map compresses ~200x); "raw" as is. Replaying an extract repeats the live walk.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import time
import zlib
from bisect import bisect_right
from contextlib import closing
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Protocol

from benchctl.env.arm64.linearmap import Census

FORMAT = "benchctl-kcore-extract/1"
EM_AARCH64 = 183
ET_CORE, PT_LOAD, PT_NOTE = 4, 1, 4
NO_PADDR = (1 << 64) - 1  # p_paddr of segments that are not RAM or kernel text
MASK64 = (1 << 64) - 1
EHDR, PHDR = struct.Struct("<16sHHIQQQIHHHHHH"), struct.Struct("<IIQQQQQQ")
MAX_META = 1 << 20  # program headers or notes larger than this are not a kcore
CONT_PTES = {4096: 16, 16384: 128, 65536: 32}  # CONT_PTE_SHIFT in pgtable-hwdef.h
CONT_PMDS = {4096: 16, 16384: 32, 65536: 32}  # CONT_PMD_SHIFT


class KcoreError(Exception):
    """The walk cannot be done; str() is one line naming the problem and the fix."""


class Reader(Protocol):
    def pread(self, offset: int, size: int) -> bytes: ...


class FileReader:
    """A file read with os.pread only: /proc/kcore answers reads at any offset, never a full read."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = str(path)
        try:
            self.fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            raise KcoreError(f"{self.path} not present: CONFIG_PROC_KCORE is not set (boot a kernel with it)") from None
        except PermissionError:
            raise KcoreError(f"{self.path}: permission denied: run as root (CAP_SYS_RAWIO, no lockdown)") from None
        except OSError as e:
            raise KcoreError(f"{self.path}: {e.strerror or e}: check the path") from None

    def pread(self, offset: int, size: int) -> bytes:
        return os.pread(self.fd, size, offset)  # read_kcore_iter() fills the whole request

    def close(self) -> None:
        os.close(self.fd)


class RecordingReader:
    """Passes reads through, counting them, and keeps every chunk (keep=True) for an extract."""

    def __init__(self, inner: Reader, keep: bool = True):
        self.inner, self.keep, self.bytes_read = inner, keep, 0
        self.chunks: dict[int, bytes] = {}

    def pread(self, offset: int, size: int) -> bytes:
        data = self.inner.pread(offset, size)
        self.bytes_read += len(data)
        if self.keep and len(data) > len(self.chunks.get(offset, b"")):
            self.chunks[offset] = data
        return data


class ExtractReader:
    """Serves any read inside the extract's chunks; any other read is a KcoreError."""

    def __init__(self, chunks: dict[int, bytes], header: dict):
        self.chunks, self.header, self.starts = chunks, header, sorted(chunks)

    def pread(self, offset: int, size: int) -> bytes:
        i = bisect_right(self.starts, offset) - 1
        start = self.starts[i] if i >= 0 else 0
        if i < 0 or offset + size > start + len(self.chunks[start]):
            raise KcoreError(f"extract lacks kcore bytes {offset:#x}+{size}: another walk recorded it; re-record")
        return self.chunks[start][offset - start : offset - start + size]


# -- the core: segments and VMCOREINFO --------------------------------------------------------
@dataclass
class Core:
    segments: list[tuple[int, int, int, int]]  # PT_LOAD (p_vaddr, p_paddr, p_offset, p_filesz)
    info: dict[str, str]

    def value(self, key: str) -> int:
        """SYMBOL() is printed "%lx", NUMBER() "%ld" or "0x%llx" (arm64), PAGESIZE "%ld"."""
        if key not in self.info:
            raise KcoreError(f"VMCOREINFO has no {key}: this kernel does not export it; use ptdump or DirectMap")
        text = self.info[key].strip()
        try:
            return int(text, 16) if key.startswith("SYMBOL(") or text.lower().startswith("0x") else int(text)
        except ValueError:
            raise KcoreError(f"VMCOREINFO {key}={text!r} is not a number: the note is damaged") from None

    def offset_of(self, addr: int, physical: bool) -> int | None:
        for vaddr, paddr, offset, size in self.segments:
            base = paddr if physical else vaddr
            if (not physical or paddr != NO_PADDR) and base <= addr < base + size:
                return offset + addr - base
        return None


def _pread(reader: Reader, offset: int, size: int, what: str) -> bytes:
    try:
        data = reader.pread(offset, size)
    except OSError as e:
        raise KcoreError(f"reading kcore {what}: {e.strerror or e}: check the file is /proc/kcore") from None
    if len(data) != size:
        raise KcoreError(f"kcore {what} truncated ({len(data)} of {size} bytes): not a complete ELF core")
    return data


def read_core(reader: Reader) -> Core:
    """ELF header, program headers and VMCOREINFO: everything the walk needs besides table pages."""
    head = _pread(reader, 0, EHDR.size, "ELF header")
    ident, e_type, machine, _, _, phoff, _, _, _, phentsize, phnum, *_ = EHDR.unpack(head)
    if ident[:4] != b"\x7fELF" or ident[4] != 2 or ident[5] != 1 or e_type != ET_CORE:
        raise KcoreError("not a little-endian ELF64 core: read /proc/kcore itself")
    if machine != EM_AARCH64:
        raise KcoreError(f"kcore is for ELF machine {machine}, not EM_AARCH64 ({EM_AARCH64}): the walk is arm64-only")
    if phentsize != PHDR.size or phnum * PHDR.size > MAX_META:
        raise KcoreError(f"kcore program headers ({phnum} x {phentsize} bytes) are not ELF64's: not a kcore")
    table = _pread(reader, phoff, phnum * PHDR.size, "program headers")
    segments, notes = [], []
    for i in range(phnum):
        p_type, _, offset, vaddr, paddr, filesz, _, _ = PHDR.unpack_from(table, i * PHDR.size)
        if p_type == PT_LOAD:
            segments.append((vaddr, paddr, offset, filesz))
        elif p_type == PT_NOTE and 0 < filesz <= MAX_META:
            notes.append(_pread(reader, offset, filesz, "notes"))
    for text in filter(None, map(vmcoreinfo_text, notes)):
        return Core(segments, dict(line.split("=", 1) for line in text.splitlines() if "=" in line))
    raise KcoreError("kcore has no VMCOREINFO note: boot a kernel with CONFIG_VMCORE_INFO (CRASH_CORE before 6.9)")


def vmcoreinfo_text(notes: bytes) -> str | None:
    """The desc of the note named "VMCOREINFO" in a PT_NOTE segment (4-byte aligned Elf64_Nhdr)."""
    pos, align = 0, lambda n: (n + 3) & ~3
    while pos + 12 <= len(notes):
        namesz, descsz, _ = struct.unpack_from("<III", notes, pos)
        name = notes[pos + 12 : pos + 12 + namesz].rstrip(b"\0")
        desc_at = pos + 12 + align(namesz)
        if name == b"VMCOREINFO":
            return notes[desc_at : desc_at + descsz].rstrip(b"\0").decode("utf-8", "replace")
        pos = desc_at + align(descsz)
    return None


# -- the walk ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Geometry:
    """Levels from the run-time VA size (ARM64_HW_PGTABLE_LEVELS(va) = (va - 4) / (PAGE_SHIFT - 3), level n
    shifts (PAGE_SHIFT - 3) * (4 - n) + 3: pgtable-hwdef.h), the top index from the built one: a 52-bit build
    on a 48-bit CPU folds a level (4K/16K LPA2) or points TTBR1 into a larger PGD (64K); both work."""

    page_size: int
    va_bits: int
    top_entries: int
    levels: int
    top_level: int

    def shift(self, level: int) -> int:
        return (self.page_size.bit_length() - 4) * (4 - level) + 3


def geometry(core: Core) -> Geometry:
    page_size = core.value("PAGESIZE")
    if page_size not in CONT_PTES:
        raise KcoreError(f"VMCOREINFO PAGESIZE={page_size} is no arm64 granule (4K/16K/64K): the note is damaged")
    va_key = "NUMBER(TCR_EL1_T1SZ)" if "NUMBER(TCR_EL1_T1SZ)" in core.info else "NUMBER(VA_BITS)"
    va_bits = 64 - core.value(va_key) if va_key.endswith("T1SZ)") else core.value(va_key)
    built = core.value("NUMBER(VA_BITS)") if "NUMBER(VA_BITS)" in core.info else va_bits
    if not 36 <= va_bits <= 52 or built < va_bits:
        raise KcoreError(f"VA bits {va_bits} (built {built}) make no arm64 geometry: the note is damaged")
    shift = page_size.bit_length() - 4
    levels = (va_bits - 4) // shift
    top_shift = shift * levels + 3
    return Geometry(page_size, va_bits, min(page_size // 8, 1 << (built - top_shift)), levels, 4 - levels)


@dataclass
class KcoreWalk(Census):
    """Byte census of the linear map as walked (linearmap.Census, ptdump's terms), plus the walk's own counts."""

    descriptors: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0
    va_bits: int = 0
    page_size: int = 0
    levels: int = 0
    osrelease: str | None = None

    def summary(self) -> dict:
        """The walk's own facts (fingerprint linear_map.kcore)."""
        facts = {k: getattr(self, k) for k in ("bytes_read", "va_bits", "page_size", "levels", "hole_bytes")}
        return {"descriptors": {k: n for k, n in sorted(self.descriptors.items()) if n}} | facts


LEVEL_NAMES = {-1: "PGD", 0: "P4D", 1: "PUD", 2: "PMD", 3: "PTE"}
KIND = {(3, False): "PTE", (3, True): "CONT_PTE", (2, False): "PMD", (2, True): "CONT_PMD"}


class _Walker:
    def __init__(self, reader: RecordingReader, core: Core, geo: Geometry):
        self.reader, self.core, self.geo = reader, core, geo
        self.out = KcoreWalk(va_bits=geo.va_bits, page_size=geo.page_size, levels=geo.levels)
        self.last: dict[int, tuple[int, bytes]] = {}  # per level, the table read last (ranges share edges)
        self.word0 = sum(1 << (64 * i) for i in range(geo.page_size // 8))  # bit 0 of every descriptor
        self.heads = sum(1 << (64 * i) for i in range(0, geo.page_size // 8, CONT_PTES[geo.page_size]))

    def count(self, key: str, n: int = 1) -> None:
        self.out.descriptors[key] = self.out.descriptors.get(key, 0) + n

    def table(self, level: int, pa: int) -> bytes:
        if level in self.last and self.last[level][0] == pa:
            return self.last[level][1]
        offset = self.core.offset_of(pa, physical=True)
        if offset is None:
            raise KcoreError(f"table page at PA {pa:#x} is in no kcore segment: kcore lacks p_paddr; use ptdump")
        data = _pread(self.reader, offset, self.geo.page_size, f"table page {pa:#x}")
        self.last[level] = (pa, data)
        parent = "PGD" if level - 1 == self.geo.top_level else LEVEL_NAMES[level - 1]
        self.count(f"{parent}_table")  # once per table, though two ranges may cross it
        return data

    def leaf(self, level: int, desc: int, size: int, head: bool) -> None:
        kind = KIND.get((level, bool(desc >> 52 & 1)), "PUD")  # blocks above PMD: the largest kind
        self.count(kind if kind.startswith("CONT") or level == 3 else f"{kind}_block")
        if head and kind.startswith("CONT"):
            self.count(f"{kind}_ranges")
        self.out.bytes[kind] += size
        if desc >> 7 & 1:
            self.out.ro_bytes += size
            self.count("read_only")
        else:
            self.out.rw_bytes[kind] += size

    def address(self, desc: int) -> int:
        """Output address, per PTE_ADDR_LOW/PTE_ADDR_HIGH: 64K keeps OA[51:48] in bits[15:12]; LPA2 (4K/16K at
        52-bit VA) has OA[49:PAGE_SHIFT] in place and OA[51:50] in bits[9:8]; else bits[47:PAGE_SHIFT]."""
        if self.geo.page_size == 65536:
            return (desc & ((1 << 48) - (1 << 16))) | (desc >> 12 & 0xF) << 48
        if self.geo.va_bits == 52:
            return (desc & ((1 << 50) - self.geo.page_size)) | (desc >> 8 & 0x3) << 50
        return desc & ((1 << 48) - self.geo.page_size)

    def walk(self, level: int, pa: int, lo: int, hi: int) -> None:
        """Account [lo, hi) through the table at pa of this level, descending into tables."""
        geo, shift = self.geo, self.geo.shift(level)
        data = self.table(level, pa)
        entries = geo.top_entries if level == geo.top_level else geo.page_size // 8
        if level == 3 and hi - lo == entries << shift and lo % (entries << shift) == 0:
            return self.whole_pte_table(data)
        ncont = CONT_PTES[geo.page_size] if level == 3 else CONT_PMDS[geo.page_size]
        va = lo
        while va < hi:
            index = (va >> shift) & (entries - 1)
            end = min(((va >> shift) + 1) << shift, hi)
            (desc,) = struct.unpack_from("<Q", data, index * 8)
            if desc == 0:
                self.out.hole_bytes += end - va
            elif not desc & 1 or (level == 3 and desc & 3 != 3):
                self.out.bytes["invalid"] += end - va
                self.count("invalid")
            elif desc & 3 == 3 and level < 3:
                self.walk(level + 1, self.address(desc), va, end)
            else:
                self.leaf(level, desc, end - va, index % ncont == 0)
            va = end

    def whole_pte_table(self, data: bytes) -> None:
        """A last-level table wholly inside the range, counted with bitwise big-integer arithmetic:
        a PTE-mapped 256 GiB map has 64 M descriptors, too many for a Python loop."""
        t, ones, size = int.from_bytes(data, "little"), self.word0, self.geo.page_size
        nonzero = t
        for s in (32, 16, 8, 4, 2, 1):
            nonzero |= nonzero >> s
        page = t & (t >> 1) & ones
        cont, ro = page & (t >> 52), page & (t >> 7)
        n_nonzero, n_page, n_cont, n_ro = (x.bit_count() for x in (nonzero & ones, page, cont, ro))
        n_cont_rw = (cont & ~ro).bit_count()
        out = self.out
        out.hole_bytes += (len(data) // 8 - n_nonzero) * size
        for key, n in (("invalid", n_nonzero - n_page), ("CONT_PTE", n_cont), ("PTE", n_page - n_cont)):
            out.bytes[key] += n * size
            self.count(key, n)
        out.rw_bytes["CONT_PTE"] += n_cont_rw * size
        out.rw_bytes["PTE"] += (n_page - n_cont - (n_ro - (n_cont - n_cont_rw))) * size
        out.ro_bytes += n_ro * size
        self.count("read_only", n_ro)
        self.count("CONT_PTE_ranges", (cont & self.heads).bit_count())


def linear_ranges(core: Core, va_bits: int) -> list[tuple[int, int]]:
    """KCORE_RAM ranges clipped to the linear region, sorted and merged."""
    lo_lin, hi_lin = (1 << 64) - (1 << va_bits), (1 << 64) - (1 << (va_bits - 1))
    spans = sorted(
        (max(vaddr, lo_lin), min(vaddr + size, hi_lin))
        for vaddr, paddr, _, size in core.segments
        if paddr != NO_PADDR and vaddr < hi_lin and vaddr + size > lo_lin
    )
    merged: list[tuple[int, int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def walk(reader: Reader) -> KcoreWalk:
    """Walk swapper_pg_dir over the linear map of the kcore behind `reader`."""
    counter = reader if isinstance(reader, RecordingReader) else RecordingReader(reader, keep=False)
    core = read_core(counter)
    geo = geometry(core)
    pgd_va = core.value("SYMBOL(swapper_pg_dir)")
    offset = core.offset_of(pgd_va, physical=False)
    if offset is None:  # not in KCORE_TEXT: through the kernel image's physical alias
        offset = core.offset_of(pgd_va - core.value("NUMBER(kimage_voffset)") & MASK64, physical=True)
    if offset is None:
        raise KcoreError(f"swapper_pg_dir ({pgd_va:#x}) is in no kcore segment: kcore lacks p_paddr; use ptdump")
    ranges = linear_ranges(core, geo.va_bits)
    if not ranges:
        raise KcoreError(f"no KCORE_RAM segment in the {geo.va_bits}-bit linear region: not this kernel's layout")
    walker = _Walker(counter, core, geo)
    pgd = _pread(counter, offset, geo.top_entries * 8, "swapper_pg_dir").ljust(geo.page_size, b"\0")
    walker.last[geo.top_level] = (-1, pgd)
    for lo, hi in ranges:
        walker.walk(geo.top_level, -1, lo, hi)
    walker.out.bytes_read = counter.bytes_read
    walker.out.osrelease = core.info.get("OSRELEASE")
    return walker.out


# -- files: live kcore, extracts --------------------------------------------------------------
def walk_file(path: str | os.PathLike[str] = "/proc/kcore") -> KcoreWalk:
    with closing(FileReader(path)) as reader:
        return walk(reader)


def _encode(data: bytes) -> tuple[bytes, str]:
    if len(data) % 8:
        return data, "raw"
    words = struct.unpack(f"<{len(data) // 8}Q", data)
    deltas = ((b - a) & MASK64 for a, b in zip((0, *words[:-1]), words, strict=True))
    return struct.pack(f"<{len(words)}Q", *deltas), "delta64"


def _decode(data: bytes, encoding: str) -> bytes:
    if encoding == "raw":
        return data
    if encoding != "delta64" or len(data) % 8:
        raise ValueError(f"chunk encoding {encoding!r} (length {len(data)}) unknown")
    deltas = struct.unpack(f"<{len(data) // 8}Q", data)
    return struct.pack(f"<{len(deltas)}Q", *accumulate(deltas, lambda a, b: (a + b) & MASK64))


def write_extract(chunks: dict[int, bytes], out_path: str | os.PathLike[str], meta: dict) -> int:
    """Write the chunks a walk read as an extract, atomically; merged, delta64 runs across adjacent tables."""
    spans: list[tuple[int, bytearray]] = []
    for offset, data in sorted(chunks.items()):
        if spans and offset <= spans[-1][0] + len(spans[-1][1]):  # one file: overlapping bytes agree
            spans[-1][1][offset - spans[-1][0] : offset - spans[-1][0] + len(data)] = data
        else:
            spans.append((offset, bytearray(data)))
    encoded = [(offset, *_encode(bytes(data))) for offset, data in spans]
    header = {"format": FORMAT, **meta, "chunks": [[o, len(d), enc] for o, d, enc in encoded]}
    payload = (FORMAT + "\n" + json.dumps(header, sort_keys=True) + "\n").encode() + b"".join(e[1] for e in encoded)
    blob = gzip.compress(payload, mtime=0)
    Path(f"{out_path}.tmp").write_bytes(blob)
    os.replace(f"{out_path}.tmp", out_path)
    return len(blob)


def read_extract(path: str | os.PathLike[str]) -> ExtractReader:
    """An extract as a reader; KcoreError when it is not one (the fingerprint makes that an InputError)."""
    try:
        payload = gzip.decompress(Path(path).read_bytes())
        tag, header_line, body = payload.split(b"\n", 2)
        header = json.loads(header_line)
        if tag.decode() != FORMAT or header.get("format") != FORMAT:
            raise ValueError(f"format {tag[:40]!r}")
        chunks, pos = {}, 0
        for offset, size, encoding in header["chunks"]:
            if pos + size > len(body):
                raise ValueError(f"chunk at {offset:#x} truncated")
            chunks[int(offset)] = _decode(body[pos : pos + size], encoding)
            pos += size
    except (OSError, EOFError, zlib.error, ValueError, KeyError, TypeError, struct.error) as e:
        raise KcoreError(f"not a {FORMAT} file ({e}): re-record it") from None
    return ExtractReader(chunks, header)


def record(kcore_path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> KcoreWalk:
    """Walk a live kcore through a RecordingReader and write what it read as an extract."""
    with closing(FileReader(kcore_path)) as reader:
        result = walk(recorder := RecordingReader(reader))
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    meta = {"source": str(kcore_path), "recorded_utc": when, "osrelease": result.osrelease, "state": result.state}
    write_extract(recorder.chunks, out_path, meta | {"bytes_read": result.bytes_read})
    return result
