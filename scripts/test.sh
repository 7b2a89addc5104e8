#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what is missing, then `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
# A separate assignment, so that set -e stops here when deps.sh fails (eval "$(...)" would not).
deps_env=$(bash scripts/deps.sh)
eval "$deps_env"
exec make test
