#!/usr/bin/env bash
# The realistic benchmark job done with SoX, for scripts/bench-compare.sh (which times it):
#   scripts/bench-peers/sox.sh SESSION.toml OUT.wav [WORKDIR]
# SESSION.toml is a realistic session from `gen_session DIR STEMS SECONDS --kind real`; its
# parameters are read by session.py (tomllib). WORKDIR (default: a temporary folder) holds the
# intermediate float files.
#
# What it does, and where it differs from mixdown:
#  1. One `sox -m` whose inputs are one `|sox STEM ...` process per track (so tracks run in
#     parallel): decode, resample to the session rate (`rate -h`, SoX's high quality, the same
#     libsoxr class as mixdown's sinc resampler), pad to the song length, the EQ (Cookbook
#     biquads: highpass/equalizer/treble/bass), compand as the compressor (channel-linked, soft
#     knee; compand smooths the level, not the gain, and its knee is a rounded corner rather than
#     Giannoulis' quadratic), then pan, fader and the post-fader send levels as remix volumes. A
#     mono stem is processed in mono until the pan (mixdown processes it as dual mono). Output:
#     one multichannel float file: the dry stereo sum plus one stereo input per bus.
#  2. The buses and the master in one more `sox -m`: the reverb bus is SoX's `reverb -w`
#     (Freeverb) because SoX's only convolution, `fir`, is direct-form and far slower than real
#     time with a 2 s IR (96000 taps); then the master EQ (bass/treble shelves), `mcompand`
#     (Linkwitz-Riley crossovers, a compand per band) and compand. Written as float.
#  3. Target stage: SoX has no BS.1770 meter, so loudness is measured by SoX itself as the
#     K-weighted (BS.1770 pre-filter as treble + highpass) mean square from `stats`, ungated
#     (mixdown and ffmpeg gate at -70 LUFS and -10 LU: with a quiet tail the SoX figure reads a
#     little low, so its output ends up a little louder). One static gain and a look-ahead
#     limiter (compand with 1.5 ms delay, instant attack, 80 ms release; sample peak, not true
#     peak) at the ceiling, then `rate -h` to the output rate and TPDF `dither` to 16 bits.
#     The output is re-measured (loudness, and true peak from a 4x `rate` upsampling) and the
#     gain and limit are corrected (reaim.awk) until within 0.1 LU and under the ceiling, at
#     most 6 passes, as mixdown re-aims its target stage.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 SESSION.toml OUT.wav [WORKDIR]" >&2; exit 2; }
session=$1; out=$2
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ge 3 ]; then work=$3; mkdir -p "$work"; else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
eval "$(python3 "$here/session.py" "$session" sox)"
mkdir -p "$(dirname "$out")"
sum=$work/sox-sum.wav; pre=$work/sox-premaster.wav

# 1. Tracks -> dry sum + bus inputs (2 + 2*buses channels).
if [ ${#TRACK_INPUTS[@]} -gt 3 ]; then mix=(-m); else mix=(); fi
sox -V1 "${mix[@]}" "${TRACK_INPUTS[@]}" -e floating-point -b 32 "$sum" trim 0 "${LENGTH}s"

# 2. Buses and master chain.
q=$(printf %q "$sum")
inputs=(-v 1 "|sox -V1 $q -p remix 1 2")
for e in "${BUS_EFFECTS[@]}"; do inputs+=(-v 1 "|sox -V1 $q -p $e"); done
if [ ${#inputs[@]} -gt 3 ]; then mix=(-m); else mix=(); fi
sox -V1 "${mix[@]}" "${inputs[@]}" -e floating-point -b 32 "$pre" "${MASTER_EFFECTS[@]}" \
  trim 0 "${LENGTH}s"

# K-weighted, ungated loudness of a stereo file in LUFS (see 3. above).
# (SoX works in 32-bit fixed point, so both meters first turn the level down by 10 dB, to keep
# the K-filter's boost and the overshoots between samples from clipping, and add it back.)
lufs() {
  sox -V1 "$1" -n gain -10 treble 3.99984 1681.974 0.7071752q highpass 38.13547 0.5003270q \
    stats 2>&1 | awk '/^RMS lev dB/ { l = $(NF-1); r = $NF }
      END { printf "%.3f\n", 10 - 0.691 + 10 * log(10^(l/10) + 10^(r/10)) / log(10) }'
}
# True peak (4x oversampled) in dBTP.
tpeak() {
  local r; r=$(sox --i -r "$1")
  sox -V1 "$1" -n gain -10 rate -h $((4 * r)) stats 2>&1 |
    awk '/^Pk lev dB/ { printf "%.2f\n", $4 + 10 }'
}

# 3. Target stage.
i0=$(lufs "$pre")
gain=$(awk -v t="$TARGET_LUFS" -v i="$i0" 'BEGIN { printf "%.3f", t - i }')
limit=$CEILING; pg=""; pi=""; pl=""
for pass in 1 2 3 4 5 6; do
  # compand as gain + limiter in one transfer function: out = in + gain up to the limit, flat
  # above it (so nothing clips inside SoX's fixed-point pipeline before the limiter).
  points=$(awk -v g="$gain" -v c="$limit" 'BEGIN {
    if (c - g < 0) printf "-90,%.3f,%.3f,%.3f,0,%.3f", -90 + g, c - g, c, c;
    else printf "-90,%.3f,0,%.3f", -90 + g, g }')
  sox -V1 -R "$pre" -b 16 "$out" compand 0,0.08 "$points" 0 -90 0.0015 \
    rate -h "$OUT_RATE" pad 0 1024s trim 0 "$OUT_FRAMES"s dither
  i=$(lufs "$out"); tp=$(tpeak "$out")
  echo "sox: pass $pass: gain $gain dB, limit $limit dBFS: $i LUFS (ungated), $tp dBTP" >&2
  pl_next=$limit
  read -r done ng limit < <("$here/reaim.awk" -v t="$TARGET_LUFS" -v c="$CEILING" -v i="$i" \
    -v tp="$tp" -v g="$gain" -v l="$limit" -v pg="$pg" -v pi="$pi" -v pl="$pl")
  [ "$done" = 1 ] && break
  pg=$gain; pi=$i; pl=$pl_next; gain=$ng
done
