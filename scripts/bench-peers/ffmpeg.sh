#!/usr/bin/env bash
# The realistic benchmark job done with ffmpeg, for scripts/bench-compare.sh (which times it):
#   scripts/bench-peers/ffmpeg.sh SESSION.toml OUT.wav [WORKDIR]
# SESSION.toml is a realistic session from `gen_session DIR STEMS SECONDS --kind real`; its
# parameters are read by session.py (tomllib), which writes the filter graph to WORKDIR/graph.txt
# (default WORKDIR: a temporary folder, which also holds the float pre-master).
#
# What it does, and where it differs from mixdown:
#  1. One ffmpeg run, one filter graph: every stem decoded and resampled to the session rate
#     (aresample with libsoxr, the same high-quality class as mixdown's resampler) and padded to
#     the song length; per track the EQ (highpass/equalizer/highshelf: Cookbook biquads), an
#     acompressor (peak detector, channels linked by maximum, soft knee; it smooths the level in
#     the linear domain where mixdown smooths the gain in dB, and its knee is given as a ratio,
#     10^(knee_db/20)), pan and fader as `pan` gains, asplit for the post-fader send; the sends
#     summed (amix, normalize=0) and convolved with the same IR by `afir` (partitioned FFT,
#     gtype=none so the IR's level is kept, as mixdown does); everything summed; the master EQ,
#     `acrossover` (Linkwitz-Riley 4th order) with an acompressor per band, an acompressor, and
#     an inline `ebur128` meter so the render also measures the loudness. A mono stem is
#     processed in mono until the pan (mixdown processes it as dual mono). ffmpeg's filter
#     graph runs mostly on one thread (afir and acrossover have slice threads).
#  2. Target stage: one static gain (volume) and `alimiter` at the ceiling (1.5 ms attack,
#     80 ms release, auto-level off, latency compensated; it limits sample peaks, where
#     mixdown's limiter detects true peaks), aresample to the output rate (soxr) and to s16 with
#     triangular (TPDF) dither. `loudnorm` is not used: its two-pass linear mode falls back to
#     dynamic loudness riding whenever the gain would exceed the true-peak target, which mixdown
#     never does. The output is re-measured with ebur128 (BS.1770 integrated loudness, 4x
#     true peak) and gain and limit corrected (reaim.awk) until within 0.1 LU and under the
#     ceiling, at most 6 passes, as mixdown re-aims its target stage.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 SESSION.toml OUT.wav [WORKDIR]" >&2; exit 2; }
session=$1; out=$2
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ge 3 ]; then work=$3; mkdir -p "$work"; else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
eval "$(python3 "$here/session.py" "$session" ffmpeg "$work")"
mkdir -p "$(dirname "$out")"
pre=$work/ffmpeg-premaster.wav
ff=(ffmpeg -hide_banner -nostdin -nostats -y)

# Integrated loudness and true peak from an ebur128 summary on stdin.
summary() { awk '/^ +I:/ { i = $2 } /^ +Peak:/ { p = $2 } END { print i, p }'; }

# 1. Mix and master chain (and the loudness of the pre-master, measured inline).
"${ff[@]}" "${INPUTS[@]}" -filter_complex_script "$work/graph.txt" -map "[out]" \
  -c:a pcm_f32le "$pre" 2> "$work/ffmpeg-pass1.log" || { cat "$work/ffmpeg-pass1.log" >&2; exit 1; }
read -r i0 _ < <(summary < "$work/ffmpeg-pass1.log")

# 2. Target stage.
gain=$(awk -v t="$TARGET_LUFS" -v i="$i0" 'BEGIN { printf "%.3f", t - i }')
limit=$CEILING; pg=""; pi=""; pl=""
for pass in 1 2 3 4 5 6; do
  lin=$(awk -v l="$limit" 'BEGIN { printf "%.6f", 10^(l/20) }')
  "${ff[@]}" -loglevel error -i "$pre" -af "volume=${gain}dB,alimiter=limit=$lin:attack=1.5:release=80:level=0:latency=1,aresample=$OUT_RATE:resampler=soxr:osf=s16:dither_method=triangular,apad=whole_len=$OUT_FRAMES,atrim=end_sample=$OUT_FRAMES" \
    -fflags +bitexact -map_metadata -1 -c:a pcm_s16le "$out"
  read -r i tp < <("${ff[@]}" -i "$out" -af ebur128=peak=true:framelog=verbose -f null - 2>&1 | summary)
  echo "ffmpeg: pass $pass: gain $gain dB, limit $limit dBFS: $i LUFS, $tp dBTP" >&2
  pl_next=$limit
  read -r done ng limit < <("$here/reaim.awk" -v t="$TARGET_LUFS" -v c="$CEILING" -v i="$i" \
    -v tp="$tp" -v g="$gain" -v l="$limit" -v pg="$pg" -v pi="$pi" -v pl="$pl")
  [ "$done" = 1 ] && break
  pg=$gain; pi=$i; pl=$pl_next; gain=$ng
done
