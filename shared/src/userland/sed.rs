//! `sed`, as BusyBox's reads a script: addresses (a line, `$`, `/re/`,
//! ranges, `!`), `{...}` groups, and the commands `s` (with `g`, `p`, a
//! count, `I`, `&` and `\1`), `y`, `p`, `d`, `q`, `=`, `n`, `a`, `i` and
//! `c`; `-n`, `-e`, `-f`, `-E` and `-i`.

use regex::bytes::Regex;

use super::io::{Input, Io, Stop};
use super::opts::Opts;
use super::posix_re;
use crate::shell::os::{Open, Os};

#[derive(Clone, Debug)]
enum Address {
    Line(u64),
    Last,
    Match(Option<Regex>),
}

#[derive(Debug)]
enum Op {
    Substitute {
        re: Option<Regex>,
        replacement: Vec<Piece>,
        global: bool,
        nth: usize,
        print: bool,
    },
    Translate(Vec<u8>, Vec<u8>),
    Print,
    Delete,
    Quit(i32),
    LineNumber,
    Next,
    Append(String),
    Insert(String),
    Change(String),
    /// `{`: where its `}` is.
    Block(usize),
    End,
}

#[derive(Debug)]
enum Piece {
    Text(Vec<u8>),
    Whole,
    Group(usize),
}

#[derive(Debug)]
struct Command {
    from: Option<Address>,
    to: Option<Address>,
    negate: bool,
    op: Op,
    /// A range this command is inside of.
    active: bool,
}

struct Script {
    commands: Vec<Command>,
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
    extended: bool,
    /// The last pattern, for `//`.
    last: Option<Regex>,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// Text up to an unescaped `delim`: `\delim` is the delimiter itself,
    /// `\n` a newline; other escapes are kept for the pattern.
    fn delimited(&mut self, delim: u8) -> Result<Vec<u8>, String> {
        self.delimited_as(delim, false)
    }

    /// A pattern up to `delim`: as [`Self::delimited`], but a delimiter
    /// inside a bracket expression is part of it (`s/[^/]*$//`).
    fn pattern(&mut self, delim: u8) -> Result<Vec<u8>, String> {
        self.delimited_as(delim, true)
    }

    fn delimited_as(&mut self, delim: u8, brackets: bool) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        loop {
            if brackets && self.peek() == Some(b'[') {
                let start = self.at;
                self.at += 1;
                if self.peek() == Some(b'^') {
                    self.at += 1;
                }
                if self.peek() == Some(b']') {
                    self.at += 1;
                }
                loop {
                    match self.peek() {
                        None => return Err("unmatched '['".into()),
                        Some(b'[')
                            if matches!(self.text.get(self.at + 1), Some(b':' | b'.' | b'=')) =>
                        {
                            let kind = self.text[self.at + 1];
                            self.at += 2;
                            while self.peek().is_some()
                                && !(self.peek() == Some(kind)
                                    && self.text.get(self.at + 1) == Some(&b']'))
                            {
                                self.at += 1;
                            }
                            self.at = (self.at + 2).min(self.text.len());
                        }
                        Some(b']') => {
                            self.at += 1;
                            break;
                        }
                        Some(_) => self.at += 1,
                    }
                }
                out.extend_from_slice(&self.text[start..self.at]);
                continue;
            }
            match self.peek() {
                None => return Err(format!("unmatched '{}'", delim as char)),
                Some(c) if c == delim => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(c) if c == delim => out.push(c),
                        Some(b'n') => out.push(b'\n'),
                        Some(c) => {
                            out.push(b'\\');
                            out.push(c);
                        }
                        None => return Err(format!("unmatched '{}'", delim as char)),
                    }
                    self.at += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }

    fn regex(&mut self, pattern: &[u8], ignore_case: bool) -> Result<Option<Regex>, String> {
        if pattern.is_empty() {
            return match &self.last {
                Some(re) => Ok(Some(re.clone())),
                None => Ok(None),
            };
        }
        let text = String::from_utf8_lossy(pattern);
        let re = posix_re::compile(&text, self.extended, ignore_case)?;
        self.last = Some(re.clone());
        Ok(Some(re))
    }

    fn address(&mut self) -> Result<Option<Address>, String> {
        match self.peek() {
            Some(b'0'..=b'9') => {
                let start = self.at;
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.at += 1;
                }
                let digits = String::from_utf8_lossy(&self.text[start..self.at]);
                Ok(Some(Address::Line(digits.parse().unwrap_or(u64::MAX))))
            }
            Some(b'$') => {
                self.at += 1;
                Ok(Some(Address::Last))
            }
            Some(b'/') | Some(b'\\') => {
                let delim = if self.peek() == Some(b'\\') {
                    self.at += 1;
                    self.peek().ok_or("unmatched '\\'")?
                } else {
                    b'/'
                };
                self.at += 1;
                let pattern = self.pattern(delim)?;
                let ignore_case = self.peek() == Some(b'I');
                if ignore_case {
                    self.at += 1;
                }
                Ok(Some(Address::Match(self.regex(&pattern, ignore_case)?)))
            }
            _ => Ok(None),
        }
    }

    /// The text of `a`, `i` or `c`: after `\` and a newline, or after
    /// blanks, to the end of the line.
    fn text_argument(&mut self) -> String {
        self.skip_blanks();
        if self.peek() == Some(b'\\') {
            self.at += 1;
            if self.peek() == Some(b'\n') {
                self.at += 1;
            }
        }
        let start = self.at;
        while self.peek().is_some_and(|c| c != b'\n') {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.text[start..self.at]).into_owned()
    }
}

fn parse(text: &str, extended: bool) -> Result<Script, String> {
    let mut reader = Reader {
        text: text.as_bytes(),
        at: 0,
        extended,
        last: None,
    };
    let mut commands: Vec<Command> = Vec::new();
    let mut open_blocks: Vec<usize> = Vec::new();
    loop {
        while matches!(reader.peek(), Some(b' ' | b'\t' | b'\n' | b';')) {
            reader.at += 1;
        }
        let Some(_) = reader.peek() else { break };
        if reader.peek() == Some(b'#') {
            while reader.peek().is_some_and(|c| c != b'\n') {
                reader.at += 1;
            }
            continue;
        }
        let from = reader.address()?;
        let to = if from.is_some() && reader.peek() == Some(b',') {
            reader.at += 1;
            match reader.address()? {
                Some(to) => Some(to),
                None => return Err("unexpected ','".into()),
            }
        } else {
            None
        };
        reader.skip_blanks();
        let mut negate = false;
        while reader.peek() == Some(b'!') {
            negate = true;
            reader.at += 1;
            reader.skip_blanks();
        }
        let Some(letter) = reader.peek() else {
            return Err("missing command".into());
        };
        reader.at += 1;
        let op = match letter {
            b's' => {
                let delim = reader.peek().ok_or("unterminated `s' command")?;
                reader.at += 1;
                let pattern = reader.pattern(delim)?;
                let replacement = reader.delimited(delim)?;
                let (mut global, mut nth, mut print, mut ignore_case) = (false, 1, false, false);
                loop {
                    match reader.peek() {
                        Some(b'g') => global = true,
                        Some(b'p') => print = true,
                        Some(b'I' | b'i') => ignore_case = true,
                        Some(b'0'..=b'9') => {
                            let start = reader.at;
                            while matches!(reader.peek(), Some(b'0'..=b'9')) {
                                reader.at += 1;
                            }
                            let digits = String::from_utf8_lossy(&reader.text[start..reader.at]);
                            nth = digits.parse().unwrap_or(1).max(1);
                            continue;
                        }
                        _ => break,
                    }
                    reader.at += 1;
                }
                Op::Substitute {
                    re: reader.regex(&pattern, ignore_case)?,
                    replacement: replacement_pieces(&replacement),
                    global,
                    nth,
                    print,
                }
            }
            b'y' => {
                let delim = reader.peek().ok_or("unterminated `y' command")?;
                reader.at += 1;
                let from = unescape(&reader.delimited(delim)?);
                let to = unescape(&reader.delimited(delim)?);
                if from.len() != to.len() {
                    return Err("strings for `y' command are different lengths".into());
                }
                Op::Translate(from, to)
            }
            b'p' => Op::Print,
            b'd' => Op::Delete,
            b'q' => {
                reader.skip_blanks();
                let start = reader.at;
                while matches!(reader.peek(), Some(b'0'..=b'9')) {
                    reader.at += 1;
                }
                let digits = String::from_utf8_lossy(&reader.text[start..reader.at]);
                Op::Quit(digits.parse().unwrap_or(0))
            }
            b'=' => Op::LineNumber,
            b'n' => Op::Next,
            b'a' => Op::Append(reader.text_argument()),
            b'i' => Op::Insert(reader.text_argument()),
            b'c' => Op::Change(reader.text_argument()),
            b'{' => {
                open_blocks.push(commands.len());
                Op::Block(0)
            }
            b'}' => {
                let Some(open) = open_blocks.pop() else {
                    return Err("unexpected '}'".into());
                };
                let end = commands.len();
                commands[open].op = Op::Block(end);
                Op::End
            }
            other => return Err(format!("unsupported command {}", other as char)),
        };
        reader.skip_blanks();
        let opens = matches!(op, Op::Block(_));
        if !opens && !matches!(reader.peek(), None | Some(b'\n' | b';' | b'}')) {
            return Err(format!(
                "extra characters after command: {}",
                reader.peek().map_or(' ', char::from)
            ));
        }
        commands.push(Command {
            from,
            to,
            negate,
            op,
            active: false,
        });
    }
    if !open_blocks.is_empty() {
        return Err("unmatched '{'".into());
    }
    Ok(Script { commands })
}

fn unescape(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\\' && i + 1 < text.len() {
            out.push(match text[i + 1] {
                b'n' => b'\n',
                b't' => b'\t',
                other => other,
            });
            i += 2;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

fn replacement_pieces(text: &[u8]) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut literal = Vec::new();
    let mut i = 0;
    let flush = |literal: &mut Vec<u8>, pieces: &mut Vec<Piece>| {
        if !literal.is_empty() {
            pieces.push(Piece::Text(std::mem::take(literal)));
        }
    };
    while i < text.len() {
        match text[i] {
            b'&' => {
                flush(&mut literal, &mut pieces);
                pieces.push(Piece::Whole);
            }
            b'\\' if i + 1 < text.len() => {
                i += 1;
                match text[i] {
                    d @ b'0'..=b'9' => {
                        flush(&mut literal, &mut pieces);
                        pieces.push(Piece::Group(usize::from(d - b'0')));
                    }
                    b'n' => literal.push(b'\n'),
                    b't' => literal.push(b'\t'),
                    other => literal.push(other),
                }
            }
            other => literal.push(other),
        }
        i += 1;
    }
    flush(&mut literal, &mut pieces);
    pieces
}

/// What the end of a cycle does.
enum Then {
    Go,
    /// `d`: no output, the next cycle.
    Delete,
    Quit(i32),
}

struct Run<'s> {
    script: &'s mut Script,
    quiet: bool,
    line: u64,
    /// Lines `a` queued for after the pattern space.
    appended: Vec<String>,
    out: Vec<u8>,
}

impl Run<'_> {
    fn matches(address: &Address, space: &[u8], line: u64, last: bool) -> bool {
        match address {
            Address::Line(n) => *n == line,
            Address::Last => last,
            Address::Match(Some(re)) => re.is_match(space),
            Address::Match(None) => false,
        }
    }

    fn selected(&mut self, index: usize, space: &[u8], last: bool) -> bool {
        let line = self.line;
        let command = &mut self.script.commands[index];
        let hit = match (&command.from, &command.to) {
            (None, _) => true,
            (Some(from), None) => Self::matches(from, space, line, last),
            (Some(from), Some(to)) => {
                if command.active {
                    let ends = match to {
                        Address::Line(n) => line >= *n,
                        other => Self::matches(other, space, line, last),
                    };
                    if ends {
                        command.active = false;
                    }
                    true
                } else if Self::matches(from, space, line, last) {
                    // A range whose end is a line already passed is one line.
                    command.active = match to {
                        Address::Line(n) => *n > line,
                        Address::Last => !last,
                        Address::Match(_) => true,
                    };
                    true
                } else {
                    false
                }
            }
        };
        hit != command.negate
    }

    /// Runs the script over the pattern space from command `pc`: how the
    /// cycle ends, and after `n`, the command to go on from with the
    /// next line.
    fn cycle(&mut self, space: &mut Vec<u8>, last: bool, mut pc: usize) -> (Then, Option<usize>) {
        while pc < self.script.commands.len() {
            if !self.selected(pc, space, last) {
                if let Op::Block(end) = self.script.commands[pc].op {
                    pc = end + 1;
                } else {
                    pc += 1;
                }
                continue;
            }
            match &self.script.commands[pc].op {
                Op::Substitute {
                    re,
                    replacement,
                    global,
                    nth,
                    print,
                } => {
                    if let Some(re) = re
                        && let Some(new) = substitute(re, replacement, space, *global, *nth)
                    {
                        *space = new;
                        if *print {
                            self.out.extend_from_slice(space);
                            self.out.push(b'\n');
                        }
                    }
                }
                Op::Translate(from, to) => {
                    for b in space.iter_mut() {
                        if let Some(i) = from.iter().position(|f| f == b) {
                            *b = to[i];
                        }
                    }
                }
                Op::Print => {
                    self.out.extend_from_slice(space);
                    self.out.push(b'\n');
                }
                Op::Delete => return (Then::Delete, None),
                Op::Quit(code) => return (Then::Quit(*code), None),
                Op::LineNumber => self.out.extend(format!("{}\n", self.line).bytes()),
                Op::Append(text) => self.appended.push(text.clone()),
                Op::Insert(text) => {
                    self.out.extend_from_slice(text.as_bytes());
                    self.out.push(b'\n');
                }
                Op::Change(text) => {
                    let command = &self.script.commands[pc];
                    // In a range, the text goes out once, at its end.
                    if command.to.is_none() || !command.active {
                        self.out.extend_from_slice(text.as_bytes());
                        self.out.push(b'\n');
                    }
                    return (Then::Delete, None);
                }
                Op::Next => return (Then::Go, Some(pc + 1)),
                Op::Block(_) | Op::End => {}
            }
            pc += 1;
        }
        (Then::Go, None)
    }
}

/// `s///` on a line: the new line, or `None` if nothing was replaced.
fn substitute(
    re: &Regex,
    replacement: &[Piece],
    space: &[u8],
    global: bool,
    nth: usize,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut count = 0;
    let mut replaced = false;
    for caps in re.captures_iter(space) {
        let whole = caps.get(0)?;
        count += 1;
        if count < nth {
            continue;
        }
        out.extend_from_slice(&space[at..whole.start()]);
        for piece in replacement {
            match piece {
                Piece::Text(text) => out.extend_from_slice(text),
                Piece::Whole => out.extend_from_slice(whole.as_bytes()),
                Piece::Group(n) => {
                    if let Some(group) = caps.get(*n) {
                        out.extend_from_slice(group.as_bytes());
                    }
                }
            }
        }
        at = whole.end();
        replaced = true;
        if !global {
            break;
        }
    }
    if !replaced {
        return None;
    }
    out.extend_from_slice(&space[at..]);
    Some(out)
}

pub async fn sed<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Result<i32, Stop> {
    let opts = match Opts::parse(args, "ne:f:Eris", false) {
        Ok(opts) => opts,
        Err(message) => {
            io.say(&message).await;
            return Ok(1);
        }
    };
    let mut operands = opts.operands.clone();
    let mut pieces: Vec<String> = opts.values('e').map(str::to_string).collect();
    for file in opts.values('f') {
        let Some(mut input) = io.open(file).await else {
            return Ok(1);
        };
        let mut text = Vec::new();
        while let Ok(Some(chunk)) = input.chunk(io).await {
            text.extend(chunk);
        }
        io.close(input).await;
        pieces.push(
            String::from_utf8_lossy(&text)
                .trim_end_matches('\n')
                .to_string(),
        );
    }
    if pieces.is_empty() {
        if operands.is_empty() {
            io.say("no script given").await;
            return Ok(1);
        }
        pieces.push(operands.remove(0));
    }
    let mut script = match parse(&pieces.join("\n"), opts.has('E') || opts.has('r')) {
        Ok(script) => script,
        Err(message) => {
            io.say(&message).await;
            return Ok(1);
        }
    };
    let quiet = opts.has('n');
    if opts.has('i') {
        if operands.is_empty() {
            io.say("no files to edit in place").await;
            return Ok(1);
        }
        let mut code = 0;
        for file in &operands {
            let Some(mut input) = io.open(file).await else {
                code = 1;
                continue;
            };
            let mut run = Run {
                script: &mut script,
                quiet,
                line: 0,
                appended: Vec::new(),
                out: Vec::new(),
            };
            let result = stream(io, &mut run, &mut input, true, true).await;
            io.close(input).await;
            let out = std::mem::take(&mut run.out);
            match io.os.open(file, Open::Write).await {
                Ok(fd) => {
                    let _ = io.os.write(fd, &out).await;
                    io.os.close(fd).await;
                }
                Err(message) => {
                    io.say(&format!("{file}: {message}")).await;
                    code = 1;
                }
            }
            if let Some(quit) = result? {
                return Ok(quit);
            }
            for command in &mut script.commands {
                command.active = false;
            }
        }
        return Ok(code);
    }
    let files = if operands.is_empty() {
        vec!["-".to_string()]
    } else {
        operands
    };
    let mut run = Run {
        script: &mut script,
        quiet,
        line: 0,
        appended: Vec::new(),
        out: Vec::new(),
    };
    // Lines run on across the files: `$` is the last file's last line.
    let mut inputs = Vec::new();
    let mut code = 0;
    for file in &files {
        match io.open(file).await {
            Some(input) => inputs.push(input),
            None => code = 1,
        }
    }
    let count = inputs.len();
    for (index, mut input) in inputs.into_iter().enumerate() {
        let last_file = index + 1 == count;
        let quit = stream(io, &mut run, &mut input, last_file, false).await?;
        io.close(input).await;
        let out = std::mem::take(&mut run.out);
        io.put(&out).await?;
        if let Some(quit) = quit {
            io.flush().await?;
            return Ok(quit);
        }
    }
    io.flush().await?;
    Ok(code)
}

/// Runs the script over one input's lines: `Some(status)` when `q`
/// ended it. The output goes out as it comes, or stays in `run.out` when
/// `keep` (`-i` writes it to the file after).
async fn stream<O: Os>(
    io: &mut Io<'_, O>,
    run: &mut Run<'_>,
    input: &mut Input,
    last_input: bool,
    keep: bool,
) -> Result<Option<i32>, Stop> {
    let mut next = read_line(io, input).await;
    while let Some((mut space, mut newline)) = next.take() {
        run.line += 1;
        next = read_line(io, input).await;
        let mut last = last_input && next.is_none();
        let mut from = 0;
        loop {
            let (then, resume) = run.cycle(&mut space, last, from);
            if let Then::Delete = then {
                flush_appended(run);
                break;
            }
            if !run.quiet {
                emit(run, &space, newline || !last);
            }
            flush_appended(run);
            if let Then::Quit(code) = then {
                return Ok(Some(code));
            }
            // After `n`, the next line comes in and the script goes on.
            let Some(pc) = resume else { break };
            let Some((line, ends)) = next.take() else {
                return Ok(None);
            };
            space = line;
            newline = ends;
            run.line += 1;
            next = read_line(io, input).await;
            last = last_input && next.is_none();
            from = pc;
        }
        if !keep && run.out.len() >= 4096 {
            let out = std::mem::take(&mut run.out);
            io.put(&out).await?;
        }
    }
    Ok(None)
}

fn emit(run: &mut Run<'_>, space: &[u8], newline: bool) {
    run.out.extend_from_slice(space);
    if newline {
        run.out.push(b'\n');
    }
}

fn flush_appended(run: &mut Run<'_>) {
    for text in std::mem::take(&mut run.appended) {
        run.out.extend_from_slice(text.as_bytes());
        run.out.push(b'\n');
    }
}

async fn read_line<O: Os>(io: &mut Io<'_, O>, input: &mut Input) -> Option<(Vec<u8>, bool)> {
    match input.line(io).await {
        Ok(Some(mut line)) => {
            let newline = line.last() == Some(&b'\n');
            if newline {
                line.pop();
            }
            Some((line, newline))
        }
        Ok(None) => None,
        Err(message) => {
            io.say(&message).await;
            None
        }
    }
}
