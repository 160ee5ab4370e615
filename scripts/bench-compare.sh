#!/usr/bin/env bash
# Compares the warm proxy of two checkouts of Berth on this machine, in interleaved runs:
#   scripts/bench-compare.sh BEFORE_DIR AFTER_DIR [RUNS] [KEY]
# Each checkout needs its release bench built (`make bench-build` in it) and the example
# container (`make example`). Runs `berth-bench --quick --only proxy` RUNS times in each
# (default 5), alternating before and after, and prints every run's KEY (default
# proxy.berth_rps), both medians and after/before; writes bench/out/compare.json here.
set -euo pipefail
before=$(cd "$1" && pwd)
after=$(cd "$2" && pwd)
runs=${3:-5}
key=${4:-proxy.berth_rps}
here=$(cd "$(dirname "$0")/.." && pwd)

say() { printf 'bench-compare: %s\n' "$*" >&2; }
for dir in "$before" "$after"; do
  [ -x "$dir/.build/release/berth-bench" ] || { say "error: $dir/.build/release/berth-bench is missing: run 'make bench-build' there"; exit 1; }
  [ -x "$dir/examples/hello/server" ] || make -C "$dir" example >/dev/null
done

run_one() { # DIR → the key's value
  local dir=$1
  (cd "$dir" && .build/release/berth-bench --quick --only proxy >/dev/null 2>"$here/bench/out/compare-last.log")
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$dir/bench/out/results.json" "$key"
}

mkdir -p "$here/bench/out"
b=(); a=()
# Alternate which goes first, so that neither always runs on a machine the other just used.
for i in $(seq 1 "$runs"); do
  if [ $((i % 2)) -eq 1 ]; then
    b+=("$(run_one "$before")"); say "run $i before: ${b[-1]}"
    a+=("$(run_one "$after")"); say "run $i after:  ${a[-1]}"
  else
    a+=("$(run_one "$after")"); say "run $i after:  ${a[-1]}"
    b+=("$(run_one "$before")"); say "run $i before: ${b[-1]}"
  fi
done
python3 - "$key" "$here/bench/out/compare.json" "${b[*]}" "${a[*]}" <<'PY'
import json, statistics, sys
key, out, before, after = sys.argv[1], sys.argv[2], [float(x) for x in sys.argv[3].split()], [float(x) for x in sys.argv[4].split()]
result = {"key": key, "before": before, "after": after,
          "before_median": statistics.median(before), "after_median": statistics.median(after)}
result["after_over_before"] = result["after_median"] / result["before_median"]
json.dump(result, open(out, "w"), indent=2)
fmt = (lambda x: f"{x:.0f}") if max(before + after) >= 100 else (lambda x: f"{x:.3f}")
print(f"{key}: before {', '.join(fmt(x) for x in before)}")
print(f"{key}: after  {', '.join(fmt(x) for x in after)}")
print(f"medians: before {fmt(result['before_median'])}, after {fmt(result['after_median'])}; after/before {result['after_over_before']:.3f}")
PY
