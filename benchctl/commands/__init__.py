"""The click commands, one module each, imported by cli.py only when their command runs."""

# The public entry points: what a command, another package or a test may import from here.
__all__ = ["common"]
