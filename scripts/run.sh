#!/usr/bin/env bash
# The main job on a fresh Debian machine: installs what is missing, then `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."
# A separate assignment, so that set -e stops here when deps.sh fails (eval "$(...)" would not).
deps_env=$(bash scripts/deps.sh)
eval "$deps_env"
exec make run
