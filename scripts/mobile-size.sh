#!/usr/bin/env bash
# Measures the library the apps ship: cross-builds `gridwork-ffi` for arm64 Linux
# (`aarch64-unknown-linux-gnu`, the closest target to Android's arm64-v8a these machines build,
# with Debian's cross toolchain) with the `mobile` profile (fat LTO, one codegen unit, unwind,
# stripped; ADR 0029, ADR 0033), and fails when the stripped library is over its budget.
#   ./scripts/mobile-size.sh                     # build, measure, check the budget
#   GRIDWORK_MOBILE_BUDGET_KIB=9000 ./scripts/mobile-size.sh
# Slow (a cold build compiles OpenSSL and SQLCipher for arm64 and links with LTO: about half an
# hour on a loaded 2-core machine), so not part of scripts/test.sh; run it before a release and
# after adding a dependency to the core or the bindings. Figures: docs/benchmarks.md,
# "Mobile library size".
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=aarch64-unknown-linux-gnu
# The budget: the stripped arm64 library, in KiB (measured size + headroom; docs/benchmarks.md).
BUDGET_KIB=${GRIDWORK_MOBILE_BUDGET_KIB:-12500}

step() { printf '\n==> %s\n' "$*"; }
die() { echo "error: $*" >&2; exit 1; }

# OpenSSL (SQLCipher's page crypto; TLS is rustls, ADR 0033): `debian` (the default) links
# Debian's arm64 static libcrypto (libssl-dev:arm64, OpenSSL 3.0), `vendored` compiles OpenSSL
# from source for arm64 as the app builds do (correct, but ~1,100 C files: over an hour on a
# loaded 2-core machine, which is what stopped the cross-build of the round before).
OPENSSL_MODE=${GRIDWORK_MOBILE_OPENSSL:-debian}

apt_install() {
  [ "$(id -u)" = 0 ] || die "needs: apt-get install $*"
  step "apt-get install $*"
  apt-get update -qq
  apt-get install -y -qq "$@"
}
command -v aarch64-linux-gnu-gcc >/dev/null ||
  apt_install gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
if [ "$OPENSSL_MODE" = debian ] && [ ! -f /usr/lib/aarch64-linux-gnu/libcrypto.a ]; then
  [ "$(id -u)" = 0 ] || die "needs Debian's arm64 OpenSSL: dpkg --add-architecture arm64; apt-get install libssl-dev:arm64 (or GRIDWORK_MOBILE_OPENSSL=vendored)"
  dpkg --add-architecture arm64
  apt_install libssl-dev:arm64
fi
if ! rustup target list --installed | grep -qx "$TARGET"; then
  step "rustup target add $TARGET"
  rustup target add "$TARGET"
fi

# The C parts (SQLCipher, OpenSSL for its page crypto) are compiled with the cross gcc; the
# vendored OpenSSL's Configure picks its `linux-aarch64` target from TARGET and the CC below.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export RANLIB_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ranlib

if [ "$OPENSSL_MODE" = debian ]; then
  # One include folder for the cross compiler: Debian's headers and its arm64 configuration
  # (never /usr/include itself, whose host headers would shadow the cross ones).
  INC=target/$TARGET/openssl-debian/include
  rm -rf "$INC" && mkdir -p "$INC/openssl"
  ln -sf /usr/include/openssl/* "$INC/openssl/"
  ln -sf /usr/include/aarch64-linux-gnu/openssl/* "$INC/openssl/"
  export OPENSSL_NO_VENDOR=1 OPENSSL_STATIC=1
  export AARCH64_UNKNOWN_LINUX_GNU_OPENSSL_LIB_DIR=/usr/lib/aarch64-linux-gnu
  export AARCH64_UNKNOWN_LINUX_GNU_OPENSSL_INCLUDE_DIR=$PWD/$INC
fi

step "cargo build -p gridwork-ffi --lib --profile mobile --target $TARGET (nice; OpenSSL: $OPENSSL_MODE)"
nice -n 10 cargo build -p gridwork-ffi --lib --profile mobile --target "$TARGET"

LIB=target/$TARGET/mobile/libgridwork_ffi.so
[ -f "$LIB" ] || die "$LIB was not built"
# The profile strips Rust's symbols; strip again for the C objects' and keep only the dynamic
# symbols the app's loader needs (what an APK's packaging step does).
STRIPPED=target/$TARGET/mobile/libgridwork_ffi.stripped.so
aarch64-linux-gnu-strip --strip-unneeded -o "$STRIPPED" "$LIB"
file "$STRIPPED" | grep -q "ARM aarch64" || die "$STRIPPED is not an arm64 library"

bytes=$(stat -c %s "$STRIPPED")
gz=$(gzip -9 -c "$STRIPPED" | wc -c)
kib=$(( (bytes + 1023) / 1024 ))
step "size"
printf 'stripped:  %d bytes (%d KiB)\ngzip -9:   %d bytes (what a download compresses it to)\nbudget:    %d KiB\n' \
  "$bytes" "$kib" "$gz" "$BUDGET_KIB"
aarch64-linux-gnu-size "$STRIPPED"
if [ "$kib" -gt "$BUDGET_KIB" ]; then
  die "the arm64 library is ${kib} KiB, over its budget of ${BUDGET_KIB} KiB: find what grew (cargo bloat, a new dependency) or raise the budget in this script and docs/benchmarks.md with the reason"
fi
echo "within budget"
