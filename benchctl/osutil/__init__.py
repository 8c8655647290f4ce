"""What the operating system guarantees and how benchctl relies on it, below results/ and run/ which both need it.

fsutil: crash-safe files (atomic replace, fsync'd appends); processes: a process named across pid reuse.
"""

# The public entry points: what a command, another package or a test may import from here.
__all__ = ["fsutil", "processes"]
