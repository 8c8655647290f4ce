# The README's two commands: `make demo` and `make test`.
.PHONY: setup demo test test-fast perf faults vm clean

setup:
	@scripts/setup.sh

# The main job on a small default: real workloads on this boot, then the analysis.
demo: setup
	@scripts/demo.sh

# The whole test suite (what .ci/run calls).
test: setup
	.venv/bin/python -m pytest -q

perf: setup
	@for s in tests/perf/*.py; do echo "== $$s"; .venv/bin/python $$s || exit 1; done

clean:
	rm -rf .venv build *.egg-info
