//! mixdown's own ITU-R BS.1770-4 loudness meters. K-weighting is the standard's two
//! second-order sections (high shelf, then RLB high-pass) in f64, with the coefficients derived
//! for any sample rate from the analog prototypes as libebur128 does; the tests hold it to
//! `ebur128` within 0.01 LU.
//!
//! [`IntegratedMeter`] is the lean one, for the per-track and per-bus figures of the report
//! (a render may run dozens at once) and the target stage's search: energies are kept per
//! 100 ms sub-block, so each 400 ms gating block (75 % overlap) costs four additions.
//! [`ProgramMeter`] is the full one behind `loudness::analyze_program` (the master report and
//! `analyze`): from the same single K-weighting pass it gives integrated loudness, momentary
//! and short-term loudness every 100 ms, their maxima over windows ending at every sample (EBU
//! Tech 3341), the loudness range from short-term values every 100 ms (EBU Tech 3342) and the
//! integrated loudness of the mono fold-down. True peak stays with `ebur128`.

use crate::dsp::db::{db_to_gain, db_to_power, power_to_db};
use crate::dsp::simd;

/// One second-order section, transposed direct form II.
#[derive(Debug, Clone, Copy)]
struct Section {
    b: [f64; 3],
    a: [f64; 2],
}

/// The K-weighting pre-filter (a +4 dB high shelf around 1.68 kHz) and RLB high-pass (38 Hz),
/// BS.1770-4 Annex 1, re-derived for `rate` (the standard tabulates 48 kHz only).
fn k_weighting(rate: f64) -> [Section; 2] {
    use std::f64::consts::PI;
    let (f0, g, q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
    let k = (PI * f0 / rate).tan();
    let vh = db_to_gain(g);
    let vb = vh.powf(0.4996667741545416);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Section {
        b: [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
        ],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    let (f0, q) = (38.13547087602444, 0.5003270373238773);
    let k = (PI * f0 / rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let highpass = Section {
        b: [1.0, -2.0, 1.0],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    [shelf, highpass]
}

/// Frames in one 100 ms step at `rate` (libebur128's rounding, so gating blocks line up with
/// ebur128's): the hop of the gating blocks and of the momentary and short-term series.
pub fn step_frames(rate: u32) -> usize {
    ((rate as usize + 5) / 10).max(1)
}

/// Streaming integrated loudness (no true peak), constant work per sample.
#[derive(Debug, Clone)]
pub struct IntegratedMeter {
    filters: [Section; 2],
    /// Per channel, per section: two state words.
    state: Vec<[[f64; 2]; 2]>,
    sub_len: usize,
    sub_pos: usize,
    /// Sum of squares of the current sub-block, all channels.
    sub_acc: f64,
    /// The last three complete sub-blocks (for the 400 ms window).
    prev: [f64; 3],
    subs_seen: usize,
    /// Mean-square energy of every 400 ms block (channel-summed).
    blocks: Vec<f64>,
}

impl IntegratedMeter {
    pub fn new(channels: usize, rate: u32) -> Self {
        IntegratedMeter {
            filters: k_weighting(f64::from(rate)),
            state: vec![[[0.0; 2]; 2]; channels],
            sub_len: step_frames(rate),
            sub_pos: 0,
            sub_acc: 0.0,
            prev: [0.0; 3],
            subs_seen: 0,
            blocks: Vec::new(),
        }
    }

    /// Feed planar frames (one slice per channel, equal lengths).
    pub fn add(&mut self, planes: &[&[f32]]) {
        let n = planes.first().map_or(0, |p| p.len());
        let mut start = 0;
        while start < n {
            let take = (self.sub_len - self.sub_pos).min(n - start);
            let range = start..start + take;
            match (planes, &mut self.state[..]) {
                // Two channels through one loop: their recursions are independent, so the CPU
                // overlaps them instead of waiting on one chain of multiply-adds.
                ([l, r], [sl, sr]) => {
                    self.sub_acc +=
                        filter_energy_pair(&self.filters, sl, sr, &l[range.clone()], &r[range]);
                }
                _ => {
                    for (plane, st) in planes.iter().zip(self.state.iter_mut()) {
                        self.sub_acc += filter_energy(&self.filters, st, &plane[range.clone()]);
                    }
                }
            }
            self.sub_pos += take;
            start += take;
            if self.sub_pos == self.sub_len {
                self.close_sub_block();
            }
        }
    }

    fn close_sub_block(&mut self) {
        let s = self.sub_acc;
        self.subs_seen += 1;
        if self.subs_seen >= 4 {
            let sum = s + self.prev.iter().sum::<f64>();
            self.blocks.push(sum / (4 * self.sub_len) as f64);
        }
        self.prev = [self.prev[1], self.prev[2], s];
        self.sub_acc = 0.0;
        self.sub_pos = 0;
    }

    /// Gated integrated loudness in LUFS (BS.1770-4 §2.8: absolute gate -70 LUFS, relative gate
    /// -10 LU); `None` when no block passes the gates (silence).
    pub fn integrated(&self) -> Option<f64> {
        integrated_from_blocks(&self.blocks)
    }

    /// Mean-square energy of every complete 400 ms block so far (channel-summed, K-weighted,
    /// 100 ms apart): the input of the gating of [`IntegratedMeter::integrated`].
    pub fn blocks(&self) -> &[f64] {
        &self.blocks
    }
}

/// Stereo meters K-weighted in one pass by [`IntegratedMeter::add_batch`].
pub const BATCH: usize = 8;
/// Channels one batched pass runs side by side.
const LANES: usize = 2 * BATCH;

impl IntegratedMeter {
    /// Feed each of up to [`BATCH`] stereo meters its own block (`blocks[m]` is meter `m`'s
    /// left and right, every block the same length), K-weighting all their channels in one
    /// loop: a channel's recursion waits on its own last output, so one channel at a time
    /// leaves the CPU idle between steps, and independent channels fill that time. Each
    /// channel still runs exactly the operations of [`IntegratedMeter::add`] in the same order
    /// (the lanes only sit side by side), so every meter ends bit for bit where `add` leaves
    /// it. Fewer than three meters, and meters that are not stereo, at another rate or at
    /// another place in their 100 ms sub-block than the first, are fed by `add`, one by one.
    pub fn add_batch(meters: &mut [&mut IntegratedMeter], blocks: &[[&[f32]; 2]]) {
        let Some(first) = meters.first() else {
            return;
        };
        let n = blocks.first().map_or(0, |b| b[0].len());
        let in_step = |m: &IntegratedMeter| {
            m.state.len() == 2
                && m.sub_len == first.sub_len
                && m.sub_pos == first.sub_pos
                && m.filters
                    .iter()
                    .zip(&first.filters)
                    .all(|(a, b)| a.b == b.b && a.a == b.a)
        };
        // One or two meters run faster on their own than in a pass of BATCH lanes.
        let batched = (3..=BATCH).contains(&meters.len())
            && meters.len() == blocks.len()
            && meters.iter().all(|m| in_step(m))
            && blocks.iter().all(|b| b[0].len() == n && b[1].len() == n);
        if !batched {
            for (m, b) in meters.iter_mut().zip(blocks) {
                m.add(&b[..]);
            }
            return;
        }
        let filters = first.filters;
        let sub_len = first.sub_len;
        // Lane 2m is meter m's left channel, 2m + 1 its right; lanes past the last meter
        // repeat the first one's channels (from a zero state) and are dropped.
        let x: [&[f32]; LANES] = std::array::from_fn(|l| {
            let m = if l / 2 < meters.len() { l / 2 } else { 0 };
            blocks[m][l % 2]
        });
        let mut st = [[0.0f64; LANES]; 4];
        for (k, m) in meters.iter().enumerate() {
            for (c, &[[z1, z2], [w1, w2]]) in m.state.iter().enumerate() {
                let l = 2 * k + c;
                [st[0][l], st[1][l], st[2][l], st[3][l]] = [z1, z2, w1, w2];
            }
        }
        let mut start = 0;
        while start < n {
            let take = (sub_len - meters[0].sub_pos).min(n - start);
            let range = start..start + take;
            let acc = simd::wide(
                #[inline(always)]
                || k_lanes(&filters, &mut st, &x, range),
            );
            // Decayed states flushed to zero, as `add` does after each piece.
            flush(st.iter_mut().flatten());
            for (k, m) in meters.iter_mut().enumerate() {
                m.sub_acc += acc[2 * k] + acc[2 * k + 1];
                m.sub_pos += take;
                if m.sub_pos == m.sub_len {
                    m.close_sub_block();
                }
            }
            start += take;
        }
        for (k, m) in meters.iter_mut().enumerate() {
            for c in 0..2 {
                let l = 2 * k + c;
                m.state[c] = [[st[0][l], st[1][l]], [st[2][l], st[3][l]]];
            }
        }
    }
}

/// [`LANES`] channels through the two sections over `range` (states `st`: z1, z2, w1, w2 per
/// lane), returning each lane's sum of squares: per lane the arithmetic of [`k_pair`].
#[inline(always)]
fn k_lanes(
    f: &[Section; 2],
    st: &mut [[f64; LANES]; 4],
    x: &[&[f32]; LANES],
    range: std::ops::Range<usize>,
) -> [f64; LANES] {
    let [s1, s2] = f;
    let [mut z1, mut z2, mut w1, mut w2] = *st;
    let mut acc = [0.0f64; LANES];
    let xs: [&[f32]; LANES] = std::array::from_fn(|l| &x[l][range.clone()]);
    // Frames are taken a chunk at a time and turned lane-major first, so the recursion
    // reads one vector per frame instead of gathering a value from every channel.
    const CHUNK: usize = 16;
    let mut v = [[0.0f64; LANES]; CHUNK];
    let mut at = 0;
    while at < range.len() {
        let take = CHUNK.min(range.len() - at);
        for (l, x) in xs.iter().enumerate() {
            for (row, &s) in v.iter_mut().zip(&x[at..at + take]) {
                row[l] = f64::from(s);
            }
        }
        for v in &v[..take] {
            for l in 0..LANES {
                let y = s1.b[0] * v[l] + z1[l];
                z1[l] = s1.b[1] * v[l] - s1.a[0] * y + z2[l];
                z2[l] = s1.b[2] * v[l] - s1.a[1] * y;
                let o = s2.b[0] * y + w1[l];
                w1[l] = s2.b[1] * y - s2.a[0] * o + w2[l];
                w2[l] = s2.b[2] * y - s2.a[1] * o;
                acc[l] += o * o;
            }
        }
        at += take;
    }
    *st = [z1, z2, w1, w2];
    acc
}

/// K-weight `x` through the two sections (updating `st`) and return the sum of squares.
fn filter_energy(f: &[Section; 2], st: &mut [[f64; 2]; 2], x: &[f32]) -> f64 {
    let [mut z1, mut z2] = st[0];
    let [mut w1, mut w2] = st[1];
    let mut acc = 0.0;
    for &v in x {
        let o = k_step(f, f64::from(v), [&mut z1, &mut z2, &mut w1, &mut w2]);
        acc += o * o;
    }
    store_states(st, [z1, z2, w1, w2]);
    acc
}

/// [`filter_energy`] for two channels at once.
fn filter_energy_pair(
    f: &[Section; 2],
    sa: &mut [[f64; 2]; 2],
    sb: &mut [[f64; 2]; 2],
    xa: &[f32],
    xb: &[f32],
) -> f64 {
    let (mut acc_a, mut acc_b) = (0.0, 0.0);
    k_pair(f, sa, sb, xa, xb, |_, oa, ob| {
        acc_a += oa * oa;
        acc_b += ob * ob;
    });
    acc_a + acc_b
}

/// K-weight two channels through the two sections (updating their states; both recursions in
/// one loop, so the CPU overlaps them), handing `each(frame, left, right)` every weighted frame.
/// Decayed states are flushed to zero at the end, where long silences would otherwise leave the
/// recursion in subnormal range.
#[inline(always)]
fn k_pair(
    f: &[Section; 2],
    sa: &mut [[f64; 2]; 2],
    sb: &mut [[f64; 2]; 2],
    xa: &[f32],
    xb: &[f32],
    each: impl FnMut(usize, f64, f64),
) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of x86-64.
    unsafe {
        k_pair_sse2(f, sa, sb, xa, xb, each)
    };
    #[cfg(not(target_arch = "x86_64"))]
    k_pair_scalar(f, sa, sb, xa, xb, each);
}

/// [`k_pair`] one channel after the other, frame by frame (where there is no SSE2).
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
fn k_pair_scalar(
    f: &[Section; 2],
    sa: &mut [[f64; 2]; 2],
    sb: &mut [[f64; 2]; 2],
    xa: &[f32],
    xb: &[f32],
    mut each: impl FnMut(usize, f64, f64),
) {
    let [[mut az1, mut az2], [mut aw1, mut aw2]] = *sa;
    let [[mut bz1, mut bz2], [mut bw1, mut bw2]] = *sb;
    for (i, (&va, &vb)) in xa.iter().zip(xb).enumerate() {
        let oa = k_step(f, f64::from(va), [&mut az1, &mut az2, &mut aw1, &mut aw2]);
        let ob = k_step(f, f64::from(vb), [&mut bz1, &mut bz2, &mut bw1, &mut bw2]);
        each(i, oa, ob);
    }
    store_states(sa, [az1, az2, aw1, aw2]);
    store_states(sb, [bz1, bz2, bw1, bw2]);
}

/// One frame `v` of one channel through the two sections, whose states are `[z1, z2, w1, w2]`:
/// the K-weighted value.
#[inline(always)]
fn k_step(f: &[Section; 2], v: f64, [z1, z2, w1, w2]: [&mut f64; 4]) -> f64 {
    let [s1, s2] = f;
    let y = s1.b[0] * v + *z1;
    *z1 = s1.b[1] * v - s1.a[0] * y + *z2;
    *z2 = s1.b[2] * v - s1.a[1] * y;
    let o = s2.b[0] * y + *w1;
    *w1 = s2.b[1] * y - s2.a[0] * o + *w2;
    *w2 = s2.b[2] * y - s2.a[1] * o;
    o
}

/// [`k_pair`] with the two channels as the two lanes of 128-bit vectors: the same operations
/// in the same order on each lane (IEEE multiplies, adds and subtracts, no fused ones), so the
/// same values, with half the instructions.
///
/// # Safety
/// The CPU must have SSE2 (every x86-64 CPU does).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn k_pair_sse2(
    f: &[Section; 2],
    sa: &mut [[f64; 2]; 2],
    sb: &mut [[f64; 2]; 2],
    xa: &[f32],
    xb: &[f32],
    mut each: impl FnMut(usize, f64, f64),
) {
    use std::arch::x86_64::*;
    let [s1, s2] = f;
    // SAFETY (every intrinsic below): SSE2 arithmetic on registers, no memory access.
    unsafe {
        let c = _mm_set1_pd;
        let (b10, b11, b12, a10, a11) =
            (c(s1.b[0]), c(s1.b[1]), c(s1.b[2]), c(s1.a[0]), c(s1.a[1]));
        let (b20, b21, b22, a20, a21) =
            (c(s2.b[0]), c(s2.b[1]), c(s2.b[2]), c(s2.a[0]), c(s2.a[1]));
        // Lane 0 the first channel, lane 1 the second.
        let pair = |a: f64, b: f64| _mm_set_pd(b, a);
        let (mut z1, mut z2) = (pair(sa[0][0], sb[0][0]), pair(sa[0][1], sb[0][1]));
        let (mut w1, mut w2) = (pair(sa[1][0], sb[1][0]), pair(sa[1][1], sb[1][1]));
        let (add, sub, mul) = (
            |a, b| _mm_add_pd(a, b),
            |a, b| _mm_sub_pd(a, b),
            |a, b| _mm_mul_pd(a, b),
        );
        for (i, (&va, &vb)) in xa.iter().zip(xb).enumerate() {
            let v = pair(f64::from(va), f64::from(vb));
            let y = add(mul(b10, v), z1);
            z1 = add(sub(mul(b11, v), mul(a10, y)), z2);
            z2 = sub(mul(b12, v), mul(a11, y));
            let o = add(mul(b20, y), w1);
            w1 = add(sub(mul(b21, y), mul(a20, o)), w2);
            w2 = sub(mul(b22, y), mul(a21, o));
            each(i, _mm_cvtsd_f64(o), _mm_cvtsd_f64(_mm_unpackhi_pd(o, o)));
        }
        let lanes = |v: __m128d| [_mm_cvtsd_f64(v), _mm_cvtsd_f64(_mm_unpackhi_pd(v, v))];
        let ([az1, bz1], [az2, bz2]) = (lanes(z1), lanes(z2));
        let ([aw1, bw1], [aw2, bw2]) = (lanes(w1), lanes(w2));
        store_states(sa, [az1, az2, aw1, aw2]);
        store_states(sb, [bz1, bz2, bw1, bw2]);
    }
}

/// A channel's states `[z1, z2, w1, w2]` into `st` (as [`k_step`] holds them), decayed ones
/// flushed to zero ([`flush`]).
fn store_states(st: &mut [[f64; 2]; 2], [z1, z2, w1, w2]: [f64; 4]) {
    *st = [[z1, z2], [w1, w2]];
    flush(st.iter_mut().flatten());
}

/// Flush decayed filter states to zero: long silences would otherwise leave the recursions
/// in subnormal range.
fn flush<'a>(states: impl IntoIterator<Item = &'a mut f64>) {
    for z in states {
        if z.abs() < 1e-30 {
            *z = 0.0;
        }
    }
}

/// Loudness of a mean-square energy, BS.1770-4 eq. 2.
pub fn lufs(energy: f64) -> f64 {
    -0.691 + power_to_db(energy)
}

/// Two-stage gated mean of block energies (BS.1770-4 §2.8).
pub fn integrated_from_blocks(blocks: &[f64]) -> Option<f64> {
    let abs_gate = db_to_power(-70.0 + 0.691);
    let gated: Vec<f64> = blocks.iter().copied().filter(|&z| z > abs_gate).collect();
    if gated.is_empty() {
        return None;
    }
    let mean = gated.iter().sum::<f64>() / gated.len() as f64;
    let rel_gate = mean * db_to_power(-10.0);
    let kept: Vec<f64> = gated.into_iter().filter(|&z| z > rel_gate).collect();
    if kept.is_empty() {
        return None;
    }
    Some(lufs(kept.iter().sum::<f64>() / kept.len() as f64))
}

/// Steps (100 ms) in the momentary window (400 ms, EBU Tech 3341 §2.2).
const MOMENTARY_STEPS: usize = 4;
/// Steps in the short-term window (3 s, EBU Tech 3341 §2.2).
const SHORT_TERM_STEPS: usize = 30;

/// Streaming program loudness: one K-weighting pass gives everything [`ProgramLoudness`]
/// holds.
///
/// Windows ending at every sample, without re-summing them: the K-weighted energy of each
/// frame of the current 100 ms step is kept, and when a step completes, the energy of its
/// frames after each offset (its tail sums) replaces the oldest of 30 kept steps. A window of
/// `w` steps ending at offset `p` of step `k` is then the tail of step `k − w` after `p`, the
/// whole steps `k − w + 1 ..= k − 1` (summed once per step) and the frames of step `k` up to
/// `p`: three sums of non-negative terms, so no cancellation, no drift over a long file, and
/// digital silence reads exactly zero. Before the first window fills, the missing steps count
/// as silence: such a window holds no more energy than the first full one, so the maxima are
/// unchanged.
#[derive(Debug, Clone)]
pub struct ProgramMeter {
    filters: [Section; 2],
    /// Per channel, per section: two state words.
    state: Vec<[[f64; 2]; 2]>,
    step: usize,
    /// Frames into the current step.
    pos: usize,
    /// Steps completed.
    steps: usize,
    /// K-weighted energy of each frame of the current step, channels summed.
    energy: Vec<f64>,
    /// Energy of the current step's frames so far.
    acc: f64,
    /// Of the mono fold-down ((L+R)/2 on both channels; stereo only), the current step so far.
    mono_acc: f64,
    /// Tail sums of the last 30 steps, `step` values each, slot `k % 30` for step `k`.
    tails: Vec<f64>,
    /// Energy of each of the last 30 steps (same slots).
    step_energy: [f64; SHORT_TERM_STEPS],
    /// Mono fold-down energy of the last 4 steps (slot `k % 4`).
    mono_steps: [f64; MOMENTARY_STEPS],
    /// Energy of the whole steps in the momentary and short-term windows ending in this step.
    head_m: f64,
    head_s: f64,
    /// Largest `tail + acc` over the frames of this step so far (add the heads for a window).
    step_max_m: f64,
    step_max_s: f64,
    /// Largest momentary and short-term window energy (sums, not means).
    max_m: f64,
    max_s: f64,
    /// Mean-square momentary and short-term energy at the end of every complete step, `None`
    /// until the window has filled.
    momentary: Vec<Option<f64>>,
    shortterm: Vec<Option<f64>>,
    /// Momentary (gating-block) energies of the mono fold-down.
    mono_blocks: Vec<f64>,
}

/// What [`ProgramMeter::finish`] measured. Loudness in LUFS, `None` where silent or where the
/// signal is too short for the window.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramLoudness {
    /// Gated integrated loudness (BS.1770-4 §2.8).
    pub integrated: Option<f64>,
    /// Momentary (400 ms) and short-term (3 s) loudness of the windows ending at the end of
    /// every 100 ms step (the last one at the last frame, when the signal ends mid-step).
    pub momentary: Vec<Option<f64>>,
    pub shortterm: Vec<Option<f64>>,
    /// Largest momentary and short-term loudness over the windows ending at every frame
    /// (EBU Tech 3341 "Max M" and "Max S").
    pub max_momentary: Option<f64>,
    pub max_shortterm: Option<f64>,
    /// Loudness range, LU (EBU Tech 3342), from the short-term loudness every 100 ms.
    pub range: Option<f64>,
    /// Integrated loudness of the mono fold-down; `None` unless the input is stereo.
    pub mono_integrated: Option<f64>,
}

impl ProgramMeter {
    pub fn new(channels: usize, rate: u32) -> Self {
        let step = step_frames(rate);
        ProgramMeter {
            filters: k_weighting(f64::from(rate)),
            state: vec![[[0.0; 2]; 2]; channels],
            step,
            pos: 0,
            steps: 0,
            energy: vec![0.0; step],
            acc: 0.0,
            mono_acc: 0.0,
            tails: vec![0.0; step * SHORT_TERM_STEPS],
            step_energy: [0.0; SHORT_TERM_STEPS],
            mono_steps: [0.0; MOMENTARY_STEPS],
            head_m: 0.0,
            head_s: 0.0,
            step_max_m: 0.0,
            step_max_s: 0.0,
            max_m: 0.0,
            max_s: 0.0,
            momentary: Vec::new(),
            shortterm: Vec::new(),
            mono_blocks: Vec::new(),
        }
    }

    /// Feed planar frames (one slice per channel, equal lengths).
    pub fn add(&mut self, planes: &[&[f32]]) {
        let n = planes.first().map_or(0, |p| p.len());
        let mut start = 0;
        while start < n {
            let take = (self.step - self.pos).min(n - start);
            let (range, here) = (start..start + take, self.pos..self.pos + take);
            let out = &mut self.energy[here.clone()];
            match (planes, &mut self.state[..]) {
                ([l, r], [sl, sr]) => {
                    self.mono_acc +=
                        weigh_pair(&self.filters, sl, sr, &l[range.clone()], &r[range], out);
                }
                _ => {
                    out.fill(0.0);
                    for (plane, st) in planes.iter().zip(self.state.iter_mut()) {
                        weigh_add(&self.filters, st, &plane[range.clone()], out);
                    }
                }
            }
            self.scan(here);
            start += take;
            if self.pos == self.step {
                self.close_step();
            }
        }
    }

    /// Advance the windows over the frames `here` of the current step (energies already in
    /// `self.energy`): running sum and the largest window sums ending at each frame.
    fn scan(&mut self, here: std::ops::Range<usize>) {
        let (tail_m, tail_s) = (
            self.tails_of(MOMENTARY_STEPS),
            self.tails_of(SHORT_TERM_STEPS),
        );
        let (mut acc, mut mm, mut ms) = (self.acc, self.step_max_m, self.step_max_s);
        for p in here.clone() {
            acc += self.energy[p];
            mm = mm.max(tail_m[p] + acc);
            ms = ms.max(tail_s[p] + acc);
        }
        (self.acc, self.step_max_m, self.step_max_s) = (acc, mm, ms);
        self.pos = here.end;
    }

    /// Tail sums of the step `back` steps before the current one (zeros while it lies before
    /// the signal, which then counts as silence).
    fn tails_of(&self, back: usize) -> &[f64] {
        let slot = (self.steps + SHORT_TERM_STEPS - back) % SHORT_TERM_STEPS;
        &self.tails[slot * self.step..][..self.step]
    }

    /// Mean-square energy of a window of `steps` steps holding `sum`.
    fn mean(&self, sum: f64, steps: usize) -> f64 {
        sum / (steps * self.step) as f64
    }

    /// The current step is complete: record its windows, keep its tail sums, move on.
    fn close_step(&mut self) {
        let k = self.steps;
        let (m, s) = (self.head_m + self.acc, self.head_s + self.acc);
        self.take_maxima();
        let (m, s) = (
            self.mean(m, MOMENTARY_STEPS),
            self.mean(s, SHORT_TERM_STEPS),
        );
        self.momentary.push((k + 1 >= MOMENTARY_STEPS).then_some(m));
        self.shortterm
            .push((k + 1 >= SHORT_TERM_STEPS).then_some(s));
        let slot = k % SHORT_TERM_STEPS;
        let tail = &mut self.tails[slot * self.step..][..self.step];
        let mut after = 0.0;
        for (t, &e) in tail.iter_mut().zip(&self.energy).rev() {
            *t = after;
            after += e;
        }
        self.step_energy[slot] = self.acc;
        self.mono_steps[k % MOMENTARY_STEPS] = self.mono_acc;
        if k + 1 >= MOMENTARY_STEPS {
            let block = self.mean(self.mono_steps.iter().sum(), MOMENTARY_STEPS);
            self.mono_blocks.push(block);
        }
        self.steps += 1;
        // The whole steps of the next step's windows: the 3 and 29 just before it.
        let k = self.steps;
        let whole = |w: usize| -> f64 {
            (1..w)
                .map(|back| self.step_energy[(k + SHORT_TERM_STEPS - back) % SHORT_TERM_STEPS])
                .sum()
        };
        self.head_m = whole(MOMENTARY_STEPS);
        self.head_s = whole(SHORT_TERM_STEPS);
        self.pos = 0;
        self.acc = 0.0;
        self.mono_acc = 0.0;
    }

    fn take_maxima(&mut self) {
        self.max_m = self.max_m.max(self.head_m + self.step_max_m);
        self.max_s = self.max_s.max(self.head_s + self.step_max_s);
        self.step_max_m = 0.0;
        self.step_max_s = 0.0;
    }

    /// Everything measured. A last, incomplete step adds one more momentary and short-term
    /// value (the windows ending at the last frame), but no gating block and no value to the
    /// loudness range, whose inputs stay on the 100 ms grid.
    pub fn finish(mut self) -> ProgramLoudness {
        let frames = self.steps * self.step + self.pos;
        let gating: Vec<f64> = self.momentary.iter().flatten().copied().collect();
        let range = loudness_range(&self.shortterm.iter().flatten().copied().collect::<Vec<_>>());
        if self.pos > 0 {
            let (k, last) = (self.steps, self.pos - 1);
            let m = self.tails_of(MOMENTARY_STEPS)[last] + self.head_m + self.acc;
            let s = self.tails_of(SHORT_TERM_STEPS)[last] + self.head_s + self.acc;
            let (m, s) = (
                self.mean(m, MOMENTARY_STEPS),
                self.mean(s, SHORT_TERM_STEPS),
            );
            self.take_maxima();
            self.momentary.push((k >= MOMENTARY_STEPS).then_some(m));
            self.shortterm.push((k >= SHORT_TERM_STEPS).then_some(s));
        }
        let loudness = |e: &Option<f64>| e.filter(|&e| e > 0.0).map(lufs);
        let max = |sum: f64, steps: usize| {
            (frames >= steps * self.step && sum > 0.0).then(|| lufs(self.mean(sum, steps)))
        };
        ProgramLoudness {
            integrated: integrated_from_blocks(&gating),
            momentary: self.momentary.iter().map(loudness).collect(),
            shortterm: self.shortterm.iter().map(loudness).collect(),
            max_momentary: max(self.max_m, MOMENTARY_STEPS),
            max_shortterm: max(self.max_s, SHORT_TERM_STEPS),
            range,
            mono_integrated: if self.state.len() == 2 {
                integrated_from_blocks(&self.mono_blocks)
            } else {
                None
            },
        }
    }
}

/// K-weight two channels through the two sections (updating their states), writing each
/// frame's energy `yl² + yr²` to `out`; returns the energy of the mono fold-down, whose
/// channels are both (L+R)/2, so `2·((yl + yr)/2)²` per frame (K-weighting is linear).
fn weigh_pair(
    f: &[Section; 2],
    sa: &mut [[f64; 2]; 2],
    sb: &mut [[f64; 2]; 2],
    xa: &[f32],
    xb: &[f32],
    out: &mut [f64],
) -> f64 {
    let n = xa.len().min(xb.len()).min(out.len());
    let mut mono = 0.0;
    k_pair(f, sa, sb, &xa[..n], &xb[..n], |i, oa, ob| {
        out[i] = oa * oa + ob * ob;
        let sum = oa + ob;
        mono += 0.5 * sum * sum;
    });
    mono
}

/// K-weight one channel (updating `st`), adding each frame's energy to `out`.
fn weigh_add(f: &[Section; 2], st: &mut [[f64; 2]; 2], x: &[f32], out: &mut [f64]) {
    let [mut z1, mut z2] = st[0];
    let [mut w1, mut w2] = st[1];
    for (&v, o) in x.iter().zip(out.iter_mut()) {
        let q = k_step(f, f64::from(v), [&mut z1, &mut z2, &mut w1, &mut w2]);
        *o += q * q;
    }
    store_states(st, [z1, z2, w1, w2]);
}

/// Loudness range in LU from mean-square short-term energies, as EBU Tech 3342 (2016) §3.1
/// and its MATLAB reference (§5) define it, with libebur128's percentile: absolute gate at
/// −70 LUFS and relative gate 20 LU below the mean energy of what passed (both keep values at
/// or above the gate); of the `n` kept values sorted ascending, percentile `p` is the one at
/// index `round((n − 1)·p)` (0-based, halves up): LRA = P95 − P10. `None` when nothing passes.
pub fn loudness_range(shortterm: &[f64]) -> Option<f64> {
    let abs_gate = db_to_power(-70.0 + 0.691);
    let mut kept: Vec<f64> = shortterm
        .iter()
        .copied()
        .filter(|&z| z >= abs_gate)
        .collect();
    if kept.is_empty() {
        return None;
    }
    let rel_gate = kept.iter().sum::<f64>() / kept.len() as f64 * db_to_power(-20.0);
    kept.retain(|&z| z >= rel_gate);
    kept.sort_by(f64::total_cmp);
    let last = (kept.len() - 1) as f64;
    let at = |p: f64| lufs(kept[(last * p + 0.5) as usize]);
    Some(at(0.95) - at(0.10))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::white;
    use ebur128::{EbuR128, Mode};

    fn reference(planes: &[Vec<f32>], rate: u32) -> f64 {
        let mut e = EbuR128::new(planes.len() as u32, rate, Mode::I).unwrap();
        let s: Vec<&[f32]> = planes.iter().map(|p| &p[..]).collect();
        e.add_frames_planar_f32(&s).unwrap();
        e.loudness_global().unwrap()
    }

    fn ours(planes: &[Vec<f32>], rate: u32, block: usize) -> f64 {
        let mut m = IntegratedMeter::new(planes.len(), rate);
        let n = planes[0].len();
        let mut i = 0;
        while i < n {
            let e = (i + block).min(n);
            let s: Vec<&[f32]> = planes.iter().map(|p| &p[i..e]).collect();
            m.add(&s);
            i = e;
        }
        m.integrated().unwrap()
    }

    /// EBU Tech 3341 cases 1 and 2 (1 kHz stereo sine at -23 and -33 dBFS).
    #[test]
    fn tech3341_cases_1_and_2() {
        for level in [-23.0f64, -33.0] {
            let amp = 10f64.powf(level / 20.0);
            let s: Vec<f32> = (0..48000 * 20)
                .map(|i| {
                    (amp * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 48000.0).sin()) as f32
                })
                .collect();
            let l = ours(&[s.clone(), s], 48000, 4096);
            assert!((l - level).abs() <= 0.1, "{level}: {l}");
        }
    }

    #[test]
    fn agrees_with_ebur128_on_varied_signals_and_rates() {
        for &rate in &[8000u32, 22050, 44100, 48000, 96000, 192000] {
            let n = rate as usize * 7 + 123;
            // Noise with a loud and a quiet section, so both gates matter.
            let mut l = white(n, 7, 0.3);
            let r = white(n, 11, 0.1);
            for x in &mut l[n / 3..n / 2] {
                *x *= 0.01;
            }
            let planes = vec![l, r];
            let want = reference(&planes, rate);
            for block in [1usize, 1000, 65536] {
                let got = ours(&planes, rate, block);
                assert!(
                    (got - want).abs() < 0.01,
                    "{rate} Hz block {block}: {got} vs {want}"
                );
            }
        }
    }

    /// Batched meters end exactly where `add` leaves each one (every blocks' split, fewer
    /// meters than lanes, and meters out of step, which fall back to `add`).
    #[test]
    fn batched_meters_are_bit_identical_to_single_ones() {
        for rate in [44100u32, 48000] {
            let n = rate as usize * 3 + 777;
            let sig: Vec<[Vec<f32>; 2]> = (0..BATCH as u64)
                .map(|k| {
                    [
                        white(n, 3 + k, 0.3),
                        white(n, 40 + k, 0.02 * (k + 1) as f32),
                    ]
                })
                .collect();
            for count in 1..=BATCH {
                // (1 and 2 take the one-by-one path.)
                for block in [1000usize, 4096, 70000] {
                    let mut single: Vec<IntegratedMeter> =
                        (0..count).map(|_| IntegratedMeter::new(2, rate)).collect();
                    let mut batched = single.clone();
                    // The last meter starts a few frames late: out of step, fed by `add`.
                    let skew = count == BATCH && block == 1000;
                    if skew {
                        single[count - 1].add(&[&[0.1; 7][..], &[0.2; 7][..]]);
                        batched[count - 1].add(&[&[0.1; 7][..], &[0.2; 7][..]]);
                    }
                    let mut i = 0;
                    while i < n {
                        let e = (i + block).min(n);
                        let blocks: Vec<[&[f32]; 2]> = sig[..count]
                            .iter()
                            .map(|s| [&s[0][i..e], &s[1][i..e]])
                            .collect();
                        for (m, b) in single.iter_mut().zip(&blocks) {
                            m.add(&b[..]);
                        }
                        let mut refs: Vec<&mut IntegratedMeter> = batched.iter_mut().collect();
                        IntegratedMeter::add_batch(&mut refs, &blocks);
                        i = e;
                    }
                    for (a, b) in single.iter().zip(&batched) {
                        let bits = |m: &IntegratedMeter| {
                            let mut v: Vec<u64> = m.blocks.iter().map(|x| x.to_bits()).collect();
                            v.push(m.sub_acc.to_bits());
                            v.extend(m.state.iter().flatten().flatten().map(|x| x.to_bits()));
                            v
                        };
                        assert!(!a.blocks.is_empty());
                        assert_eq!(bits(a), bits(b), "{rate} Hz, {count} meters, block {block}");
                    }
                }
            }
        }
    }

    /// The two channels of a stereo meter run as the two lanes of one vector recursion: each
    /// lane gives what its channel gives alone through the scalar recursion, to the bit
    /// (energies and states, over consecutive blocks), as does the frame-by-frame pair.
    #[test]
    fn paired_channels_weigh_as_each_alone() {
        for rate in [44100.0, 48000.0] {
            let f = k_weighting(rate);
            let (a, b) = (white(10_000, 5, 0.5), white(10_000, 6, 0.001));
            let (mut sa, mut sb) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
            let (mut ra, mut rb) = (sa, sb);
            let (mut qa, mut qb) = (sa, sb);
            for (ca, cb) in a.chunks(3000).zip(b.chunks(3000)) {
                let pair = filter_energy_pair(&f, &mut sa, &mut sb, ca, cb);
                let alone = filter_energy(&f, &mut ra, ca) + filter_energy(&f, &mut rb, cb);
                assert_eq!(pair.to_bits(), alone.to_bits(), "{rate} Hz");
                let bits = |s: [[f64; 2]; 2]| s.map(|r| r.map(f64::to_bits));
                assert_eq!((bits(sa), bits(sb)), (bits(ra), bits(rb)), "{rate} Hz");
                // The path of CPUs without SSE2, frame by frame: the same values.
                let (mut ea, mut eb) = (0.0, 0.0);
                k_pair_scalar(&f, &mut qa, &mut qb, ca, cb, |_, oa, ob| {
                    ea += oa * oa;
                    eb += ob * ob;
                });
                assert_eq!((ea + eb).to_bits(), pair.to_bits(), "{rate} Hz");
                assert_eq!((bits(qa), bits(qb)), (bits(sa), bits(sb)), "{rate} Hz");
            }
        }
    }

    #[test]
    fn silence_and_too_short_are_none() {
        let mut m = IntegratedMeter::new(2, 48000);
        m.add(&[&[0.0; 48000], &[0.0; 48000]]);
        assert_eq!(m.integrated(), None);
        let mut m = IntegratedMeter::new(1, 48000);
        m.add(&[&[0.5; 1000]]);
        assert_eq!(m.integrated(), None, "shorter than one 400 ms block");
    }

    fn program(planes: &[Vec<f32>], rate: u32, block: usize) -> ProgramLoudness {
        let mut m = ProgramMeter::new(planes.len(), rate);
        let n = planes[0].len();
        let mut i = 0;
        while i < n {
            let e = (i + block).min(n);
            let s: Vec<&[f32]> = planes.iter().map(|p| &p[i..e]).collect();
            m.add(&s);
            i = e;
        }
        m.finish()
    }

    /// Noise bursts of uneven lengths at uneven places (and a quiet bed), so the loudest
    /// windows end off the 100 ms grid; `n` frames.
    fn bursts(n: usize, rate: u32, seed: u64) -> Vec<f32> {
        let mut x = white(n, seed, 0.001);
        let burst = white(n, seed + 1, 0.5);
        for (start_s, len_s) in [(0.37, 0.173), (1.91, 2.77), (5.33, 0.41), (7.02, 3.31)] {
            let a = (start_s * f64::from(rate)) as usize;
            let b = (a + (len_s * f64::from(rate)) as usize).min(n);
            x[a..b].copy_from_slice(&burst[a..b]);
        }
        x
    }

    /// Every window a meter could show, summed from a running total of per-frame energies
    /// (each channel through the two sections on its own, nothing shared with the meter's
    /// bookkeeping): the loudness of the `len`-frame window ending at each frame.
    fn all_windows(planes: &[Vec<f32>], rate: u32, len: usize) -> Vec<f64> {
        let f = k_weighting(f64::from(rate));
        let mut energy = vec![0.0; planes[0].len()];
        for p in planes {
            let mut y: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
            for s in &f {
                let mut z = [0.0; 2];
                for v in y.iter_mut() {
                    let out = s.b[0] * *v + z[0];
                    z = [
                        s.b[1] * *v - s.a[0] * out + z[1],
                        s.b[2] * *v - s.a[1] * out,
                    ];
                    *v = out;
                }
            }
            for (e, v) in energy.iter_mut().zip(&y) {
                *e += v * v;
            }
        }
        let mut total = vec![0.0];
        for e in &energy {
            total.push(total.last().unwrap() + e);
        }
        (len..=energy.len())
            .map(|end| lufs((total[end] - total[end - len]) / len as f64))
            .collect()
    }

    #[test]
    fn maxima_and_series_are_the_windows_ending_at_every_frame() {
        let rate = 8000;
        let step = step_frames(rate);
        // 11.03 s: the last 100 ms step is incomplete.
        let n = 11 * rate as usize + 240;
        for channels in [1, 2] {
            let planes: Vec<Vec<f32>> = (0..channels).map(|c| bursts(n, rate, 5 + c)).collect();
            let m = all_windows(&planes, rate, 4 * step);
            let s = all_windows(&planes, rate, 30 * step);
            let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            // Window `i` of `all_windows` ends at frame `len + i`; the series' value for step
            // `k` is the window ending at the end of the step (or at the last frame).
            let at = |v: &[f64], len: usize, k: usize| {
                let end = ((k + 1) * step).min(n);
                (end >= len).then(|| v[end - len])
            };
            for block in [1, 333, n] {
                let p = program(&planes, rate, block);
                let what = format!("{channels} channel(s), blocks of {block}");
                let (got_m, got_s) = (p.max_momentary.unwrap(), p.max_shortterm.unwrap());
                assert!((got_m - max(&m)).abs() < 1e-6, "{what}: max M {got_m}");
                assert!((got_s - max(&s)).abs() < 1e-6, "{what}: max S {got_s}");
                assert_eq!(p.momentary.len(), n.div_ceil(step), "{what}");
                for k in 0..p.momentary.len() {
                    for (series, all, len) in
                        [(&p.momentary, &m, 4 * step), (&p.shortterm, &s, 30 * step)]
                    {
                        match (series[k], at(all, len, k)) {
                            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-6, "{what}: {k}"),
                            (a, b) => assert_eq!(a, b, "{what}: step {k}"),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn series_integrated_and_mono_fold_agree_with_ebur128() {
        for &rate in &[8000u32, 44100, 48000, 96000] {
            let n = rate as usize * 7 + 123;
            let mut l = white(n, 7, 0.3);
            let r = white(n, 11, 0.1);
            for x in &mut l[n / 3..n / 2] {
                *x *= 0.01;
            }
            let planes = vec![l, r];
            let p = program(&planes, rate, 4096);
            let step = step_frames(rate);
            let mut e = EbuR128::new(2, rate, Mode::I | Mode::S).unwrap();
            for k in 0..n / step {
                let s: Vec<&[f32]> = planes.iter().map(|c| &c[k * step..][..step]).collect();
                e.add_frames_planar_f32(&s).unwrap();
                for (ours, theirs, steps) in [
                    (p.momentary[k], e.loudness_momentary().unwrap(), 4),
                    (p.shortterm[k], e.loudness_shortterm().unwrap(), 30),
                ] {
                    match ours {
                        Some(v) => assert!((v - theirs).abs() < 0.01, "{rate} Hz step {k}"),
                        None => assert!(k + 1 < steps, "{rate} Hz step {k}"),
                    }
                }
            }
            let i = p.integrated.unwrap();
            assert!(
                (i - reference(&planes, rate)).abs() < 0.01,
                "{rate} Hz: I {i}"
            );
            let mono: Vec<f32> = planes[0]
                .iter()
                .zip(&planes[1])
                .map(|(&a, &b)| 0.5 * (a + b))
                .collect();
            let want = reference(&[mono.clone(), mono], rate);
            let got = p.mono_integrated.unwrap();
            assert!((got - want).abs() < 0.01, "{rate} Hz: mono {got} vs {want}");
        }
    }

    #[test]
    fn silence_and_unfilled_windows_read_none() {
        let p = program(&[vec![0.0; 48000], vec![0.0; 48000]], 48000, 4800);
        assert_eq!(p.integrated, None);
        assert_eq!(
            (p.max_momentary, p.max_shortterm, p.range),
            (None, None, None)
        );
        assert_eq!(p.mono_integrated, None);
        assert!(p.momentary.iter().chain(&p.shortterm).all(Option::is_none));
        // 2 s of noise: momentary from the fourth step on, no short-term window, no range.
        let p = program(&[white(96000, 3, 0.5)], 48000, 4096);
        assert!(p.momentary[..3].iter().all(Option::is_none));
        assert!(p.momentary[3..].iter().all(Option::is_some));
        assert!(p.max_momentary.is_some() && p.max_shortterm.is_none());
        assert!(p.shortterm.iter().all(Option::is_none) && p.range.is_none());
        assert_eq!(p.mono_integrated, None, "mono input has no fold-down");
        // Shorter than one momentary window.
        let p = program(&[white(14000, 3, 0.5)], 48000, 4096);
        assert_eq!((p.max_momentary, p.integrated), (None, None));
        assert_eq!(p.momentary, vec![None; 3]);
    }

    /// The loudness range of hand-made short-term values: the gates of EBU Tech 3342 §3.1 and
    /// its percentile (element round((n − 1)·p) of the sorted values, halves up).
    #[test]
    fn loudness_range_gates_and_percentiles() {
        let energy = |l: f64| db_to_power(l + 0.691);
        let lra =
            |levels: &[f64]| loudness_range(&levels.iter().map(|&l| energy(l)).collect::<Vec<_>>());
        // -40..-20 LUFS in 1 LU steps; three values at -65 (above the absolute gate, below
        // the relative one: 20 LU under the power mean, about -47) and two under -70.
        let mut v: Vec<f64> = (0..=20).rev().map(|i| -40.0 + f64::from(i)).collect();
        v.extend([-65.0, -65.0, -65.0, -75.0, -80.0]);
        // n = 21: P10 is element 2 (-38), P95 element 19 (-21).
        assert!((lra(&v).unwrap() - 17.0).abs() < 1e-9, "{:?}", lra(&v));
        // n = 12: (n − 1)·0.1 = 1.1 → 1, (n − 1)·0.95 = 10.45 → 10.
        let v: Vec<f64> = (0..12).map(|i| -30.0 + f64::from(i)).collect();
        assert!((lra(&v).unwrap() - 9.0).abs() < 1e-9);
        // n = 11: (n − 1)·0.95 = 9.5 rounds up to 10; (n − 1)·0.1 = 1.
        let v: Vec<f64> = (0..11).map(|i| -30.0 + f64::from(i)).collect();
        assert!((lra(&v).unwrap() - 9.0).abs() < 1e-9);
        assert_eq!(lra(&[-71.0, -90.0]), None);
        assert_eq!(lra(&[]), None);
        assert_eq!(lra(&[-23.0]), Some(0.0));
    }
}
