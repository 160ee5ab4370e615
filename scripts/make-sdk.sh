#!/usr/bin/env bash
# The Swift package a Worker package depends on (`berth init --worker swift` names it): the
# SDK's sources (BerthCore, Berth, BerthWorker) and copies of the packages they build on, so
# that a Worker builds with no network and no source clone of Berth.
#   scripts/make-sdk.sh DEST      (make install: $PREFIX/share/berth/sdk; make sdk: .build/berth-sdk)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:?usage: scripts/make-sdk.sh DEST}
die() { echo "berth-sdk: error: $*" >&2; exit 1; }
deps=(swift-nio swift-http-types swift-atomics swift-collections swift-system)
for dep in "${deps[@]}"; do
  [ -f ".build/checkouts/$dep/Package.swift" ] || die ".build/checkouts/$dep is missing: build Berth first (swift build), which fetches it"
done
tmp="$DEST.tmp-$$"
rm -rf "$tmp"
mkdir -p "$tmp/Sources" "$tmp/deps"
for target in BerthCore Berth BerthWorker; do cp -R "Sources/$target" "$tmp/Sources/$target"; done
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
        .target(
            name: "Berth",
            dependencies: ["BerthCore", .product(name: "NIOCore", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BerthWorker",
            dependencies: ["Berth", "BerthCore", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")],
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
