#!/usr/bin/env bash
# Proves the README's two set-up commands on a bare Debian 12 root: a
# `debootstrap --variant=minbase bookworm` root imported into podman, with nothing
# installed but what scripts/deps.sh installs. Not part of .ci/run (it takes a
# few minutes of debootstrap and a full install). docker/test.sh does the same
# inside the image, and more.
#
#   bash scripts/fresh-check.sh [--openblas] [--skip-run] [--skip-test] [--keep]
#
# --openblas   install libopenblas0 in the root before the tests (python3-torch's
#              matmuls then go through OpenBLAS rather than the reference BLAS)
# --skip-run   do not run `bash scripts/run.sh` (the main job)
# --skip-test  do not run `bash scripts/test.sh` (the test suite)
#
# Needs root, debootstrap, podman and runc (apt-get install podman runc debootstrap).
# The Debian mirror is the one apt's sources name here (override with VGGNB_MIRROR);
# the work folder is $VGGNB_FRESH_DIR (default /var/tmp/vggnb-fresh). Where the
# registries are reached through a TLS proxy, its CA ($SSL_CERT_FILE) is mounted
# into the container. Logs: $VGGNB_FRESH_DIR/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."

# The whole script is one function, parsed before it runs: editing the file
# during a run (it takes minutes) cannot change what the run does.
main() {

openblas=0 run=1 tst=1
for a in "$@"; do
  case "$a" in
    --openblas) openblas=1 ;;
    --skip-run) run=0 ;;
    --skip-test) tst=0 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh-check: unknown argument $a (see --help)" >&2; exit 2 ;;
  esac
done

me=fresh-check
[ "$(id -u)" = 0 ] || { echo "fresh-check: needs root (debootstrap, podman import)" >&2; exit 1; }
for c in debootstrap podman runc; do
  command -v "$c" >/dev/null || { echo "fresh-check: $c not found: apt-get install podman runc debootstrap" >&2; exit 1; }
done
VGGNB_ENGINE=podman
# shellcheck source=../docker/engine.sh
. docker/engine.sh
image=$(deb12_base)

# The checkout as git sees it (tracked and untracked-not-ignored files), no build outputs.
src="$work/src"
rm -rf "$src"; mkdir -p "$src"
git ls-files -co --exclude-standard -z | tar --null -T - -c | tar -C "$src" -x

steps="set -euo pipefail; cp -a /src /root/vggnb; cd /root/vggnb;"
if ((openblas)); then
  steps+=" apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libopenblas0 >/dev/null;"
fi
# Which BLAS python3-torch will use (libblas.so.3 is an alternative: reference or OpenBLAS).
steps+=' echo "fresh-check: libblas.so.3 -> $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo "(not installed yet)")";'
steps+=' t0=$(date +%s);'
if ((tst)); then steps+=' bash scripts/test.sh; echo "fresh-check: libblas.so.3 -> $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"; echo "fresh-check: test.sh passed in $(( $(date +%s) - t0 )) s"; t0=$(date +%s);'; fi
if ((run)); then steps+=' bash scripts/run.sh; test -s out/report.html; echo "fresh-check: run.sh passed in $(( $(date +%s) - t0 )) s";'; fi

name="vggnb-fresh-$$"
trap 'podman rm -f "$name" >/dev/null 2>&1 || true' EXIT INT TERM
variant=""; if ((openblas)); then variant="-openblas"; fi
log="$work/logs/run-$(date +%Y%m%d-%H%M%S)$variant.log"
echo "fresh-check: running in a bare Debian 12 container (log: $log)"
start=$(date +%s)
set +e
podman run --rm --name "$name" "${run_flags[@]}" -e CI=true -e HOME=/root \
  "${ca_run[@]}" -v "$src:/src:ro" "$image" bash -c "$steps" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
echo "fresh-check: exit $rc after $(( $(date +%s) - start )) s${variant:+ (with libopenblas0)}"
exit "$rc"
}

main "$@"
