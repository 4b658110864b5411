//! Everything the user sees: the [`Printer`] that owns stdout and stderr, and the renderers
//! (plan blocks, tables, diffs, JSON) that turn values into text.
//!
//! stdout carries results only (so `--output json` can be piped); progress, warnings and errors
//! go to stderr. Renderers take values and return strings; they never decide what to do.

use std::io::{IsTerminal, Write};

pub mod github;
pub mod inventory;
pub mod keys;
pub mod outputs;
pub mod plan;
pub mod progress;

use crate::cli::{GlobalArgs, OutputFormat};

/// Owns the two output streams and the user's presentation choices.
#[derive(Debug, Clone)]
pub struct Printer {
    pub format: OutputFormat,
    /// Colours on stdout/stderr (off with --no-color, NO_COLOR, or when not a terminal).
    pub color: bool,
    pub verbosity: Verbosity,
    /// stderr is a terminal: progress may redraw lines.
    pub interactive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
    Trace,
}

impl Printer {
    pub fn from_args(global: &GlobalArgs) -> Printer {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let verbosity = match (global.quiet, global.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Verbose,
            (false, _) => Verbosity::Trace,
        };
        Printer {
            format: global.output,
            color: use_colour(
                global.no_color || no_color_env,
                std::io::stdout().is_terminal(),
                std::io::stderr().is_terminal(),
            ),
            verbosity,
            interactive: std::io::stderr().is_terminal(),
        }
    }

    /// A printer for tests and embedded use: text, no colour, normal verbosity.
    pub fn plain() -> Printer {
        Printer {
            format: OutputFormat::Text,
            color: false,
            verbosity: Verbosity::Normal,
            interactive: false,
        }
    }

    /// Writes a result to stdout (a trailing newline is added when missing).
    pub fn result(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }

    /// Writes a value as pretty JSON to stdout.
    pub fn json<T: serde::Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.result(&text);
        Ok(())
    }

    /// Progress and status for humans, on stderr (hidden with -q).
    pub fn status(&self, text: &str) {
        if self.verbosity >= Verbosity::Normal {
            eprintln!("{text}");
        }
    }

    /// Extra detail on stderr (only with -v).
    pub fn detail(&self, text: &str) {
        if self.verbosity >= Verbosity::Verbose {
            eprintln!("{text}");
        }
    }

    /// A warning on stderr (hidden with -q).
    pub fn warn(&self, text: &str) {
        if self.verbosity >= Verbosity::Normal {
            eprintln!("{} {text}", self.paint("warning:", Style::Yellow));
        }
    }

    /// An error and its whole cause chain on stderr (always shown).
    pub fn error(&self, err: &anyhow::Error) {
        eprintln!("{} {err}", self.paint("error:", Style::Red));
        for cause in err.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
    }

    /// Wraps text in an ANSI colour when colours are on.
    pub fn paint(&self, text: &str, style: Style) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match style {
            Style::Red => "31",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Bold => "1",
            Style::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// Colours only when both streams are terminals: the same rendering (a plan, an error) goes to
/// either stream, so a redirected one (`2> log`, `| tee`) would otherwise get escape codes.
fn use_colour(disabled: bool, stdout_tty: bool, stderr_tty: bool) -> bool {
    !disabled && stdout_tty && stderr_tty
}

#[derive(Debug, Clone, Copy)]
pub enum Style {
    Red,
    Green,
    Yellow,
    Bold,
    Dim,
}

#[cfg(test)]
mod tests {
    use super::use_colour;

    #[test]
    fn colours_need_two_terminals_and_no_opt_out() {
        assert!(use_colour(false, true, true));
        assert!(!use_colour(true, true, true), "--no-color / NO_COLOR");
        assert!(!use_colour(false, true, false), "stderr redirected");
        assert!(!use_colour(false, false, true), "stdout redirected");
    }
}
