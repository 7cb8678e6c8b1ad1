#!/usr/bin/env bash
# Builds ios/GridworkFFI.xcframework (the Rust core as a static library for iOS devices and
# simulators, with its C header and module map) and ios/Sources/Gridwork/Gridwork.swift (the
# Swift bindings generated from the same library). Run on macOS with Xcode:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
#   ./ios/build-xcframework.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=ios
STAGE=target/ios-staging
rm -rf "$STAGE" "$OUT/GridworkFFI.xcframework"
mkdir -p "$STAGE/headers" "$OUT/Sources/Gridwork"

echo "==> build the static library for each iOS target (release)"
for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
  cargo rustc --profile mobile --locked -p gridwork-ffi --lib --target "$target" --crate-type staticlib
done

echo "==> generate the Swift bindings from the library"
cargo run --release --locked -p gridwork-ffi --bin uniffi-bindgen -- generate --no-format \
  --library target/aarch64-apple-ios/mobile/libgridwork_ffi.a --language swift --out-dir "$STAGE/swift"
cp "$STAGE/swift/Gridwork.swift" "$OUT/Sources/Gridwork/"
# The header and the module map in a folder named after the C module, not at the root of the
# XCFramework's headers: every uniffi XCFramework would put its own module.modulemap at that
# root, and two of them in one app collide ("redefinition of module"). Clang finds
# GridworkFFI/module.modulemap when Swift imports GridworkFFI.
mkdir -p "$STAGE/headers/GridworkFFI"
cp "$STAGE/swift/GridworkFFI.h" "$STAGE/headers/GridworkFFI/"
cp "$STAGE/swift/GridworkFFI.modulemap" "$STAGE/headers/GridworkFFI/module.modulemap"

echo "==> one simulator library for both simulator architectures"
lipo -create target/aarch64-apple-ios-sim/mobile/libgridwork_ffi.a \
  target/x86_64-apple-ios/mobile/libgridwork_ffi.a -output "$STAGE/libgridwork_ffi-sim.a"

echo "==> assemble $OUT/GridworkFFI.xcframework"
xcodebuild -create-xcframework \
  -library target/aarch64-apple-ios/mobile/libgridwork_ffi.a -headers "$STAGE/headers" \
  -library "$STAGE/libgridwork_ffi-sim.a" -headers "$STAGE/headers" \
  -output "$OUT/GridworkFFI.xcframework"
echo "done: add the package in ios/ to the app (File > Add Package Dependencies > Add Local)"
