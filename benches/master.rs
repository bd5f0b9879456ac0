//! The master stage on a 3-minute stereo song at 48 kHz: the target stage (loudness iteration
//! with the look-ahead true-peak limiter), the true-peak reconstruction alone, the standard
//! meters' interpolators over one channel, the limiter's detector streamed as the target stage
//! runs it, one gain trial's limiter curve, and the output stage's resample + dither + encode.
//! `cargo bench --bench master`.

use std::sync::OnceLock;

use divan::Bencher;
use mixdown::io::{resample, tags::Tags, wav};
use mixdown::master::target;

const RATE: u32 = 48000;

/// A dense synthetic song: kick, bass, chords, noise hats, 3 minutes, about -20 LUFS.
fn song() -> &'static Vec<Vec<f32>> {
    static SONG: OnceLock<Vec<Vec<f32>>> = OnceLock::new();
    SONG.get_or_init(|| {
        let n = RATE as usize * 180;
        let rate = RATE as f32;
        let mut noise = mixdown::testkit::Noise::new(7);
        let mut l = vec![0.0f32; n];
        let mut r = vec![0.0f32; n];
        for i in 0..n {
            let w = 0.5 * noise.uniform();
            let t = i as f32 / rate;
            let beat = (t * 2.0).fract();
            let kick = (-beat * 30.0).exp()
                * (2.0 * std::f32::consts::PI * (50.0 + 100.0 * (-beat * 40.0).exp()) * t).sin();
            let bass = 0.3 * (2.0 * std::f32::consts::PI * 55.0 * t).sin();
            let chord = 0.1 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 0.1 * (2.0 * std::f32::consts::PI * 329.6 * t).sin();
            let hat = 0.3 * w * (-((t * 4.0).fract()) * 60.0).exp();
            l[i] = 0.25 * (kick + bass + chord + hat);
            r[i] = 0.25 * (kick + bass + 0.8 * chord - hat);
        }
        vec![l, r]
    })
}

#[divan::bench(sample_count = 3)]
fn target_stage_to_minus_14_lufs(b: Bencher) {
    let planes = song();
    b.bench(|| target::apply(planes, RATE, -14.0, -1.0).map(|o| o.iterations));
}

#[divan::bench(sample_count = 3)]
fn true_peak_reconstruction(b: Bencher) {
    let planes = song();
    b.bench(|| mixdown::dsp::truepeak::true_peak(planes));
}

#[divan::bench(sample_count = 3)]
fn true_peak_standard_meters(b: Bencher) {
    let planes = song();
    b.bench(|| mixdown::dsp::truepeak::standard_envelope(&planes[0], RATE).len());
}

/// The limiter's detector as the target stage runs it: both channels streamed in blocks, the
/// exact reconstruction and every standard meter, stereo-linked.
#[divan::bench(sample_count = 3)]
fn limiter_detector_stream(b: Bencher) {
    let planes = song();
    b.bench(|| {
        let mut detector = mixdown::master::detect::EnvelopeStream::new(2, RATE);
        let mut peak = 0.0f32;
        let mut take = |_: usize, env: &[f32]| peak = env.iter().fold(peak, |m, &v| m.max(v));
        for (l, r) in planes[0].chunks(1 << 15).zip(planes[1].chunks(1 << 15)) {
            detector.push(&[l, r], &mut take);
        }
        detector.finish(&mut take);
        peak
    });
}

/// One gain trial's limiter curve: the windowed maxima of the song's left channel (a sliding
/// maximum of its magnitude) through the release follower and the moving average, at a gain
/// that has the limiter working through most of the song.
#[divan::bench(sample_count = 5)]
fn limiter_curve_pass(b: Bencher) {
    use mixdown::dsp::limiter::{Curve, SPREAD, lookahead_frames};
    let peaks: &Vec<f32> = {
        static PEAKS: OnceLock<Vec<f32>> = OnceLock::new();
        PEAKS.get_or_init(|| {
            let mut m = mixdown::master::detect::SlidingMax::new(
                SPREAD,
                lookahead_frames(f64::from(RATE)) - 1 + SPREAD,
            );
            let mut out = Vec::new();
            let abs: Vec<f32> = song()[0].iter().map(|x| x.abs()).collect();
            m.push(&abs, &mut out);
            m.finish(&mut out);
            out
        })
    };
    b.bench(|| {
        let mut curve = Curve::new(4.0, 0.89, f64::from(RATE));
        let mut out = vec![0.0f32; 1 << 15];
        for p in peaks.chunks(1 << 15) {
            curve.next(p, &mut out[..p.len()]);
        }
        curve.stats().mean_reduction_db
    });
}

#[divan::bench(sample_count = 3)]
fn output_stage_44k1_16bit_tpdf(b: Bencher) {
    let planes = song();
    b.bench(|| {
        resample::resample_all(planes, RATE, 44100).map(|p| {
            wav::encode(
                &p,
                44100,
                wav::Encoding::Pcm16,
                wav::Dither::Tpdf,
                1,
                &Tags::default(),
            )
            .map(|e| e.frames)
        })
    });
}

fn main() {
    divan::main();
}
