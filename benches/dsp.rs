//! Processor benchmarks: the cost of each processor family on the same job, 10 s of stereo
//! 48 kHz noise (uniform, -11 dBFS RMS, so dynamics processors work) in 4096-frame blocks,
//! measured after `prepare` (building, designing and preparing are outside the timing).
//! `cargo bench --bench dsp`.
//!
//! Every benchmark counts 960 000 items, one per sample and channel, so divan's throughput
//! column reads in samples per second; the cost in ns per sample-channel is the median time
//! divided by 960 000 (equally, 1e9 / throughput). Real time for a stereo 48 kHz stream is
//! 10 417 ns per sample-channel on one core.

use std::sync::{Arc, OnceLock};

use divan::Bencher;
use divan::counter::ItemsCount;

use mixdown::dsp::config::{
    BandKind, ChorusConfig, CompressorConfig, DeesserConfig, DelayConfig, Detector, EqBand,
    EqConfig, GateConfig, MultibandConfig, PassShape, Phase, ReverbModel, SaturationConfig,
    SaturationModel, ShelfShape, WidthConfig,
};
use mixdown::dsp::convolution::ConvolutionReverb;
use mixdown::dsp::delay::{Chorus, Delay};
use mixdown::dsp::dynamics::{Compressor, Deesser, Gate};
use mixdown::dsp::eq::Eq;
use mixdown::dsp::fir::LinearPhaseEq;
use mixdown::dsp::gain::Gain;
use mixdown::dsp::multiband::Multiband;
use mixdown::dsp::reverb::Reverb;
use mixdown::dsp::saturation::Saturation;
use mixdown::dsp::width::Width;
use mixdown::dsp::{ProcessSpec, Processor};

fn main() {
    divan::main();
}

const RATE: f64 = 48_000.0;
const SECONDS: f64 = 10.0;
const BLOCK: usize = 4096;
const FRAMES: usize = (RATE * SECONDS) as usize;
const CHANNELS: usize = 2;

const SPEC: ProcessSpec = ProcessSpec {
    sample_rate: RATE,
    max_block: BLOCK,
    channels: CHANNELS,
};

/// Deterministic uniform noise in -0.5..0.5.
fn noise(n: usize, seed: u64) -> Vec<f32> {
    mixdown::testkit::white(n, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, 0.5)
}

/// The input, generated once: 10 s of stereo noise.
fn input() -> &'static [Vec<f32>; 2] {
    static INPUT: OnceLock<[Vec<f32>; 2]> = OnceLock::new();
    INPUT.get_or_init(|| [noise(FRAMES, 1), noise(FRAMES, 2)])
}

/// Time `make`'s processor (built and prepared outside the timing) over the whole input.
fn bench_processor(b: Bencher, make: impl Fn() -> Box<dyn Processor> + Sync) {
    b.counter(ItemsCount::new(FRAMES * CHANNELS))
        .with_inputs(|| {
            let mut p = make();
            p.prepare(&SPEC);
            (p, input().clone())
        })
        .bench_local_values(|(mut p, mut buf)| {
            let [l, r] = &mut buf;
            for (lc, rc) in l.chunks_mut(BLOCK).zip(r.chunks_mut(BLOCK)) {
                p.process(&mut [lc, rc]);
            }
            // Returned so that freeing the buffers is not timed.
            (p, buf)
        });
}

fn band(kind: BandKind, freq_hz: f64, gain_db: f64, q: f64) -> EqBand {
    EqBand {
        kind,
        freq_hz,
        gain_db,
        pass: PassShape::Slope(24),
        shelf: ShelfShape::Slope(1.0),
        q,
    }
}

/// Five bands of a typical track EQ: 24 dB/oct high-pass, low shelf, two peaks, high shelf.
fn eq5(phase: Phase) -> EqConfig {
    EqConfig {
        bands: vec![
            band(BandKind::Highpass, 30.0, 0.0, 0.7),
            band(BandKind::Lowshelf, 100.0, 2.0, 0.7),
            band(BandKind::Peak, 400.0, -3.0, 1.5),
            band(BandKind::Peak, 3000.0, 2.0, 1.0),
            band(BandKind::Highshelf, 10000.0, 1.5, 0.7),
        ],
        phase,
    }
}

fn compressor_cfg(detector: Detector) -> CompressorConfig {
    CompressorConfig {
        threshold_db: -20.0,
        ratio: 3.0,
        knee_db: 6.0,
        attack_ms: 10.0,
        release_ms: 100.0,
        makeup_db: 2.0,
        detector,
        mix: 1.0,
        sidechain: None,
    }
}

#[divan::bench(sample_count = 10)]
fn eq_minimum_phase_5_bands(b: Bencher) {
    let cfg = eq5(Phase::Minimum);
    bench_processor(b, || Box::new(Eq::new(&cfg)));
}

#[divan::bench(sample_count = 10)]
fn eq_linear_phase_5_bands(b: Bencher) {
    let cfg = eq5(Phase::Linear);
    bench_processor(b, || Box::new(LinearPhaseEq::new(&cfg)));
}

/// Not a per-sample cost: the one-off design of the linear-phase EQ in `prepare` (sampling the
/// curve, the inverse FFT, transforming the convolver's partitions), per processor and render.
#[divan::bench(sample_count = 10)]
fn eq_linear_phase_5_bands_prepare(b: Bencher) {
    let cfg = eq5(Phase::Linear);
    b.bench_local(|| {
        let mut p = LinearPhaseEq::new(&cfg);
        p.prepare(&SPEC);
        p
    });
}

#[divan::bench(sample_count = 10, args = ["peak", "rms"])]
fn compressor(b: Bencher, detector: &str) {
    let d = if detector == "rms" {
        Detector::Rms
    } else {
        Detector::Peak
    };
    let cfg = compressor_cfg(d);
    bench_processor(b, || Box::new(Compressor::new(&cfg)));
}

#[divan::bench(sample_count = 10)]
fn gate(b: Bencher) {
    let cfg = GateConfig {
        threshold_db: -40.0,
        range_db: 60.0,
        attack_ms: 1.0,
        hold_ms: 20.0,
        release_ms: 100.0,
    };
    bench_processor(b, || Box::new(Gate::new(&cfg)));
}

#[divan::bench(sample_count = 10)]
fn deesser(b: Bencher) {
    let cfg = DeesserConfig {
        freq_hz: 6500.0,
        threshold_db: -28.0,
        range_db: 6.0,
    };
    bench_processor(b, || Box::new(Deesser::new(&cfg)));
}

#[divan::bench(sample_count = 10, args = ["tape", "tube", "soft_clip", "hard_clip"])]
fn saturation(b: Bencher, model: &str) {
    let model = match model {
        "tape" => SaturationModel::Tape,
        "tube" => SaturationModel::Tube,
        "soft_clip" => SaturationModel::SoftClip,
        _ => SaturationModel::HardClip,
    };
    let cfg = SaturationConfig {
        model,
        drive_db: 6.0,
        mix: 1.0,
        output_db: -3.0,
    };
    bench_processor(b, || Box::new(Saturation::new(&cfg)));
}

#[divan::bench(sample_count = 10)]
fn delay(b: Bencher) {
    let cfg = DelayConfig {
        time_ms: 375.0,
        feedback: 0.4,
        mix: 0.3,
        ping_pong: true,
        highcut_hz: Some(6000.0),
        lowcut_hz: Some(200.0),
    };
    bench_processor(b, || Box::new(Delay::new(&cfg)));
}

#[divan::bench(sample_count = 10)]
fn chorus(b: Bencher) {
    let cfg = ChorusConfig {
        rate_hz: 0.8,
        depth_ms: 3.0,
        mix: 0.5,
    };
    bench_processor(b, || Box::new(Chorus::new(&cfg)));
}

#[divan::bench(sample_count = 10, args = ["room", "hall", "plate"])]
fn reverb(b: Bencher, model: &str) {
    let model = match model {
        "room" => ReverbModel::Room,
        "hall" => ReverbModel::Hall,
        _ => ReverbModel::Plate,
    };
    bench_processor(b, || Box::new(Reverb::new(model, 1.8, 0.4, 1.0, 20.0, 0.3)));
}

#[divan::bench(sample_count = 10)]
fn convolution_reverb_2s_ir(b: Bencher) {
    // A stereo 2 s IR: noise decaying 60 dB in 1.5 s, like a hall.
    let len = (2.0 * RATE) as usize;
    let decay = |c: Vec<f32>| -> Vec<f32> {
        c.iter()
            .enumerate()
            .map(|(i, &v)| v * 10f32.powf(-3.0 * i as f32 / (1.5 * RATE as f32)))
            .collect()
    };
    let ir = Arc::new(vec![decay(noise(len, 3)), decay(noise(len, 4))]);
    bench_processor(b, || {
        Box::new(ConvolutionReverb::new(Arc::clone(&ir), 10.0, 0.3))
    });
}

#[divan::bench(sample_count = 10)]
fn width_mono_below(b: Bencher) {
    let cfg = WidthConfig {
        amount: 1.2,
        mono_below_hz: Some(120.0),
    };
    bench_processor(b, || Box::new(Width::new(&cfg)));
}

#[divan::bench(sample_count = 10)]
fn multiband_3_bands(b: Bencher) {
    let band = |threshold_db: f64, ratio: f64| CompressorConfig {
        threshold_db,
        ratio,
        ..compressor_cfg(Detector::Peak)
    };
    let cfg = MultibandConfig {
        crossovers_hz: vec![120.0, 2500.0],
        bands: vec![band(-18.0, 2.0), band(-20.0, 1.5), band(-22.0, 2.0)],
    };
    bench_processor(b, || Box::new(Multiband::new(&cfg)));
}

#[divan::bench(sample_count = 10)]
fn gain(b: Bencher) {
    bench_processor(b, || Box::new(Gain::new(-3.0)));
}

/// The per-track loudness meters of eight stereo tracks, one meter at a time (as before
/// batching) and all eight in one pass ([`IntegratedMeter::add_batch`]), over the same input.
fn bench_meters(b: Bencher, batched: bool) {
    use mixdown::analysis::bs1770::{BATCH, IntegratedMeter};
    b.counter(ItemsCount::new(FRAMES * CHANNELS * BATCH))
        .with_inputs(|| vec![IntegratedMeter::new(2, RATE as u32); BATCH])
        .bench_local_values(|mut meters| {
            let [l, r] = input();
            for (lc, rc) in l.chunks(BLOCK).zip(r.chunks(BLOCK)) {
                let blocks = vec![[lc, rc]; BATCH];
                if batched {
                    let mut refs: Vec<&mut IntegratedMeter> = meters.iter_mut().collect();
                    IntegratedMeter::add_batch(&mut refs, &blocks);
                } else {
                    for m in meters.iter_mut() {
                        m.add(&[lc, rc]);
                    }
                }
            }
            meters
        });
}

#[divan::bench(sample_count = 10)]
fn loudness_meters_8_tracks_one_by_one(b: Bencher) {
    bench_meters(b, false);
}

#[divan::bench(sample_count = 10)]
fn loudness_meters_8_tracks_batched(b: Bencher) {
    bench_meters(b, true);
}
