// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "berth",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "berth", targets: ["berth"]),
        .library(name: "BerthConfig", targets: ["BerthConfig"]),
        .library(name: "DockerEngine", targets: ["DockerEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        .target(name: "BerthCore", swiftSettings: swiftSettings),
        .target(name: "BerthConfig", dependencies: ["BerthCore"], swiftSettings: swiftSettings),
        .target(
            name: "DockerEngine",
            dependencies: [
                "BerthCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BerthCommands",
            dependencies: [
                "BerthCore", "BerthConfig", "DockerEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "berth", dependencies: ["BerthCommands", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        .testTarget(name: "BerthConfigTests", dependencies: ["BerthConfig", "BerthCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "DockerEngineTests",
            dependencies: [
                "DockerEngine", "BerthCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BerthCommandsTests",
            dependencies: ["BerthCommands"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
