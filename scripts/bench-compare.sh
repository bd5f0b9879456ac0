#!/usr/bin/env bash
# Realistic benchmark against other tools doing the same job:
#   scripts/bench-compare.sh STEMS SECONDS [RUNS=3]
# e.g. scripts/bench-compare.sh 32 180 3 (a 3-minute song) or 8 3600 1 (a long one).
#
# Generates the realistic session once (`gen_session DIR STEMS SECONDS --kind real`, cached in
# target/bench-sessions/real-STEMSxSECONDS; see benches/synth/mod.rs): mixed-rate WAV/AIFF
# stems, per track a 4-band EQ, a compressor, pan and a post-fader send to a convolution reverb
# (2 s stereo IR), a master EQ, 3-band multiband and compressor, -14 LUFS / -1 dBTP, one 16-bit
# 44.1 kHz TPDF output. Then renders it RUNS times with each tool that is installed (a missing
# one is skipped with a message), each under GNU time, and prints one table: median wall time,
# CPU time (user+sys, all processes), peak RSS (of the largest single process), the output's
# loudness, true peak and length (measured by `mixdown analyze`), the number of target-stage
# passes it took, and each tool's wall time against mixdown's.
#   mixdown     release binary, --jobs = every core
#   sox         scripts/bench-peers/sox.sh          (apt-get install sox)
#   ffmpeg      scripts/bench-peers/ffmpeg.sh       (apt-get install ffmpeg)
#   pedalboard  scripts/bench-peers/pedalboard_job.py (pip install pedalboard pyloudnorm numpy)
# The peer jobs are generated from the session file's parameters (scripts/bench-peers/
# session.py, Python 3.11+ tomllib or `pip install tomli`); the comments at the top of each say
# how its job differs from mixdown's. Outputs and logs go to the session folder's compare/.
# Needs GNU time (apt-get install time). Uses $CARGO_TARGET_DIR if set.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 STEMS SECONDS [RUNS=3]" >&2; exit 2; }
stems=$1; secs=$2; runs=${3:-3}
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
cargo build --release --quiet --bin mixdown --example gen_session
bin=${CARGO_TARGET_DIR:-target}/release
dir=target/bench-sessions/real-${stems}x${secs}
if [ ! -f "$dir/session.toml" ]; then
  echo "generating $dir ..." >&2
  "$bin/examples/gen_session" "$dir" "$stems" "$secs" --kind real >/dev/null
fi
session=$dir/session.toml
"$bin/mixdown" check -q "$session"
cmp=$dir/compare
mkdir -p "$cmp"
du -sh "$dir" --exclude=compare | awk '{print "stems on disk: " $1}'
# Every tool starts from the same warm page cache: the stems and the IR are read once before
# any tool runs, so none of them pays for reading them from disk.
find "$dir" -path "$cmp" -prune -o -type f ! -name '*.toml' -exec cat {} + > /dev/null
jobs=$(nproc)

have_python() { command -v python3 >/dev/null &&
  python3 -c 'import sys
try:
    import tomllib
except ModuleNotFoundError:
    import tomli' 2>/dev/null; }

rows=()       # "tool wall cpu rss_mb lufs dbtp length_s passes"
run_tool() {  # run_tool NAME OUT.wav COMMAND...
  local name=$1 out=$2; shift 2
  local times=() t
  for i in $(seq "$runs"); do
    rm -f "$out"
    if ! /usr/bin/time -f "%e %U %S %M" -o "$cmp/$name.time" "$@" > "$cmp/$name.log" 2>&1; then
      echo "$name: failed (see $cmp/$name.log):" >&2; tail -5 "$cmp/$name.log" >&2; return 0
    fi
    t=$(tail -1 "$cmp/$name.time")
    times+=("$t")
    echo "$name run $i: wall user sys maxrss_kB: $t" >&2
  done
  local med
  med=$(printf '%s\n' "${times[@]}" | sort -n | awk -v n="$runs" '
    { w[NR] = $1; c[NR] = $2 + $3; m[NR] = $4 }
    END { i = int((n + 1) / 2); printf "%.2f %.2f %.0f", w[i], c[i], m[i] / 1024 }')
  local meas
  meas=$("$bin/mixdown" analyze "$out" --json | awk -F'[:,]' '
    /"integrated_lufs"/ { l = $2 } /"true_peak_dbtp"/ { p = $2 } /"duration_s"/ { d = $2 }
    END { gsub(/ /, "", l); gsub(/ /, "", p); gsub(/ /, "", d); print l, p, d }')
  local passes  # target-stage passes of the last run
  if [ "$name" = mixdown ]; then
    passes=$(awk -F'[:,]' '/"passes"/ { gsub(/ /, "", $2); print $2 }' "$cmp/mixdown.report.json")
  else
    passes=$(grep -c ": pass [0-9]*:" "$cmp/$name.log" || true)
  fi
  rows+=("$name $med $meas ${passes:--}")
}

echo "== $stems stems x $secs s, $runs run(s) per tool, $jobs cores" >&2
run_tool mixdown "$cmp/mixdown.wav" "$bin/mixdown" render "$session" -q --jobs "$jobs" \
  -o "$cmp/mixdown.wav" --report "$cmp/mixdown.report.json"

if ! have_python; then
  echo "sox, ffmpeg, pedalboard: skipped (the peer jobs need python3 with tomllib or tomli)" >&2
else
  if command -v sox >/dev/null; then
    run_tool sox "$cmp/sox.wav" scripts/bench-peers/sox.sh "$session" "$cmp/sox.wav" "$cmp/work"
  else echo "sox: not installed, skipped (apt-get install sox)" >&2; fi
  if command -v ffmpeg >/dev/null; then
    run_tool ffmpeg "$cmp/ffmpeg.wav" scripts/bench-peers/ffmpeg.sh "$session" "$cmp/ffmpeg.wav" "$cmp/work"
  else echo "ffmpeg: not installed, skipped (apt-get install ffmpeg)" >&2; fi
  if python3 -c 'import pedalboard, pyloudnorm, numpy, scipy' 2>/dev/null; then
    run_tool pedalboard "$cmp/pedalboard.wav" python3 scripts/bench-peers/pedalboard_job.py \
      "$session" "$cmp/pedalboard.wav"
  else echo "pedalboard: not installed, skipped (pip install pedalboard pyloudnorm numpy)" >&2; fi
fi
rm -rf "$cmp/work"

echo
tail_s=$(awk -F' *= *' '$1 == "tail" { print $2; exit }' "$session")
echo "realistic job, $stems stems x $secs s (+ $tail_s s tail), median of $runs run(s), mixdown --jobs $jobs:"
printf '%s\n' "${rows[@]}" | awk '
  BEGIN { printf "%-11s %8s %8s %8s %8s %7s %8s %7s %10s\n", "tool", "wall s", "CPU s", "RSS MB",
                 "LUFS", "dBTP", "length s", "passes", "wall/mixd" }
  { name[NR] = $1; w[NR] = $2; c[NR] = $3; m[NR] = $4; l[NR] = $5; p[NR] = $6; d[NR] = $7
    n[NR] = $8
    if ($1 == "mixdown") { mw = $2; mc = $3 } }
  END {
    for (i = 1; i <= NR; i++) {
      printf "%-11s %8.2f %8.2f %8.0f %8s %7s %8s %7s %10s\n", name[i], w[i], c[i], m[i], l[i],
             p[i], d[i], n[i], (mw > 0 ? sprintf("%.2fx", w[i] / mw) : "-")
      if (name[i] != "mixdown" && (best == "" || w[i] < w[best])) best = i
      if (name[i] != "mixdown" && (thrift == "" || c[i] < c[thrift])) thrift = i
    }
    if (mw > 0 && best != "")
      printf "mixdown vs the fastest other tool: %.2fx less wall time (%s), %.2fx less CPU time (%s)\n",
             w[best] / mw, name[best], (mc > 0 ? c[thrift] / mc : 0), name[thrift]
  }'
echo "CPU s counts every process; RSS MB is the largest single process (SoX runs one per track);"
echo "LUFS, dBTP and length are measured on each output by mixdown analyze; passes are the"
echo "target-stage passes (gain + limiter + output, re-measured until within 0.1 LU and under the ceiling)."
