#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what is missing, then `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/deps.sh)"
exec make test
