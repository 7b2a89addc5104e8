#!/usr/bin/env bash
# The main job on a fresh Debian machine: installs what is missing, then `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/deps.sh)"
exec make run
