//! Session-file diagnostics: every problem found in a session file, located by file, line and
//! column, named by key path, with the offending value, the limit it broke and, where one helps,
//! a fix. Validation collects all of them before reporting, so a user fixes a file in one pass.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A byte range in the session text.
pub type Span = Range<usize>;

/// One problem in a session file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The session file as the user named it.
    pub file: PathBuf,
    /// 1-based line of the offending key or value (0 when the problem has no location).
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Key path such as `track[2] "vocals".fx[0].freq_hz`; empty for file-level problems.
    pub path: String,
    /// What is wrong, including the value and the limit.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub help: Option<String>,
}

impl Diagnostic {
    /// The diagnostic on one line (the help, if any, after a semicolon), for the report.
    pub fn one_line(&self) -> String {
        self.to_string().replace("\n  help: ", "; ")
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if self.path.is_empty() {
            write!(f, ": {}", self.message)?;
        } else {
            write!(f, ": {}{}", self.path, self.message)?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// The session text with a line index, for turning byte offsets into line:column.
#[derive(Debug)]
pub struct Source<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            file,
            text,
            line_starts,
        }
    }

    /// 1-based line and character column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }

    /// The source text of a value, shortened for messages.
    pub fn snippet(&self, span: &Span) -> String {
        let raw = self.text.get(span.clone()).unwrap_or("").trim();
        let one_line: String = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.chars().count() > 48 {
            let cut: String = one_line.chars().take(45).collect();
            format!("{cut}...")
        } else {
            one_line
        }
    }
}

/// Collects diagnostics while a session file is validated: errors, which stop a render, and
/// warnings, which do not (a render reports them, `--strict` fails on them).
#[derive(Debug)]
pub struct Diags<'a> {
    pub src: Source<'a>,
    pub list: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl<'a> Diags<'a> {
    pub fn new(src: Source<'a>) -> Self {
        Diags {
            src,
            list: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn located(
        &self,
        span: Option<&Span>,
        path: &str,
        message: String,
        help: Option<String>,
    ) -> Diagnostic {
        let (line, column) = match span {
            Some(s) => self.src.line_col(s.start),
            None => (0, 0),
        };
        Diagnostic {
            file: self.src.file.to_path_buf(),
            line,
            column,
            path: path.to_string(),
            message,
            help,
        }
    }

    /// Record a problem at `span`. `path` is the key path; `message` starts with what follows the
    /// path (" = 30000: must be below ..." or ": missing ...").
    pub fn push(&mut self, span: Option<&Span>, path: &str, message: String, help: Option<String>) {
        let d = self.located(span, path, message, help);
        self.list.push(d);
    }

    /// Record a warning at `span`, worded like [`Diags::push`]: the session is valid, but the
    /// render will not do exactly what it says.
    pub fn warn(&mut self, span: Option<&Span>, path: &str, message: String, help: Option<String>) {
        let d = self.located(span, path, message, help);
        self.warnings.push(d);
    }

    /// `path = <value as written>: problem`.
    pub fn bad_value(&mut self, span: &Span, path: &str, problem: impl fmt::Display) {
        let value = self.src.snippet(span);
        self.push(Some(span), path, format!(" = {value}: {problem}"), None);
    }

    /// Like [`Diags::bad_value`], with a fix.
    pub fn bad_value_help(
        &mut self,
        span: &Span,
        path: &str,
        problem: impl fmt::Display,
        help: impl Into<String>,
    ) {
        let value = self.src.snippet(span);
        self.push(
            Some(span),
            path,
            format!(" = {value}: {problem}"),
            Some(help.into()),
        );
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Diagnostics in file order (then in the order they were found).
    pub fn into_sorted(self) -> Vec<Diagnostic> {
        sorted(self.list)
    }

    /// The warnings, in file order; the errors stay.
    pub fn take_warnings(&mut self) -> Vec<Diagnostic> {
        sorted(std::mem::take(&mut self.warnings))
    }
}

fn sorted(mut list: Vec<Diagnostic>) -> Vec<Diagnostic> {
    list.sort_by_key(|d| (d.line == 0, d.line, d.column));
    list.dedup();
    list
}

/// Levenshtein distance, for "did you mean" hints on misspelt keys and names.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate within a small edit distance, if any.
pub fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|&(d, c)| d <= (c.len() / 3).max(2))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_in_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        let src = Source::new(Path::new("s.toml"), text);
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(4), (1, 5));
        let x = text.find("\"x\"").unwrap();
        assert_eq!(src.line_col(x), (2, 6));
    }

    #[test]
    fn closest_finds_typos_only() {
        assert_eq!(closest("gian_db", ["gain_db", "pan"]), Some("gain_db"));
        assert_eq!(closest("volume", ["gain_db", "pan"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
