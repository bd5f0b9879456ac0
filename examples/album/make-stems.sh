#!/bin/sh
# The album example's stems: 3-second excerpts of the demo song's stems (examples/demo/stems),
# faded out over the last 50 ms, as Ogg Vorbis at quality 2 (44.1 kHz) to keep the repository
# small. Run from this folder; needs SoX with Vorbis support.
set -e
D=../demo/stems
mkdir -p stems
sox $D/drums.flac -C 2 stems/drums.ogg trim 2 3 fade 0 3 0.05
sox $D/bass.wav -C 2 stems/bass.ogg trim 2 3 fade 0 3 0.05
sox $D/keys.flac -C 2 -r 44100 stems/keys.ogg trim 7 3 fade 0 3 0.05
sox $D/vox.ogg -C 2 stems/vox.ogg trim 7 3 fade 0 3 0.05
sox $D/lead.wav -C 2 stems/lead.ogg trim 12 3 fade 0 3 0.05
sox $D/bass.wav -C 2 stems/bass-high.ogg trim 12 3 fade 0 3 0.05
