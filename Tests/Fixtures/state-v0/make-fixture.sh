#!/usr/bin/env bash
# Makes state.sqlite and containers.json from a real deployment, with the berth binary given
# (built from the commit whose schema the fixture stands for). Run from the repository:
#   bash Tests/Fixtures/state-v0/make-fixture.sh .build/debug/berth
# It deploys this folder's project, starts two objects, stops the server (leaving their
# containers running, as `berth serve` does), keeps the state and each container's labels and
# environment, then removes what it made.
set -euo pipefail
berth=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/berth-fixture-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$here/wrangler.jsonc" "$here/Dockerfile" "$work/"
gcc -static -O2 -pthread -o "$work/server" "$here/../../../examples/hello/server.c"
"$berth" serve "$work" --port 0 --admin-port 0 > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do grep -q "Ready on http://127.0.0.1:" "$work/serve.log" && break; sleep 0.2; done
port=$(sed -n 's/.*Ready on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log" | head -1)
"$berth" deploy "$work"
for name in a b; do curl -sf --max-time 60 "http://127.0.0.1:$port/container/$name"; done
kill -TERM "$server"; wait "$server" || true
sqlite3 "$work/.berth/state.sqlite" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
cp "$work/.berth/state.sqlite" "$here/state.sqlite"
ids=$(docker ps -q --filter label=berth.app=berth-upgrade-fixture)
docker inspect $ids | python3 -c '
import json, sys
print(json.dumps(sorted(({"labels": c["Config"]["Labels"], "env": c["Config"]["Env"]} for c in json.load(sys.stdin)),
                        key=lambda c: c["labels"]["berth.object-name"]), indent=2, sort_keys=True))' > "$here/containers.json"
docker rm -f $ids > /dev/null
docker images -q --filter label=berth.app=berth-upgrade-fixture | xargs -r docker rmi -f > /dev/null
