"""Statistics for boot-aware A/B comparison.

Modules, one job each:
- components: Kalibera & Jones variance components and optimal repetitions.
- bootstrap: the hierarchical (boots, then iterations) bootstrap of the ratio.
- classical: Welch t-test on per-boot means, Mann-Whitney U, Holm.
- trend: drift over run order.
- power: design planning (boots x iterations for 80 % power at lowest cost).
- sequential: anytime-valid confidence sequences over pairs of boots (adaptive campaigns).

Nothing here imports pandas: functions take numpy arrays and return plain data.
"""

# The public entry points: what a command, another package or a test may import from here.
__all__ = ["bootstrap", "classical", "components", "equivalence", "power", "sequential", "slope", "trend"]
