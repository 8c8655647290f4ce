#!/usr/bin/env bash
# The main job on a small default. Grows as workloads land.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/benchctl env
