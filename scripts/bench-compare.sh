#!/usr/bin/env bash
# Compares the warm proxy of two checkouts of Berth on this machine, in interleaved runs:
#   scripts/bench-compare.sh BEFORE_DIR AFTER_DIR [RUNS] [KEYS]
# Each checkout needs its release bench built (`make bench-build` in it) and the example
# container (`make example`). Runs `berth-bench --quick --only proxy` RUNS times in each
# (default 5), alternating before and after, and prints every run's value of each of KEYS
# (comma-separated; default proxy.berth_rps,proxy.ratio_vs_nginx), both medians and
# after/before; writes bench/out/compare.json here.
set -euo pipefail
before=$(cd "$1" && pwd)
after=$(cd "$2" && pwd)
runs=${3:-5}
keys=${4:-proxy.berth_rps,proxy.ratio_vs_nginx}
here=$(cd "$(dirname "$0")/.." && pwd)

say() { printf 'bench-compare: %s\n' "$*" >&2; }
for dir in "$before" "$after"; do
  [ -x "$dir/.build/release/berth-bench" ] || { say "error: $dir/.build/release/berth-bench is missing: run 'make bench-build' there"; exit 1; }
  [ -x "$dir/examples/hello/server" ] || make -C "$dir" example >/dev/null
done

run_one() { # DIR → the keys' values, comma-separated
  local dir=$1
  (cd "$dir" && .build/release/berth-bench --quick --only proxy >/dev/null 2>"$here/bench/out/compare-last.log")
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(",".join(str(r[k]) for k in sys.argv[2].split(",")))' "$dir/bench/out/results.json" "$keys"
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
python3 - "$keys" "$here/bench/out/compare.json" "${b[*]}" "${a[*]}" <<'PY'
import json, statistics, sys
keys, out = sys.argv[1].split(","), sys.argv[2]
runs = {"before": [r.split(",") for r in sys.argv[3].split()], "after": [r.split(",") for r in sys.argv[4].split()]}
result = {}
for index, key in enumerate(keys):
    before = [float(r[index]) for r in runs["before"]]
    after = [float(r[index]) for r in runs["after"]]
    entry = {"before": before, "after": after, "before_median": statistics.median(before), "after_median": statistics.median(after)}
    entry["after_over_before"] = entry["after_median"] / entry["before_median"]
    result[key] = entry
    fmt = (lambda x: f"{x:.0f}") if max(before + after) >= 100 else (lambda x: f"{x:.3f}")
    print(f"{key}: before {', '.join(fmt(x) for x in before)}")
    print(f"{key}: after  {', '.join(fmt(x) for x in after)}")
    print(f"{key}: medians before {fmt(entry['before_median'])}, after {fmt(entry['after_median'])}; after/before {entry['after_over_before']:.3f}")
json.dump(result, open(out, "w"), indent=2)
PY
