.PHONY: test engine build clean dev example bench bench-quick bench-tools bench-build fuzz install

# Installs and starts what the tests need (Docker engine, busybox-static), builds, runs every test.
test:
	bash scripts/test.sh

# Installs and starts the Docker engine only.
engine:
	bash scripts/ensure-engine.sh

build:
	swift build

clean:
	rm -rf .build

# The berth binary (release) into $(PREFIX)/bin, default /usr/local, the SDK Swift Workers
# build on into $(PREFIX)/share/berth/sdk, and the systemd unit
# service/berth@.service into $(SYSTEMD_UNIT_DIR), default /etc/systemd/system; DESTDIR for
# packaging, BERTH_BIN for a binary built elsewhere. See README, "Running it as a service".
install:
	@if [ -z "$(BERTH_BIN)" ]; then swift build -c release --product berth; fi
	BERTH_BIN="$(or $(BERTH_BIN),.build/release/berth)" bash scripts/install.sh

# The example app: its static container server, then `berth dev` on http://127.0.0.1:8787.
dev: example engine
	swift run berth dev examples/hello

example: examples/hello/server examples/counter/server

# The counter example (a Swift Worker with object storage and schedules) on http://127.0.0.1:8787.
.PHONY: counter
counter: example engine sdk
	swift run berth dev examples/counter

examples/counter/server: examples/hello/server
	cp $< $@

examples/hello/server: examples/hello/server.c examples/hello/websocket_accept.h
	gcc -static -O2 -pthread -o $@ $<

# Benchmarks (never part of `make test`): Berth side by side with the bare container, nginx and
# the engine's own start; a table on stdout and bench/out/results.json. See BENCHMARKS.md.
bench: example engine bench-tools bench-build bench/out/wsload
	.build/release/berth-bench

bench-quick: example engine bench-tools bench-build bench/out/wsload
	.build/release/berth-bench --quick

# The bench, and the berth binary its footprint scenario runs as a separate process.
bench-build:
	swift build -c release --product berth-bench
	swift build -c release --product berth

bench-tools:
	BERTH_EXTRA_PACKAGES="wrk nginx-light openssl" bash scripts/ensure-engine.sh

# The ws scenario's load generator: WebSocket round trips (bench/wsload.c).
bench/out/wsload: bench/wsload.c examples/hello/websocket_accept.h
	mkdir -p bench/out
	gcc -static -O2 -pthread -o $@ $<

# Fuzzing (never part of `make test`): libFuzzer on the JSONC and TOML config loaders, the route
# table and the gateway's client pipeline, FUZZ_RUNS executions each (default 1,000,000); a
# table on stdout and fuzz/out/results.json. See fuzz/README.md.
fuzz:
	bash scripts/fuzz.sh

# Chaos (never part of `make test`): kill -9 under load, an engine restart (of a private
# dockerd), out of memory, a crash loop, a 1,000-request stampede and idle under a trickle,
# against `berth serve` processes; a table on stdout and chaos/out/results.json. chaos-quick
# runs the same scenarios shorter. CHAOS_CONFIG=debug skips the release build. See chaos/README.md.
.PHONY: chaos chaos-quick chaos-build
CHAOS_CONFIG ?= release

chaos: example engine chaos-build chaos/out/fault
	.build/$(CHAOS_CONFIG)/berth-chaos

chaos-quick: example engine chaos-build chaos/out/fault
	.build/$(CHAOS_CONFIG)/berth-chaos --quick

# The suite, and the berth binary it runs as separate processes.
chaos-build:
	swift build -c $(CHAOS_CONFIG) --product berth-chaos
	swift build -c $(CHAOS_CONFIG) --product berth

chaos/out/fault: chaos/fault.c
	mkdir -p chaos/out
	gcc -static -O2 -pthread -o $@ $<

# The SDK a Swift Worker package builds on (`berth init --worker swift` names it), beside a
# build folder's berth: .build/berth-sdk. `make install` puts it in $(PREFIX)/share/berth/sdk.
.PHONY: sdk
sdk:
	@[ -d .build/checkouts/swift-nio ] || swift package resolve
	bash scripts/make-sdk.sh .build/berth-sdk
