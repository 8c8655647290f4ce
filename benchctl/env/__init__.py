"""Host facts, read under an injectable root: the fingerprint and its probes.

The fingerprint (env/fingerprint.py), one small probe per setting (env/probes/), the arm64
linear-map helpers (env/arm64/) and the kernel ring buffer reader (env/kmsg.py).
"""

# The public entry points: what a command, another package or a test may import from here.
__all__ = ["arm64", "fingerprint", "kmsg", "mounts", "probes"]
