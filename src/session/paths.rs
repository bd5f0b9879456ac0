//! Paths as a session names them: made absolute against the session's folder without touching
//! the file system, compared by identity; and the hash of a session's text.

use std::path::{Component, Path, PathBuf};

/// A 64-bit FNV-1a hash (the dither seed hashes a session's audio fingerprint with it).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Make a path absolute and resolve `.` and `..` without touching the file system.
pub fn normalize(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `p` relative to the folder `dir` (both absolute and normalized), `/`-separated, with `..`
/// where `p` lies outside `dir`; `p` as it is when the two share no root (another drive). What
/// a session file names this way is the same wherever its checkout lies.
pub fn relative(dir: &Path, p: &Path) -> String {
    let (d, f): (Vec<Component<'_>>, Vec<Component<'_>>) =
        (dir.components().collect(), p.components().collect());
    let common = d.iter().zip(&f).take_while(|(a, b)| a == b).count();
    let rooted = |c: &[Component<'_>]| {
        c.iter()
            .any(|c| matches!(c, Component::RootDir | Component::Prefix(_)))
    };
    if rooted(&d[common..]) || rooted(&f[common..]) {
        return p.to_string_lossy().into_owned();
    }
    std::iter::repeat_n("..".to_string(), d.len() - common)
        .chain(
            f[common..]
                .iter()
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether two paths name the same file (by identity when both exist, else by normalized path).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => {
            let pa = a
                .parent()
                .and_then(|d| d.canonicalize().ok())
                .map(|d| d.join(a.file_name().unwrap_or_default()));
            let pb = b
                .parent()
                .and_then(|d| d.canonicalize().ok())
                .map(|d| d.join(b.file_name().unwrap_or_default()));
            match (pa, pb) {
                (Some(x), Some(y)) => x == y,
                _ => a == b,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_lexically() {
        let p = normalize(Path::new("/a/b"), Path::new("../c/./d.wav"));
        assert_eq!(p, PathBuf::from("/a/c/d.wav"));
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn relative_paths_climb_out_of_the_session_folder() {
        let dir = Path::new("/w/examples/song");
        assert_eq!(
            relative(dir, Path::new("/w/examples/song/stems/a.wav")),
            "stems/a.wav"
        );
        assert_eq!(
            relative(dir, Path::new("/w/examples/demo/stems/a.wav")),
            "../demo/stems/a.wav"
        );
        assert_eq!(
            relative(dir, Path::new("/elsewhere/a.wav")),
            "../../../elsewhere/a.wav"
        );
        // Two checkouts in different places give the same text.
        assert_eq!(
            relative(Path::new("/a/b/x/song"), Path::new("/a/b/x/demo/k.flac")),
            relative(Path::new("/c/song"), Path::new("/c/demo/k.flac"))
        );
    }
}
