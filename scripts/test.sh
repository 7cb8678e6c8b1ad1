#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run` calls exactly this). Run from anywhere:
#   ./scripts/test.sh
# It installs what it needs when missing, then checks formatting and lints and runs every test
# of the workspace once, sharing one build.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null; then
  echo "cargo is not installed: install the Rust toolchain (rustup) first" >&2
  exit 1
fi

step "format (cargo fmt --check)"
cargo fmt --all --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

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
