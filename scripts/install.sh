#!/usr/bin/env bash
# `make install`: the berth binary into $PREFIX/bin, the Worker SDK into $PREFIX/share/berth/sdk,
# and the systemd unit (service/berth@.service,
# naming that binary) into $SYSTEMD_UNIT_DIR, both under $DESTDIR when it is set (packaging).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr/local}
SYSTEMD_UNIT_DIR=${SYSTEMD_UNIT_DIR:-/etc/systemd/system}
BERTH_BIN=${BERTH_BIN:-.build/release/berth}
DESTDIR=${DESTDIR:-}
die() { echo "berth-install: error: $*" >&2; exit 1; }

[ -x "$BERTH_BIN" ] || die "$BERTH_BIN is not an executable: build it first (make install builds it) or set BERTH_BIN"
case "$PREFIX" in /*) ;; *) die "PREFIX must be an absolute path (it is written into the unit): $PREFIX" ;; esac
bin="$PREFIX/bin/berth"
install -D -m 0755 "$BERTH_BIN" "$DESTDIR$bin"
unit="$DESTDIR$SYSTEMD_UNIT_DIR/berth@.service"
mkdir -p "$(dirname "$unit")"
sed "s|@BERTH@|$bin|g" service/berth@.service >"$unit.tmp"
chmod 0644 "$unit.tmp"
mv "$unit.tmp" "$unit"
# The SDK a Swift Worker package builds on, with the packages it needs: no network, no clone.
[ -d .build/checkouts/swift-nio ] || swift package resolve
bash scripts/make-sdk.sh "$DESTDIR$PREFIX/share/berth/sdk" >/dev/null
echo "installed $DESTDIR$bin, the Worker SDK in $DESTDIR$PREFIX/share/berth/sdk, and $unit"
if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  systemctl daemon-reload || echo "berth-install: systemctl daemon-reload failed; run it yourself" >&2
fi
echo "serve a project folder as a service: systemctl enable --now \"berth@\$(systemd-escape --path /path/to/project).service\""
