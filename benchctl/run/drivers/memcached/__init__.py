"""memcached: benchctl's own server on loopback, preloaded, driven by a load generator per iteration.

The server is started by benchctl (never a system memcached, whose
configuration we would not know), bound to 127.0.0.1, recorded in the
resource ledger before it starts, and dies with benchctl.

- `loadgen`: which generator (memtier_benchmark, mutilate, memcaslap), its
  command lines (pure functions of the parameters), its output and version;
- `children`: the processes: CPU plan, server start and stop, generator
  runs under a deadline;
- `driver`: the Driver the engine calls (setup, warm-up, measure, teardown).
"""

from __future__ import annotations

from benchctl.run.drivers.memcached.driver import DRIVER

# The public entry points: what a command, another package or a test may import from here.
__all__ = ["DRIVER", "children", "loadgen"]
