.PHONY: test engine build clean

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
