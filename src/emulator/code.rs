//! A light check of channel-namespace handler code (APPSYNC_JS), so that code AppSync would
//! refuse is refused locally too, with AWS's error shape (`reason: CODE_ERROR`,
//! `PARSER_ERROR`/`LINT_ERROR` with a line and column).
//!
//! This is a tokenizer, not a JavaScript parser: it finds unterminated strings, comments and
//! template literals, unbalanced brackets, and the language features the APPSYNC_JS runtime
//! documents as unsupported that can be seen in the tokens (`try`/`catch`/`throw`, `while` and
//! `do`, `continue`, classic `for(;;)` loops, `++`/`--`, `async`/`await`, regular-expression
//! literals). Code that passes may still fail on AWS (the real service runs a full parser and
//! linter); code that fails here would fail there.

/// Which of AWS's code error types a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    Parser,
    Lint,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Parser => "PARSER_ERROR",
            ProblemKind::Lint => "LINT_ERROR",
        }
    }
}

/// The first problem found, with a 1-based line and column and the length of the offending
/// token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub message: String,
    pub line: usize,
    pub column: usize,
    pub span: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// Identifier or keyword (its text is checked separately).
    Word,
    /// Number, string, template, or a closing bracket: something a `/` divides.
    Operand,
    Dot,
    Punct,
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    column: usize,
    source: std::marker::PhantomData<&'a str>,
}

#[derive(Debug, Clone, Copy)]
struct Mark {
    line: usize,
    column: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn mark(&self) -> Mark {
        Mark {
            line: self.line,
            column: self.column,
        }
    }
}

fn problem(kind: ProblemKind, at: Mark, span: usize, message: impl Into<String>) -> Problem {
    Problem {
        kind,
        message: message.into(),
        line: at.line,
        column: at.column,
        span,
    }
}

/// Keywords after which a `/` starts a regular expression rather than a division.
const EXPRESSION_KEYWORDS: &[&str] = &[
    "return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "yield",
];

const UNSUPPORTED_WORDS: &[(&str, &str)] = &[
    (
        "try",
        "try/catch is not supported by the APPSYNC_JS runtime (use util.error)",
    ),
    (
        "catch",
        "try/catch is not supported by the APPSYNC_JS runtime (use util.error)",
    ),
    (
        "throw",
        "throw is not supported by the APPSYNC_JS runtime (use util.error)",
    ),
    (
        "while",
        "while loops are not supported by the APPSYNC_JS runtime (use for-of)",
    ),
    (
        "do",
        "do-while loops are not supported by the APPSYNC_JS runtime (use for-of)",
    ),
    (
        "continue",
        "continue is not supported by the APPSYNC_JS runtime",
    ),
    (
        "async",
        "async functions are not supported by the APPSYNC_JS runtime",
    ),
    ("await", "await is not supported by the APPSYNC_JS runtime"),
];

/// Checks `source`; the first problem found is returned.
pub fn check(source: &str) -> Result<(), Problem> {
    let mut lx = Lexer {
        chars: source.chars().collect(),
        pos: 0,
        line: 1,
        column: 1,
        source: std::marker::PhantomData,
    };
    // Open brackets; a `${` inside a template is a '{' whose closing brace resumes the template.
    let mut open: Vec<(char, Mark, bool)> = Vec::new();
    let mut prev: Option<(Tok, String)> = None;
    // Depth of a `for (` header being watched for `;` (classic for loops).
    let mut for_header: Option<(usize, Mark)> = None;

    while let Some(c) = lx.peek(0) {
        let at = lx.mark();
        if c.is_whitespace() {
            lx.bump();
            continue;
        }
        if c == '/' && lx.peek(1) == Some('/') {
            while let Some(c) = lx.peek(0) {
                if c == '\n' {
                    break;
                }
                lx.bump();
            }
            continue;
        }
        if c == '/' && lx.peek(1) == Some('*') {
            lx.bump();
            lx.bump();
            loop {
                match lx.bump() {
                    Some('*') if lx.peek(0) == Some('/') => {
                        lx.bump();
                        break;
                    }
                    Some(_) => {}
                    None => {
                        return Err(problem(ProblemKind::Parser, at, 2, "Unterminated comment"));
                    }
                }
            }
            continue;
        }
        if c == '\'' || c == '"' {
            lx.bump();
            loop {
                match lx.bump() {
                    Some('\\') => {
                        lx.bump();
                    }
                    Some(q) if q == c => break,
                    Some('\n') | None => {
                        return Err(problem(
                            ProblemKind::Parser,
                            at,
                            1,
                            "Unterminated string constant",
                        ));
                    }
                    Some(_) => {}
                }
            }
            prev = Some((Tok::Operand, String::new()));
            continue;
        }
        if c == '`' || (c == '}' && open.last().is_some_and(|(_, _, template)| *template)) {
            // A template literal, or its continuation after a `${ ... }` expression.
            if c == '}' {
                open.pop();
            }
            lx.bump();
            loop {
                match lx.bump() {
                    Some('\\') => {
                        lx.bump();
                    }
                    Some('`') => break,
                    Some('$') if lx.peek(0) == Some('{') => {
                        let brace = lx.mark();
                        lx.bump();
                        open.push(('{', brace, true));
                        break;
                    }
                    Some(_) => {}
                    None => {
                        return Err(problem(
                            ProblemKind::Parser,
                            at,
                            1,
                            "Unterminated template literal",
                        ));
                    }
                }
            }
            prev = Some((Tok::Operand, String::new()));
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            let mut word = String::new();
            while let Some(c) = lx.peek(0) {
                if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
                    word.push(c);
                    lx.bump();
                } else {
                    break;
                }
            }
            let is_property = matches!(prev, Some((Tok::Dot, _)));
            if !is_property
                && let Some((_, why)) = UNSUPPORTED_WORDS.iter().find(|(w, _)| *w == word)
            {
                return Err(problem(ProblemKind::Lint, at, word.chars().count(), *why));
            }
            if !is_property && word == "for" {
                for_header = Some((open.len() + 1, at));
            }
            prev = Some((Tok::Word, word));
            continue;
        }
        if c.is_ascii_digit() {
            while lx
                .peek(0)
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
            {
                lx.bump();
            }
            prev = Some((Tok::Operand, String::new()));
            continue;
        }
        match c {
            '(' | '[' | '{' => {
                lx.bump();
                open.push((c, at, false));
                prev = Some((Tok::Punct, c.to_string()));
            }
            ')' | ']' | '}' => {
                lx.bump();
                let expected = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match open.pop() {
                    Some((o, _, _)) if o == expected => {}
                    Some((o, mark, _)) => {
                        return Err(problem(
                            ProblemKind::Parser,
                            at,
                            1,
                            format!(
                                "Unexpected '{c}': '{o}' opened at line {} column {} is not closed",
                                mark.line, mark.column
                            ),
                        ));
                    }
                    None => {
                        return Err(problem(
                            ProblemKind::Parser,
                            at,
                            1,
                            format!("Unexpected '{c}'"),
                        ));
                    }
                }
                if c == ')' && for_header.is_some_and(|(depth, _)| depth == open.len() + 1) {
                    for_header = None;
                }
                prev = Some((Tok::Operand, c.to_string()));
            }
            ';' => {
                lx.bump();
                if let Some((depth, mark)) = for_header
                    && depth == open.len()
                {
                    return Err(problem(
                        ProblemKind::Lint,
                        mark,
                        3,
                        "classic for(;;) loops are not supported by the APPSYNC_JS runtime (use for-of or for-in)",
                    ));
                }
                prev = Some((Tok::Punct, ";".into()));
            }
            '.' => {
                lx.bump();
                prev = Some((Tok::Dot, ".".into()));
            }
            '+' | '-' if lx.peek(1) == Some(c) => {
                return Err(problem(
                    ProblemKind::Lint,
                    at,
                    2,
                    format!(
                        "the {c}{c} operator is not supported by the APPSYNC_JS runtime (use {c}= 1)"
                    ),
                ));
            }
            '/' => {
                let divides = match &prev {
                    Some((Tok::Operand, _)) => true,
                    Some((Tok::Word, w)) => !EXPRESSION_KEYWORDS.contains(&w.as_str()),
                    _ => false,
                };
                if !divides {
                    return Err(problem(
                        ProblemKind::Lint,
                        at,
                        1,
                        "regular expression literals are not supported by the APPSYNC_JS runtime",
                    ));
                }
                lx.bump();
                prev = Some((Tok::Punct, "/".into()));
            }
            _ => {
                lx.bump();
                prev = Some((Tok::Punct, c.to_string()));
            }
        }
    }
    if let Some((c, mark, template)) = open.pop() {
        let what = if template {
            "template expression '${'".to_string()
        } else {
            format!("'{c}'")
        };
        return Err(problem(
            ProblemKind::Parser,
            mark,
            1,
            format!("Unexpected end of input: {what} is not closed"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_handlers() {
        let code = r#"
            import { util } from '@aws-appsync/utils';
            // a comment with ( and { and `
            /* block ) */
            export function onPublish(ctx) {
              const out = ctx.events.filter((e) => e.payload.n / 2 > 1);
              for (const e of out) { e.payload.tag = `n=${e.payload.n + 1} {}`; }
              const s = "it's \"quoted\"";
              return out.map((e) => ({ id: e.id, payload: { ...e.payload, s } }));
            }
            export const onSubscribe = (ctx) => { if (ctx.info.channel.path === '/x') { util.unauthorized(); } };
        "#;
        assert_eq!(check(code), Ok(()));
    }

    #[test]
    fn finds_parser_errors_with_their_location() {
        let p = check("export function onPublish(ctx) {\n  return ctx.events;\n")
            .expect_err("should fail");
        assert_eq!((p.kind, p.line, p.column), (ProblemKind::Parser, 1, 32));
        let p = check("const s = 'open\n';").expect_err("should fail");
        assert_eq!((p.kind, p.line), (ProblemKind::Parser, 1));
        let p = check("f(a]").expect_err("should fail");
        assert!(p.message.contains("Unexpected ']'"), "{}", p.message);
        assert!(check("const t = `${a`").is_err());
        assert!(check("/* never closed").is_err());
    }

    #[test]
    fn finds_unsupported_features() {
        for code in [
            "try { f() } catch (e) {}",
            "while (x) {}",
            "for (let i = 0; i < 3; i += 1) {}",
            "x++",
            "const r = /ab+/;",
            "async function f() {}",
        ] {
            let p = check(code).expect_err("should fail");
            assert_eq!(p.kind, ProblemKind::Lint, "{code}: {p:?}");
        }
        assert_eq!(check("for (const k in obj) { util.log(k) }"), Ok(()));
        assert_eq!(check("promise.catch(handler)"), Ok(()));
    }
}
