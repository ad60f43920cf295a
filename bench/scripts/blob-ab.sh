#!/usr/bin/env bash
# Interleaved A/B of the 1 GiB blob round trip through the Database API (bench worker `engine.blob`):
# an older build (a worktree with node_modules and `tsc -b && tsc -b bench` run) against this one.
# Usage: bench/scripts/blob-ab.sh <old-worktree> [rounds]
set -euo pipefail
old=$1; rounds=${2:-3}; new=$(cd "$(dirname "$0")/../.." && pwd)
for round in $(seq "$rounds"); do
  for dir in "$old" "$new"; do
    for engine in filestorage2 sqlite; do
      scratch=$(mktemp -d)
      req="{\"bench\":\"engine.blob\",\"params\":{\"engine\":\"$engine\",\"size\":1073741824,\"api\":\"db\"},\"scratch\":\"$scratch\",\"datasets\":{}}"
      out=$(cd "$dir" && node --expose-gc bench/dist/src/worker.js "$req" | tail -1)
      echo "$round $dir $engine $(node -e 'const r=JSON.parse(process.argv[1]);console.log(r.ok?`read ${r.metrics.readMiBps.toFixed(1)} MiB/s write ${r.metrics.writeMiBps.toFixed(1)} MiB/s`:r.reason)' "$out")"
      rm -rf "$scratch"
    done
  done
done
