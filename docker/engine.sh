# Sourced by docker/test.sh and scripts/fresh-check.sh: the container engine
# and the settings that make it work here (DEVELOPERS.md, "Containers").
#
# Sets:
#   engine        podman or docker ($VGGNB_ENGINE, else podman where installed)
#   work          the work folder ($VGGNB_FRESH_DIR, default /var/tmp/vggnb-fresh)
#   run_flags     flags for `$engine run`: host network, limits runc accepts
#   run_limits    only the limits (for containers with --network none)
#   ca_run        mount and environment for a TLS proxy's CA ($SSL_CERT_FILE), if any
# Defines:
#   deb12_base    prints an image name of a bare Debian 12: localhost/deb12:base,
#                 made with `debootstrap --variant=minbase` when missing
#   die MESSAGE   prints "$me: MESSAGE" on stderr and exits 1 ($me: the caller's name)

die() { echo "${me:-engine}: $*" >&2; exit 1; }

work="${VGGNB_FRESH_DIR:-/var/tmp/vggnb-fresh}"
mkdir -p "$work/logs"

engine="${VGGNB_ENGINE:-}"
if [ -z "$engine" ]; then
  if command -v podman >/dev/null; then engine=podman
  elif command -v docker >/dev/null; then engine=docker
  else die "neither podman nor docker found: apt-get install podman runc debootstrap"
  fi
fi

run_flags=() run_limits=()
if [ "$engine" = podman ]; then
  # podman as it works here: runc (crun fails), vfs storage, a nofile limit, the
  # host's network. A caller's own CONTAINERS_CONF wins.
  if [ -z "${CONTAINERS_CONF:-}" ]; then
    cat >"$work/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:20000"]
[engine]
runtime = "runc"
EOF
    cat >"$work/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "$work/run"
graphroot = "$work/storage"
EOF
    export CONTAINERS_CONF="$work/containers.conf" CONTAINERS_STORAGE_CONF="$work/storage.conf"
  fi
  # Limits no higher than this sandbox allows (podman's defaults are refused by runc here).
  run_limits=(--ulimit nofile=1024:20000 --ulimit nproc=32768:32768)
  run_flags=(--network host "${run_limits[@]}")
fi

ca_run=()
if [ -n "${SSL_CERT_FILE:-}" ] && [ -f "$SSL_CERT_FILE" ]; then
  ca=/etc/vggnb-host-ca.crt
  ca_run=(-v "$SSL_CERT_FILE:$ca:ro" -e SSL_CERT_FILE=$ca -e CURL_CA_BUNDLE=$ca
    -e NODE_EXTRA_CA_CERTS=$ca -e GIT_SSL_CAINFO=$ca)
fi

deb12_base() {
  local image=localhost/deb12:base
  if ! "$engine" image exists "$image" 2>/dev/null && ! "$engine" image inspect "$image" >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "making the Debian 12 base needs root (debootstrap)"
    command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install debootstrap"
    local mirror="${VGGNB_MIRROR:-}"
    if [ -z "$mirror" ]; then
      mirror=$(grep -hoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | awk '{print $2}' | grep -v security | head -1 || true)
      mirror="${mirror:-http://deb.debian.org/debian}"
    fi
    local root="$work/root"
    rm -rf "$root"
    echo "${me:-engine}: debootstrap --variant=minbase bookworm from $mirror (log: $work/logs/debootstrap.log)" >&2
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/logs/debootstrap.log" 2>&1 \
      || die "debootstrap failed: see $work/logs/debootstrap.log"
    tar -C "$root" -c . | "$engine" import - "$image" >/dev/null
    rm -rf "$root"
  fi
  echo "$image"
}
