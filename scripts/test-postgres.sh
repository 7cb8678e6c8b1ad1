#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the tests of the PostgreSQL backend.
#
#   eval "$(./scripts/test-postgres.sh start)"   # installs PostgreSQL if missing, starts a server,
#                                                # exports GRIDWORK_TEST_DATABASE_URL and
#                                                # GRIDWORK_TEST_PG_DIR
#   cargo nextest run -p gridwork-server         # the tests make one database each on it
#   ./scripts/test-postgres.sh stop "$GRIDWORK_TEST_PG_DIR"
#
# `./scripts/test.sh` does this itself (and stops the server at the end) unless
# GRIDWORK_TEST_DATABASE_URL already points at a server, which it then uses. The server runs
# from a fresh folder under $TMPDIR (initdb'd, owned by the `postgres` OS user when run as
# root, since PostgreSQL refuses to run as root), listens on 127.0.0.1 only, on a free port, and
# trades durability for speed (fsync off): it holds nothing but test data.
set -euo pipefail

log() { printf '%s\n' "$*" >&2; }

# The folder holding initdb, pg_ctl and postgres (Debian keeps them out of PATH).
pg_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ]; then
      printf '%s\n' "$dir"
    fi
  done | sort -V | tail -n 1
}

install_postgres() {
  if [ -n "$(pg_bindir)" ]; then
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    log "PostgreSQL is not installed; install Debian's 'postgresql' package (as root) and retry"
    exit 1
  fi
  log "installing PostgreSQL (apt-get install postgresql)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
}

# Runs a PostgreSQL program as the user that owns the cluster.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  install_postgres
  local bin dir password port tries
  bin="$(pg_bindir)"
  dir="$(mktemp -d "${TMPDIR:-/tmp}/gridwork-pg.XXXXXX")"
  chmod 755 "$dir"
  password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  printf '%s\n' "$password" >"$dir/pwfile"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$dir"
  fi
  as_owner "$bin/initdb" -D "$dir/data" -U gridwork --pwfile="$dir/pwfile" \
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  for tries in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 30000))
    if port_in_use "$port"; then
      continue
    fi
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 \
          -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null; then
      log "PostgreSQL ($("$bin/postgres" --version)) on 127.0.0.1:$port, data in $dir"
      printf 'export GRIDWORK_TEST_DATABASE_URL=%q\n' \
        "postgres://gridwork:$password@127.0.0.1:$port/postgres"
      printf 'export GRIDWORK_TEST_PG_DIR=%q\n' "$dir"
      return
    fi
    log "port $port did not work (try $tries); trying another"
  done
  cat "$dir/server.log" >&2 || true
  log "could not start PostgreSQL"
  exit 1
}

stop() {
  local dir="${1:?usage: $0 stop DIR}"
  case "$(basename "$dir")" in
    gridwork-pg.*) ;;
    *) log "$dir is not a folder made by '$0 start'"; exit 1 ;;
  esac
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$(pg_bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) log "usage: $0 start | $0 stop DIR"; exit 2 ;;
esac
