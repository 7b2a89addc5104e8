#!/usr/bin/env bash
# Notebook 01 through `vggnb kernel run` with Go 1.27 as the only Go on PATH
# (make run-go127): the Go 1.27 toolchain from the Go module proxy
# (GOTOOLCHAIN), every other go removed from PATH, the kernel installed into
# temporary Jupyter and tools directories (the machine's own kernelspec is
# left alone), `vggnb kernel doctor`, then the notebook. The executed
# notebook and its HTML go to ${OUT:-out}/go127.
#   bash scripts/go127-notebook.sh [notebooks/NAME.ipynb]
# (One function, so that editing the script while it runs is harmless.)
main() {
  set -euo pipefail
  cd "$(dirname "$0")/.."
  tc=${GO127:-go1.27.3}
  nb=${1:-notebooks/01_vgg19_consistency.ipynb}
  out=${OUT:-out}/go127
  [[ $out = /* ]] || out="$PWD/$out"
  goroot=$(GOTOOLCHAIN=$tc go env GOROOT)
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  path="$goroot/bin"
  IFS=: read -ra dirs <<<"$PATH"
  for d in "${dirs[@]}"; do
    [ -n "$d" ] && [ ! -x "$d/go" ] && path="$path:$d"
  done
  export PATH=$path GOTOOLCHAIN=local JUPYTER_DATA_DIR="$tmp/jupyter" VGGNB_TOOLS="$tmp/tools"
  echo "go127: $(command -v go): $(go version); other go on PATH: $(type -ap go | grep -v "^$goroot/bin/go$" || echo none)"
  mkdir -p "$out"
  go build -o "$tmp/vggnb" ./cmd/vggnb
  "$tmp/vggnb" kernel install
  "$tmp/vggnb" kernel doctor || true # it fails on what a headless run does not need (a GPU)
  "$tmp/vggnb" kernel run --out "$out" "$nb"
  echo "go127: $nb passed with $(go version)"
}
main "$@"
