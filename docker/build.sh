#!/usr/bin/env bash
# docker/Dockerfile's build stage, run as the notebook user in the checkout
# ($HOME/vggnb): the vggnb CLI, the kernel (GoNB, goimports, gopls, pinned),
# the ImageNet weights when the network allows (MD5-checked by `vggnb weights
# fetch`), then every notebook once through `vggnb kernel run`, which leaves the
# Go build cache warm (and ONNX Runtime installed, the synthetic weights
# written). Writes ~/.vggnb-image, which docker/start.sh reads.
set -euo pipefail
cd "$(dirname "$0")/.."

# A TLS proxy's CA (docker/extra-ca.crt, copied by the Dockerfile), for the Go
# proxy, npm and the weights.
ca=/tmp/vggnb-build/extra-ca.crt
if [ -f "$ca" ]; then
  export SSL_CERT_FILE=$ca CURL_CA_BUNDLE=$ca NODE_EXTRA_CA_CERTS=$ca GIT_SSL_CAINFO=$ca
fi
step() { echo "docker/build.sh: $* ($(date +%T))"; }

step "vggnb CLI"
mkdir -p "$HOME/.local/bin"
go build -o "$HOME/.local/bin/" ./cmd/vggnb ./cmd/vggnb-graphviz

step "kernel"
vggnb kernel install

# The files the notebooks open (weights.ImageNetOrSynthetic): VGG19 and VGG16
# without their tops, VGG16 with it (notebook 04's layer surgery).
weights=imagenet
for args in "--model vgg19" "--model vgg16" "--model vgg16 --include-top"; do
  step "weights fetch $args"
  # shellcheck disable=SC2086
  if ! vggnb weights fetch $args; then
    weights=synthetic
    break
  fi
done
if [ "$weights" = synthetic ]; then
  echo "docker/build.sh: NOTICE: the ImageNet weights could not be downloaded;" \
    "the notebooks use deterministic SYNTHETIC weights (they say so in every output)"
fi

step "every notebook once (warms the Go build cache)"
warm=$(mktemp -d)
start=$(date +%s)
vggnb kernel run --out "$warm" notebooks/[0-9]*.ipynb
secs=$(( $(date +%s) - start ))
rm -rf "$warm"

# What the image does not need:
# - npm's download cache; ONNX Runtime's libraries for other systems (the
#   package carries darwin, win32 and linux arm64/x64: ~220 MB);
# - Go's module zips (the extracted modules, .mod and .ziphash files are kept:
#   the Set-up cells' `go get` works from them with no network), test and fuzz
#   caches;
# - what the warm-up's cells handed to later cells (checkpoints, features under
#   ~/.cache/vggnb/notebooks): a new user starts from nothing, as on a new
#   machine. The synthetic weights and their fast-reload copies stay: cells
#   load them.
rm -rf "$HOME/.npm" "$HOME/.cache/go-build/fuzz" "$HOME/.cache/vggnb/notebooks" /tmp/gonb_* 2>/dev/null || true
arch=$(node -p process.arch)
for d in scripts/ort/node_modules/onnxruntime-node/bin/napi-v*/*; do
  [ "$(basename "$d")" = linux ] || rm -rf "$d"
done
for d in scripts/ort/node_modules/onnxruntime-node/bin/napi-v*/linux/*; do
  [ "$(basename "$d")" = "$arch" ] || rm -rf "$d"
done
ls scripts/ort/node_modules/onnxruntime-node/bin/napi-v*/linux/"$arch"/onnxruntime_binding.node >/dev/null
find "$(go env GOMODCACHE)/cache/download" -name '*.zip' -delete
go clean -testcache

cat >"$HOME/.vggnb-image" <<EOF
weights=$weights
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
warm_up_seconds=$secs
go_build_cache=$(du -sh "$(go env GOCACHE)" | cut -f1)
EOF
step "done: $(tr '\n' ' ' <"$HOME/.vggnb-image")"
