//! Reading a script into the syntax tree, with `ash`'s words for every
//! mistake (`syntax error: unexpected "fi" (expecting "then")`), one
//! complete command at a time as a shell runs them: a script's first
//! lines run before a mistake further down is met.

use std::cell::OnceCell;
use std::rc::Rc;

use super::ast::*;

/// A syntax error, in `ash`'s words (without the `sh: ` before them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    /// Whether the script ended too soon (a terminal asks for more).
    pub at_end: bool,
}

impl ParseError {
    fn new(message: impl Into<String>) -> ParseError {
        ParseError {
            message: format!("syntax error: {}", message.into()),
            at_end: false,
        }
    }

    fn eof(message: impl Into<String>) -> ParseError {
        ParseError {
            at_end: true,
            ..ParseError::new(message)
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

type Result<T> = std::result::Result<T, ParseError>;

/// Parses a whole script.
pub fn parse(script: &str) -> Result<List> {
    let mut parser = Parser::new(script);
    let mut all = List::default();
    while let Some(list) = parser.next_command()? {
        all.0.extend(list.0);
    }
    Ok(all)
}

const RESERVED: [&str; 15] = [
    "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for", "{",
    "}", "!",
];

/// Reserved words that end a list rather than start a command.
const CLOSERS: [&str; 8] = ["then", "else", "elif", "fi", "do", "done", "esac", "}"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    AndIf,
    OrIf,
    DSemi,
    Semi,
    Amp,
    Pipe,
    LParen,
    RParen,
    Redir(RedirOp),
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::AndIf => "&&",
            Op::OrIf => "||",
            Op::DSemi => ";;",
            Op::Semi => ";",
            Op::Amp => "&",
            Op::Pipe => "|",
            Op::LParen => "(",
            Op::RParen => ")",
            Op::Redir(RedirOp::In) => "<",
            Op::Redir(RedirOp::Out) => ">",
            Op::Redir(RedirOp::Append) => ">>",
            Op::Redir(RedirOp::Clobber) => ">|",
            Op::Redir(RedirOp::ReadWrite) => "<>",
            Op::Redir(RedirOp::DupIn) => "<&",
            Op::Redir(RedirOp::DupOut) => ">&",
            Op::Redir(RedirOp::Here { strip_tabs: false }) => "<<",
            Op::Redir(RedirOp::Here { strip_tabs: true }) => "<<-",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(Word),
    IoNumber(u32),
    Op(Op),
    Newline,
    Eof,
}

impl Token {
    /// The reserved word this token is, where one may stand.
    fn reserved(&self) -> Option<&str> {
        match self {
            Token::Word(word) => word.plain().filter(|w| RESERVED.contains(w)),
            _ => None,
        }
    }

    fn is_word(&self, text: &str) -> bool {
        matches!(self, Token::Word(word) if word.plain() == Some(text))
    }

    /// How `ash` names it in "unexpected ...".
    fn describe(&self) -> String {
        match self {
            Token::Eof => "end of file".into(),
            Token::Newline => "newline".into(),
            Token::Op(op) => format!("\"{}\"", op.text()),
            Token::Word(_) => match self.reserved() {
                Some(word) => format!("\"{word}\""),
                None => "word".into(),
            },
            Token::IoNumber(_) => "word".into(),
        }
    }
}

/// How a run of characters is read: where it stops and what a backslash
/// and quotes do there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A command's word: ends at a blank or an operator.
    Bare,
    /// Inside `"..."`.
    Double,
    /// The word of `${name-word}`: ends at its `}`.
    Brace,
    /// A here-document's body or `$((...))`: only `$`, backquotes and
    /// backslash are special, up to the end of the text.
    Text,
}

pub struct Parser {
    chars: Vec<char>,
    at: usize,
    peeked: Option<Token>,
    /// Here-documents named on the current line: delimiter, whether tabs
    /// are stripped, and where the body goes.
    heres: Vec<(String, bool, Rc<HereDoc>)>,
    /// A position and the line it is on (lines are counted from there).
    line_at: (usize, u32),
    /// Where the last token read begins.
    token_start: usize,
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `text` is a valid variable name.
pub fn valid_name(text: &str) -> bool {
    is_name(text)
}

fn unexpected(token: &Token) -> ParseError {
    let message = format!("unexpected {}", token.describe());
    if *token == Token::Eof {
        ParseError::eof(message)
    } else {
        ParseError::new(message)
    }
}

fn expecting(token: &Token, what: &str) -> ParseError {
    let message = format!("unexpected {} (expecting \"{what}\")", token.describe());
    if *token == Token::Eof {
        ParseError::eof(message)
    } else {
        ParseError::new(message)
    }
}

impl Parser {
    pub fn new(script: &str) -> Parser {
        Parser {
            chars: script.chars().collect(),
            at: 0,
            peeked: None,
            heres: Vec::new(),
            line_at: (0, 0),
            token_start: 0,
        }
    }

    /// The line (from 0) a position is on.
    fn line_of(&mut self, position: usize) -> u32 {
        let (mut at, mut line) = self.line_at;
        if at > position {
            (at, line) = (0, 0);
        }
        line += self.chars[at..position]
            .iter()
            .filter(|c| **c == '\n')
            .count() as u32;
        at = position;
        self.line_at = (at, line);
        line
    }

    /// The next complete command (a line, or more when a compound command
    /// spans lines), or `None` at the end.
    pub fn next_command(&mut self) -> Result<Option<List>> {
        loop {
            match self.peek()? {
                Token::Newline => {
                    self.take()?;
                }
                Token::Eof => return Ok(None),
                _ => break,
            }
        }
        let mut list = List::default();
        loop {
            let and_or = self.and_or()?;
            let background = match self.peek()? {
                Token::Op(Op::Amp) => {
                    self.take()?;
                    true
                }
                Token::Op(Op::Semi) => {
                    self.take()?;
                    false
                }
                Token::Newline | Token::Eof => false,
                other => return Err(unexpected(&other)),
            };
            list.0.push(Item { and_or, background });
            match self.peek()? {
                Token::Newline => {
                    self.take()?;
                    return Ok(Some(list));
                }
                Token::Eof => return Ok(Some(list)),
                _ => {}
            }
        }
    }

    /// Whether nothing but blank lines and comments is left.
    pub fn at_end(&mut self) -> bool {
        loop {
            match self.peek() {
                Ok(Token::Newline) => {
                    let _ = self.take();
                }
                Ok(Token::Eof) => return true,
                _ => return false,
            }
        }
    }

    // ---- the grammar ----

    fn and_or(&mut self) -> Result<AndOr> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let connector = match self.peek()? {
                Token::Op(Op::AndIf) => Connector::And,
                Token::Op(Op::OrIf) => Connector::Or,
                _ => break,
            };
            self.take()?;
            self.linebreak()?;
            rest.push((connector, self.pipeline()?));
        }
        Ok(AndOr { first, rest })
    }

    fn pipeline(&mut self) -> Result<Pipeline> {
        let bang = self.peek()?.is_word("!");
        if bang {
            self.take()?;
            if self.peek()?.is_word("!") {
                return Err(unexpected(&self.peek()?));
            }
        }
        let mut commands = vec![self.command()?];
        while self.peek()? == Token::Op(Op::Pipe) {
            self.take()?;
            self.linebreak()?;
            commands.push(self.command()?);
        }
        Ok(Pipeline { bang, commands })
    }

    fn command(&mut self) -> Result<Command> {
        let token = self.peek()?;
        let compound = match token.reserved() {
            Some("{") => {
                self.take()?;
                let body = self.compound_list()?;
                self.expect("}")?;
                Compound::Brace(body)
            }
            Some("if") => self.if_clause()?,
            Some("for") => self.for_clause()?,
            Some("while") | Some("until") => {
                let until = token.is_word("until");
                self.take()?;
                let condition = self.compound_list()?;
                let body = self.do_group()?;
                Compound::Loop {
                    until,
                    condition,
                    body,
                }
            }
            Some("case") => self.case_clause()?,
            Some(_) => return Err(unexpected(&token)),
            None => match token {
                Token::Op(Op::LParen) => {
                    self.take()?;
                    let body = self.compound_list()?;
                    self.expect_op(Op::RParen)?;
                    Compound::Subshell(body)
                }
                Token::Word(_) | Token::IoNumber(_) | Token::Op(Op::Redir(_)) => {
                    return self.simple();
                }
                other => return Err(unexpected(&other)),
            },
        };
        let mut redirects = Vec::new();
        while let Some(redirect) = self.redirect()? {
            redirects.push(redirect);
        }
        Ok(Command::Compound(Rc::new(compound), redirects))
    }

    fn simple(&mut self) -> Result<Command> {
        let mut simple = Simple::default();
        // Its first token is the one peeked.
        self.peek()?;
        simple.line = self.line_of(self.token_start);
        loop {
            if let Some(redirect) = self.redirect()? {
                simple.redirects.push(redirect);
                continue;
            }
            let Token::Word(word) = self.peek()? else {
                break;
            };
            self.take()?;
            if simple.words.is_empty()
                && let Some((name, value)) = assignment(&word)
            {
                simple.assigns.push((name, value));
                continue;
            }
            simple.words.push(word);
            if simple.words.len() == 1
                && simple.assigns.is_empty()
                && simple.redirects.is_empty()
                && self.peek()? == Token::Op(Op::LParen)
            {
                return self.function(simple.words.pop().expect("one word"));
            }
        }
        Ok(Command::Simple(simple))
    }

    /// `name ( ) body`, the name read.
    fn function(&mut self, name: Word) -> Result<Command> {
        self.take()?;
        let token = self.take()?;
        if token != Token::Op(Op::RParen) {
            return Err(expecting(&token, ")"));
        }
        let name = match name.plain() {
            Some(text) if is_name(text) => text.to_string(),
            _ => return Err(ParseError::new("bad function name")),
        };
        self.linebreak()?;
        let body = self.command()?;
        Ok(Command::Function(name, Rc::new(body)))
    }

    fn if_clause(&mut self) -> Result<Compound> {
        self.take()?;
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let condition = self.compound_list()?;
            self.expect("then")?;
            let body = self.compound_list()?;
            branches.push((condition, body));
            let token = self.take()?;
            if token.is_word("elif") {
                continue;
            }
            if token.is_word("else") {
                otherwise = Some(self.compound_list()?);
                self.expect("fi")?;
            } else if !token.is_word("fi") {
                return Err(expecting(&token, "fi"));
            }
            break;
        }
        Ok(Compound::If {
            branches,
            otherwise,
        })
    }

    fn for_clause(&mut self) -> Result<Compound> {
        self.take()?;
        let name = match self.take()? {
            Token::Word(word) if word.plain().is_some_and(is_name) => {
                word.plain().expect("plain").to_string()
            }
            Token::Word(_) | Token::IoNumber(_) => {
                return Err(ParseError::new("bad for loop variable"));
            }
            other => return Err(unexpected(&other)),
        };
        self.linebreak()?;
        let mut words = None;
        if self.peek()?.is_word("in") {
            self.take()?;
            let mut list = Vec::new();
            loop {
                match self.peek()? {
                    Token::Word(word) => {
                        self.take()?;
                        list.push(word);
                    }
                    Token::Op(Op::Semi) | Token::Newline => {
                        self.take()?;
                        break;
                    }
                    other => return Err(unexpected(&other)),
                }
            }
            words = Some(list);
            self.linebreak()?;
        } else if self.peek()? == Token::Op(Op::Semi) {
            self.take()?;
            self.linebreak()?;
        }
        let body = self.do_group()?;
        Ok(Compound::For { name, words, body })
    }

    fn do_group(&mut self) -> Result<List> {
        self.expect("do")?;
        let body = self.compound_list()?;
        self.expect("done")?;
        Ok(body)
    }

    fn case_clause(&mut self) -> Result<Compound> {
        self.take()?;
        let word = match self.take()? {
            Token::Word(word) => word,
            other => return Err(unexpected(&other)),
        };
        self.linebreak()?;
        self.expect("in")?;
        self.linebreak()?;
        let mut arms = Vec::new();
        loop {
            if self.peek()?.is_word("esac") {
                self.take()?;
                break;
            }
            if self.peek()? == Token::Op(Op::LParen) {
                self.take()?;
            }
            let mut patterns = Vec::new();
            loop {
                match self.take()? {
                    Token::Word(word) => patterns.push(word),
                    other => return Err(expecting(&other, ")")),
                }
                match self.take()? {
                    Token::Op(Op::Pipe) => {}
                    Token::Op(Op::RParen) => break,
                    other => return Err(expecting(&other, ")")),
                }
            }
            self.linebreak()?;
            let token = self.peek()?;
            let body = if token == Token::Op(Op::DSemi) || token.is_word("esac") {
                List::default()
            } else {
                self.compound_list()?
            };
            arms.push(CaseArm { patterns, body });
            match self.take()? {
                Token::Op(Op::DSemi) => self.linebreak()?,
                token if token.is_word("esac") => break,
                other => return Err(expecting(&other, "esac")),
            }
        }
        Ok(Compound::Case { word, arms })
    }

    /// A list inside a compound command: newlines separate too, and it
    /// ends before a closing word, `)` or `;;`.
    fn compound_list(&mut self) -> Result<List> {
        self.linebreak()?;
        let mut list = List::default();
        loop {
            let token = self.peek()?;
            let ends = token.reserved().is_some_and(|w| CLOSERS.contains(&w))
                || matches!(token, Token::Op(Op::RParen | Op::DSemi) | Token::Eof);
            if ends {
                // An empty list is a mistake, named by what ends it; at
                // the end of the script, by what was expected after it.
                if list.0.is_empty() && token != Token::Eof {
                    return Err(unexpected(&token));
                }
                return Ok(list);
            }
            let and_or = self.and_or()?;
            let (background, separated) = match self.peek()? {
                Token::Op(Op::Amp) => (true, true),
                Token::Op(Op::Semi) | Token::Newline => (false, true),
                _ => (false, false),
            };
            if separated {
                self.take()?;
            }
            list.0.push(Item { and_or, background });
            if !separated {
                // An and-or list not ended by a separator ends the list.
                return Ok(list);
            }
            self.linebreak()?;
        }
    }

    fn linebreak(&mut self) -> Result<()> {
        while self.peek()? == Token::Newline {
            self.take()?;
        }
        Ok(())
    }

    fn expect(&mut self, word: &str) -> Result<()> {
        let token = self.take()?;
        if token.is_word(word) {
            Ok(())
        } else {
            Err(expecting(&token, word))
        }
    }

    fn expect_op(&mut self, op: Op) -> Result<()> {
        let token = self.take()?;
        if token == Token::Op(op) {
            Ok(())
        } else {
            Err(expecting(&token, op.text()))
        }
    }

    fn redirect(&mut self) -> Result<Option<Redirect>> {
        let (fd, op) = match self.peek()? {
            Token::IoNumber(n) => {
                self.take()?;
                match self.take()? {
                    Token::Op(Op::Redir(op)) => (Some(n), op),
                    other => return Err(unexpected(&other)),
                }
            }
            Token::Op(Op::Redir(op)) => {
                self.take()?;
                (None, op)
            }
            _ => return Ok(None),
        };
        let word = match self.take()? {
            Token::Word(word) => word,
            other => return Err(unexpected(&other)),
        };
        let target = if let RedirOp::Here { strip_tabs } = op {
            let here = Rc::new(HereDoc {
                quoted: word.has_quotes(),
                body: OnceCell::new(),
            });
            self.heres
                .push((unquoted_text(&word), strip_tabs, here.clone()));
            Target::Here(here)
        } else {
            Target::Word(word)
        };
        Ok(Some(Redirect { fd, op, target }))
    }

    // ---- tokens ----

    fn peek(&mut self) -> Result<Token> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lex()?);
        }
        Ok(self.peeked.clone().expect("peeked"))
    }

    fn take(&mut self) -> Result<Token> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lex(),
        }
    }

    fn char(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn char_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.at + offset).copied()
    }

    fn lex(&mut self) -> Result<Token> {
        loop {
            match self.char() {
                Some(' ' | '\t') => self.at += 1,
                Some('\\') if self.char_at(1) == Some('\n') => self.at += 2,
                Some('#') => {
                    while self.char().is_some_and(|c| c != '\n') {
                        self.at += 1;
                    }
                }
                _ => break,
            }
        }
        self.token_start = self.at;
        let Some(c) = self.char() else {
            return Ok(Token::Eof);
        };
        let two = (c, self.char_at(1));
        let (op, len) = match two {
            ('\n', _) => {
                self.at += 1;
                self.read_heres()?;
                return Ok(Token::Newline);
            }
            ('&', Some('&')) => (Op::AndIf, 2),
            ('&', _) => (Op::Amp, 1),
            ('|', Some('|')) => (Op::OrIf, 2),
            ('|', _) => (Op::Pipe, 1),
            (';', Some(';')) => (Op::DSemi, 2),
            (';', _) => (Op::Semi, 1),
            ('(', _) => (Op::LParen, 1),
            (')', _) => (Op::RParen, 1),
            ('<', Some('<')) if self.char_at(2) == Some('-') => {
                (Op::Redir(RedirOp::Here { strip_tabs: true }), 3)
            }
            ('<', Some('<')) => (Op::Redir(RedirOp::Here { strip_tabs: false }), 2),
            ('<', Some('&')) => (Op::Redir(RedirOp::DupIn), 2),
            ('<', Some('>')) => (Op::Redir(RedirOp::ReadWrite), 2),
            ('<', _) => (Op::Redir(RedirOp::In), 1),
            ('>', Some('>')) => (Op::Redir(RedirOp::Append), 2),
            ('>', Some('&')) => (Op::Redir(RedirOp::DupOut), 2),
            ('>', Some('|')) => (Op::Redir(RedirOp::Clobber), 2),
            ('>', _) => (Op::Redir(RedirOp::Out), 1),
            _ => {
                let start = self.at;
                let word = self.parts(Mode::Bare)?;
                // A `$(...)` inside read tokens of its own.
                self.token_start = start;
                let text: String = self.chars[start..self.at].iter().collect();
                if matches!(self.char(), Some('<' | '>'))
                    && !text.is_empty()
                    && text.bytes().all(|b| b.is_ascii_digit())
                    && let Ok(n) = text.parse()
                {
                    return Ok(Token::IoNumber(n));
                }
                return Ok(Token::Word(word));
            }
        };
        self.at += len;
        Ok(Token::Op(op))
    }

    /// Reads the bodies of the here-documents named on the line just
    /// ended.
    fn read_heres(&mut self) -> Result<()> {
        for (delimiter, strip_tabs, here) in std::mem::take(&mut self.heres) {
            let mut body = String::new();
            while self.at < self.chars.len() {
                let end = self.chars[self.at..]
                    .iter()
                    .position(|c| *c == '\n')
                    .map_or(self.chars.len(), |n| self.at + n);
                let mut line: String = self.chars[self.at..end].iter().collect();
                let newline = end < self.chars.len();
                self.at = (end + 1).min(self.chars.len());
                if strip_tabs {
                    line = line.trim_start_matches('\t').to_string();
                }
                if line == delimiter {
                    break;
                }
                body.push_str(&line);
                // A script that ends in the body ends it as it is.
                if newline {
                    body.push('\n');
                }
            }
            let word = if here.quoted {
                Word(vec![Part::Lit(body)])
            } else {
                let mut inner = Parser::new(&body);
                inner.parts(Mode::Text)?
            };
            let _ = here.body.set(word);
        }
        Ok(())
    }

    /// Reads a word's parts in `mode`, up to where the mode ends it.
    fn parts(&mut self, mode: Mode) -> Result<Word> {
        let mut parts: Vec<Part> = Vec::new();
        let start = self.at;
        let push_lit = |parts: &mut Vec<Part>, c: char| match parts.last_mut() {
            Some(Part::Lit(text)) => text.push(c),
            _ => parts.push(Part::Lit(c.to_string())),
        };
        while let Some(c) = self.char() {
            match (mode, c) {
                (Mode::Bare, ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>') => break,
                (Mode::Double, '"') | (Mode::Brace, '}') => break,
                (Mode::Bare, '~') if self.at == start => {
                    let from = self.at + 1;
                    let mut end = from;
                    while self
                        .chars
                        .get(end)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                    {
                        end += 1;
                    }
                    let ends = self.chars.get(end).is_none_or(|c| {
                        matches!(
                            c,
                            '/' | ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>' | ':'
                        )
                    });
                    if ends {
                        parts.push(Part::Tilde(self.chars[from..end].iter().collect()));
                        self.at = end;
                    } else {
                        push_lit(&mut parts, '~');
                        self.at += 1;
                    }
                }
                (Mode::Bare | Mode::Brace, '\'') => {
                    self.at += 1;
                    let from = self.at;
                    while self.char().is_some_and(|c| c != '\'') {
                        self.at += 1;
                    }
                    if self.char().is_none() {
                        return Err(ParseError::eof("unterminated quoted string"));
                    }
                    parts.push(Part::Single(self.chars[from..self.at].iter().collect()));
                    self.at += 1;
                }
                (Mode::Bare | Mode::Brace, '"') => {
                    self.at += 1;
                    let inner = self.parts(Mode::Double)?;
                    if self.char() != Some('"') {
                        return Err(ParseError::eof("unterminated quoted string"));
                    }
                    self.at += 1;
                    parts.push(Part::Double(inner.0));
                }
                (_, '\\') => {
                    let next = self.char_at(1);
                    self.at += 1;
                    match (mode, next) {
                        (_, Some('\n')) => self.at += 1,
                        (Mode::Bare | Mode::Brace, Some(n)) => {
                            parts.push(Part::Escaped(n));
                            self.at += 1;
                        }
                        (Mode::Double, Some(n @ ('$' | '`' | '"' | '\\')))
                        | (Mode::Text, Some(n @ ('$' | '`' | '\\'))) => {
                            parts.push(Part::Escaped(n));
                            self.at += 1;
                        }
                        (_, _) => push_lit(&mut parts, '\\'),
                    }
                }
                (_, '$') => match self.dollar()? {
                    Some(part) => parts.push(part),
                    None => push_lit(&mut parts, '$'),
                },
                (_, '`') => parts.push(self.backquote(mode == Mode::Double)?),
                _ => {
                    push_lit(&mut parts, c);
                    self.at += 1;
                }
            }
        }
        Ok(Word(parts))
    }

    /// `$...` at the cursor: the expansion, or `None` for a lone `$`.
    fn dollar(&mut self) -> Result<Option<Part>> {
        let next = self.char_at(1);
        match next {
            Some('(') if self.char_at(2) == Some('(') => {
                self.at += 3;
                let from = self.at;
                let mut depth = 0;
                loop {
                    match self.char() {
                        None => return Err(ParseError::eof("missing '))'")),
                        Some('(') => depth += 1,
                        Some(')') if depth > 0 => depth -= 1,
                        Some(')') if self.char_at(1) == Some(')') => break,
                        Some(')') => return Err(ParseError::new("missing '))'")),
                        _ => {}
                    }
                    self.at += 1;
                }
                let text: String = self.chars[from..self.at].iter().collect();
                self.at += 2;
                let mut inner = Parser::new(&text);
                Ok(Some(Part::Arith(inner.parts(Mode::Text)?)))
            }
            Some('(') => {
                self.at += 2;
                let saved = self.peeked.take();
                let list = if self.peek()? == Token::Op(Op::RParen) {
                    List::default()
                } else {
                    self.compound_list()?
                };
                let token = self.take()?;
                if token != Token::Op(Op::RParen) {
                    return Err(expecting(&token, ")"));
                }
                self.peeked = saved;
                Ok(Some(Part::Command(Rc::new(list))))
            }
            Some('{') => {
                self.at += 2;
                self.braced().map(Some)
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                self.at += 1;
                let from = self.at;
                while self
                    .char()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.at += 1;
                }
                Ok(Some(Part::Param(Param {
                    name: self.chars[from..self.at].iter().collect(),
                    op: ParamOp::Plain,
                })))
            }
            Some(c) if c.is_ascii_digit() || "?$#@*!-".contains(c) => {
                self.at += 2;
                Ok(Some(Part::Param(Param {
                    name: c.to_string(),
                    op: ParamOp::Plain,
                })))
            }
            _ => {
                self.at += 1;
                Ok(None)
            }
        }
    }

    /// `${...}` after its `${`.
    fn braced(&mut self) -> Result<Part> {
        let missing = |p: &Parser| {
            if p.char().is_none() {
                ParseError::eof("missing '}'")
            } else {
                ParseError::new("bad substitution")
            }
        };
        // `${#}` is the count; `${#name}` a length.
        let length = self.char() == Some('#') && self.char_at(1).is_some_and(|c| c != '}');
        if length {
            self.at += 1;
        }
        let from = self.at;
        match self.char() {
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                while self
                    .char()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.at += 1;
                }
            }
            Some(c) if c.is_ascii_digit() => {
                while self.char().is_some_and(|c| c.is_ascii_digit()) {
                    self.at += 1;
                }
            }
            Some(c) if "?$#@*!-".contains(c) => self.at += 1,
            _ => return Err(missing(self)),
        }
        let name: String = self.chars[from..self.at].iter().collect();
        if length {
            if self.char() != Some('}') {
                return Err(missing(self));
            }
            self.at += 1;
            return Ok(Part::Param(Param {
                name,
                op: ParamOp::Length,
            }));
        }
        let colon = self.char() == Some(':');
        if colon {
            self.at += 1;
        }
        let op = match self.char() {
            Some('}') if !colon => {
                self.at += 1;
                return Ok(Part::Param(Param {
                    name,
                    op: ParamOp::Plain,
                }));
            }
            Some(c @ ('-' | '=' | '?' | '+')) => {
                self.at += 1;
                c
            }
            Some(c @ ('%' | '#')) if !colon => {
                self.at += 1;
                if self.char() == Some(c) {
                    self.at += 1;
                    if c == '%' { 'S' } else { 'P' }
                } else {
                    c
                }
            }
            _ => return Err(missing(self)),
        };
        let word = self.parts(Mode::Brace)?;
        if self.char() != Some('}') {
            return Err(ParseError::eof("missing '}'"));
        }
        self.at += 1;
        let op = match op {
            '-' => ParamOp::Default { colon, word },
            '=' => ParamOp::Assign { colon, word },
            '?' => ParamOp::Error { colon, word },
            '+' => ParamOp::Alternative { colon, word },
            '%' => ParamOp::RemoveSuffix {
                longest: false,
                pattern: word,
            },
            'S' => ParamOp::RemoveSuffix {
                longest: true,
                pattern: word,
            },
            '#' => ParamOp::RemovePrefix {
                longest: false,
                pattern: word,
            },
            _ => ParamOp::RemovePrefix {
                longest: true,
                pattern: word,
            },
        };
        Ok(Part::Param(Param { name, op }))
    }

    /// `` `...` ``: its text, with the backslashes that quote `$`, `` ` ``
    /// and `\` (and `"` inside double quotes) taken out, read as a script.
    fn backquote(&mut self, in_double: bool) -> Result<Part> {
        self.at += 1;
        let mut text = String::new();
        loop {
            match self.char() {
                None => return Err(ParseError::eof("EOF in backquote substitution")),
                Some('`') => break,
                Some('\\') => {
                    match self.char_at(1) {
                        Some(c @ ('$' | '`' | '\\')) => text.push(c),
                        Some('"') if in_double => text.push('"'),
                        Some(c) => {
                            text.push('\\');
                            text.push(c);
                        }
                        None => text.push('\\'),
                    }
                    self.at += 2;
                    continue;
                }
                Some(c) => text.push(c),
            }
            self.at += 1;
        }
        self.at += 1;
        Ok(Part::Command(Rc::new(parse(&text)?)))
    }
}

/// `NAME=value` as an assignment: the name and the value's word.
fn assignment(word: &Word) -> Option<(String, Word)> {
    let Some(Part::Lit(first)) = word.0.first() else {
        return None;
    };
    let (name, value) = first.split_once('=')?;
    if !is_name(name) {
        return None;
    }
    let mut parts = Vec::new();
    if !value.is_empty() {
        parts.push(Part::Lit(value.to_string()));
    }
    parts.extend(word.0[1..].iter().cloned());
    Some((name.to_string(), Word(parts)))
}

/// A word's text with its quotes removed and nothing expanded (a
/// here-document's delimiter).
fn unquoted_text(word: &Word) -> String {
    fn text(parts: &[Part], out: &mut String) {
        for part in parts {
            match part {
                Part::Lit(s) | Part::Single(s) => out.push_str(s),
                Part::Escaped(c) => out.push(*c),
                Part::Double(inner) => text(inner, out),
                Part::Tilde(user) => {
                    out.push('~');
                    out.push_str(user);
                }
                Part::Param(p) => {
                    out.push('$');
                    out.push_str(&p.name);
                }
                Part::Command(_) | Part::Arith(_) => {}
            }
        }
    }
    let mut out = String::new();
    text(&word.0, &mut out);
    out
}
