#!/usr/bin/env bash
# Tests the uniffi bindings from the apps' languages: builds the `gridwork-ffi` library and the
# sync server, generates the Kotlin and Swift sources, and runs the field scenario in Kotlin (host
# JVM) and in Swift (XCTest, inside a Debian trixie root). Run from anywhere:
#   ./scripts/test-bindings.sh            # both
#   ./scripts/test-bindings.sh kotlin     # or just one: kotlin | swift
# It installs what it needs when missing (JNA with apt; the Kotlin compiler from npm; debootstrap
# and a trixie root with swiftlang) and caches the downloads in ~/.cache/gridwork between runs (a
# fresh clone reuses them);
# GRIDWORK_CACHE moves that cache. Every step says what it does; any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${GRIDWORK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gridwork}
BUILD=$ROOT/target/bindings-test
WHICH=${1:-all}
KOTLIN_VERSION=2.4.20

step() { printf '\n==> %s\n' "$*"; }
die() { echo "error: $*" >&2; exit 1; }

# `apt-get update` once per run, and only if something has to be installed.
APT_UPDATED=
apt_install() {
  [ "$(id -u)" = 0 ] || die "installing $* needs root (apt-get); install it and run again"
  if [ -z "$APT_UPDATED" ]; then
    step "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  step "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

step "build the bindings library and the sync server (cargo build -p gridwork-ffi -p gridwork-server)"
cargo build --locked -p gridwork-ffi -p gridwork-server
LIB=$ROOT/target/debug/libgridwork_ffi.so
SERVER=$ROOT/target/debug/gridwork-server
BINDGEN=$ROOT/target/debug/uniffi-bindgen
[ -f "$LIB" ] || die "$LIB was not built"
rm -rf "$BUILD"
mkdir -p "$BUILD"

# A private CA and the server certificate it signs (for 127.0.0.1), for the scenarios' TLS
# server: the phones trust it only when `open` is given the CA's PEM.
step "make a private CA and a server certificate for 127.0.0.1 (openssl)"
command -v openssl >/dev/null || die "openssl is needed to make the test CA"
mkdir -p "$BUILD/tls"
(
  cd "$BUILD/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=gridwork test CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout key.pem -out server.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > ext.cnf
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
    -extfile ext.cnf -out cert.pem 2>/dev/null
)

run_kotlin() {
  step "Kotlin: find JNA (Debian libjna-java)"
  JNA_JAR=/usr/share/java/jna.jar
  [ -f "$JNA_JAR" ] || apt_install libjna-java
  [ -f "$JNA_JAR" ] || die "libjna-java did not install $JNA_JAR"

  local kotlin_home=$CACHE/kotlin-$KOTLIN_VERSION/node_modules/kotlin-compiler
  step "Kotlin: find the compiler (npm kotlin-compiler@$KOTLIN_VERSION, cached in $CACHE)"
  if [ ! -x "$kotlin_home/bin/kotlinc" ]; then
    command -v npm >/dev/null || die "npm is needed to install the Kotlin compiler"
    mkdir -p "$CACHE/kotlin-$KOTLIN_VERSION"
    npm install --no-audit --no-fund --prefix "$CACHE/kotlin-$KOTLIN_VERSION" \
      "kotlin-compiler@$KOTLIN_VERSION"
  fi
  [ -x "$kotlin_home/bin/kotlinc" ] || die "the Kotlin compiler is not at $kotlin_home/bin/kotlinc"
  local klib=$kotlin_home/lib
  local classpath=$JNA_JAR:$klib/kotlinx-coroutines-core-jvm.jar:$klib/kotlin-test.jar

  step "Kotlin: generate the bindings (uniffi-bindgen --language kotlin)"
  "$BINDGEN" generate --no-format --library "$LIB" --language kotlin --out-dir "$BUILD/kotlin-src"

  step "Kotlin: compile the bindings, their Flow adapters and the field scenario"
  "$kotlin_home/bin/kotlinc" -nowarn -cp "$classpath" -d "$BUILD/kotlin-scenario.jar" \
    "$BUILD/kotlin-src" "$ROOT/android/src/main/kotlin/org/gridwork/GridworkFlows.kt" \
    "$ROOT/bindings/tests/kotlin/FieldScenario.kt"

  step "Kotlin: run the field scenario against a real gridwork-server"
  mkdir -p "$BUILD/kotlin-scratch"
  GRIDWORK_SERVER=$SERVER GRIDWORK_SCRATCH=$BUILD/kotlin-scratch GRIDWORK_TLS_DIR=$BUILD/tls \
    java -Djna.library.path="$(dirname "$LIB")" \
    -cp "$BUILD/kotlin-scenario.jar:$classpath:$klib/kotlin-stdlib.jar" FieldScenarioKt
}

run_swift() {
  local root=$CACHE/trixie-root
  step "Swift: find the Debian trixie root with swiftlang (cached in $root)"
  # /usr/bin/swift is an absolute symlink, meaningful only inside the root: test its target.
  if [ ! -x "$root/usr/libexec/swift/bin/swift" ]; then
    [ "$(id -u)" = 0 ] || die "making the trixie root needs root (debootstrap, chroot)"
    command -v debootstrap >/dev/null || apt_install debootstrap
    if [ ! -d "$root" ]; then
      # The host's own Debian mirror, so the download goes where apt already goes.
      local mirror
      # One-line (`deb URL ...`) and deb822 (`URIs: URL`) sources; comments skipped; a missing
      # sources.list (deb822-only systems) is no error.
      mirror=$({ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } \
        | grep -E '^[[:space:]]*(deb[[:space:]]|URIs:)' \
        | grep -oE 'https?://[^ ]*debian[^ ]*' | grep -v security | head -n1 || true)
      mirror=${mirror:-http://deb.debian.org/debian}
      step "Swift: debootstrap --variant=minbase trixie from $mirror (about 2.5 minutes the first time)"
      rm -rf "$root.partial"
      debootstrap --variant=minbase trixie "$root.partial" "$mirror"
      mv "$root.partial" "$root"
    fi
    step "Swift: apt-get install swiftlang inside the trixie root"
    chroot "$root" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq swiftlang'
  fi

  step "Swift: generate the bindings (uniffi-bindgen --language swift)"
  "$BINDGEN" generate --no-format --library "$LIB" --language swift --out-dir "$BUILD/swift-src"

  step "Swift: copy the package, the bindings, the library and the server into the root"
  local inside=$root/gridwork
  rm -rf "$inside"
  mkdir -p "$inside/ffi" "$inside/bin" "$inside/scratch"
  cp -r "$ROOT/bindings/tests/swift" "$inside/pkg"
  # The generated module's folder is made here: git keeps no empty folder, so a fresh clone
  # has none.
  mkdir -p "$inside/pkg/Sources/Gridwork"
  cp "$BUILD/swift-src/Gridwork.swift" "$ROOT/ios/Sources/Gridwork/GridworkStreams.swift" \
    "$inside/pkg/Sources/Gridwork/"
  cp -r "$BUILD/tls" "$inside/tls"
  cp "$BUILD/swift-src/GridworkFFI.h" "$BUILD/swift-src/GridworkFFI.modulemap" "$LIB" "$inside/ffi/"
  cp "$SERVER" "$inside/bin/"

  # The module map goes on the command line too (not only in Package.swift): SwiftPM's
  # generated test runner imports the test module, and with it the C module, without the
  # targets' settings.
  step "Swift: swift test (XCTest) inside the root, /proc mounted"
  mount -t proc proc "$root/proc"
  PROC_MOUNT=$root/proc
  trap 'umount "$PROC_MOUNT" 2>/dev/null || true' EXIT
  chroot "$root" /usr/bin/env HOME=/gridwork GRIDWORK_FFI_DIR=/gridwork/ffi \
    GRIDWORK_SERVER=/gridwork/bin/gridwork-server GRIDWORK_SCRATCH=/gridwork/scratch \
    GRIDWORK_TLS_DIR=/gridwork/tls \
    /bin/sh -c 'cd /gridwork/pkg && swift test \
      -Xswiftc -Xcc -Xswiftc -fmodule-map-file=/gridwork/ffi/GridworkFFI.modulemap \
      -Xswiftc -I -Xswiftc /gridwork/ffi 2>&1' | tee "$BUILD/swift-test.log"
  local status=${PIPESTATUS[0]}
  umount "$root/proc"
  trap - EXIT
  [ "$status" = 0 ] || die "swift test failed (log: $BUILD/swift-test.log)"
  local passed
  passed=$(grep -cE "Test Case .* passed" "$BUILD/swift-test.log" || true)
  echo "swift: $passed passed, 0 failed"
}

case "$WHICH" in
  all) run_kotlin; run_swift ;;
  swift) run_swift ;;
  kotlin) run_kotlin ;;
  *) die "unknown target '$WHICH' (kotlin, swift or nothing for both)" ;;
esac
