"""One run on this boot: specs -> engine -> drivers (run/drivers/) over storage
stacks (run/storage/), with perf counters, the kernel log, the resource
ledger, the host lock and cleanup. Writes run folders through results.store.
"""
