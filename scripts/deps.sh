#!/usr/bin/env bash
# Installs what vggnb's build, tests and main job need on Debian 12, only where
# missing: Debian packages with apt-get, and Go (the version go.mod pins) from the
# Go module proxy's toolchain module when no new enough go is on PATH.
# Prints the PATH additions to eval, and exits non-zero (after saying why on
# stderr) when anything could not be installed:
#   path=$(bash scripts/deps.sh) && eval "$path"
# With --go-only, only Go (docker/Dockerfile installs its own Debian packages).
set -euo pipefail

go_only=0
[ "${1:-}" = --go-only ] && go_only=1

GO_VERSION=1.26.8
# Everything a `debootstrap --variant=minbase bookworm` root lacks (proven by
# scripts/fresh-check.sh), and nothing else:
# - curl, unzip, ca-certificates: the Go toolchain download below;
# - git: getting and updating the checkout itself;
# - make: the Makefile's targets;
# - gcc, libc6-dev: cgo (runtime/cgo, net, os/user link against libc when a C
#   compiler is present; `go test -race` and `-tags xla` builds need it);
# - python3, python3-numpy, python3-h5py, python3-torch, python3-pil: the
#   independent reference (PyTorch, h5py, PIL) the fidelity tests and notebooks
#   compare against;
# - dataset-fashion-mnist: the MLP's data offline;
# - jupyter-*, python3-nbclient, python3-nbformat, python3-ipykernel: running the
#   notebooks (GoNB itself is installed by `vggnb kernel install`);
# - python3-onnx: the ONNX checker the frozen models must pass (onnx 1.12);
# - chromium, and nodejs and npm where no node/npm is on PATH (a machine may have
#   its own Node.js, whose npm Debian's would conflict with): the browser test
#   (scripts/browser-test.sh installs its pinned puppeteer-core with npm), and
#   ONNX Runtime for the frozen models (package gomlx_vgg/freeze/ort installs
#   the pinned onnxruntime-node in scripts/ort with npm on first use);
# - qemu-user-static: the arm64 (NEON) kernels' tests, cross-compiled and run
#   under qemu-aarch64-static (make test-arm64). Go 1.27 for make
#   test-toolchains comes from the Go module proxy through GOTOOLCHAIN;
# - prometheus (with promtool): serve's /metrics checked by promtool and scraped
#   by a real Prometheus server in serve's tests;
# - hey, wrk: the load generators of bench/serve;
# - libdnnl-dev: oneDNN, bench/vgg's vendor-library peer (a C program on its
#   primitives, built with gcc; its test checks it against the Go model).
APT_PACKAGES=(curl unzip ca-certificates git make gcc libc6-dev libdnnl-dev
  python3 python3-numpy python3-h5py python3-torch python3-pil python3-onnx dataset-fashion-mnist
  jupyter-notebook jupyter-nbconvert jupyter-client python3-nbclient python3-nbformat python3-ipykernel
  chromium qemu-user-static prometheus hey wrk)
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)

log() { echo "deps: $*" >&2; }

missing=()
((go_only)) && APT_PACKAGES=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >&2 || { log "apt-get update failed"; exit 1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || { log "apt-get install failed: ${missing[*]}"; exit 1; }
fi

go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local v; v=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  [ "$(printf '%s\n%s\n' "1.26.5" "$v" | sort -V | head -1)" = "1.26.5" ]
}
export PATH="$PATH:/usr/local/go/bin"
if ! go_ok; then
  dir="${VGGNB_GOROOT_PARENT:-$HOME/.cache/vggnb/go}"
  goroot="$dir/golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-amd64"
  if [ ! -x "$goroot/bin/go" ]; then
    log "installing Go $GO_VERSION from the Go module proxy"
    mkdir -p "$dir"
    zip="$dir/go.zip"
    url="https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-amd64.zip"
    curl -fsSL --retry 3 -o "$zip.part" "$url" || { rm -f "$zip.part"; log "downloading Go failed: $url"; exit 1; }
    mv "$zip.part" "$zip"
    (cd "$dir" && unzip -q -o go.zip && rm go.zip) || { log "unpacking $zip failed"; exit 1; }
    chmod +x "$goroot"/bin/* "$goroot"/pkg/tool/*/* 2>/dev/null || true
  fi
  "$goroot/bin/go" version >/dev/null || { log "the Go in $goroot does not run"; exit 1; }
  echo "export PATH=\"$goroot/bin:\$PATH\""
else
  echo "export PATH=\"\$PATH:/usr/local/go/bin\""
fi
