// swift-tools-version: 6.1
import PackageDescription

// The libFuzzer executables, one per fuzz target, apart from the main package so that the
// fuzzer's flags (every module built with -sanitize=fuzzer,address) never touch its build.
// Each is a thin shim over BerthFuzzEntries (Tests/BerthFuzzEntries), whose functions
// `make test` also runs over the corpus. Build and run: `make fuzz` (see README.md here).
let targets = ["jsonc", "toml", "routes", "gateway", "websocket"]
// SwiftPM names a package depended on by path after its folder: the clone's, whatever it is.
let berth = #filePath.split(separator: "/").dropLast(2).last.map { $0.lowercased() } ?? "berth"

let package = Package(
    name: "berth-fuzz",
    platforms: [.macOS(.v15)],
    products: targets.map { .executable(name: "fuzz-\($0)", targets: ["fuzz-\($0)"]) },
    dependencies: [.package(path: "..")],
    targets: targets.map {
        .executableTarget(name: "fuzz-\($0)", dependencies: [.product(name: "BerthFuzzEntries", package: berth)], path: "Sources/fuzz-\($0)")
    },
    swiftLanguageModes: [.v6]
)
