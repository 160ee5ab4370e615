// swift-tools-version: 6.1
// The counter's Worker, in Swift: `berth dev` and `berth deploy` build it on the Berth SDK
// beside the berth that builds it (which names it in BERTH_SDK), else on the one `make sdk`
// made in this repository's .build folder.
import PackageDescription

let sdk = Context.environment["BERTH_SDK"].flatMap { $0.isEmpty ? nil : $0 } ?? "../../.build/berth-sdk"

let package = Package(
    name: "worker",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: sdk)],
    targets: [
        .executableTarget(
            name: "worker",
            dependencies: [.product(name: "BerthWorker", package: String(sdk.split(separator: "/").last ?? "sdk").lowercased())],
            path: "worker"
        )
    ],
    swiftLanguageModes: [.v6]
)
