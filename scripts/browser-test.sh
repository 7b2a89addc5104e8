#!/usr/bin/env bash
# The browser test (make browser-test): every notebook opened in Jupyter Notebook
# in Debian's Chromium, driven by puppeteer-core (notebooks/browser): Run All,
# then each code cell checked to stand alone after a kernel restart (without
# executing the notebook again: see browser_test.mjs; --phase every runs each
# cell alone). Screenshots and per-cell times go to ${OUT:-out}/browser, and
# each notebook as Run All left it to
# ${OUT:-out}/browser/executed (make test's kernel tests check those through
# VGGNB_EXECUTED_NOTEBOOKS instead of executing the notebooks again).
#
# First it checks itself on notebooks/browser/testdata/broken.ipynb, which has
# one fault per cell: it must catch every one.
#
# Jupyter serves a copy of the notebooks, on 127.0.0.1 with a random token, so
# the checkout is never written to. Expects the vggnb kernel installed (make
# browser-test does it) and chromium, node and npm (scripts/deps.sh).
#   bash scripts/browser-test.sh [--phase all|alone] [notebooks/NAME.ipynb ...]
# (The whole script is one function, so that editing it while it runs is harmless.)
main() {
  set -euo pipefail
  cd "$(dirname "$0")/.."
  local root=$PWD
  local out=${OUT:-out}/browser
  case $out in /*) ;; *) out=$root/$out ;; esac
  local python=${VGGNB_PYTHON:-/usr/bin/python3}

  local cmd
  for cmd in chromium node npm jupyter curl; do
    command -v "$cmd" >/dev/null || { echo "browser-test: $cmd not found (bash scripts/deps.sh installs it)" >&2; exit 1; }
  done

  # puppeteer-core at the version package-lock.json pins; its install scripts
  # (a browser download) are not run: Debian's Chromium is the browser.
  # Installed once per lock file: node_modules/.vggnb-lock is the lock it was installed from.
  if ! cmp -s notebooks/browser/package-lock.json notebooks/browser/node_modules/.vggnb-lock 2>/dev/null; then
    (cd notebooks/browser && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error &&
      cp package-lock.json node_modules/.vggnb-lock) >&2
  fi

  local phase=()
  if [ "${1:-}" = "--phase" ]; then phase=(--phase "$2"); shift 2; fi
  local notebooks=("$@")
  if [ ${#notebooks[@]} -eq 0 ]; then notebooks=(notebooks/*.ipynb); fi

  work=$(mktemp -d "${TMPDIR:-/tmp}/vggnb-browser.XXXXXX")
  jupyter_pid=""
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$work/notebooks" "$work/runtime" "$out"
  local f names=()
  for f in notebooks/browser/testdata/broken.ipynb "${notebooks[@]}"; do
    cp "$f" "$work/notebooks/"
    names+=("$(basename "$f")")
  done

  local port token url i
  port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  token=$("$python" -c 'import secrets; print(secrets.token_hex(24))')
  # Jupyter reads the token from the environment (not the command line, where ps shows it).
  local root_flag=()
  [ "$(id -u)" = 0 ] && root_flag=(--allow-root)
  JUPYTER_TOKEN=$token JUPYTER_RUNTIME_DIR="$work/runtime" setsid jupyter notebook --no-browser \
    --ip=127.0.0.1 --port="$port" --port-retries=0 --notebook-dir="$work/notebooks" \
    "${root_flag[@]}" >"$out/jupyter.log" 2>&1 &
  jupyter_pid=$!
  url="http://127.0.0.1:$port"
  for i in $(seq 120); do
    if curl -fsS -o /dev/null "$url/api/status?token=$token" 2>/dev/null; then break; fi
    kill -0 "$jupyter_pid" 2>/dev/null || { echo "browser-test: Jupyter exited (log: $out/jupyter.log)" >&2; tail -20 "$out/jupyter.log" >&2; exit 1; }
    [ "$i" = 120 ] && { echo "browser-test: Jupyter did not answer on $url in 60s" >&2; exit 1; }
    sleep 0.5
  done
  # Without the token, the server must refuse.
  if curl -fsS -o /dev/null "$url/api/contents" 2>/dev/null; then
    echo "browser-test: Jupyter on $url answers without its token" >&2; exit 1
  fi
  echo "browser-test: Jupyter $(jupyter notebook --version) on $url; $(chromium --version 2>/dev/null | head -1)" >&2

  local run=(node notebooks/browser/browser_test.mjs --url "$url" --token "$token")
  echo "browser-test: checking the test itself on broken.ipynb" >&2
  "${run[@]}" --out "$out/selfcheck" \
    --expect 'set-up cell 1: declares functions' \
    --expect 'cell 2: not self-contained: its code does not start with %%' \
    --expect 'cell 3 alone after a restart: error output' \
    --expect 'Run All, cell 4: stderr: a line on stderr' \
    --expect 'Run All, cell 5: .*(wide in a|reaches)' \
    --expect 'Run All, cell 6: image did not load' \
    --expect 'Run All, cell 7: output folded' \
    --expect 'Run All, cell 8: code .* wide' \
    --expect 'cell 9: not self-contained: kernel command' \
    broken.ipynb
  rm -rf "$out/executed"
  "${run[@]}" --out "$out" --executed "$out/executed" "${phase[@]}" "${names[@]:1}"
}

cleanup() {
  if [ -n "${jupyter_pid:-}" ]; then
    kill -TERM -- "-$jupyter_pid" 2>/dev/null || true
    local i
    for i in $(seq 50); do kill -0 -- "-$jupyter_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$jupyter_pid" 2>/dev/null || true
  fi
  [ -n "${work:-}" ] && rm -rf "$work"
}

main "$@"
