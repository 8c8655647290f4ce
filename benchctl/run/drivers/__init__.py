"""Workload drivers: one module per driver, all implementing drivers.base.Driver."""
