"""Host facts: the fingerprint (env/fingerprint.py), one small probe per setting
(env/probes/), the arm64 linear-map helpers (env/arm64/) and the kernel ring
buffer reader (env/kmsg.py). Everything reads an injectable root.
"""
