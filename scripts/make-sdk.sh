#!/usr/bin/env bash
# The Swift package a Worker package depends on (`berth init --worker swift` names it): the
# SDK's sources (BerthCore, BerthStorage, Berth, BerthWorker), SQLite's C source (the objects'
# databases) and copies of the packages they build on, so
# that a Worker builds with no network and no source clone of Berth.
#   scripts/make-sdk.sh DEST      (make install: $PREFIX/share/berth/sdk; make sdk: .build/berth-sdk)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:?usage: scripts/make-sdk.sh DEST}
die() { echo "berth-sdk: error: $*" >&2; exit 1; }
deps=(swift-nio swift-http-types swift-atomics swift-collections swift-system)
for dep in "${deps[@]}" sqlite-nio; do
  [ -f ".build/checkouts/$dep/Package.swift" ] || die ".build/checkouts/$dep is missing: build Berth first (swift build), which fetches it"
done
tmp="$DEST.tmp-$$"
rm -rf "$tmp"
mkdir -p "$tmp/Sources" "$tmp/deps"
for target in BerthCore BerthStorage Berth BerthWorker; do cp -R "Sources/$target" "$tmp/Sources/$target"; done
# SQLite itself, as the server builds it (the same C target, so the same `sqlite_nio_` names).
cp -R .build/checkouts/sqlite-nio/Sources/VaporCSQLite "$tmp/Sources/VaporCSQLite"
for dep in "${deps[@]}"; do
  mkdir -p "$tmp/deps/$dep"
  # The package as it was checked out, without its git history (its manifest names its tests).
  (cd ".build/checkouts/$dep" && tar --exclude=.git -cf - .) | (cd "$tmp/deps/$dep" && tar -xf -)
done
cat >"$tmp/Package.swift" <<'SWIFT'
// swift-tools-version: 6.1
// The Berth SDK for Worker packages: `.product(name: "BerthWorker", package: "<this folder's name>")`.
// Built with SWIFTCI_USE_LOCAL_DEPS=1 (berth does), swift-nio takes its packages from beside it.
import PackageDescription

let swiftSettings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]
// SQLite's compile options, as the server's copy has them.
let sqliteSettings: [CSetting] = [
    .define("SQLITE_DEFAULT_MEMSTATUS", to: "0"), .define("SQLITE_DQS", to: "0"), .define("SQLITE_THREADSAFE", to: "1"),
    .define("SQLITE_ENABLE_FTS5"), .define("SQLITE_ENABLE_RTREE"), .define("SQLITE_ENABLE_DBSTAT_VTAB"), .define("SQLITE_ENABLE_COLUMN_METADATA"),
    .define("SQLITE_MAX_VARIABLE_NUMBER", to: "250000"), .define("SQLITE_LIKE_DOESNT_MATCH_BLOBS"), .define("SQLITE_OMIT_DEPRECATED"),
    .define("SQLITE_OMIT_LOAD_EXTENSION"), .define("SQLITE_OMIT_SHARED_CACHE"), .define("SQLITE_OMIT_PROGRESS_CALLBACK"),
    .define("SQLITE_SECURE_DELETE"), .define("SQLITE_USE_URI"), .define("SQLITE_UNTESTABLE"),
]

let package = Package(
    name: "berth-sdk",
    platforms: [.macOS(.v15)],
    products: [.library(name: "BerthWorker", targets: ["BerthWorker"])],
    dependencies: [
        .package(path: "deps/swift-nio"),
        .package(path: "deps/swift-http-types"),
    ],
    targets: [
        .target(name: "BerthCore", dependencies: [.product(name: "NIOCore", package: "swift-nio")], swiftSettings: swiftSettings),
        .target(name: "VaporCSQLite", cSettings: sqliteSettings),
        .target(name: "BerthStorage", dependencies: ["BerthCore", "VaporCSQLite"], swiftSettings: swiftSettings),
        .target(
            name: "Berth",
            dependencies: ["BerthCore", "BerthStorage", .product(name: "NIOCore", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BerthWorker",
            dependencies: ["Berth", "BerthCore", "BerthStorage", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
SWIFT
# The SDK's version: what a Worker's build cache is keyed on.
git rev-parse HEAD >"$tmp/VERSION" 2>/dev/null || date +%s >"$tmp/VERSION"
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mv "$tmp" "$DEST"
echo "SDK in $DEST"
