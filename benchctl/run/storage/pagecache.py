"""How much of a file is resident in the page cache, via mmap + mincore(2).

seqread-xfs claims a page-cache read; a run whose file was partly evicted
measures the device instead. mincore reports one byte per page of a mapping,
bit 0 set when the page is resident; mapping the file does not fault pages
in, so asking does not change the answer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
from pathlib import Path

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
_libc.mincore.restype = ctypes.c_int
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.mmap.restype = ctypes.c_void_p
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value

CHUNK = 1 << 30  # map 1 GiB at a time: a 100 GiB file needs no 100 GiB of address space at once


def resident_pages(path: Path) -> tuple[int, int]:
    """(resident pages, total pages) of a regular file."""
    page = mmap.PAGESIZE
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        total = (size + page - 1) // page
        resident = 0
        off = 0
        while off < size:
            length = min(CHUNK, size - off)
            addr = _libc.mmap(None, length, mmap.PROT_READ, mmap.MAP_SHARED, fd, off)
            if addr == _MAP_FAILED or addr is None:
                raise OSError(ctypes.get_errno(), f"mmap {path}")
            try:
                n = (length + page - 1) // page
                vec = (ctypes.c_ubyte * n)()
                if _libc.mincore(addr, length, vec) != 0:
                    raise OSError(ctypes.get_errno(), f"mincore {path}")
                resident += sum(b & 1 for b in bytes(vec))
            finally:
                _libc.munmap(addr, length)
            off += length
        return resident, total
    finally:
        os.close(fd)


def resident_fraction(path: Path) -> float:
    resident, total = resident_pages(path)
    return resident / total if total else 1.0


def drop_file_cache(path: Path) -> None:
    """Evict one file's clean pages (POSIX_FADV_DONTNEED); used by tests and the cold check."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
