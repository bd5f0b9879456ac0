#!/usr/bin/env bash
# Regenerates examples/demo/stems/ from examples/demo/generate.rs, so the committed stems are
# reproducible. Needs cargo, flac and oggenc (Debian: apt-get install flac vorbis-tools).
#
#   examples/demo/make-stems.sh            # from anywhere inside the repository
#   DEMOGEN=/path/to/binary make-stems.sh  # use an already built generator instead of cargo
set -euo pipefail
cd "$(dirname "$0")/../.."   # the crate root
out=examples/demo/stems
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ -n "${DEMOGEN:-}" ]]; then
    "$DEMOGEN" "$tmp"
else
    cargo run --release --example generate-demo -- "$tmp"
fi

mkdir -p "$out"
# drums: 44.1 kHz stereo 16-bit FLAC; keys: 48 kHz stereo 16-bit FLAC (mixdown must resample it).
flac --silent --force --best --no-padding -o "$out/drums.flac" "$tmp/drums.wav"
flac --silent --force --best --no-padding -o "$out/keys.flac" "$tmp/keys.wav"
# vox: mono Ogg Vorbis, quality 5 (~160 kbit/s); a fixed stream serial keeps the bytes stable.
oggenc --quiet --quality 5 --serial 104 -o "$out/vox.ogg" "$tmp/vox.wav"
# bass (24-bit) and lead (16-bit) stay uncompressed WAV.
cp "$tmp/bass.wav" "$tmp/lead.wav" "$out/"

ls -l "$out"
du -ch "$out"/* | tail -1
