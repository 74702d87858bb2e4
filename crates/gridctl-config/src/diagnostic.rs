//! User-facing diagnostics: `error:` / `warning:` with file:line:column, a source
//! snippet with carets, and a `help:` line when the fix is obvious.
//!
//! Rendered by hand (rustc/just style) so the text is stable and tests can assert it exactly.

use std::fmt::{self, Write as _};
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A place in a source file: the file's text is kept so the snippet can be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Range<usize>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// The file the problem is in (with a label), when there is one.
    /// Boxed: diagnostics travel in `Result::Err`, which should stay small.
    pub location: Option<Box<(std::sync::Arc<Source>, Label)>>,
    /// Extra located notes (e.g. "the other instance is declared here").
    pub notes: Vec<(std::sync::Arc<Source>, Label)>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            location: None,
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn at(
        mut self,
        source: &std::sync::Arc<Source>,
        span: Range<usize>,
        label: impl Into<String>,
    ) -> Diagnostic {
        self.location = Some(Box::new((
            source.clone(),
            Label {
                span,
                text: label.into(),
            },
        )));
        self
    }

    pub fn note_at(
        mut self,
        source: &std::sync::Arc<Source>,
        span: Range<usize>,
        label: impl Into<String>,
    ) -> Diagnostic {
        self.notes.push((
            source.clone(),
            Label {
                span,
                text: label.into(),
            },
        ));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn display_path(path: &Path) -> String {
    path.display().to_string()
}

/// Characters that would act on a terminal instead of showing: C0/C1 controls (ESC
/// starts a sequence that can clear the screen or retitle the window) and the bidi
/// overrides that make text read differently than it is.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every terminal-unsafe character shown as a Rust escape (`\u{1b}`, `\n`),
/// for putting a manifest value into a message.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// Like [`escape`], keeping line breaks (and tabs): for whole messages, whose own
/// layout may use them. Values inside them were escaped with [`escape`] already.
fn escape_keep_lines(s: &str) -> String {
    s.split('\n')
        .map(|l| l.split('\t').map(escape).collect::<Vec<_>>().join("\t"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn write_snippet(out: &mut String, source: &Source, label: &Label, arrow: &str) {
    let (line, col) = line_col(&source.text, label.span.start);
    let raw_line = source.text.lines().nth(line - 1).unwrap_or("");
    // The line as shown (control characters escaped), and the caret column in it.
    let before: String = raw_line.chars().take(col - 1).collect();
    let line_text = escape(raw_line);
    let col = escape(&before).chars().count() + 1;
    let gutter = line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(
        out,
        "{pad}{arrow} {}:{line}:{col}",
        escape(&display_path(&source.path))
    );
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{line} | {line_text}");
    // Carets cover the span, clipped to the first line; at least one caret.
    let line_chars = line_text.chars().count();
    let span_chars = source
        .text
        .get(label.span.clone())
        .map(|s| escape(s.lines().next().unwrap_or("")).chars().count())
        .unwrap_or(1)
        .max(1)
        .min(line_chars.saturating_sub(col - 1).max(1));
    let _ = write!(
        out,
        "{pad} | {}{}",
        " ".repeat(col - 1),
        "^".repeat(span_chars)
    );
    if label.text.is_empty() {
        out.push('\n');
    } else {
        let _ = writeln!(out, " {}", escape(&label.text));
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{kind}: {}", escape_keep_lines(&self.message));
        if let Some(loc) = &self.location {
            let (source, label) = &**loc;
            write_snippet(&mut out, source, label, "-->");
        }
        for (source, label) in &self.notes {
            write_snippet(&mut out, source, label, ":::");
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "help: {}", escape_keep_lines(help));
        }
        f.write_str(out.trim_end_matches('\n'))
    }
}

/// "did you mean `x`?" for the closest candidate, if one is close enough.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(word, c);
        if score > 0.8 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn renders_location_carets_and_help() {
        let src = Arc::new(Source {
            path: "grid.toml".into(),
            text: "[roles.asset]\nservices = [\"asett\"]\n".into(),
        });
        let start = src.text.find("\"asett\"").unwrap();
        let d = Diagnostic::error("unknown service `asett`")
            .at(&src, start..start + 7, "not in the service catalog")
            .help("did you mean `asset`?");
        assert_eq!(
            d.to_string(),
            "error: unknown service `asett`\n --> grid.toml:2:13\n  |\n2 | services = [\"asett\"]\n  |             ^^^^^^^ not in the service catalog\nhelp: did you mean `asset`?"
        );
    }

    #[test]
    fn terminal_controls_are_shown_escaped() {
        let src = Arc::new(Source {
            path: "grid.toml".into(),
            text: "[grid]\nname = \"\u{1b}[2Jx\"\n".into(),
        });
        let start = src.text.find('"').unwrap();
        let d = Diagnostic::error("bad `\u{1b}[2J`")
            .at(&src, start..src.text.len() - 1, "here\u{7}")
            .help("no \u{9b}");
        let shown = d.to_string();
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{shown:?}"
        );
        assert_eq!(
            shown,
            "error: bad `\\u{1b}[2J`\n --> grid.toml:2:8\n  |\n2 | name = \"\\u{1b}[2Jx\"\n  |        ^^^^^^^^^^^^ here\\u{7}\nhelp: no \\u{9b}"
        );
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("instnces", ["services", "instances"]).as_deref(),
            Some("did you mean `instances`?")
        );
        assert_eq!(did_you_mean("zzz", ["services"]), None);
    }
}
