"""Probes: one small class per setting, each reading from an injected root.

Every probe writes values at dotted paths of the fingerprint together with
where each came from, or null plus the reason it could not be read; see
benchctl/env/fingerprint.py for the order they run in.
"""

# The public entry points: what a command, another package or a test may import from here.
__all__ = ["cpu", "emulation", "kernel", "memory", "tools"]
