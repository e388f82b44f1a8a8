//! Lexer and parser for GRUB 2's shell-like script language (`grub.cfg`).
//!
//! Modelled on grub-core/script/yylex.l and parser.y, to the extent needed
//! to find menu entries and the commands inside them:
//! - words are made of unquoted text, `'single quoted'` text (no escapes),
//!   `"double quoted"` text (`\"`, `\\`, `\$` and `\`-newline are escapes)
//!   and variable references `$name`, `${name}`, `$1`, `$?`, `$#`, `$@`, `$*`;
//! - `\` outside quotes escapes the next character; `\`-newline joins lines;
//! - `{`, `}`, `;` and newlines are separate tokens; `#` at the start of a
//!   word starts a comment;
//! - reserved words are recognised only at the start of a command: `if`,
//!   `then`, `elif`, `else`, `fi`, `function`, `menuentry`, `submenu`,
//!   `for`, `while`, `until`, `do`, `done`.
//!
//! The parser never fails: a syntax error ends the construct it is in and
//! is recorded as a diagnostic. Nesting is limited to [`MAX_DEPTH`]; input
//! past that is ignored (with a diagnostic) so that no input can exhaust the
//! stack.

use super::GrubDiagnostic;

/// Maximum nesting of blocks (`{}`, `if`, loops, menu entries).
pub(crate) const MAX_DEPTH: usize = 48;
/// A word longer than this is cut (titles and command lines are far shorter).
const MAX_WORD_BYTES: usize = 64 * 1024;
/// At most this many tokens are produced.
const MAX_TOKENS: usize = 2_000_000;
/// At most this many words per command are kept.
const MAX_WORDS_PER_COMMAND: usize = 4096;
/// At most this many diagnostics are kept.
pub(crate) const MAX_DIAGNOSTICS: usize = 200;

/// A piece of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Text taken literally (unquoted or quoted).
    Lit(String),
    /// `$name` outside quotes: its value is split into fields on blanks.
    Var(String),
    /// `"$name"`: its value is one field.
    QuotedVar(String),
}

/// A word: concatenated parts, and whether any of it was quoted (a quoted
/// empty word is still an argument).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Word {
    pub(crate) parts: Vec<Part>,
    pub(crate) quoted: bool,
}

impl Word {
    /// The text of a word made only of unquoted literal text (how reserved
    /// words are recognised).
    pub(crate) fn bare(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Lit(s)] if !self.quoted => Some(s),
            _ => None,
        }
    }

    /// For `NAME=value` assignment words: the name, when the word starts
    /// with unquoted literal `NAME=`.
    pub(crate) fn assignment_name(&self) -> Option<&str> {
        let Some(Part::Lit(first)) = self.parts.first() else {
            return None;
        };
        let (name, _) = first.split_once('=')?;
        let mut chars = name.chars();
        let ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        ok.then_some(name)
    }

    fn push_char(&mut self, c: char) {
        if let Some(Part::Lit(s)) = self.parts.last_mut() {
            if s.len() < MAX_WORD_BYTES {
                s.push(c);
            }
        } else {
            self.parts.push(Part::Lit(c.to_string()));
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(Word, u64),
    Newline,
    Semi,
    LBrace(u64),
    RBrace(u64),
}

/// A parsed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stmt {
    /// A simple command (first word is the command name).
    Cmd { line: u64, words: Vec<Word> },
    /// `if c; then b; elif c; then b; else b; fi`.
    If {
        line: u64,
        branches: Vec<(Vec<Stmt>, Vec<Stmt>)>,
        else_body: Option<Vec<Stmt>>,
    },
    /// `for`/`while`/`until`: the header and the body.
    Loop {
        line: u64,
        header: Vec<Stmt>,
        body: Vec<Stmt>,
    },
    /// `function name { body }`: not executed where it is defined.
    Function { line: u64, body: Vec<Stmt> },
    /// `menuentry args { body }` or `submenu args { body }`.
    Menu {
        line: u64,
        submenu: bool,
        args: Vec<Word>,
        body: Vec<Stmt>,
    },
    /// A `{ ... }` block that belongs to nothing.
    Block { body: Vec<Stmt> },
}

/// Tokenize and parse a grub.cfg.
pub(crate) fn parse(text: &str, diags: &mut Vec<GrubDiagnostic>) -> Vec<Stmt> {
    let tokens = lex(text, diags);
    let mut p = Parser {
        toks: tokens,
        pos: 0,
        diags,
        gave_up: false,
    };
    let (stmts, _) = p.list(&[], false, 0);
    stmts
}

pub(crate) fn diag(diags: &mut Vec<GrubDiagnostic>, line: u64, message: impl Into<String>) {
    if diags.len() < MAX_DIAGNOSTICS {
        diags.push(GrubDiagnostic {
            line,
            message: message.into(),
        });
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: u64,
}

impl Lexer<'_> {
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line = self.line.saturating_add(1);
        }
        Some(c)
    }

    /// After a `$`: a variable reference, or `None` when `$` is literal.
    fn variable(&mut self) -> Option<String> {
        let mut name = String::new();
        match self.chars.peek().copied() {
            Some('{') => {
                // `${name}`: read to the closing brace on this line.
                let mut look = self.chars.clone();
                look.next();
                let mut inner = String::new();
                let mut closed = false;
                for c in look.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    if c == '\n' || inner.len() > 256 {
                        break;
                    }
                    inner.push(c);
                }
                let valid = closed
                    && !inner.is_empty()
                    && (inner.chars().all(is_name_char)
                        || matches!(inner.as_str(), "?" | "#" | "@" | "*"));
                if !valid {
                    return None;
                }
                // Consume `{`, the name and `}`.
                for _ in 0..inner.chars().count().saturating_add(2) {
                    self.bump();
                }
                Some(inner)
            }
            Some(c) if is_name_start(c) => {
                while let Some(&c) = self.chars.peek() {
                    if !is_name_char(c) || name.len() > 256 {
                        break;
                    }
                    name.push(c);
                    self.bump();
                }
                Some(name)
            }
            Some(c) if c.is_ascii_digit() => {
                while let Some(&c) = self.chars.peek() {
                    if !c.is_ascii_digit() || name.len() > 16 {
                        break;
                    }
                    name.push(c);
                    self.bump();
                }
                Some(name)
            }
            Some(c @ ('?' | '#' | '@' | '*')) => {
                self.bump();
                Some(c.to_string())
            }
            _ => None,
        }
    }
}

fn lex(text: &str, diags: &mut Vec<GrubDiagnostic>) -> Vec<Tok> {
    let mut lx = Lexer {
        chars: text.chars().peekable(),
        line: 1,
    };
    let mut toks = Vec::new();
    while toks.len() < MAX_TOKENS {
        let Some(&c) = lx.chars.peek() else { break };
        match c {
            ' ' | '\t' | '\r' => {
                lx.bump();
            }
            '\n' => {
                lx.bump();
                toks.push(Tok::Newline);
            }
            ';' => {
                lx.bump();
                toks.push(Tok::Semi);
            }
            '{' => {
                toks.push(Tok::LBrace(lx.line));
                lx.bump();
            }
            '}' => {
                toks.push(Tok::RBrace(lx.line));
                lx.bump();
            }
            '#' => {
                while let Some(&c) = lx.chars.peek() {
                    if c == '\n' {
                        break;
                    }
                    lx.bump();
                }
            }
            '\\' if lx.chars.clone().nth(1) == Some('\n') => {
                // Line continuation between words.
                lx.bump();
                lx.bump();
            }
            _ => {
                let line = lx.line;
                let word = lex_word(&mut lx, diags);
                toks.push(Tok::Word(word, line));
            }
        }
    }
    if toks.len() >= MAX_TOKENS {
        diag(diags, lx.line, "too many tokens; rest of the file ignored");
    }
    toks
}

fn lex_word(lx: &mut Lexer<'_>, diags: &mut Vec<GrubDiagnostic>) -> Word {
    let mut w = Word::default();
    let mut bytes = 0usize;
    while let Some(&c) = lx.chars.peek() {
        if bytes > MAX_WORD_BYTES {
            // Skip the rest of an oversized word.
            if matches!(c, ' ' | '\t' | '\r' | '\n' | ';' | '{' | '}') {
                break;
            }
            lx.bump();
            continue;
        }
        match c {
            ' ' | '\t' | '\r' | '\n' | ';' | '{' | '}' => break,
            '\\' => {
                lx.bump();
                match lx.bump() {
                    Some('\n') | None => {}
                    Some(e) => w.push_char(e),
                }
            }
            '\'' => {
                let start_line = lx.line;
                lx.bump();
                w.quoted = true;
                if !matches!(w.parts.last(), Some(Part::Lit(_))) {
                    w.parts.push(Part::Lit(String::new()));
                }
                let mut closed = false;
                while let Some(c) = lx.bump() {
                    if c == '\'' {
                        closed = true;
                        break;
                    }
                    w.push_char(c);
                    bytes = bytes.saturating_add(c.len_utf8());
                }
                if !closed {
                    diag(diags, start_line, "unterminated single quote");
                }
            }
            '"' => {
                let start_line = lx.line;
                lx.bump();
                w.quoted = true;
                if !matches!(w.parts.last(), Some(Part::Lit(_))) {
                    w.parts.push(Part::Lit(String::new()));
                }
                let mut closed = false;
                while let Some(c) = lx.bump() {
                    bytes = bytes.saturating_add(c.len_utf8());
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match lx.chars.peek().copied() {
                            Some('\n') => {
                                lx.bump();
                            }
                            Some(e @ ('"' | '\\' | '$')) => {
                                lx.bump();
                                w.push_char(e);
                            }
                            _ => w.push_char('\\'),
                        },
                        '$' => match lx.variable() {
                            Some(name) => w.parts.push(Part::QuotedVar(name)),
                            None => w.push_char('$'),
                        },
                        _ => w.push_char(c),
                    }
                }
                if !closed {
                    diag(diags, start_line, "unterminated double quote");
                }
            }
            '$' => {
                lx.bump();
                match lx.variable() {
                    Some(name) => w.parts.push(Part::Var(name)),
                    None => w.push_char('$'),
                }
            }
            _ => {
                lx.bump();
                w.push_char(c);
                bytes = bytes.saturating_add(c.len_utf8());
            }
        }
    }
    w
}

/// How a statement list ended.
#[derive(Debug, Clone, PartialEq)]
enum End {
    Keyword(String),
    RBrace,
    Eof,
}

struct Parser<'d> {
    toks: Vec<Tok>,
    pos: usize,
    diags: &'d mut Vec<GrubDiagnostic>,
    /// Set when nesting went past [`MAX_DEPTH`]: everything after is dropped.
    gave_up: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        if self.gave_up {
            return None;
        }
        self.toks.get(self.pos)
    }

    fn advance(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }

    fn line_here(&self) -> u64 {
        self.toks
            .get(..self.pos.saturating_add(1).min(self.toks.len()))
            .and_then(|t| {
                t.iter().rev().find_map(|t| match t {
                    Tok::Word(_, l) | Tok::LBrace(l) | Tok::RBrace(l) => Some(*l),
                    _ => None,
                })
            })
            .unwrap_or(1)
    }

    /// Statements until one of `terminators` (a reserved word at command
    /// start), a `}` when `in_braces`, or the end of input.
    fn list(&mut self, terminators: &[&str], in_braces: bool, depth: usize) -> (Vec<Stmt>, End) {
        let mut out = Vec::new();
        if depth > MAX_DEPTH {
            let line = self.line_here();
            diag(
                self.diags,
                line,
                "nesting too deep; rest of the file ignored",
            );
            self.gave_up = true;
            return (out, End::Eof);
        }
        loop {
            let Some(tok) = self.peek() else {
                return (out, End::Eof);
            };
            match tok {
                Tok::Newline | Tok::Semi => self.advance(),
                Tok::RBrace(line) => {
                    let line = *line;
                    self.advance();
                    if in_braces {
                        return (out, End::RBrace);
                    }
                    diag(self.diags, line, "unexpected '}'");
                }
                Tok::LBrace(_) => {
                    self.advance();
                    let (body, _) = self.list(&[], true, depth.saturating_add(1));
                    out.push(Stmt::Block { body });
                }
                Tok::Word(w, line) => {
                    let line = *line;
                    let keyword = w.bare().map(str::to_string);
                    match keyword.as_deref() {
                        Some(k) if terminators.contains(&k) => {
                            self.advance();
                            return (out, End::Keyword(k.to_string()));
                        }
                        Some("if") => {
                            self.advance();
                            out.push(self.if_stmt(line, depth));
                        }
                        Some("function") => {
                            self.advance();
                            if let Some(s) = self.function(line, depth) {
                                out.push(s);
                            }
                        }
                        Some(k @ ("menuentry" | "submenu")) => {
                            let submenu = k == "submenu";
                            self.advance();
                            if let Some(s) = self.menu(line, submenu, depth) {
                                out.push(s);
                            }
                        }
                        Some("for" | "while" | "until") => {
                            self.advance();
                            out.push(self.loop_stmt(line, depth));
                        }
                        Some(k @ ("then" | "elif" | "else" | "fi" | "do" | "done")) => {
                            diag(self.diags, line, format!("unexpected '{k}'"));
                            self.advance();
                        }
                        _ => out.push(self.command(line)),
                    }
                }
            }
        }
    }

    /// Words up to the end of the command (newline, `;`, `{`, `}`).
    fn command(&mut self, line: u64) -> Stmt {
        let mut words = Vec::new();
        while let Some(Tok::Word(w, _)) = self.peek() {
            if words.len() < MAX_WORDS_PER_COMMAND {
                words.push(w.clone());
            }
            self.advance();
        }
        Stmt::Cmd { line, words }
    }

    fn if_stmt(&mut self, line: u64, depth: usize) -> Stmt {
        let depth = depth.saturating_add(1);
        let mut branches = Vec::new();
        let mut else_body = None;
        loop {
            let (cond, end) = self.list(&["then"], false, depth);
            if end != End::Keyword("then".into()) {
                diag(self.diags, line, "'if' without 'then'");
                branches.push((cond, Vec::new()));
                break;
            }
            let (body, end) = self.list(&["elif", "else", "fi"], false, depth);
            branches.push((cond, body));
            match end {
                End::Keyword(k) if k == "elif" => continue,
                End::Keyword(k) if k == "else" => {
                    let (body, end) = self.list(&["fi"], false, depth);
                    if end != End::Keyword("fi".into()) {
                        diag(self.diags, line, "'if' without 'fi'");
                    }
                    else_body = Some(body);
                    break;
                }
                End::Keyword(_) => break,
                _ => {
                    diag(self.diags, line, "'if' without 'fi'");
                    break;
                }
            }
        }
        Stmt::If {
            line,
            branches,
            else_body,
        }
    }

    fn loop_stmt(&mut self, line: u64, depth: usize) -> Stmt {
        let depth = depth.saturating_add(1);
        let (header, end) = self.list(&["do"], false, depth);
        let body = if end == End::Keyword("do".into()) {
            let (body, end) = self.list(&["done"], false, depth);
            if end != End::Keyword("done".into()) {
                diag(self.diags, line, "loop without 'done'");
            }
            body
        } else {
            diag(self.diags, line, "loop without 'do'");
            Vec::new()
        };
        Stmt::Loop { line, header, body }
    }

    /// After a block opener's words: skip newlines and expect `{`.
    fn expect_lbrace(&mut self) -> bool {
        while let Some(Tok::Newline) = self.peek() {
            self.advance();
        }
        if let Some(Tok::LBrace(_)) = self.peek() {
            self.advance();
            true
        } else {
            false
        }
    }

    fn function(&mut self, line: u64, depth: usize) -> Option<Stmt> {
        if let Some(Tok::Word(..)) = self.peek() {
            self.advance();
        } else {
            diag(self.diags, line, "'function' without a name");
            return None;
        }
        if !self.expect_lbrace() {
            diag(self.diags, line, "'function' without '{'");
            return None;
        }
        let (body, end) = self.list(&[], true, depth.saturating_add(1));
        if end != End::RBrace {
            diag(self.diags, line, "function body without '}'");
        }
        Some(Stmt::Function { line, body })
    }

    fn menu(&mut self, line: u64, submenu: bool, depth: usize) -> Option<Stmt> {
        let mut args = Vec::new();
        while let Some(Tok::Word(w, _)) = self.peek() {
            if args.len() < MAX_WORDS_PER_COMMAND {
                args.push(w.clone());
            }
            self.advance();
        }
        if !matches!(self.peek(), Some(Tok::LBrace(_))) {
            let what = if submenu { "submenu" } else { "menuentry" };
            diag(
                self.diags,
                line,
                format!("'{what}' without '{{' on the same line"),
            );
            return None;
        }
        self.advance();
        let (body, end) = self.list(&[], true, depth.saturating_add(1));
        if end != End::RBrace {
            diag(self.diags, line, "menu entry body without '}'");
        }
        Some(Stmt::Menu {
            line,
            submenu,
            args,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part {
        Part::Lit(s.to_string())
    }

    fn words(src: &str) -> Vec<Vec<Part>> {
        let mut d = Vec::new();
        match parse(src, &mut d).as_slice() {
            [Stmt::Cmd { words, .. }] => words.iter().map(|w| w.parts.clone()).collect(),
            other => panic!("expected one command, got {other:?}"),
        }
    }

    #[test]
    fn quoting_escapes_and_variables() {
        assert_eq!(
            words(r#"set a='x y'"b\"$c${d}"e\ f\$g $1 $? ${saved_entry}"#),
            vec![
                vec![lit("set")],
                vec![
                    lit("a=x yb\""),
                    Part::QuotedVar("c".into()),
                    Part::QuotedVar("d".into()),
                    lit("e f$g"),
                ],
                vec![Part::Var("1".into())],
                vec![Part::Var("?".into())],
                vec![Part::Var("saved_entry".into())],
            ]
        );
        // `\n` inside double quotes is not an escape; `$` before a non-name is literal.
        assert_eq!(words(r#"echo "a\nb" $ $-"#)[1], vec![lit("a\\nb")]);
        assert_eq!(words(r#"echo "a\nb" $ $-"#)[2], vec![lit("$")]);
    }

    #[test]
    fn comments_continuations_and_separators() {
        let mut d = Vec::new();
        let s = parse(
            "# c\nlinux /vmlinuz \\\n  ro quiet # tail\necho a;echo b#notcomment\n",
            &mut d,
        );
        assert_eq!(s.len(), 3);
        match &s[0] {
            Stmt::Cmd { line, words } => {
                assert_eq!(*line, 2);
                assert_eq!(words.len(), 4);
            }
            other => panic!("{other:?}"),
        }
        match &s[2] {
            Stmt::Cmd { line, words } => {
                assert_eq!(*line, 4);
                assert_eq!(words[1].parts, vec![lit("b#notcomment")]);
            }
            other => panic!("{other:?}"),
        }
        assert!(d.is_empty());
    }

    #[test]
    fn nested_structure() {
        let src = "if [ x ]; then\n  set a=1\nelif true; then set a=2\nelse\n  set a=3\nfi\n\
function f {\n menuentry inside { linux /x }\n}\n\
submenu 'S' --id s {\n  menuentry 'E' {\n    linux /k\n  }\n}\n\
for i in 1 2; do echo $i; done\n";
        let mut d = Vec::new();
        let s = parse(src, &mut d);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(s.len(), 4);
        match &s[0] {
            Stmt::If {
                branches,
                else_body,
                ..
            } => {
                assert_eq!(branches.len(), 2);
                assert!(else_body.is_some());
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&s[1], Stmt::Function { line: 7, .. }));
        match &s[2] {
            Stmt::Menu {
                submenu: true,
                args,
                body,
                line,
            } => {
                assert_eq!(*line, 10);
                assert_eq!(args.len(), 3);
                assert!(matches!(
                    &body[0],
                    Stmt::Menu {
                        submenu: false,
                        line: 11,
                        ..
                    }
                ));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&s[3], Stmt::Loop { .. }));
    }

    #[test]
    fn keywords_only_at_command_start() {
        let mut d = Vec::new();
        let s = parse("echo if then fi\n", &mut d);
        assert!(matches!(s.as_slice(), [Stmt::Cmd { words, .. }] if words.len() == 4));
    }

    #[test]
    fn errors_are_diagnostics_not_panics() {
        for src in [
            "if true; then",
            "fi\n}\nthen",
            "menuentry 'x'\n{ linux /a }",
            "menuentry 'unterminated {",
            "function {",
            "'''\"\"\"",
            "${",
            "${}",
            "$",
            "\\",
            "while",
            "{{{{",
        ] {
            let mut d = Vec::new();
            let _ = parse(src, &mut d);
        }
        let deep = "{".repeat(100_000);
        let mut d = Vec::new();
        let _ = parse(&deep, &mut d);
        assert!(d.iter().any(|x| x.message.contains("too deep")));
        let deep_if = "if a; then ".repeat(10_000);
        let mut d = Vec::new();
        let _ = parse(&deep_if, &mut d);
        assert!(d.iter().any(|x| x.message.contains("too deep")));
    }
}
