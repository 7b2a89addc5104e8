#!/usr/bin/env bash
# The image's entry point. With arguments, runs them (Binder and JupyterHub
# start the server their own way; `docker run IMAGE vggnb kernel doctor`).
# Without, starts Jupyter Notebook on port 8888 of every interface (the
# container's; publish it on 127.0.0.1) in the notebooks folder, with token
# authentication always on: the token is $JUPYTER_TOKEN, or a random one,
# printed. An empty JUPYTER_TOKEN is refused: it would open the server to
# anyone who can reach the port.
set -euo pipefail

# Go deletes build-cache entries unused for 5 days, checking at most once a day
# (the last check's time is in trim.txt): in an image older than that, the
# first build would delete the warm cache of every package it does not use
# itself. A check just done is what trim.txt says from now on (for a day: a
# container's session).
cache="${GOCACHE:-$HOME/.cache/go-build}"
if [ -d "$cache" ] && [ -w "$cache" ]; then
  date +%s >"$cache/trim.txt" 2>/dev/null || true
fi

if [ $# -gt 0 ]; then
  exec "$@"
fi

if [ -f "$HOME/.vggnb-image" ] && grep -q '^weights=synthetic' "$HOME/.vggnb-image"; then
  echo "vggnb: NOTICE: this image has no ImageNet weights (none could be downloaded when it was built):" \
    "the notebooks use deterministic SYNTHETIC weights and say so; \`vggnb weights fetch --model vgg19\`" \
    "downloads the real ones (MD5-checked) where the network allows"
fi

if [ -z "${JUPYTER_TOKEN+set}" ]; then
  JUPYTER_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
  echo "vggnb: no JUPYTER_TOKEN given; this server's token is $JUPYTER_TOKEN"
elif [ -z "$JUPYTER_TOKEN" ]; then
  echo "vggnb: JUPYTER_TOKEN is empty: refusing to start a server anyone can use (give a token, or leave JUPYTER_TOKEN unset for a random one)" >&2
  exit 2
fi
export JUPYTER_TOKEN
echo "vggnb: open http://127.0.0.1:${VGGNB_PORT:-8888}/?token=$JUPYTER_TOKEN (with the port you published)"

# Jupyter reads the token from $JUPYTER_TOKEN: it never appears in `ps`.
exec jupyter notebook --no-browser --ip=0.0.0.0 --port="${VGGNB_PORT:-8888}" \
  --notebook-dir="$HOME/vggnb/notebooks" \
  --NotebookApp.password='' --NotebookApp.allow_password_change=False
