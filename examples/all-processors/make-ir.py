#!/usr/bin/env python3
"""Write ir/small-room.wav: a 0.6 s mono impulse response at 22.05 kHz (on purpose not the
session rate, so mixdown resamples it), made of a direct sound, a few early reflections and an
exponentially decaying noise tail (RT60 0.45 s) that darkens as it decays. Standard library only;
deterministic. Run from this folder: python3 make-ir.py"""
import math, random, struct, wave

RATE = 22050
N = int(0.6 * RATE)
RT60 = 0.45
random.seed(7)
x = [0.0] * N
x[0] = 0.8
for t_ms, g in [(7.1, 0.45), (11.3, -0.35), (17.9, 0.3), (23.4, -0.22), (31.0, 0.18)]:
    x[int(t_ms * RATE / 1000)] += g
lp = 0.0
for i in range(int(0.005 * RATE), N):
    t = i / RATE
    env = 10 ** (-3 * t / RT60)
    # one-pole low-pass whose cutoff falls as the tail decays
    a = 0.2 + 0.7 * min(1.0, t / 0.4)
    lp = a * lp + (1 - a) * random.uniform(-1, 1)
    x[i] += 0.25 * env * lp
peak = max(abs(v) for v in x)
with wave.open("ir/small-room.wav", "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(RATE)
    w.writeframes(b"".join(struct.pack("<h", int(round(v / peak * 0.9 * 32767))) for v in x))
