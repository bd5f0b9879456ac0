//! Generate a synthetic benchmark session:
//! `cargo run --release --example gen_session -- DIR STEMS SECONDS [SEED]`.
//! See `scripts/bench-render.sh` for the whole-render benchmark built on it.

#[path = "../benches/synth/mod.rs"]
mod synth;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: gen_session DIR STEMS SECONDS [SEED]");
        std::process::exit(2);
    }
    let parse = |s: &str, what: &str| -> f64 {
        s.parse().unwrap_or_else(|_| {
            eprintln!("gen_session: {what} must be a number, not {s:?}");
            std::process::exit(2)
        })
    };
    let stems = parse(&args[2], "STEMS") as usize;
    let seconds = parse(&args[3], "SECONDS");
    let seed = args.get(4).map_or(1.0, |s| parse(s, "SEED")) as u64;
    match synth::generate(std::path::Path::new(&args[1]), stems, seconds, seed) {
        Ok(p) => println!("{}", p.display()),
        Err(e) => {
            eprintln!("gen_session: {e}");
            std::process::exit(1);
        }
    }
}
