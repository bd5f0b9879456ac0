#!/usr/bin/env python3
"""Read a mixdown session (the realistic benchmark kind, benches/synth) and turn its parameters
into the same job for SoX, ffmpeg and pedalboard. Part of scripts/bench-compare.sh:

    scripts/bench-compare.sh STEMS SECONDS [RUNS=3]     # runs every installed tool

The job scripts in this folder use it:
    scripts/bench-peers/sox.sh SESSION.toml OUT.wav
    scripts/bench-peers/ffmpeg.sh SESSION.toml OUT.wav
    python3 scripts/bench-peers/pedalboard_job.py SESSION.toml OUT.wav

and they print their plans with
    python3 scripts/bench-peers/session.py SESSION.toml sox           # bash assignments
    python3 scripts/bench-peers/session.py SESSION.toml ffmpeg WORKDIR  # writes WORKDIR/graph.txt

Only what the benchmark sessions use is supported (tracks with an `eq` of high-pass/peak/shelf
bands and a `compressor`, pan, fader and post-fader sends; buses with a convolution `reverb`;
a master of `eq`, `multiband` and `compressor`; a loudness target; one output). Anything else is
refused with a message rather than silently rendered differently.
"""

import json
import math
import os
import shlex
import subprocess
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib


def fail(msg):
    sys.exit(f"bench-peers: {msg}")


def db_to_lin(db):
    return 10.0 ** (db / 20.0)


def butterworth_qs(slope_db_oct):
    """Sections of a Butterworth high-/low-pass of slope 6n dB/oct, as mixdown builds it:
    (order, Q) per section, a first-order section first when n is odd."""
    n = max(1, min(8, int(slope_db_oct) // 6))
    secs = []
    if n % 2:
        secs.append((1, None))
    for k in range(1, n // 2 + 1):
        secs.append((2, 1.0 / (2.0 * math.cos((2 * k - 1) * math.pi / (2 * n)))))
    return secs


def pan_gains(pan, mono):
    """mixdown's pan law: constant power for mono sources, balance for stereo ones."""
    if mono:
        theta = (pan + 1.0) * math.pi / 4.0
        return math.cos(theta), math.sin(theta)
    return math.cos(max(pan, 0.0) * math.pi / 2.0), math.cos(max(-pan, 0.0) * math.pi / 2.0)


def stem_info(path):
    """(sample rate, channels, frames) of an audio file."""
    try:
        import soundfile

        i = soundfile.info(path)
        return i.samplerate, i.channels, i.frames
    except ImportError:
        pass
    try:
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "a:0", "-count_packets",
             "-show_entries", "stream=sample_rate,channels,duration_ts", "-of", "json", path],
            check=True, capture_output=True, text=True).stdout
        s = json.loads(out)["streams"][0]
        return int(s["sample_rate"]), int(s["channels"]), int(s["duration_ts"])
    except (OSError, subprocess.CalledProcessError):
        pass
    out = subprocess.run(["sox", "--i", path], check=True, capture_output=True, text=True).stdout
    info = dict(l.split(":", 1) for l in out.splitlines() if ":" in l)
    rate = int(info["Sample Rate"].strip())
    ch = int(info["Channels"].strip())
    frames = int(info["Duration"].split("=")[1].split()[0])
    return rate, ch, frames


COMP_DEFAULTS = dict(threshold_db=-18.0, ratio=4.0, knee_db=6.0, attack_ms=10.0,
                     release_ms=100.0, makeup_db=0.0, detector="peak", mix=1.0)


def comp(d, where):
    c = dict(COMP_DEFAULTS)
    c.update({k: v for k, v in d.items() if k != "type"})
    if c["detector"] != "peak" or c["mix"] != 1.0 or "sidechain" in c:
        fail(f"{where}: only peak-detector, fully wet compressors without sidechain are supported")
    return c


def eq(d, where):
    if d.get("phase", "minimum") != "minimum":
        fail(f"{where}: only minimum-phase EQ is supported")
    bands = []
    for b in d["bands"]:
        kind = b["kind"]
        if kind in ("highpass", "lowpass"):
            if "q" in b:
                bands.append(dict(kind=kind, freq=b["freq_hz"], sections=[(2, b["q"])]))
            else:
                bands.append(dict(kind=kind, freq=b["freq_hz"],
                                  sections=butterworth_qs(b.get("slope_db_oct", 12))))
        elif kind in ("peak", "lowshelf", "highshelf"):
            if "slope" in b:
                fail(f"{where}: give shelves a q, not a slope")
            q = b.get("q", 1.0 if kind == "peak" else 1.0 / math.sqrt(2.0))
            bands.append(dict(kind=kind, freq=b["freq_hz"], gain=b["gain_db"], q=q))
        else:
            fail(f"{where}: EQ band kind {kind!r} is not supported")
    return bands


def chain(fx, where, allowed):
    out = []
    for i, d in enumerate(fx or []):
        t = d["type"]
        w = f"{where}.fx[{i}]"
        if t not in allowed:
            fail(f"{w}: processor {t!r} is not supported here")
        if t == "eq":
            out.append(("eq", eq(d, w)))
        elif t == "compressor":
            out.append(("compressor", comp(d, w)))
        elif t == "multiband":
            out.append(("multiband", dict(crossovers=list(d["crossovers_hz"]),
                                          bands=[comp(b, w) for b in d["bands"]])))
        elif t == "reverb":
            if "ir" not in d or d.get("predelay_ms", 0) != 0:
                fail(f"{w}: only convolution reverbs (ir = ...) without predelay are supported")
            out.append(("reverb", dict(ir=d["ir"], mix=d.get("mix", 1.0))))
    return out


def load(path):
    """The session as plain data, with absolute paths, per-track gains and the song length."""
    with open(path, "rb") as f:
        s = tomllib.load(f)
    base = os.path.dirname(os.path.abspath(path))
    sess = s.get("session", {})
    rate = int(sess.get("sample_rate", 0)) or fail("the session must set sample_rate")
    tail = sess.get("tail", "auto")
    if not isinstance(tail, (int, float)):
        fail('[session].tail must be a number of seconds (not "auto") so every tool renders '
             "the same length")
    buses = []
    for b in s.get("bus", []):
        if b.get("output", "master") != "master" or b.get("sends") or b.get("pan", 0) != 0 \
                or b.get("width", 1) != 1 or b.get("mute"):
            fail(f"bus {b['name']!r}: only buses feeding the master directly are supported")
        fx = chain(b.get("fx"), f"bus {b['name']!r}", {"reverb"})
        for _, r in fx:
            r["ir"] = os.path.join(base, r["ir"])
            if r["mix"] != 1.0:
                fail(f"bus {b['name']!r}: the reverb must be fully wet (mix = 1.0)")
        buses.append(dict(name=b["name"], gain=db_to_lin(b.get("gain_db", 0.0)), fx=fx))
    bus_index = {b["name"]: i for i, b in enumerate(buses)}
    tracks = []
    end = 0.0
    for t in s.get("track", []):
        name = t["name"]
        for k in ("offset_s", "polarity_invert", "mute", "solo"):
            if t.get(k):
                fail(f"track {name!r}: {k} is not supported by the peer jobs")
        if t.get("output", "master") != "master":
            fail(f"track {name!r}: tracks must feed the master")
        file = os.path.join(base, t["file"])
        srate, ch, frames = stem_info(file)
        if ch not in (1, 2):
            fail(f"track {name!r}: {ch} channels")
        if ch == 2 and t.get("width", 1.0) != 1.0:
            fail(f"track {name!r}: width is not supported by the peer jobs")
        end = max(end, frames / srate)
        fader = db_to_lin(t.get("gain_db", 0.0))
        gl, gr = pan_gains(t.get("pan", 0.0), ch == 1)
        sends = []
        for snd in t.get("sends", []):
            if snd.get("pre_fader"):
                fail(f"track {name!r}: pre-fader sends are not supported")
            sends.append((bus_index[snd["bus"]], db_to_lin(snd.get("level_db", 0.0))))
        tracks.append(dict(name=name, file=file, rate=srate, channels=ch, frames=frames,
                           left=gl * fader, right=gr * fader, sends=sends,
                           fx=chain(t.get("fx"), f"track {name!r}", {"eq", "compressor"})))
    master = s.get("master", {})
    if "reference" in master:
        fail("reference matching is not supported by the peer jobs")
    target = master.get("target")
    if not target or "lufs" not in target:
        fail("[master].target must give lufs (and ceiling_dbtp)")
    outs = s.get("output", [])
    if len(outs) != 1:
        fail("exactly one [[output]] is supported")
    o = outs[0]
    if o.get("bit_depth", 16) != 16 or o.get("dither", "tpdf") != "tpdf":
        fail("the output must be 16-bit with TPDF dither")
    length = round(end * rate) + round(tail * rate)
    out_rate = int(o.get("sample_rate", 44100))
    return dict(
        rate=rate, tail=float(tail), length=length, seconds=length / rate,
        out_frames=round(length * out_rate / rate), out_rate=out_rate,
        tracks=tracks, buses=buses,
        master=chain(master.get("fx"), "master", {"eq", "compressor", "multiband"}),
        lufs=float(target["lufs"]), ceiling=float(target.get("ceiling_dbtp", -1.0)),
    )


# ---------------------------------------------------------------------------------------------
# SoX


def sox_transfer(c):
    """compand's attack,decay / soft-knee:points / gain for a mixdown compressor: flat below the
    threshold, slope 1/ratio above it (the point 0 dBFS -> T(1 - 1/R)), the knee rounded over
    knee_db, makeup as compand's gain, initial level -90 dB (mixdown starts uncompressed)."""
    t, r = c["threshold_db"], c["ratio"]
    return (f"{c['attack_ms'] / 1000:g},{c['release_ms'] / 1000:g} "
            f"{c['knee_db']:g}:-90,-90,{t:g},{t:g},0,{t * (1 - 1 / r):.3f} "
            f"{c['makeup_db']:g} -90")


def sox_chain(fx):
    args = []
    for kind, p in fx:
        if kind == "eq":
            for b in p:
                if b["kind"] in ("highpass", "lowpass"):
                    for order, q in b["sections"]:
                        args += [b["kind"], "-1" if order == 1 else "-2", f"{b['freq']:g}"]
                        if order == 2:
                            args.append(f"{q:.6f}q")
                elif b["kind"] == "peak":
                    args += ["equalizer", f"{b['freq']:g}", f"{b['q']:g}q", f"{b['gain']:g}"]
                else:
                    args += ["bass" if b["kind"] == "lowshelf" else "treble",
                             f"{b['gain']:g}", f"{b['freq']:g}", f"{b['q']:g}q"]
        elif kind == "compressor":
            args += ["compand"] + sox_transfer(p).split()
        elif kind == "multiband":
            # mcompand: Linkwitz-Riley crossovers and a compand per band, like mixdown's.
            args.append("mcompand")
            for i, c in enumerate(p["bands"]):
                args.append(sox_transfer(c))
                if i < len(p["crossovers"]):
                    args.append(f"{p['crossovers'][i]:g}")
        elif kind == "reverb":
            # SoX has no fast convolution (`fir` with 96000 taps runs far slower than real
            # time), so the bus uses SoX's own reverb (Freeverb), fully wet, set for a long
            # hall: the same place in the graph and a similar cost class, not the same sound.
            args += ["reverb", "-w", "85", "40", "100", "100", "0", "0"]
    return args


def emit_sox(s):
    """Bash assignments for sox.sh. Each track is a `|sox ...` input of one `sox -m`, so the
    tracks run as parallel processes; a track's output has 2 + 2·buses channels: its pan/fader
    stereo pair, then its send to each bus (remix with per-channel volumes), so one mix gives
    the dry sum and every bus input at once."""
    nb = len(s["buses"])
    inputs = []
    for t in s["tracks"]:
        eff = ["rate", "-h", str(s["rate"])] if t["rate"] != s["rate"] else []
        # Processing runs over the tail too, like mixdown's (filters ring out into it).
        eff += ["pad", "0", f"{s['length'] - round(t['frames'] * s['rate'] / t['rate'])}s"]
        eff += sox_chain(t["fx"])
        l_in, r_in = ("1", "1") if t["channels"] == 1 else ("1", "2")
        spec = [f"{l_in}v{t['left']:.9f}", f"{r_in}v{t['right']:.9f}"]
        for b in range(nb):
            lvl = dict(t["sends"]).get(b, 0.0)
            spec += [f"{l_in}v{t['left'] * lvl:.9f}", f"{r_in}v{t['right'] * lvl:.9f}"]
        eff += ["remix", "-m"] + spec
        cmd = ["sox", "-R", "-V1", t["file"], "-p"] + eff
        inputs += ["-v", "1", "|" + " ".join(shlex.quote(a) for a in cmd)]
    buses = []
    for i, b in enumerate(s["buses"]):
        eff = ["remix", str(3 + 2 * i), str(4 + 2 * i)] + sox_chain(b["fx"])
        if b["gain"] != 1.0:
            eff += ["vol", f"{b['gain']:.9f}"]
        buses.append(" ".join(shlex.quote(a) for a in eff))
    lines = {
        "TRACK_INPUTS": inputs,
        "BUS_EFFECTS": buses,
        "MASTER_EFFECTS": sox_chain(s["master"]),
    }
    for k, v in lines.items():
        print(f"{k}=(" + " ".join(shlex.quote(a) for a in v) + ")")
    for k, v in (("RATE", s["rate"]), ("LENGTH", s["length"]), ("OUT_RATE", s["out_rate"]),
                 ("OUT_FRAMES", s["out_frames"]), ("CHANNELS", 2 + 2 * nb),
                 ("TARGET_LUFS", s["lufs"]), ("CEILING", s["ceiling"])):
        print(f"{k}={v}")


# ---------------------------------------------------------------------------------------------
# ffmpeg


def ff_comp(c):
    return (f"acompressor=threshold={db_to_lin(c['threshold_db']):.6f}:ratio={c['ratio']:g}"
            f":attack={c['attack_ms']:g}:release={c['release_ms']:g}"
            f":makeup={max(1.0, db_to_lin(c['makeup_db'])):.6f}"
            f":knee={min(8.0, max(1.0, db_to_lin(c['knee_db']))):.6f}"
            f":link=maximum:detection=peak")


def ff_chain(fx, label):
    """Filters for a chain; the multiband splits the graph, so this returns a list of graph
    segments joined by ';' where the first continues the caller's chain."""
    parts = [[]]
    n = 0
    for kind, p in fx:
        if kind == "eq":
            for b in p:
                if b["kind"] in ("highpass", "lowpass"):
                    for order, q in b["sections"]:
                        f = f"{b['kind']}=f={b['freq']:g}:p={order}"
                        if order == 2:
                            f += f":t=q:w={q:.6f}"
                        parts[-1].append(f)
                elif b["kind"] == "peak":
                    parts[-1].append(f"equalizer=f={b['freq']:g}:t=q:w={b['q']:g}:g={b['gain']:g}")
                else:
                    parts[-1].append(f"{b['kind']}=f={b['freq']:g}:t=q:w={b['q']:g}:g={b['gain']:g}")
        elif kind == "compressor":
            parts[-1].append(ff_comp(p))
        elif kind == "multiband":
            # acrossover: Linkwitz-Riley 4th order, bands sum flat; a compressor per band.
            k = len(p["bands"])
            outs = "".join(f"[{label}x{n}b{i}]" for i in range(k))
            split = " ".join(f"{f:g}" for f in p["crossovers"])
            parts[-1].append(f"acrossover=split={split}:order=4th{outs}")
            for i, c in enumerate(p["bands"]):
                parts.append([f"[{label}x{n}b{i}]{ff_comp(c)}[{label}x{n}c{i}]"])
            ins = "".join(f"[{label}x{n}c{i}]" for i in range(k))
            parts.append([f"{ins}amix=inputs={k}:normalize=0"])
            n += 1
    return parts


def join(parts, head, tail):
    """Attach input label `head` to the first segment and output label `tail` to the last."""
    segs = []
    for i, p in enumerate(parts):
        body = ",".join(p) if p else "anull"
        if i == 0:
            body = head + body
        segs.append(body)
    # A segment ending in output pads ([..]) must not get another filter glued on.
    segs[-1] = segs[-1] + tail
    return segs


def emit_ffmpeg(s, workdir):
    """Write WORKDIR/graph.txt (the whole mix and master as one filter graph, ending in an
    inline ebur128 meter so the render also measures the pre-target loudness) and print bash
    assignments for ffmpeg.sh."""
    segs = []
    nt, nb = len(s["tracks"]), len(s["buses"])
    send_labels = {b: [] for b in range(nb)}
    inputs = []
    for i, t in enumerate(s["tracks"]):
        inputs += ["-i", t["file"]]
        pre = (f"[{i}:a]aresample={s['rate']}:resampler=soxr,"
               f"aformat=sample_fmts=fltp:sample_rates={s['rate']},"
               f"apad=whole_len={s['length']},")
        parts = ff_chain(t["fx"], f"t{i}")
        mono = t["channels"] == 1
        pan = (f"pan=stereo|c0={t['left']:.9f}*c0|c1={t['right']:.9f}*{'c0' if mono else 'c1'}")
        parts[-1].append(pan)
        sends = t["sends"]
        if sends:
            outs = f"[m{i}]" + "".join(f"[s{i}_{b}]" for b, _ in sends)
            parts[-1].append(f"asplit={1 + len(sends)}")
            segs += join(parts, pre, outs)
            for b, lvl in sends:
                segs.append(f"[s{i}_{b}]volume={lvl:.9f}[v{i}_{b}]")
                send_labels[b].append(f"[v{i}_{b}]")
        else:
            segs += join(parts, pre, f"[m{i}]")
    mix_inputs = [f"[m{i}]" for i in range(nt)]
    for b, bus in enumerate(s["buses"]):
        labels = send_labels[b]
        if not labels:
            continue
        ir_idx = nt + b
        (kind, r), = bus["fx"]
        inputs += ["-i", r["ir"]]
        segs.append(f"[{ir_idx}:a]aresample={s['rate']}:resampler=soxr,"
                    f"aformat=sample_fmts=fltp:sample_rates={s['rate']}[ir{b}]")
        summed = f"{''.join(labels)}amix=inputs={len(labels)}:normalize=0" if len(labels) > 1 \
            else f"{labels[0]}anull"
        # afir: partitioned FFT convolution, the IR's level kept (gtype=none: no auto gain).
        segs.append(f"{summed}[bin{b}]")
        segs.append(f"[bin{b}][ir{b}]afir=gtype=none:irfmt=input:maxir=30,"
                    f"volume={bus['gain']:.9f}[bus{b}]")
        mix_inputs.append(f"[bus{b}]")
    segs.append(f"{''.join(mix_inputs)}amix=inputs={len(mix_inputs)}:normalize=0[mix]")
    parts = ff_chain(s["master"], "ms")
    parts[-1] += [f"atrim=end_sample={s['length']}", "ebur128=framelog=verbose",
                  "aformat=sample_fmts=flt"]
    segs += join(parts, "[mix]", "[out]")
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "graph.txt"), "w") as f:
        f.write(";\n".join(segs) + "\n")
    print("INPUTS=(" + " ".join(shlex.quote(a) for a in inputs) + ")")
    for k, v in (("RATE", s["rate"]), ("LENGTH", s["length"]), ("OUT_RATE", s["out_rate"]),
                 ("OUT_FRAMES", s["out_frames"]), ("TARGET_LUFS", s["lufs"]),
                 ("CEILING", s["ceiling"])):
        print(f"{k}={v}")


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in ("sox", "ffmpeg", "json"):
        sys.exit("usage: session.py SESSION.toml sox|json|ffmpeg WORKDIR")
    s = load(sys.argv[1])
    if sys.argv[2] == "sox":
        emit_sox(s)
    elif sys.argv[2] == "ffmpeg":
        if len(sys.argv) < 4:
            sys.exit("usage: session.py SESSION.toml ffmpeg WORKDIR")
        emit_ffmpeg(s, sys.argv[3])
    else:
        print(json.dumps(s, indent=1))


if __name__ == "__main__":
    main()
