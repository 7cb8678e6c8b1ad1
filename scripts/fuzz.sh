#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) for a bounded time, from the committed seed corpus:
#   ./scripts/fuzz.sh            # 20 s per target (what ./scripts/test.sh runs)
#   ./scripts/fuzz.sh 3600       # an hour per target (the long run, docs/reliability.md)
# What each target fuzzes, the corpus and dictionary, and how to reproduce a crash:
# fuzz/README.md.
#
# Needs cargo-fuzz (installed with `cargo install cargo-fuzz --locked` when missing) and a C++
# compiler (libfuzzer-sys compiles libFuzzer from its C++ sources). With no sanitizer (`-s none`,
# the default) cargo-fuzz passes the compiler only stable options (`-C passes=sancov-module`,
# `-C llvm-args=...`, `--cfg fuzzing`), so stable Rust builds and runs it as it is: libFuzzer's
# coverage guidance with Rust's own checks, overflow checks and debug assertions. A sanitizer
# (GRIDWORK_FUZZ_SANITIZER=address) is a `-Z` option, which only a nightly compiler takes; on a
# stable compiler the script then sets RUSTC_BOOTSTRAP=1, and only then.
# New inputs go to a temporary folder, so the committed corpus stays as it is; a crash stops the
# run with the input saved under fuzz/artifacts/<target>/ and the command that reproduces it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-${GRIDWORK_FUZZ_SECONDS:-20}}"
sanitizer="${GRIDWORK_FUZZ_SANITIZER:-none}"

fail() {
  echo "fuzz: $*" >&2
  exit 1
}

# A C++ compiler, before anything is built. The cc crate takes $CXX, else `c++`.
cxx="${CXX:-}"
if [ -z "$cxx" ]; then
  for candidate in c++ g++ clang++; do
    if command -v "$candidate" >/dev/null 2>&1; then
      cxx="$candidate"
      break
    fi
  done
fi
if [ -z "$cxx" ] || ! command -v "$cxx" >/dev/null 2>&1; then
  fail "no C++ compiler found (tried \$CXX, c++, g++, clang++): libfuzzer-sys compiles libFuzzer \
from C++. Install one (Debian: apt-get install g++) or point CXX at it."
fi
# Only when it is not the cc crate's default (a changed CXX rebuilds libFuzzer).
if [ "$cxx" != c++ ]; then
  export CXX="$cxx"
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked
fi

if [ "$sanitizer" != none ] && ! rustc --version | grep -q -- '-nightly'; then
  echo "fuzz: sanitizer '$sanitizer' needs -Zsanitizer, a nightly option: RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
fi

cd fuzz
targets="$(cargo fuzz list)"
if [ -z "$targets" ]; then
  fail "cargo fuzz list found no target: fuzz/Cargo.toml must list them as [[bin]] entries \
(fuzz_targets/*.rs)"
fi
cargo fuzz build -s "$sanitizer"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for target in $targets; do
  mkdir -p "$work/$target"
  log="$work/$target.log"
  started=$(date +%s)
  if ! cargo fuzz run -s "$sanitizer" "$target" "$work/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -dict=json.dict -print_final_stats=1 -timeout=30 \
      >"$log" 2>&1; then
    tail -n 60 "$log"
    # Keep the run's new inputs: a server crash may need the pushes stored before it.
    trap - EXIT
    echo "fuzz: the run's new inputs are kept in $work/$target" >&2
    input=$(grep -Eo 'Test unit written to [^ ]+' "$log" | tail -n 1 | grep -Eo 'artifacts/.+' || true)
    fail "$target: FAILED; the input is in fuzz/${input:-artifacts/$target/}; replay it with: \
cd fuzz && cargo fuzz run -s $sanitizer $target ${input:-artifacts/$target/<file>}"
  fi
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  if [ -z "$execs" ] || [ "$execs" -eq 0 ]; then
    tail -n 30 "$log"
    fail "$target: ran no input (no libFuzzer statistics in its output)"
  fi
  corpus=$(grep -Eo 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -n 1 | cut -d' ' -f2)
  cover=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
  echo "fuzz $target: $execs executions in $(( $(date +%s) - started )) s, coverage ${cover:-?} edges, corpus ${corpus:-?}, 0 crashes"
done
