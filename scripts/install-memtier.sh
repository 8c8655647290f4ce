#!/usr/bin/env bash
# Build and install memtier_benchmark from its source release when it is not
# on PATH (Debian 12 and PyPI do not package it). Called by scripts/setup.sh.
#
# Source, first found: $BENCHCTL_MEMTIER_SRC (a tarball or an unpacked
# folder), the repository's vendor/, ../shared/vendor/. A tarball named in
# vendor/SHA256SUMS must match its checksum. Installs to /usr/local/bin as
# root, else to .venv/bin (benchctl looks there too). Builds in a mktemp
# folder that is always removed, under a deadline
# ($BENCHCTL_MEMTIER_BUILD_TIMEOUT seconds, default 900). Idempotent: with
# memtier_benchmark already installed it does nothing. BENCHCTL_MEMTIER=0
# skips it. Failures are one line on stderr naming the fix, exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "${BENCHCTL_MEMTIER:-1}" = 0 ] && exit 0
if command -v memtier_benchmark >/dev/null 2>&1 || [ -x .venv/bin/memtier_benchmark ]; then
  exit 0
fi

fail() { echo "setup: memtier_benchmark: $*" >&2; exit 1; }

src=""
if [ -n "${BENCHCTL_MEMTIER_SRC:-}" ]; then
  [ -e "$BENCHCTL_MEMTIER_SRC" ] || fail "BENCHCTL_MEMTIER_SRC=$BENCHCTL_MEMTIER_SRC does not exist; point it at a memtier_benchmark source tarball or folder"
  src=$BENCHCTL_MEMTIER_SRC
else
  for cand in vendor/memtier_benchmark-*.tar.gz ../shared/vendor/memtier_benchmark-*.tar.gz; do
    if [ -f "$cand" ]; then src=$cand; break; fi
  done
fi
if [ -z "$src" ]; then
  echo "setup: memtier_benchmark not found and no source release (vendor/memtier_benchmark-*.tar.gz); memcached runs will use another generator (see README: Getting memtier_benchmark)"
  exit 0
fi

if [ -f "$src" ]; then
  name=$(basename "$src")
  want=$(awk -v n="$name" '$2 == n || $2 == "*" n {print $1}' vendor/SHA256SUMS 2>/dev/null || true)
  if [ -n "$want" ]; then
    have=$(sha256sum "$src" | cut -d' ' -f1)
    [ "$have" = "$want" ] || fail "$src has sha256 $have, vendor/SHA256SUMS expects $want; restore the file (git checkout vendor/) or point BENCHCTL_MEMTIER_SRC at a good copy"
  elif [ -z "${BENCHCTL_MEMTIER_SRC:-}" ]; then
    fail "$src is not listed in vendor/SHA256SUMS; add its checksum there or name it in BENCHCTL_MEMTIER_SRC"
  else
    echo "setup: building $src as given in BENCHCTL_MEMTIER_SRC (no checksum on record for it)"
  fi
fi

for tool in autoreconf make g++ pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing; install the build dependencies: apt-get install autoconf automake libtool pkg-config libevent-dev libssl-dev zlib1g-dev g++ make"
done

if [ "$(id -u)" = 0 ]; then dest=/usr/local/bin; else dest=$PWD/.venv/bin; fi
[ -d "$dest" ] || fail "$dest does not exist; run scripts/setup.sh (it creates .venv first)"

work=$(mktemp -d "${TMPDIR:-/tmp}/benchctl-memtier-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -f "$src" ]; then
  tar -xzf "$src" -C "$work" || fail "cannot unpack $src (not a gzip tarball?)"
else
  mkdir "$work/src" && cp -a "$src/." "$work/src/"
fi
tree=$(find "$work" -mindepth 1 -maxdepth 2 -name configure.ac -printf '%h\n' | head -n1)
[ -n "$tree" ] || fail "$src holds no configure.ac; expected a memtier_benchmark source release"

limit=${BENCHCTL_MEMTIER_BUILD_TIMEOUT:-900}
log=$work/build.log
echo "setup: building memtier_benchmark from $src (about 40 s on 2 cores)"
start=$(date +%s)

build() {
  cd "$tree"
  step=autoreconf; echo "== $step" >>"$log"; autoreconf -i >>"$log" 2>&1 || return 1
  step=configure;  echo "== $step" >>"$log"; ./configure >>"$log" 2>&1 || return 1
  step=make;       echo "== $step" >>"$log"; make -j"$(nproc)" >>"$log" 2>&1 || return 1
}
export -f build
export tree log
rc=0
# the autotools' own temp folders go inside $work too, so a build stopped at its deadline leaves none
mkdir "$work/tmp"
TMPDIR=$work/tmp timeout -k 10 "$limit" bash -c 'build' || rc=$?
if [ "$rc" != 0 ]; then
  kept=$(mktemp "${TMPDIR:-/tmp}/benchctl-memtier-build-XXXXXX.log")
  cp "$log" "$kept"
  last=$(grep '^== ' "$log" | tail -n1 | cut -c4- || true)
  tail=$(grep -v '^== ' "$log" | tail -n1 | cut -c1-160 || true)
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    fail "building from $src did not finish within $limit s (stopped at ${last:-start}${tail:+: $tail}); full log in $kept; raise BENCHCTL_MEMTIER_BUILD_TIMEOUT or set BENCHCTL_MEMTIER=0 to skip"
  fi
  fail "building from $src failed at ${last:-start} (exit $rc): $tail; full log in $kept; install the build dependencies (apt-get install autoconf automake libtool pkg-config libevent-dev libssl-dev zlib1g-dev g++ make) or set BENCHCTL_MEMTIER=0 to skip"
fi
"$tree/memtier_benchmark" --version >/dev/null 2>&1 || fail "the built binary does not run ($tree/memtier_benchmark --version failed)"
install -m 0755 "$tree/memtier_benchmark" "$dest/memtier_benchmark"
echo "setup: installed $dest/memtier_benchmark ($("$dest/memtier_benchmark" --version 2>&1 | head -n1)) in $(( $(date +%s) - start )) s"
