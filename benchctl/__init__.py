"""benchctl: check kernel performance claims with real measurements and honest statistics."""

__version__ = "0.1.0"
