#!/usr/bin/env bash
# Builds the CPU image (docker/Dockerfile) with podman or docker and checks it
# as a class would use it, then proves the README's two commands inside it:
#
#   1. the image builds (on docker.io's debian:12-slim, or, where no registry
#      answers, on a `debootstrap --variant=minbase` Debian 12: DEVELOPERS.md);
#      its size and build time are reported;
#   2. a container serves Jupyter on 127.0.0.1: with the token it answers, without
#      it or with a wrong one it refuses (403); its HEALTHCHECK passes; an empty
#      JUPYTER_TOKEN is refused at start; it runs as uid 1000, not root;
#   3. `vggnb kernel doctor` passes inside;
#   4. every notebook runs through `vggnb kernel run` as the notebook user, in a
#      fresh container with no network;
#   5. each notebook's first cells, timed in a fresh container with the image's
#      warm Go build cache, and notebook 01's with an empty one;
#   6. the README's test command (`bash scripts/test.sh`, as root: it installs
#      with apt-get) and its main job (`bash scripts/run.sh`) pass inside, on a
#      copy of the checkout with a cold Go cache (--skip-readme skips this: it
#      takes ~30 minutes).
#
#   bash docker/test.sh [--skip-readme] [--skip-cuda] [--keep] [--no-build]   (make docker-test)
#
# Also built: binder/Dockerfile (jupyterhub-singleuser must run in it) and
# docker/Dockerfile.cuda up to the plugin download (stage xla: cgo, the XLA
# backend linked; --skip-cuda skips it).
# --keep      keep the image (localhost/vggnb:test) afterwards (it is kept anyway
#             when a check fails)
# --no-build  test the image a previous run kept
# Needs podman (or docker); as root where the base must be made with debootstrap.
# Logs and the summary: $VGGNB_FRESH_DIR/logs/ (default /var/tmp/vggnb-fresh).
set -euo pipefail
cd "$(dirname "$0")/.."

# One function, parsed before it runs: editing the file during a run cannot change it.
main() {
readme=1 keep=0 cuda=1 build=1
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    --skip-readme) readme=0 ;;
    --skip-cuda) cuda=0 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "docker/test.sh: unknown argument $a (see --help)" >&2; exit 2 ;;
  esac
done
me=docker/test.sh
# shellcheck source=engine.sh
. docker/engine.sh

image=localhost/vggnb:test
stamp=$(date +%Y%m%d-%H%M%S)
logs="$work/logs/docker-$stamp"
mkdir -p "$logs"
summary="$logs/summary.txt"
say() { echo "docker/test.sh: $*" | tee -a "$summary"; }
names=() made_ca=0
cleanup() {
  local rc=$?
  if ((made_ca)); then rm -f docker/extra-ca.crt; fi
  for n in "${names[@]}"; do "$engine" rm -f "$n" >/dev/null 2>&1 || true; done
  if ((rc != 0)); then
    echo "docker/test.sh: failed; the image stays for a look ($engine run --rm -it $image bash;" \
      "again without building: bash docker/test.sh --no-build; then $engine rmi $image)" >&2
  elif ((!keep)); then
    "$engine" rmi -f "$image" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Build.
base=docker.io/library/debian:12-slim
if ! timeout 60 "$engine" pull -q "$base" >/dev/null 2>&1; then
  base=$(deb12_base)
  say "no registry answers: building on $base (debootstrap --variant=minbase bookworm)"
fi
build_flags=(--build-arg "BASE=$base")
# A TLS proxy's CA for the build's downloads: the Dockerfiles' build stages read
# docker/extra-ca.crt (git ignores it; removed on exit).
if [ -n "${SSL_CERT_FILE:-}" ] && [ -f "$SSL_CERT_FILE" ]; then
  cp "$SSL_CERT_FILE" docker/extra-ca.crt
  made_ca=1
fi
# podman: keep the HEALTHCHECK (docker format), and commit each stage once
# (vfs copies every layer whole: a layer per step would take ~60 GB).
if [ "$engine" = podman ]; then build_flags+=(--format docker --network host --layers=false); fi
if ((build)); then
  say "building $image with $engine (log: $logs/build.log)"
  t0=$(date +%s)
  if ! "$engine" build "${build_flags[@]}" -f docker/Dockerfile -t "$image" . >"$logs/build.log" 2>&1; then
    tail -30 "$logs/build.log" >&2
    die "the build failed: see $logs/build.log"
  fi
  say "built in $(( $(date +%s) - t0 )) s"
  grep -E 'docker/build.sh: (done|NOTICE)' "$logs/build.log" | tee -a "$summary" || true
else
  "$engine" image inspect "$image" >/dev/null 2>&1 || die "--no-build: there is no $image"
  say "testing the existing $image (--no-build)"
fi
size=$("$engine" image inspect --format '{{.Size}}' "$image")
say "image size $(( size / 1000000 )) MB"

# Binder's Dockerfile is docker/Dockerfile's stages (just built) plus docker/binder.Dockerfile's
# (a test checks that): that stage, on the image.
sed "s|^FROM cpu AS binder|FROM $image AS binder|" docker/binder.Dockerfile >"$logs/binder.Dockerfile"
grep -q "^FROM $image AS binder" "$logs/binder.Dockerfile" || die "docker/binder.Dockerfile has no 'FROM cpu AS binder'"
if ! "$engine" build "${build_flags[@]}" -f "$logs/binder.Dockerfile" -t "$image-binder" . >"$logs/binder.log" 2>&1; then
  tail -30 "$logs/binder.log" >&2
  die "binder/Dockerfile failed: see $logs/binder.log"
fi
v=$("$engine" run --rm "${run_flags[@]}" "$image-binder" jupyterhub-singleuser --version 2>/dev/null | tail -1) \
  || die "jupyterhub-singleuser does not run in the Binder image: $v"
"$engine" rmi -f "$image-binder" >/dev/null 2>&1 || true
say "binder/Dockerfile's own stage builds on the image; jupyterhub-singleuser $v"

# The CUDA image up to the plugin download (its last stage needs pypi.org; running it, a GPU).
if ((cuda)); then
  t0=$(date +%s)
  if ! "$engine" build "${build_flags[@]}" --build-arg "CPU_IMAGE=$image" --target xla \
    -f docker/Dockerfile.cuda -t "$image-xla" . >"$logs/cuda.log" 2>&1; then
    tail -30 "$logs/cuda.log" >&2
    die "docker/Dockerfile.cuda (stage xla) failed: see $logs/cuda.log"
  fi
  "$engine" run --rm "${run_flags[@]}" "$image-xla" vggnb kernel doctor >"$logs/cuda-doctor.txt" 2>&1 || true
  grep -q 'backend xla.*no PJRT plugin' "$logs/cuda-doctor.txt" \
    || die "the xla stage's vggnb does not link the XLA backend: see $logs/cuda-doctor.txt"
  "$engine" rmi -f "$image-xla" >/dev/null 2>&1 || true
  say "docker/Dockerfile.cuda builds up to the plugin download (stage xla, $(( $(date +%s) - t0 )) s); its vggnb links XLA"
fi

# 2. The server: token on, refused without it, healthy, not root.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
name="vggnb-test-$$"
names+=("$name")
publish=(-p "127.0.0.1:$port:$port")
if [ "$engine" = podman ]; then publish=(); fi # the host's network: the port is the container's
"$engine" run -d --name "$name" "${run_flags[@]}" "${publish[@]}" \
  -e JUPYTER_TOKEN="$token" -e VGGNB_PORT="$port" "$image" >/dev/null
url="http://127.0.0.1:$port"
for _ in $(seq 90); do
  curl -fs -o /dev/null "$url/api" && break
  sleep 1
done
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
c=$(code "$url/api/contents?token=$token")
[ "$c" = 200 ] || { "$engine" logs "$name" >&2; die "with the token, /api/contents answered $c, want 200"; }
c=$(code "$url/api/contents")
[ "$c" = 403 ] || die "without a token, /api/contents answered $c, want 403"
c=$(code "$url/api/contents?token=wrong$token")
[ "$c" = 403 ] || die "with a wrong token, /api/contents answered $c, want 403"
c=$(code "$url/tree")
case "$c" in 302|403) ;; *) die "without a token, /tree answered $c, want a redirect to login or 403" ;; esac
say "Jupyter on $url: 200 with the token, 403 without it and with a wrong one"
if [ "$engine" = podman ]; then
  "$engine" healthcheck run "$name" || die "HEALTHCHECK failed"
else
  for _ in $(seq 60); do
    h=$("$engine" inspect --format '{{.State.Health.Status}}' "$name")
    [ "$h" = healthy ] && break
    sleep 2
  done
  [ "$h" = healthy ] || die "HEALTHCHECK: $h"
fi
say "HEALTHCHECK passes"
if out=$("$engine" run --rm "${run_flags[@]}" -e JUPYTER_TOKEN= "$image" 2>&1); then
  die "an empty JUPYTER_TOKEN started a server: $out"
fi
grep -q refusing <<<"$out" || die "an empty JUPYTER_TOKEN failed without saying why: $out"
say "an empty JUPYTER_TOKEN is refused"
uid=$("$engine" exec "$name" id -u)
[ "$uid" = 1000 ] || die "the server runs as uid $uid, want 1000"
say "the server runs as $("$engine" exec "$name" id -un) (uid $uid)"

# 3. The doctor.
"$engine" exec "$name" vggnb kernel doctor >"$logs/doctor.txt" 2>&1 \
  || { cat "$logs/doctor.txt" >&2; die "vggnb kernel doctor failed"; }
say "vggnb kernel doctor passes (log: $logs/doctor.txt)"
"$engine" rm -f "$name" >/dev/null

# 4. Every notebook, as the notebook user, with no network.
t0=$(date +%s)
"$engine" run --rm "${run_limits[@]}" --network none "$image" bash -c \
  'test "$(id -u)" = 1000 && vggnb kernel run --out /tmp/out notebooks/[0-9]*.ipynb' >"$logs/notebooks.log" 2>&1 \
  || { tail -30 "$logs/notebooks.log" >&2; die "a notebook failed: see $logs/notebooks.log"; }
say "every notebook ran as uid 1000 with no network in $(( $(date +%s) - t0 )) s:"
grep -E '\.ipynb: [0-9]+ code cells' "$logs/notebooks.log" | sed 's/ -> .*//' | tee -a "$summary"

# 5. The first cells of every notebook in a new container (the image's warm Go build cache),
#    then notebook 01's with an empty cache, as an image without the warm-up would have it.
"$engine" run --rm "${run_limits[@]}" --network none "$image" bash -c 'python3 docker/firstcell.py notebooks/[0-9]*.ipynb' \
  >"$logs/firstcell-warm.txt" 2>&1 || { cat "$logs/firstcell-warm.txt" >&2; die "first cells failed (warm cache)"; }
say "first cells in a fresh container, warm Go build cache:"
tee -a "$summary" <"$logs/firstcell-warm.txt"
"$engine" run --rm "${run_limits[@]}" --network none -e GOCACHE=/tmp/empty-gocache "$image" \
  python3 docker/firstcell.py notebooks/01_vgg19_consistency.ipynb \
  >"$logs/firstcell-cold.txt" 2>&1 || { cat "$logs/firstcell-cold.txt" >&2; die "first cells failed (empty cache)"; }
say "notebook 01 in a fresh container, empty Go build cache: $(cat "$logs/firstcell-cold.txt")"

# 6. The README's two commands inside, on a copy of the checkout, as a fresh machine would run them.
if ((readme)); then
  t0=$(date +%s)
  if ! "$engine" run --rm "${run_flags[@]}" "${ca_run[@]}" -u root -e HOME=/root -e CI=true "$image" bash -c \
    'set -euo pipefail; cp -a /home/jovyan/vggnb /root/vggnb; cd /root/vggnb; rm -rf scripts/ort/node_modules
     t=$(date +%s); bash scripts/test.sh; echo "docker/test.sh: README test command passed in $(( $(date +%s) - t )) s"
     t=$(date +%s); bash scripts/run.sh; test -s out/report.html; echo "docker/test.sh: README main job passed in $(( $(date +%s) - t )) s"' \
    >"$logs/readme.log" 2>&1; then
    tail -40 "$logs/readme.log" >&2
    die "the README's commands failed inside the image: see $logs/readme.log"
  fi
  grep -E '^docker/test.sh: README' "$logs/readme.log" | tee -a "$summary"
  say "README commands inside the image: $(( $(date +%s) - t0 )) s"
fi
say "passed (summary: $summary)"
}

main "$@"
