# The README's two commands: `make demo` and `make test`.
# `make test` includes the nested-VM tests (real dm-crypt on brd under qemu,
# about 2-3 minutes; tests/vm/README.md); `make test BENCHCTL_VM=0` leaves them out.
BENCHCTL_VM ?= 1
export BENCHCTL_VM
.PHONY: bisect-demo scaling-demo setup demo lint test lowest-deps perf stats faults vm campaign-demo campaign-suite-demo clean

setup:
	@scripts/setup.sh

# The main job on a small default: real workloads on this boot, then the analysis.
demo:
	@BENCHCTL_VM=0 scripts/setup.sh
	@scripts/demo.sh

# ruff (lint + format) and mypy, configured in pyproject.toml.
lint: setup
	.venv/bin/ruff check benchctl tests
	.venv/bin/ruff format --check benchctl tests
	.venv/bin/mypy

# The whole test suite (what .ci/run calls): linters first, then every test.
test: lint
	.venv/bin/python -m pytest -q

# The dependency floors in pyproject.toml, installed exactly, under the tests that need no root.
lowest-deps:
	scripts/lowest-deps.sh

# Every script in tests/perf (docs/perf.md: what each checks, its command, its last numbers), each
# with its default (>= 15 alternating pairs for the overhead ones); the total time at the end.
perf: setup
	@t0=$$(date +%s); failed=""; \
	for s in tests/perf/*.py; do \
		[ "$$s" = tests/perf/driven_run.py ] && continue; \
		echo "== $$s"; s0=$$(date +%s); \
		.venv/bin/python $$s || failed="$$failed $$s"; \
		echo "== $$s: $$(( $$(date +%s) - s0 )) s"; \
	done; \
	echo "== make perf: $$(( $$(date +%s) - t0 )) s in all$${failed:+; FAILED:$$failed}"; \
	[ -z "$$failed" ]

# Statistical properties by seeded simulation (not timings): tests/stats/*.py print their tables.
stats: setup
	@for s in tests/stats/*.py; do echo "== $$s"; .venv/bin/python $$s || exit 1; done

# Fault-injection matrix (the fast subset runs inside `make test`).
faults: setup
	.venv/bin/python tests/faults/run_faults.py --full

# Real kernels under qemu (TCG): dm-crypt on brd inside a Debian guest.
vm:
	@BENCHCTL_VM=1 scripts/setup.sh
	BENCHCTL_VM=1 .venv/bin/python -m pytest -m vm tests/vm -v

# The change itself, measured through Ansible on Debian's arm64 kernels under qemu, two designs,
# 3 boots per arm, ABAB: same kernel (6.18.x) on an AmpereOne vs a Neoverse N1 CPU identity
# (cold boots by tests/vm/boot_controller.py), then 6.17.x vs 6.18.x on AmpereOne (kexec).
# Prints every boot (id, arm, MIDR, linear map from /proc/kcore, MemTotal) and analyze's verdicts.
campaign-demo:
	@BENCHCTL_VM=1 scripts/setup.sh
	.venv/bin/python tests/vm/arm64_campaign.py demo --design both --boots 3

# The whole quick bbml2 suite (boot-memory, memcached + memtier, fio on dm-crypt, seqread on XFS) with
# perf on every boot of the same-kernel design, 2 boots per arm, ABAB, 4 GiB guests; then analyze.
# Timing claims come out "not judged: emulated CPU", TLB-walk MPKI "unsupported" (qemu's PMU lacks them).
campaign-suite-demo:
	@BENCHCTL_VM=1 scripts/setup.sh
	.venv/bin/python tests/vm/arm64_campaign.py demo --design same-kernel --boots 2 --workloads suite

# benchctl bisect over every 6.16.x-6.18.x arm64 image in trixie-backports, by kexec in the arm64
# guest (AmpereOne MIDR): the first block-mapped kernel, then the first with the BBML2 log line.
bisect-demo:
	@BENCHCTL_VM=1 scripts/setup.sh
	.venv/bin/python tests/vm/arm64_bisect.py

# The scaling claim: the same-kernel campaign at 1, 2, 4 and 8 GiB guests, then analyze over all four.
scaling-demo:
	@BENCHCTL_VM=1 scripts/setup.sh
	.venv/bin/python tests/vm/arm64_campaign.py demo --design same-kernel --boots 2 --mem-mb 1024,2048,4096,8192 \
	  --out results/scaling-demo
	.venv/bin/benchctl analyze results/scaling-demo/same-kernel-*m/campaign --claims bbml2 --format mail \
	  --plots results/scaling-demo/plots

clean:
	rm -rf .venv build *.egg-info
