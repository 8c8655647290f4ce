"""arm64 linear-map facts behind the fingerprint's verdict.

The MIDR allow-list of each release (midr), what the kernel should have done (expected), how the
linear map is observed (ptdump; kcore, a page-table walk through /proc/kcore; directmap) and how a
byte census becomes a state (linearmap).
"""

# The public entry points: what a command, another package or a test may import from here.
__all__ = ["directmap", "expected", "kcore", "linearmap", "midr", "ptdump"]
