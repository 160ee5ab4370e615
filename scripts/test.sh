#!/usr/bin/env bash
# The test command: prepares the machine (engine and packages), builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the dashboard test drives a real browser; systemd: systemd-analyze checks the unit;
# openssl and python3: the TLS tests make their own CA and hold a TLS connection open.
BERTH_EXTRA_PACKAGES="chromium systemd openssl python3 python3-websockets" bash scripts/ensure-engine.sh
export PATH=/opt/swift/usr/bin:$PATH
command -v swift >/dev/null || { echo "berth-test: error: swift is not on PATH (expected at /opt/swift/usr/bin)" >&2; exit 1; }

# Integration tests need the engine; under CI a missing engine fails them, never skips them.
export BERTH_REQUIRE_ENGINE=${BERTH_REQUIRE_ENGINE:-${CI:-}}
# The engine tests build images and start containers; run a few at a time, not all at once.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-4}
swift build --build-tests "$@"
swift test --skip-build "$@"
