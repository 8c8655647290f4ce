#!/usr/bin/env bash
# Set up benchctl on a fresh Debian/Ubuntu machine: system packages (when
# root), a virtual environment in .venv, and the package with its test extras.
# Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(python3 python3-venv python3-pip memcached libmemcached-tools fio xfsprogs
      e2fsprogs util-linux cryptsetup-bin dmsetup kmod procps linux-perf gcc libc6-dev
      openssh-client openssh-server iproute2)   # campaigns: ssh to hosts; the tests' hosts run sshd in netns
# The nested-VM harness (tests/vm) needs these too; opt in with BENCHCTL_VM=1.
if [ "${BENCHCTL_VM:-0}" = 1 ]; then
  PKGS+=(qemu-system-x86 qemu-system-arm mmdebstrap cpio busybox-static zstd)
  # memtier_benchmark for the arm64 guest (tests/vm/arm64_memtier.py): autoreconf here, the build
  # in the guest's tree under qemu-user
  PKGS+=(qemu-user-static autoconf automake libtool)
fi
# memtier_benchmark (exact HdrHistogram percentiles) is packaged neither in Debian 12
# nor on PyPI: scripts/install-memtier.sh builds it from vendor/, needing these.
if [ "${BENCHCTL_MEMTIER:-1}" != 0 ] && ! command -v memtier_benchmark >/dev/null 2>&1 \
   && [ ! -x .venv/bin/memtier_benchmark ]; then
  PKGS+=(autoconf automake libtool pkg-config libevent-dev libssl-dev zlib1g-dev g++ make)
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    avail=()
    for p in "${missing[@]}"; do
      if apt-cache show "$p" >/dev/null 2>&1; then avail+=("$p"); else echo "setup: no package $p here, skipped"; fi
    done
    # openssh-server is installed for its sshd binary (the campaign tests start their own, in network
    # namespaces): keep the package from starting or enabling a system-wide sshd on this machine.
    blocker=""
    if [[ " ${avail[*]} " == *" openssh-server "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && blocker=1
    fi
    [ ${#avail[@]} -gt 0 ] && apt-get install -y -qq --no-install-recommends "${avail[@]}" >/dev/null
    if [ -n "$blocker" ]; then
      rm -f /usr/sbin/policy-rc.d
      command -v systemctl >/dev/null && systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
    fi
  fi
else
  echo "setup: not root or no apt-get; install these yourself if missing: ${PKGS[*]}"
fi

# qemu-user registers its own binfmt_misc entry for the arm64 memtier build; the file system must be there
if [ "${BENCHCTL_VM:-0}" = 1 ] && [ "$(id -u)" = 0 ] && [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || echo "setup: cannot mount binfmt_misc"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,campaign]'
scripts/install-memtier.sh
echo "setup: ready (.venv/bin/benchctl)"
