"""What the operating system guarantees and how benchctl relies on it, below results/ and run/ which both need it.

fsutil: crash-safe files (atomic replace, fsync'd appends); processes: a process named across pid reuse.
"""
