#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run` calls exactly this). Run from anywhere:
#   ./scripts/test.sh
# It installs what it needs when missing, then checks formatting and lints and runs every test
# of the workspace once, sharing one build.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Stops the test servers this script started (none when the environment named them).
started_pg=""
started_s3=""
stop_servers() {
  if [ -n "$started_pg" ]; then
    ./scripts/test-postgres.sh stop "$started_pg"
  fi
  if [ -n "$started_s3" ]; then
    ./scripts/test-s3.sh stop "$started_s3"
  fi
}

if ! command -v cargo >/dev/null; then
  echo "cargo is not installed: install the Rust toolchain (rustup) first" >&2
  exit 1
fi

step "format (cargo fmt --check)"
cargo fmt --all --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "PostgreSQL for the tests"
# The PostgreSQL backend's tests need a server; they fail (never skip) without one. Use the one
# GRIDWORK_TEST_DATABASE_URL names, or start a throwaway one on loopback (installing Debian's
# `postgresql` package when missing) and stop it when this script ends, pass or fail.
if [ -n "${GRIDWORK_TEST_DATABASE_URL:-}" ]; then
  echo "using the PostgreSQL server in GRIDWORK_TEST_DATABASE_URL"
else
  # Captured first: `eval "$(...)"` would carry on past a failed start with no server.
  pg_env="$(./scripts/test-postgres.sh start)" || {
    echo "could not start PostgreSQL for the tests (see above); or set GRIDWORK_TEST_DATABASE_URL" >&2
    exit 1
  }
  eval "$pg_env"
  started_pg="$GRIDWORK_TEST_PG_DIR"
  trap 'stop_servers' EXIT
fi
export GRIDWORK_TEST_DATABASE_URL

step "S3-compatible server for the tests (moto)"
# The S3 blob store's tests need one; they fail (never skip) without it. Use the one
# GRIDWORK_TEST_S3_ENDPOINT names, or start moto's server mode on loopback (installed with pip
# into ~/.cache/gridwork/moto-venv when missing) and stop it when this script ends.
if [ -n "${GRIDWORK_TEST_S3_ENDPOINT:-}" ]; then
  echo "using the S3 server in GRIDWORK_TEST_S3_ENDPOINT"
else
  s3_env="$(./scripts/test-s3.sh start)" || {
    echo "could not start moto for the tests (see above); or set GRIDWORK_TEST_S3_ENDPOINT" >&2
    exit 1
  }
  eval "$s3_env"
  started_s3="$GRIDWORK_TEST_S3_DIR"
  # One trap for both servers (setting it again replaces it with the same).
  trap 'stop_servers' EXIT
fi
export GRIDWORK_TEST_S3_ENDPOINT

step "browser for the console's test (chromium, chromedriver, CJK fonts)"
./scripts/test-browser.sh

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
  # nextest does not run doc tests.
  cargo test --workspace --doc --locked
else
  cargo test --workspace --locked --no-fail-fast
fi
step "fuzz (20 s per target, cargo-fuzz)"
./scripts/fuzz.sh 20

./scripts/test-bindings.sh
