#!/usr/bin/env bash
# Whole-render benchmark: generate a synthetic session of N stems x D seconds (mixed rates,
# formats, mono/stereo; benches/synth) once, then render it R times with the release build and
# report the median wall time, CPU time (user+sys) and peak RSS, measured by GNU time.
#   scripts/bench-render.sh [STEMS=8] [SECONDS=180] [RUNS=3] [JOBS=all cores]
set -euo pipefail
cd "$(dirname "$0")/.."
stems=${1:-8}; secs=${2:-180}; runs=${3:-3}; jobs=${4:-$(nproc)}
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
cargo build --release --quiet --bin mixdown --example gen_session
dir=target/bench-sessions/${stems}x${secs}
[ -f "$dir/session.toml" ] || ./target/release/examples/gen_session "$dir" "$stems" "$secs" >/dev/null
du -sh "$dir" | awk '{print "stems on disk: " $1}'
results=()
for i in $(seq "$runs"); do
  out=$( { /usr/bin/time -f "%e %U %S %M" ./target/release/mixdown render "$dir/session.toml" -q --jobs "$jobs"; } 2>&1 )
  results+=("$out")
  echo "run $i: wall ${out%% *} s  (wall user sys maxrss_kB: $out)"
done
printf '%s\n' "${results[@]}" | sort -n | awk -v n="$runs" -v s="$stems" -v d="$secs" -v j="$jobs" '
  { w[NR]=$1; c[NR]=$2+$3; m[NR]=$4 }
  END { i=int((n+1)/2);
        printf "%d stems x %d s, --jobs %d: median wall %.2f s, CPU %.2f s, peak RSS %.0f MB, %.0fx real time\n",
               s, d, j, w[i], c[i], m[i]/1024, d/w[i] }'
