//! Generate a synthetic benchmark session:
//! `cargo run --release --example gen_session -- DIR STEMS SECONDS [SEED] [--kind gain|real]`.
//! `--kind gain` (the default) writes gain-only tracks through four buses; `--kind real` writes
//! the realistic job (per-track EQ, compressor, pan and convolution-reverb send; master EQ,
//! multiband, compressor and loudness target; see `benches/synth/mod.rs`). Prints the session
//! file's path. See `scripts/bench-render.sh` for the whole-render benchmark built on it and
//! `scripts/bench-compare.sh` for the comparison with SoX, ffmpeg and pedalboard.

#[path = "../benches/synth/mod.rs"]
mod synth;

const USAGE: &str = "usage: gen_session DIR STEMS SECONDS [SEED] [--kind gain|real]";

fn main() {
    let mut kind = synth::Kind::Gain;
    let mut args: Vec<String> = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let value = if a == "--kind" {
            it.next()
        } else if let Some(v) = a.strip_prefix("--kind=") {
            Some(v.to_string())
        } else {
            args.push(a);
            continue;
        };
        kind = match value.as_deref().and_then(synth::Kind::parse) {
            Some(k) => k,
            None => {
                eprintln!("gen_session: --kind must be \"gain\" or \"real\"\n{USAGE}");
                std::process::exit(2);
            }
        };
    }
    if args.len() < 3 || args.len() > 4 {
        eprintln!("{USAGE}");
        std::process::exit(2);
    }
    let parse = |s: &str, what: &str| -> f64 {
        s.parse().unwrap_or_else(|_| {
            eprintln!("gen_session: {what} must be a number, not {s:?}");
            std::process::exit(2)
        })
    };
    let stems = parse(&args[1], "STEMS") as usize;
    let seconds = parse(&args[2], "SECONDS");
    let seed = args.get(3).map_or(1.0, |s| parse(s, "SEED")) as u64;
    let dir = std::path::Path::new(&args[0]);
    match synth::generate_kind(kind, dir, stems, seconds, seed) {
        Ok(p) => println!("{}", p.display()),
        Err(e) => {
            eprintln!("gen_session: {e}");
            std::process::exit(1);
        }
    }
}
