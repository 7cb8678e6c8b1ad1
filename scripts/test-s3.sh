#!/usr/bin/env bash
# A throwaway S3-compatible server on loopback (moto's server mode, from PyPI) for the tests of
# the S3 blob store (issue 24, ADR 0040).
#
#   eval "$(./scripts/test-s3.sh start)"   # installs moto into a cached venv if missing, starts
#                                          # a server, exports GRIDWORK_TEST_S3_ENDPOINT and
#                                          # GRIDWORK_TEST_S3_DIR
#   cargo nextest run -p gridwork-server s3  # the tests make one bucket each on it
#   ./scripts/test-s3.sh stop "$GRIDWORK_TEST_S3_DIR"
#
# `./scripts/test.sh` does this itself (and stops the server at the end) unless
# GRIDWORK_TEST_S3_ENDPOINT already names one, which it then uses. moto is installed with pip
# into ~/.cache/gridwork/moto-venv (made once; delete it to reinstall), runs from a fresh
# folder under $TMPDIR, listens on 127.0.0.1 only, on a free port, and keeps its buckets in
# memory: they are gone when it stops.
set -euo pipefail

log() { printf '%s\n' "$*" >&2; }

# The moto version the tests were written against (its S3 emulation changes between releases).
MOTO_VERSION="5.2.6"
VENV="${HOME}/.cache/gridwork/moto-venv"

install_moto() {
  if [ -x "$VENV/bin/moto_server" ] \
    && [ "$("$VENV/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null)" = "$MOTO_VERSION" ]; then
    return
  fi
  if ! command -v python3 >/dev/null; then
    log "python3 is not installed: install Debian's 'python3' and 'python3-venv' and retry"
    exit 1
  fi
  log "installing moto[server]==$MOTO_VERSION into $VENV (pip)"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  install_moto
  local dir port tries waited
  dir="$(mktemp -d "${TMPDIR:-/tmp}/gridwork-s3.XXXXXX")"
  for tries in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 30000))
    if port_in_use "$port"; then
      continue
    fi
    # setsid: the server outlives this script's shell, and `stop` ends its whole group.
    setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/server.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    for waited in $(seq 1 100); do
      if port_in_use "$port"; then
        log "moto $MOTO_VERSION (S3) on 127.0.0.1:$port, log in $dir/server.log"
        printf 'export GRIDWORK_TEST_S3_ENDPOINT=%q\n' "http://127.0.0.1:$port"
        printf 'export GRIDWORK_TEST_S3_DIR=%q\n' "$dir"
        return
      fi
      if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        break
      fi
      sleep 0.2
    done
    kill -- "-$(cat "$dir/pid")" 2>/dev/null || true
    log "port $port did not work (try $tries, waited $waited); trying another"
  done
  cat "$dir/server.log" >&2 || true
  log "could not start moto"
  exit 1
}

stop() {
  local dir="${1:?usage: $0 stop DIR}"
  case "$(basename "$dir")" in
    gridwork-s3.*) ;;
    *) log "$dir is not a folder made by '$0 start'"; exit 1 ;;
  esac
  if [ -f "$dir/pid" ]; then
    kill -- "-$(cat "$dir/pid")" 2>/dev/null || kill "$(cat "$dir/pid")" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) log "usage: $0 start | $0 stop DIR"; exit 2 ;;
esac
