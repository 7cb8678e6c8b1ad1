#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) for a bounded time, from the committed seed corpus:
#   ./scripts/fuzz.sh            # 20 s per target (what ./scripts/test.sh runs)
#   ./scripts/fuzz.sh 3600       # an hour per target (the long run, docs/reliability.md)
# Installs cargo-fuzz when missing. cargo-fuzz passes libFuzzer's instrumentation flags as -Z
# options, which only a nightly compiler takes; this machine has stable Rust only, so the run
# sets RUSTC_BOOTSTRAP=1 (the stable compiler then accepts them) and, by default, no sanitizer
# (`-s none`: libFuzzer's coverage guidance, Rust's own checks and debug assertions, without
# AddressSanitizer). GRIDWORK_FUZZ_SANITIZER=address switches ASan on where it works.
# New inputs go to a temporary folder, so the committed corpus stays as it is; a crash stops the
# run with the input saved under fuzz/artifacts/<target>/ and the command that reproduces it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-${GRIDWORK_FUZZ_SECONDS:-20}}"
sanitizer="${GRIDWORK_FUZZ_SANITIZER:-none}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
cd fuzz
cargo fuzz build -s "$sanitizer"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for target in $(cargo fuzz list); do
  mkdir -p "$work/$target"
  log="$work/$target.log"
  started=$(date +%s)
  if ! cargo fuzz run -s "$sanitizer" "$target" "$work/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -dict=json.dict -print_final_stats=1 -timeout=30 \
      >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz $target: FAILED (the input is in fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  corpus=$(grep -Eo 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -n 1 | cut -d' ' -f2)
  cover=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
  echo "fuzz $target: ${execs:-?} executions in $(( $(date +%s) - started )) s, coverage ${cover:-?} edges, corpus ${corpus:-?}, 0 crashes"
done
