//! Command-line arguments (clap derive). Parsing only; `app` does the work.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// What `--version` prints: the version, the build's enabled cargo features, its target triple
/// and profile (recorded by `build.rs`).
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nfeatures: ",
    env!("MIXDOWN_FEATURES"),
    "\ntarget: ",
    env!("MIXDOWN_TARGET"),
    "\nprofile: ",
    env!("MIXDOWN_PROFILE"),
);

/// Render a multitrack session, described in a TOML file, to mastered, tagged WAV files.
#[derive(Debug, Parser)]
#[command(name = "mixdown", version, long_version = LONG_VERSION, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit status: 0 success, 1 runtime or I/O failure, 2 usage or session-file error, 3 rendered but a delivery gate failed."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render the session: mix, write every [[output]] and the JSON report.
    Render(RenderArgs),
    /// Validate the session (keys, ranges, routing, stems decode, metadata) without rendering.
    Check(CheckArgs),
    /// Render and master the songs of an album file, with one loudness policy; or, with --plan,
    /// combine measurement files (`render --measure-only`) into an album plan.
    Album(AlbumArgs),
    /// Print the session file's JSON Schema (for editors), the render report's (--report), or
    /// the README's session reference tables (--markdown).
    Schema(SchemaArgs),
    /// Measure an audio file: loudness, peaks, dynamics, stereo and spectrum; compare it with a
    /// reference.
    Analyze(AnalyzeArgs),
    /// Write a starter session for a folder of stems: one track per stem, unity pan, one common
    /// gain that leaves the mix 6 dB of headroom (measured), a mastering target.
    Init(InitArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) on stdout.
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout: `mixdown man | man -l -`.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The session file (TOML).
    pub session: PathBuf,
    /// Write the first output here instead of its [[output]].path; `-` writes it to standard
    /// output (after every other file is in place; no report unless --report).
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Worker threads (default: one per core; at most 4 per core, more are cut with a
    /// warning). The output is identical for any value.
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<NonZeroUsize>,
    /// Write the JSON report here (default: beside the first output, as NAME.report.json).
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Treat warnings (mix headroom, heavy limiting, clipped stems) as failed gates: exit 3.
    #[arg(long)]
    pub strict: bool,
    /// Write plots of the master (spectrum, against the reference when there is one; loudness
    /// over time; waveform) as SVG and PNG into this folder.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Only render and measure: print the song's measurement file (its loudness, the gain that
    /// meets the target at each output rate, the SHA-256 of every input) as JSON on stdout, for
    /// `mixdown album ALBUM.toml --plan`. Writes no file.
    #[arg(long, conflicts_with_all = ["plan", "plot"])]
    pub measure_only: bool,
    /// Print one JSON object on stdout: with --measure-only the measurement file, otherwise a
    /// summary of the render (outputs, loudness, true peak, every gate with its code and
    /// verdict, warnings with codes). Human text stays on stderr.
    #[arg(long)]
    pub json: bool,
    /// Apply this album plan (`mixdown album ALBUM.toml --plan ...`): the song's gain, tags,
    /// target and seams come from it, nothing is searched.
    #[arg(long, value_name = "PLAN")]
    pub plan: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AlbumArgs {
    /// The album file (TOML).
    pub album: PathBuf,
    /// Do not render: combine these measurement files (one per song, from `mixdown render
    /// SESSION --measure-only --json`) into an album plan, written to -o or stdout.
    #[arg(long, value_name = "MEASUREMENT", num_args = 1..)]
    pub plan: Vec<PathBuf>,
    /// With --plan: write the plan here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "PATH", requires = "plan")]
    pub output: Option<PathBuf>,
    /// Do not render: read every song's first output and report where its session puts them
    /// (as `render SESSION --plan PLAN.json` wrote them, perhaps on other machines), check that
    /// each file is the one its report describes, measure them again and write the album
    /// report. Exit status 3 when a gate failed, as for a rendered album.
    #[arg(long, conflicts_with = "plan")]
    pub collect: bool,
    /// Print one JSON object on stdout: with --plan the plan (unless -o), otherwise the album's
    /// summary (every song's outputs, loudness and gates, the album's loudness and gate).
    /// Human text stays on stderr.
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: one per core), shared by the songs. The output is identical
    /// for any value.
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<NonZeroUsize>,
    /// Write the album report here (default: beside the first song's first output, as
    /// ALBUM.report.json).
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Treat warnings as failed gates: exit 3.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The session file (TOML).
    pub session: PathBuf,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The audio file (WAV, AIFF, FLAC, MP3, Ogg Vorbis; mono or stereo); `-` reads it from
    /// standard input.
    pub file: PathBuf,
    /// Compare with this reference track: band-by-band spectrum, loudness, dynamics and width.
    #[arg(long, value_name = "REF")]
    pub reference: Option<PathBuf>,
    /// Print the full analysis as JSON on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Write plots (SVG, and PNG) into this folder: spectrum, loudness over time, waveform.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder of stems (WAV, AIFF, FLAC, MP3, Ogg Vorbis); one track per audio file in it.
    pub stems_dir: PathBuf,
    /// Where to write the session; stem paths in it are relative to its folder.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "PATH",
        default_value = "session.toml"
    )]
    pub output: PathBuf,
    /// Overwrite the session file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// A command's own page (`mixdown-render(1)`) instead of the main one.
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct SchemaArgs {
    /// The session file's JSON Schema (draft 4, as Taplo and Even Better TOML read it); what
    /// `mixdown schema` prints without an option.
    #[arg(long)]
    pub session: bool,
    /// The schema of the JSON report `render` writes (draft 2020-12).
    #[arg(long)]
    pub report: bool,
    /// The session keys as the Markdown tables of the README's session reference.
    #[arg(long)]
    pub markdown: bool,
}
