//! Processes: the first noun. A container is, first of all, a process tree.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::namespace::NamespaceId;

/// A process ID as seen from one pid namespace.
pub type Pid = u32;

/// The scheduler state of a process, as the `S` column of `ps` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessState {
    /// On a CPU or waiting for one.
    Running,
    /// Waiting for time to pass or for a child.
    Sleeping,
    /// Exited, but its parent has not reaped it yet.
    Zombie,
}

impl ProcessState {
    /// The one-letter code of `/proc/PID/stat` and `ps`.
    pub fn code(self) -> char {
        match self {
            ProcessState::Running => 'R',
            ProcessState::Sleeping => 'S',
            ProcessState::Zombie => 'Z',
        }
    }
}

/// The signals the model knows, with Linux's x86-64 numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Signal {
    Hup,
    Int,
    Quit,
    Kill,
    Usr1,
    Usr2,
    Pipe,
    Term,
    Chld,
}

impl Signal {
    pub const ALL: [Signal; 9] = [
        Signal::Hup,
        Signal::Int,
        Signal::Quit,
        Signal::Kill,
        Signal::Usr1,
        Signal::Usr2,
        Signal::Pipe,
        Signal::Term,
        Signal::Chld,
    ];

    /// The signal's number on Linux (x86-64 and arm64 agree on these).
    pub fn number(self) -> i32 {
        match self {
            Signal::Hup => 1,
            Signal::Int => 2,
            Signal::Quit => 3,
            Signal::Kill => 9,
            Signal::Usr1 => 10,
            Signal::Usr2 => 12,
            Signal::Pipe => 13,
            Signal::Term => 15,
            Signal::Chld => 17,
        }
    }

    /// The name without the `SIG` prefix, as `kill -l` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Hup => "HUP",
            Signal::Int => "INT",
            Signal::Quit => "QUIT",
            Signal::Kill => "KILL",
            Signal::Usr1 => "USR1",
            Signal::Usr2 => "USR2",
            Signal::Pipe => "PIPE",
            Signal::Term => "TERM",
            Signal::Chld => "CHLD",
        }
    }

    /// Whether a process can catch or ignore it (KILL it cannot).
    pub fn catchable(self) -> bool {
        self != Signal::Kill
    }

    /// Whether the default action (no handler installed) ends the process.
    pub fn terminates_by_default(self) -> bool {
        self != Signal::Chld
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIG{}", self.name())
    }
}

/// A signal name or number that is not one the model knows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown signal `{0}`: use a name such as TERM, KILL, INT or HUP (with or without SIG), or its number"
)]
pub struct UnknownSignal(pub String);

impl FromStr for Signal {
    type Err = UnknownSignal;

    /// Accepts `TERM`, `SIGTERM`, `term` and `15`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        if let Ok(n) = trimmed.parse::<i32>() {
            return Signal::ALL
                .into_iter()
                .find(|sig| sig.number() == n)
                .ok_or_else(|| UnknownSignal(s.to_string()));
        }
        let upper = trimmed.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        Signal::ALL
            .into_iter()
            .find(|sig| sig.name() == name)
            .ok_or_else(|| UnknownSignal(s.to_string()))
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// It called `exit(code)`.
    Code(i32),
    /// A signal killed it.
    Signaled(Signal),
}

impl ExitStatus {
    /// The status a shell reports in `$?`: the code, or 128 + the signal.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(code) => code,
            ExitStatus::Signaled(sig) => 128 + sig.number(),
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exited with code {code}"),
            ExitStatus::Signaled(sig) => {
                write!(f, "killed by {sig} (code {})", self.shell_code())
            }
        }
    }
}

/// One process, as the host sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    /// Its pid in the host's (initial) pid namespace.
    pub pid: Pid,
    /// Its parent's pid in the host's pid namespace (0 for the host's init).
    pub ppid: Pid,
    /// Its pid at every pid-namespace level, the host's first and its own
    /// namespace's last: a container's init is `[4242, 1]`.
    pub ns_pids: Vec<Pid>,
    /// The command line.
    pub argv: Vec<String>,
    pub state: ProcessState,
    /// Its user and group IDs as the host sees them.
    pub uid: u32,
    pub gid: u32,
    /// The container it belongs to, if any.
    pub container: Option<String>,
    /// Its cgroup, as a path from the root of the hierarchy.
    pub cgroup: String,
    /// Its namespaces, as `/proc/PID/ns` lists them.
    pub namespaces: Vec<NamespaceId>,
    /// Resident memory in bytes.
    pub memory_bytes: u64,
    /// CPU time used, in microseconds.
    pub cpu_usec: u64,
    /// How it ended, once it is a zombie.
    pub exit: Option<ExitStatus>,
}

impl Process {
    /// The pid as seen from inside its own pid namespace.
    pub fn inner_pid(&self) -> Pid {
        self.ns_pids.last().copied().unwrap_or(self.pid)
    }

    /// The command line joined for display, as `ps` prints it.
    pub fn command_line(&self) -> String {
        self.argv.join(" ")
    }
}

/// A piece of a shell word: literal text, or a parameter to expand
/// (`$NAME`, `${NAME}`, `$?`, `$$`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WordPart {
    Literal(String),
    Param(String),
}

/// One word of a command line, before expansion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word {
    pub parts: Vec<WordPart>,
    /// Whether any part of it was quoted: a quoted word survives expanding
    /// to nothing (`echo "$UNSET"` passes an empty argument).
    pub quoted: bool,
}

impl Word {
    pub fn literal(text: &str) -> Word {
        Word {
            parts: vec![WordPart::Literal(text.to_string())],
            quoted: false,
        }
    }

    /// The word with each parameter replaced by `lookup`'s value for it
    /// (unset parameters expand to nothing).
    pub fn expand(&self, lookup: &dyn Fn(&str) -> Option<String>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                WordPart::Literal(text) => out.push_str(text),
                WordPart::Param(name) => out.push_str(&lookup(name).unwrap_or_default()),
            }
        }
        out
    }

    /// The word as written, parameters unexpanded.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                WordPart::Literal(text) => out.push_str(text),
                WordPart::Param(name) => {
                    out.push('$');
                    out.push_str(name);
                }
            }
        }
        out
    }

    fn push_char(&mut self, c: char) {
        match self.parts.last_mut() {
            Some(WordPart::Literal(text)) => text.push(c),
            _ => self.parts.push(WordPart::Literal(c.to_string())),
        }
    }
}

/// Where a redirected output stream goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedirectTarget {
    /// `> FILE` (truncate) or `>> FILE` (append).
    File { path: Word, append: bool },
    /// `2>&1`: wherever standard output goes.
    Stdout,
    /// `>&2`: wherever standard error goes.
    Stderr,
}

/// `>`, `>>`, `2>`, `2>>` or `2>&1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// 1 for standard output, 2 for standard error.
    pub fd: u8,
    pub target: RedirectTarget,
}

/// A job of a shell script: a command line, its redirections, run in the
/// background (`&`) or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
    pub background: bool,
}

impl Job {
    /// The argument vector after expansion: unquoted words that expand to
    /// nothing disappear, as in a POSIX shell.
    pub fn argv(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
        self.words
            .iter()
            .filter_map(|word| {
                let text = word.expand(lookup);
                (word.quoted || !text.is_empty()).then_some(text)
            })
            .collect()
    }

    /// The argument vector as written, parameters unexpanded.
    pub fn literal_argv(&self) -> Vec<String> {
        self.words.iter().map(Word::text).collect()
    }
}

/// Splits a shell script into jobs at `;`, `&` and newlines. It honours
/// single quotes (literal), double quotes (parameters expand), backslash
/// escapes, `$NAME`, `${NAME}`, `$?`, `$$`, `#` comments and the
/// redirections `>`, `>>`, `2>`, `2>>` and `2>&1`.
pub fn parse_script(script: &str) -> Result<Vec<Job>, String> {
    Parser {
        chars: script.chars().collect(),
        at: 0,
    }
    .script()
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.at + offset).copied()
    }

    fn script(&mut self) -> Result<Vec<Job>, String> {
        let mut jobs = Vec::new();
        let mut words = Vec::new();
        let mut redirects = Vec::new();
        loop {
            self.skip_blanks();
            let Some(c) = self.peek() else { break };
            match c {
                ';' | '&' | '\n' => {
                    self.at += 1;
                    if words.is_empty() {
                        if c == '\n' && redirects.is_empty() {
                            continue;
                        }
                        return Err(format!(
                            "syntax error: unexpected \"{}\"",
                            if c == '\n' {
                                "newline".into()
                            } else {
                                c.to_string()
                            }
                        ));
                    }
                    jobs.push(Job {
                        words: std::mem::take(&mut words),
                        redirects: std::mem::take(&mut redirects),
                        background: c == '&',
                    });
                }
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.at += 1;
                    }
                }
                '|' | '<' | '(' | ')' => {
                    return Err(format!(
                        "syntax error: \"{c}\" is not supported by this shell: use ;, & and > only"
                    ));
                }
                _ => {
                    if let Some(redirect) = self.redirect()? {
                        redirects.push(redirect);
                    } else {
                        words.push(self.word()?);
                    }
                }
            }
        }
        if !words.is_empty() {
            jobs.push(Job {
                words,
                redirects,
                background: false,
            });
        } else if !redirects.is_empty() {
            return Err("syntax error: a redirection needs a command".into());
        }
        Ok(jobs)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.at += 1;
        }
    }

    /// A redirection at the cursor, if there is one.
    fn redirect(&mut self) -> Result<Option<Redirect>, String> {
        let (fd, skip) = match (self.peek(), self.peek_at(1)) {
            (Some('>'), _) => (1, 1),
            (Some('1' | '2'), Some('>')) => (self.peek().unwrap() as u8 - b'0', 2),
            _ => return Ok(None),
        };
        self.at += skip;
        let append = self.peek() == Some('>');
        if append {
            self.at += 1;
        }
        // `2>&1` and `>&2` (or `1>&2`): duplicate the other stream.
        if !append && self.peek() == Some('&') {
            let target = match (self.peek_at(1), fd) {
                (Some('1'), 2) => RedirectTarget::Stdout,
                (Some('2'), 1) => RedirectTarget::Stderr,
                _ => {
                    return Err(
                        "syntax error: use 2>&1 or >&2 to send one stream to the other".into(),
                    );
                }
            };
            self.at += 2;
            return Ok(Some(Redirect { fd, target }));
        }
        self.skip_blanks();
        match self.peek() {
            None | Some(';' | '&' | '\n' | '>' | '|' | '<') => Err(
                "syntax error: a redirection needs a file name, as in echo hi > /tmp/note".into(),
            ),
            _ => Ok(Some(Redirect {
                fd,
                target: RedirectTarget::File {
                    path: self.word()?,
                    append,
                },
            })),
        }
    }

    fn word(&mut self) -> Result<Word, String> {
        let mut word = Word::default();
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')' => break,
                '\'' => {
                    word.quoted = true;
                    self.at += 1;
                    loop {
                        match self.peek() {
                            Some('\'') => break,
                            Some(other) => word.push_char(other),
                            None => {
                                return Err("syntax error: unterminated quoted string".into());
                            }
                        }
                        self.at += 1;
                    }
                    self.at += 1;
                }
                '"' => {
                    word.quoted = true;
                    self.at += 1;
                    loop {
                        match self.peek() {
                            Some('"') => break,
                            Some('\\') if matches!(self.peek_at(1), Some('"' | '\\' | '$')) => {
                                word.push_char(self.peek_at(1).unwrap());
                                self.at += 2;
                                continue;
                            }
                            Some('$') => {
                                self.param(&mut word)?;
                                continue;
                            }
                            Some(other) => word.push_char(other),
                            None => {
                                return Err("syntax error: unterminated quoted string".into());
                            }
                        }
                        self.at += 1;
                    }
                    self.at += 1;
                }
                '\\' => {
                    self.at += 1;
                    if let Some(next) = self.peek() {
                        word.push_char(next);
                        self.at += 1;
                    }
                }
                '$' => self.param(&mut word)?,
                other => {
                    word.push_char(other);
                    self.at += 1;
                }
            }
        }
        Ok(word)
    }

    /// `$NAME`, `${NAME}`, `$?` or `$$` at the cursor; a lone `$` is text.
    fn param(&mut self, word: &mut Word) -> Result<(), String> {
        self.at += 1;
        match self.peek() {
            Some(c @ ('?' | '$' | '0'..='9')) => {
                self.at += 1;
                word.parts.push(WordPart::Param(c.to_string()));
            }
            Some('{') => {
                self.at += 1;
                let mut name = String::new();
                loop {
                    match self.peek() {
                        Some('}') => break,
                        Some(c)
                            if c.is_ascii_alphanumeric() || c == '_' || c == '?' || c == '$' =>
                        {
                            name.push(c)
                        }
                        _ => return Err("syntax error: bad substitution".into()),
                    }
                    self.at += 1;
                }
                self.at += 1;
                word.parts.push(WordPart::Param(name));
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::new();
                while let Some(c) = self
                    .peek()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    name.push(c);
                    self.at += 1;
                }
                word.parts.push(WordPart::Param(name));
            }
            _ => word.push_char('$'),
        }
        Ok(())
    }
}

/// Splits one command line into words, honouring quotes, as a shell
/// would: `sh -c 'sleep 1; echo hi'` is three words. Parameters are kept
/// as written.
pub fn parse_command_line(text: &str) -> Result<Vec<String>, String> {
    let mut jobs = parse_script(text)?;
    match (jobs.len(), jobs.first()) {
        (0, _) => Err("empty command: give a program and its arguments, such as sleep 60".into()),
        (1, Some(job)) if !job.background && job.redirects.is_empty() => {
            Ok(jobs.remove(0).literal_argv())
        }
        _ => Err(
            "one command only: to run several, give them to a shell, as in sh -c 'sleep 60 & sleep 60'"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn vars(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/root".into()),
            "$" => Some("1".into()),
            "?" => Some("0".into()),
            _ => None,
        }
    }

    #[test]
    fn scripts_split_at_separators_and_keep_quotes() {
        let jobs = parse_script("sleep 5 & echo 'a b'; true # done").unwrap();
        let argvs: Vec<(Vec<String>, bool)> = jobs
            .iter()
            .map(|job| (job.argv(&vars), job.background))
            .collect();
        assert_eq!(
            argvs,
            vec![
                (argv(&["sleep", "5"]), true),
                (argv(&["echo", "a b"]), false),
                (argv(&["true"]), false),
            ]
        );
        assert!(parse_script("; true").is_err());
        assert!(parse_script("echo 'open").is_err());
        assert!(
            parse_script("ls | wc")
                .unwrap_err()
                .contains("not supported")
        );
    }

    #[test]
    fn parameters_expand_outside_single_quotes() {
        let jobs =
            parse_script(r#"echo $$ "$HOME/x" '$HOME' \$HOME $UNSET "$UNSET" ${?}"#).unwrap();
        assert_eq!(
            jobs[0].argv(&vars),
            argv(&["echo", "1", "/root/x", "$HOME", "$HOME", "", "0"])
        );
    }

    #[test]
    fn redirections_name_their_stream_and_file() {
        let jobs = parse_script("echo hi >> /tmp/log 2>&1; echo x >/a 2> /b").unwrap();
        assert_eq!(jobs[0].argv(&vars), argv(&["echo", "hi"]));
        assert_eq!(
            jobs[0].redirects,
            vec![
                Redirect {
                    fd: 1,
                    target: RedirectTarget::File {
                        path: Word::literal("/tmp/log"),
                        append: true
                    }
                },
                Redirect {
                    fd: 2,
                    target: RedirectTarget::Stdout
                },
            ]
        );
        assert_eq!(jobs[1].redirects.len(), 2);
        let jobs = parse_script("echo oops >&2").unwrap();
        assert_eq!(jobs[0].redirects[0].target, RedirectTarget::Stderr);
        assert!(parse_script("echo >").is_err());
        assert!(parse_script("> /x").is_err());
    }

    #[test]
    fn command_lines_keep_quoted_scripts_whole() {
        assert_eq!(
            parse_command_line("sh -c 'sleep 1; echo hi'").unwrap(),
            ["sh", "-c", "sleep 1; echo hi"]
        );
        assert!(parse_command_line("a; b").is_err());
        assert!(parse_command_line("  ").is_err());
    }

    #[test]
    fn signals_parse_by_name_prefix_case_and_number() {
        assert_eq!("TERM".parse::<Signal>(), Ok(Signal::Term));
        assert_eq!("sigkill".parse::<Signal>(), Ok(Signal::Kill));
        assert_eq!("2".parse::<Signal>(), Ok(Signal::Int));
        let err = "SIGWHAT".parse::<Signal>().unwrap_err();
        assert!(err.to_string().contains("SIGWHAT"));
        assert!("99".parse::<Signal>().is_err());
    }

    #[test]
    fn shell_codes_follow_the_128_plus_signal_rule() {
        assert_eq!(ExitStatus::Signaled(Signal::Kill).shell_code(), 137);
        assert_eq!(ExitStatus::Signaled(Signal::Term).shell_code(), 143);
        assert_eq!(ExitStatus::Code(3).shell_code(), 3);
    }
}
