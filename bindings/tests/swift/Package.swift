// swift-tools-version:5.9
// The field scenario through the Swift bindings, as an XCTest package. scripts/test-bindings.sh
// copies the generated `Gridwork.swift` into Sources/Gridwork, points the compiler at the
// generated C header's modulemap and links the host-built libgridwork_ffi.so; it is not meant to
// be built on its own (the iOS app uses ios/Package.swift over the XCFramework instead).
import PackageDescription
import Foundation

// Where the test script put the header, modulemap and library (absolute paths).
let ffiDir = ProcessInfo.processInfo.environment["GRIDWORK_FFI_DIR"] ?? "/gridwork/ffi"

// Both targets see the C module: the test target imports `Gridwork`, whose interface uses it.
let ffiFlags: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-fmodule-map-file=\(ffiDir)/GridworkFFI.modulemap", "-I", ffiDir]),
]

let package = Package(
    name: "GridworkBindingsTest",
    targets: [
        .target(
            name: "Gridwork",
            path: "Sources/Gridwork",
            swiftSettings: ffiFlags,
            linkerSettings: [
                .unsafeFlags(["-L", ffiDir, "-lgridwork_ffi", "-Xlinker", "-rpath", "-Xlinker", ffiDir]),
            ]
        ),
        .testTarget(
            name: "GridworkTests",
            dependencies: ["Gridwork"],
            path: "Tests/GridworkTests",
            swiftSettings: ffiFlags
        ),
    ]
)
