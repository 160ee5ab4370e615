#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer executables of fuzz/ (every module with
# -sanitize=fuzzer,address) and runs each target for FUZZ_RUNS executions (default 1,000,000)
# from the checked-in seed corpus, one after the other. Prints executions, coverage and crashes
# per target and writes them to fuzz/out/results.json. Never part of `make test`.
#
#   FUZZ_RUNS=N          executions per target
#   FUZZ_TARGETS="a b"   the targets to run (default: jsonc toml routes gateway websocket)
#   FUZZ_CONFIG=debug    build configuration (default release: 2 to 6 times the executions a second)
#   FUZZ_MAX_SECONDS=N   also stop each target after N seconds (default: no limit)
#   FUZZ_RESULTS=FILE    where the JSON goes (default fuzz/out/results.json)
#   FUZZ_SKIP_BUILD=1    run the executables already built
#
# New inputs go to fuzz/out/corpus/TARGET (started afresh each run), crash reproducers to
# fuzz/out/crashes/; fix the crash, then copy its reproducer to fuzz/regressions/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
command -v swift >/dev/null || { echo "berth-fuzz: error: swift is not on PATH (expected at /opt/swift/usr/bin)" >&2; exit 1; }

RUNS=${FUZZ_RUNS:-1000000}
read -r -a TARGETS <<<"${FUZZ_TARGETS:-jsonc toml routes gateway websocket}"
CONFIG=${FUZZ_CONFIG:-release}
MAX_SECONDS=${FUZZ_MAX_SECONDS:-0}
OUT=fuzz/out
SCRATCH=fuzz/.build
RESULTS=${FUZZ_RESULTS:-$OUT/results.json}
mkdir -p "$OUT/crashes" "$OUT/logs"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

build_start=$(now)
if [ "${FUZZ_SKIP_BUILD:-}" != 1 ]; then
echo "berth-fuzz: building the fuzz targets ($CONFIG, -sanitize=fuzzer,address)"
# SwiftPM passes `--sanitize fuzzer --sanitize address` to swiftc as two -sanitize= flags, of
# which swiftc keeps the last: Swift code would get no coverage. The one combined flag last
# wins; the C targets (NIO's llhttp parser among them) get both from --sanitize.
FLAGS=(-c "$CONFIG" --sanitize fuzzer --sanitize address -Xswiftc -sanitize=fuzzer,address -Xswiftc -g)
swift build --package-path fuzz --scratch-path "$SCRATCH" "${FLAGS[@]}" >"$OUT/logs/build.log" 2>&1 \
  || { tail -40 "$OUT/logs/build.log" >&2; echo "berth-fuzz: error: the build failed ($OUT/logs/build.log)" >&2; exit 1; }
fi
build_seconds=$(elapsed "$build_start" "$(now)")
bin=$SCRATCH/$CONFIG
echo "berth-fuzz: built in ${build_seconds}s"

failed=0
json_targets=()
printf '\n%-8s %12s %8s %8s %7s %8s %9s %8s\n' target execs exec/s cov ft corpus seconds crashes
for target in "${TARGETS[@]}"; do
  corpus="$OUT/corpus/$target"
  rm -rf "$corpus" && mkdir -p "$corpus"
  log="$OUT/logs/$target.log"
  start=$(now)
  status=0
  # A trap goes straight to libFuzzer (Swift's own backtracer trips ASan). Leak checks are
  # off: the targets keep caches that are filled on first use.
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 "$bin/fuzz-$target" -runs="$RUNS" -max_total_time="$MAX_SECONDS" -max_len=8192 -timeout=10 \
    -print_final_stats=1 -dict=fuzz/dictionaries/$target.dict -artifact_prefix="$OUT/crashes/$target-" \
    "$corpus" fuzz/corpus/"$target" >"$log" 2>&1 || status=$?
  seconds=$(elapsed "$start" "$(now)")
  execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec/ { print $2 }' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  units=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
  # libFuzzer stops at the first crash, timeout or out-of-memory and writes its input.
  crashes=$(grep -c 'Test unit written to' "$log" || true)
  artifact=$(sed -nE 's/.*Test unit written to (.*)/\1/p' "$log" | tail -1)
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
  [ "$status" -ne 0 ] && failed=1
  printf '%-8s %12s %8s %8s %7s %8s %9s %8s\n' "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${units:-?}" "$seconds" "$crashes"
  [ -n "$artifact" ] && echo "         reproducer: $artifact (log: $log)"
  json_targets+=("$(printf '"%s": {"executions": %s, "exec_per_second": %s, "coverage": %s, "features": %s, "corpus": %s, "seconds": %s, "crashes": %s, "reproducer": "%s"}' \
    "$target" "${execs:-0}" "${rate:-0}" "${cov:-0}" "${ft:-0}" "${units:-0}" "$seconds" "$crashes" "$artifact")")
done

{
  printf '{\n  "date": "%s",\n  "configuration": "%s",\n  "runs_per_target": %s,\n  "max_seconds_per_target": %s,\n  "build_seconds": %s,\n  "targets": {\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$CONFIG" "$RUNS" "$MAX_SECONDS" "$build_seconds"
  for i in "${!json_targets[@]}"; do
    sep=$([ "$i" -lt $((${#json_targets[@]} - 1)) ] && echo "," || true)
    printf '    %s%s\n' "${json_targets[$i]}" "$sep"
  done
  printf '  }\n}\n'
} >"$RESULTS"
echo
echo "berth-fuzz: $RESULTS"
exit "$failed"
