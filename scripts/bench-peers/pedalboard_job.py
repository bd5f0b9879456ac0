#!/usr/bin/env python3
"""The realistic benchmark job done with Python pedalboard, for scripts/bench-compare.sh (which
times it):

    python3 scripts/bench-peers/pedalboard_job.py SESSION.toml OUT.wav

SESSION.toml is a realistic session from `gen_session DIR STEMS SECONDS --kind real`; its
parameters are read by session.py (tomllib). Needs pedalboard, numpy and pyloudnorm (which
brings scipy).

What it does, and where it differs from mixdown:
- Streams the song in 10 s blocks (plugins keep their state between blocks, reset=False), so
  memory stays bounded like mixdown's, except the float pre-master, which is kept whole for the
  loudness measurement, as mixdown does.
- Per track: decode and resample to the session rate (AudioFile.resampled_to, pedalboard's
  WindowedSinc32), the EQ and the compressor as pedalboard plugins, then pan, fader and the
  post-fader send in numpy. Differences: pedalboard's HighpassFilter is first order, so the
  12 dB/oct Butterworth high-pass is two of them at 0.644·f (-3 dB at f, the same asymptote, a
  softer knee); PeakFilter and the shelves are JUCE's Cookbook biquads (same curves);
  Compressor is JUCE's: hard knee, no makeup (a Gain follows), and each channel is compressed
  on its own (mixdown links the channels). A mono stem is processed in mono until the pan
  (mixdown processes it as dual mono). Python runs the tracks one after another on one core.
- The reverb bus: Convolution with the same IR file. JUCE normalises the IR when it loads it;
  the job measures that factor once with an impulse and undoes it with a Gain, so the IR's level
  is kept as mixdown keeps it.
- Master: the shelves, then the multiband: pedalboard has no crossover, so the bands are split
  complementarily (low = two first-order low-passes, -3 dB at the first crossover; mid = the
  same at the second crossover applied to the rest; high = what remains), which sums flat like
  mixdown's Linkwitz-Riley bands but with gentler band slopes and without their all-pass phase
  shift (so the output is about 2 ms "earlier" in the bass than mixdown's, ffmpeg's and SoX's);
  a Compressor per band; then the master Compressor.
- Target stage: pyloudnorm (BS.1770-4, gated) measures the pre-master; one static gain and a
  limiter at the ceiling, StreamResampler to the output rate, TPDF dither and 16-bit
  quantisation in numpy. The limiter is the limiting stage of pedalboard's `Limiter` on its
  own: a JUCE Compressor with ratio 1000, 0.001 ms attack and 80 ms release at the limit (no
  look-ahead, each channel on its own, sample peaks; mixdown's is a linked look-ahead
  true-peak limiter). `Limiter` itself cannot hold a ceiling: JUCE puts a fixed 4:1
  compressor from -10 dBFS before that stage and (3.75 dB - threshold) of makeup and a clipper
  at 0 dBFS after it, so it is a loudness maximiser whose peaks always go to 0 dBFS (tried:
  +1.8 dBTP and the loudness loop diverges). The quantised output is re-measured (pyloudnorm, true peak by 4x polyphase
  oversampling in scipy) and gain and limit corrected until within 0.1 LU and under the
  ceiling, at most 6 passes, as mixdown re-aims its target stage. Written with the `wave`
  module.
"""

import os
import sys
import wave

import numpy as np
import pyloudnorm
import scipy.signal
from pedalboard import (
    Compressor,
    Convolution,
    Gain,
    HighpassFilter,
    HighShelfFilter,
    LowpassFilter,
    LowShelfFilter,
    Pedalboard,
    PeakFilter,
)
from pedalboard.io import AudioFile, StreamResampler

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import session as sess  # noqa: E402

BLOCK_S = 10
# Two first-order high-passes at K·f are -3 dB at f: (w²/(w²+(K·w)²))² = 1/2 -> K² = √2 - 1.
FIRST_ORDER_PAIR = (2 ** 0.5 - 1) ** 0.5


def compressor(c):
    plugins = [Compressor(threshold_db=c["threshold_db"], ratio=c["ratio"],
                          attack_ms=c["attack_ms"], release_ms=c["release_ms"])]
    if c["makeup_db"]:
        plugins.append(Gain(gain_db=c["makeup_db"]))
    return plugins


def eq_plugins(bands):
    plugins = []
    for b in bands:
        if b["kind"] == "highpass":
            if b["sections"] != [(2, b["sections"][0][1])] or abs(b["sections"][0][1] - 2 ** -0.5) > 1e-3:
                sess.fail("pedalboard job: only 12 dB/oct Butterworth high-passes are supported")
            plugins += [HighpassFilter(b["freq"] * FIRST_ORDER_PAIR),
                        HighpassFilter(b["freq"] * FIRST_ORDER_PAIR)]
        elif b["kind"] == "peak":
            plugins.append(PeakFilter(b["freq"], b["gain"], b["q"]))
        elif b["kind"] == "highshelf":
            plugins.append(HighShelfFilter(b["freq"], b["gain"], b["q"]))
        elif b["kind"] == "lowshelf":
            plugins.append(LowShelfFilter(b["freq"], b["gain"], b["q"]))
        else:
            sess.fail(f"pedalboard job: EQ band {b['kind']} is not supported")
    return plugins


class Multiband:
    """Complementary split at each crossover, a compressor per band, summed."""

    def __init__(self, p):
        self.splits = [Pedalboard([LowpassFilter(f * FIRST_ORDER_PAIR ** -1),
                                   LowpassFilter(f * FIRST_ORDER_PAIR ** -1)])
                       for f in p["crossovers"]]
        self.comps = [Pedalboard(compressor(c)) for c in p["bands"]]

    def __call__(self, x, rate):
        rest = x
        out = np.zeros_like(x)
        for i, comp in enumerate(self.comps):
            if i < len(self.splits):
                band = self.splits[i](rest, rate, reset=False)
                rest = rest - band
            else:
                band = rest
            out += comp(band, rate, reset=False)
        return out


def chain(fx):
    """A list of callables (block, rate) -> block for a chain."""
    stages, plugins = [], []
    for kind, p in fx:
        if kind == "eq":
            plugins += eq_plugins(p)
        elif kind == "compressor":
            plugins += compressor(p)
        elif kind == "multiband":
            if plugins:
                board = Pedalboard(plugins)
                stages.append(lambda x, r, b=board: b(x, r, reset=False))
                plugins = []
            stages.append(Multiband(p))
    if plugins:
        board = Pedalboard(plugins)
        stages.append(lambda x, r, b=board: b(x, r, reset=False))
    return stages


def run(stages, x, rate):
    for s in stages:
        x = s(x, rate)
    return x


def convolution(path, rate):
    """A Convolution with the IR at its recorded level (JUCE normalises on load)."""
    with AudioFile(path) as f:
        ir = f.resampled_to(rate).read(f.frames) if f.samplerate != rate else f.read(f.frames)
    conv = Convolution(ir.astype(np.float32), 1.0, rate)
    probe = np.zeros((ir.shape[0], ir.shape[1] + 1), np.float32)
    probe[:, 0] = 1.0
    resp = Convolution(ir.astype(np.float32), 1.0, rate)(probe, rate)
    k = float(np.dot(resp[0, : ir.shape[1]], ir[0]) / np.dot(ir[0], ir[0]))
    gain = Gain(gain_db=-20.0 * np.log10(k))
    return Pedalboard([conv, gain])


def true_peak_db(x, rate):
    """True peak of [channel][frame] samples in dBTP, 4x polyphase oversampling block by block
    (with overlap, so block edges do not ring)."""
    peak, block, pad = 1e-12, BLOCK_S * rate, 64
    for start in range(0, x.shape[1], block):
        lo, hi = max(0, start - pad), min(x.shape[1], start + block + pad)
        up = scipy.signal.resample_poly(x[:, lo:hi], 4, 1, axis=1)
        a, b = 4 * (start - lo), 4 * (min(x.shape[1], start + block) - lo)
        peak = max(peak, float(np.abs(up[:, a:b]).max()))
    return 20.0 * np.log10(peak)


def target_pass(s, pre, gain, limit):
    """Gain, limiter, resampling to the output rate, TPDF dither, 16 bits; block by block."""
    rate, out_frames, block = s["rate"], s["out_frames"], BLOCK_S * s["rate"]
    limiter = Compressor(threshold_db=limit, ratio=1000.0, attack_ms=0.001, release_ms=80.0)
    rs = StreamResampler(rate, s["out_rate"], 2)
    rng = np.random.default_rng(0)
    g = np.float32(10 ** (gain / 20))
    q = np.zeros((2, out_frames), np.int16)
    pos = 0
    starts = list(range(0, pre.shape[1], block))
    for k in range(len(starts) + 1):
        if k < len(starts):
            y = rs.process(limiter(pre[:, starts[k] : starts[k] + block] * g, rate, reset=False))
        else:
            y = rs.process(None)
        y = y[:, : out_frames - pos]
        tpdf = rng.random(y.shape, np.float32) - rng.random(y.shape, np.float32)
        q[:, pos : pos + y.shape[1]] = np.clip(np.round(y * 32768.0 + tpdf), -32768, 32767)
        pos += y.shape[1]
    return q


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: pedalboard_job.py SESSION.toml OUT.wav")
    s = sess.load(sys.argv[1])
    out_path = sys.argv[2]
    rate, length = s["rate"], s["length"]
    block = BLOCK_S * rate

    tracks = []
    for t in s["tracks"]:
        f = AudioFile(t["file"])
        reader = f.resampled_to(rate) if f.samplerate != rate else f
        tracks.append(dict(t, reader=reader, stages=chain(t["fx"])))
    buses = [dict(b, board=convolution(b["fx"][0][1]["ir"], rate)) for b in s["buses"]]
    master = chain(s["master"])

    pre = np.zeros((2, length), np.float32)
    for start in range(0, length, block):
        n = min(block, length - start)
        mix = pre[:, start : start + n]
        sends = [np.zeros((2, n), np.float32) for _ in buses]
        for t in tracks:
            x = t["reader"].read(n)
            if x.shape[1] < n:  # the tail: keep the processors running on silence
                x = np.pad(x, ((0, 0), (0, n - x.shape[1])))
            y = run(t["stages"], x, rate)
            l_src, r_src = (y[0], y[0]) if t["channels"] == 1 else (y[0], y[1])
            mix[0] += t["left"] * l_src
            mix[1] += t["right"] * r_src
            for b, lvl in t["sends"]:
                sends[b][0] += t["left"] * lvl * l_src
                sends[b][1] += t["right"] * lvl * r_src
        for b, bus in enumerate(buses):
            mix += bus["gain"] * bus["board"](sends[b], rate, reset=False)
        mix[:] = run(master, mix, rate)

    meter48 = pyloudnorm.Meter(rate)
    i0 = meter48.integrated_loudness(pre.T)
    target, ceiling = s["lufs"], s["ceiling"]
    meter_out = pyloudnorm.Meter(s["out_rate"])
    gain, limit, pg, pi, pl = target - i0, ceiling, None, None, None
    for npass in range(1, 7):
        q = target_pass(s, pre, gain, limit)
        deliv = q.astype(np.float32) / np.float32(32768.0)
        i = meter_out.integrated_loudness(deliv.T)
        tp = true_peak_db(deliv, s["out_rate"])
        del deliv
        print(f"pedalboard: pass {npass}: gain {gain:.3f} dB, limit {limit:.3f} dBFS: "
              f"{i:.2f} LUFS, {tp:.2f} dBTP", file=sys.stderr)
        if abs(i - target) <= 0.1 + 1e-9 and tp <= ceiling:
            break
        # As scripts/bench-peers/reaim.awk: secant step when the limit did not move.
        slope = 1.0
        if pg is not None and gain != pg and pl == limit:
            slope = min(1.5, max(0.3, (i - pi) / (gain - pg)))
        pg, pi, pl = gain, i, limit
        if tp > ceiling:
            limit -= tp - ceiling + 0.05
        gain += (target - i) / slope

    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with wave.open(out_path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(s["out_rate"])
        w.writeframes(q.T.astype("<i2").tobytes())


if __name__ == "__main__":
    main()
