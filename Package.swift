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
        .executable(name: "berth-bench", targets: ["BerthBench"]),
        .executable(name: "berth-chaos", targets: ["BerthChaos"]),
        .library(name: "BerthConfig", targets: ["BerthConfig"]),
        .library(name: "DockerEngine", targets: ["DockerEngine"]),
        // What a Worker package depends on: the SDK and the process side of its link.
        .library(name: "BerthWorker", targets: ["BerthWorker"]),
        // The fuzz targets' entry functions, for the libFuzzer package in fuzz/.
        .library(name: "BerthFuzzEntries", targets: ["BerthFuzzEntries"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/sqlite-nio", from: "1.13.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Ids, the error type, the small values server and SDK share. NIOCore for
        // `ByteBuffer` only.
        .target(name: "BerthCore", dependencies: [.product(name: "NIOCore", package: "swift-nio")], swiftSettings: swiftSettings),
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
        // Each Durable Object's own SQLite database: shared by the server and the SDK (a
        // Worker process opens its objects' databases itself).
        .target(
            name: "BerthStorage",
            dependencies: ["BerthCore", .product(name: "SQLiteNIO", package: "sqlite-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BerthRuntime",
            dependencies: [
                "BerthCore", "BerthConfig", "DockerEngine", "BerthStorage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The SDK a Worker imports: thin, so that a Worker package builds quickly (no engine
        // client, server or state store). Its stubs reach the platform through `ObjectLink`.
        .target(
            name: "Berth",
            dependencies: [
                "BerthCore", "BerthStorage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        // A Worker as a process of its own: the Worker side of the link to the server.
        .target(
            name: "BerthWorker",
            dependencies: [
                "Berth", "BerthCore", "BerthStorage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The admin API's wire types and the state folder's layout, shared by server and CLI.
        .target(name: "BerthAPI", dependencies: ["BerthCore", "BerthConfig"], swiftSettings: swiftSettings),
        // Deployments, rollouts, the class registry, image builds, log tail, stats, restore.
        .target(
            name: "BerthControlPlane",
            dependencies: [
                "BerthCore", "BerthConfig", "BerthRuntime", "BerthAPI", "Berth", "BerthStorage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BerthServer",
            dependencies: [
                "Berth", "BerthRuntime", "BerthConfig", "BerthAPI", "BerthControlPlane", "BerthStorage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BerthCommands",
            dependencies: [
                "BerthCore", "BerthConfig", "DockerEngine", "BerthRuntime", "BerthAPI", "BerthControlPlane", "BerthServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "berth", dependencies: ["BerthCommands", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        .executableTarget(
            name: "BerthBench",
            dependencies: [
                "Berth", "BerthCore", "BerthConfig", "BerthRuntime", "BerthAPI", "BerthControlPlane", "BerthServer", "BerthTestSupport", "DockerEngine",
                "BerthWorker", .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `make chaos`: faults (kill -9, engine restart, OOM, crash loop, a stampede, idle
        // under trickle) against `berth serve` processes; see chaos/README.md.
        .executableTarget(
            name: "BerthChaos",
            dependencies: [
                "BerthCore", "BerthTestSupport", "DockerEngine",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BerthTestSupport",
            dependencies: [
                "BerthCore", "BerthRuntime",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/BerthTestSupport",
            swiftSettings: swiftSettings
        ),
        // One function per fuzz target: fuzz/ builds them into libFuzzer executables, and
        // BerthFuzzTests replays the checked-in corpus through them.
        .target(
            name: "BerthFuzzEntries",
            dependencies: [
                "BerthCore", "BerthConfig", "Berth", "BerthRuntime", "BerthControlPlane", "BerthServer", "BerthTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            ],
            path: "Tests/BerthFuzzEntries",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "BerthFuzzTests", dependencies: ["BerthFuzzEntries"], swiftSettings: swiftSettings),
        .testTarget(name: "BerthConfigTests", dependencies: ["BerthConfig", "BerthCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "DockerEngineTests",
            dependencies: [
                "DockerEngine", "BerthCore", "BerthRuntime", "BerthTestSupport",
                "BerthConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BerthRuntimeTests",
            dependencies: [
                "BerthRuntime", "BerthCore", "BerthConfig", "DockerEngine", "BerthTestSupport", "BerthStorage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BerthServerTests",
            dependencies: [
                "BerthServer", "BerthWorker", "BerthAPI", "BerthControlPlane", "Berth", "BerthRuntime", "BerthConfig", "DockerEngine", "BerthTestSupport",
                "BerthStorage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The in-process tier: the control plane and the admin API on the in-memory driver.
        .testTarget(
            name: "BerthControlPlaneTests",
            dependencies: [
                "BerthControlPlane", "BerthAPI", "BerthServer", "Berth", "BerthRuntime", "BerthConfig", "BerthCore", "BerthTestSupport", "BerthStorage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BerthCommandsTests",
            dependencies: ["BerthCommands", "BerthConfig"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
