"""Run folders and the tidy table built from them.

The store (store; crash-safe writes in osutil.fsutil), hand-made runs (importer), the metric
catalogue (metrics) and loading folders or CSV into one table (table, loader).
"""

# The public entry points: what a command, another package or a test may import from here.
__all__ = ["importer", "interop", "loader", "measured", "metrics", "store", "table"]
