#!/usr/bin/env bash
# The main job on a small default: the quick claim suite twice on this boot
# (arms aa-1 and aa-2: an A/A check), then the analysis of both.
set -euo pipefail
cd "$(dirname "$0")/.."
B=.venv/bin/benchctl
OUT=results/demo/$(date -u +%Y%m%dT%H%M%SZ)
SET=()
# Without device-mapper, fio runs on the ramdisk without dm-crypt (recorded as crypt=none).
if [ ! -e /dev/mapper/control ] && ! grep -qw device-mapper /proc/misc 2>/dev/null; then
  echo "demo: no device-mapper on this kernel: fio-dmcrypt runs with --set crypt=none"
  SET=(--set crypt=none)
fi
# memcached is driven by memtier_benchmark (setup builds it from vendor/): its HdrHistogram gives the
# P99 that the memcached-p99 claim needs; without it the generator falls back and P99 is not judged.
if command -v memtier_benchmark >/dev/null 2>&1 || [ -x .venv/bin/memtier_benchmark ]; then
  SET+=(--set generator=memtier)
else
  echo "demo: memtier_benchmark is not installed (scripts/setup.sh builds it): memcached runs with another generator"
fi
$B env
for arm in aa-1 aa-2; do
  $B run --suite bbml2 --preset quick --arm "$arm" "${SET[@]}" -o "$OUT/runs"
done
mapfile -t dirs < <(find "$OUT/runs" -mindepth 2 -maxdepth 2 -type d | sort)
$B analyze "${dirs[@]}" --baseline aa-1 --candidate aa-2 \
  --claims analysis/claims/bbml2.toml --plots "$OUT/plots" --seed 1 | tee "$OUT/report.txt"
$B export "${dirs[@]}" --format csv -o "$OUT/tidy.csv"
echo
echo "demo: run folders in $OUT/runs/, report in $OUT/report.txt, plots in $OUT/plots/, tidy table in $OUT/tidy.csv"
