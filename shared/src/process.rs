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
    Term,
    Chld,
}

impl Signal {
    pub const ALL: [Signal; 8] = [
        Signal::Hup,
        Signal::Int,
        Signal::Quit,
        Signal::Kill,
        Signal::Usr1,
        Signal::Usr2,
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// A job of a shell script: a command line, run in the background or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub argv: Vec<String>,
    pub background: bool,
}

/// Splits a shell script into jobs at `;`, `&` and newlines, honouring
/// single and double quotes.
pub fn parse_script(script: &str) -> Result<Vec<Job>, String> {
    let mut jobs = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let mut end_job = |words: &mut Vec<String>, background: bool| -> Result<(), String> {
        if words.is_empty() {
            return Err(format!(
                "syntax error: unexpected \"{}\"",
                if background { "&" } else { ";" }
            ));
        }
        jobs.push(Job {
            argv: std::mem::take(words),
            background,
        });
        Ok(())
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(other) => word.push(other),
                        None => return Err("syntax error: unterminated quoted string".to_string()),
                    }
                }
            }
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            ';' | '&' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                if c == '\n' && words.is_empty() {
                    continue;
                }
                end_job(&mut words, c == '&')?;
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if !words.is_empty() {
        jobs.push(Job {
            argv: words,
            background: false,
        });
    }
    Ok(jobs)
}

/// Splits one command line into words, honouring quotes, as a shell
/// would: `sh -c 'sleep 1; echo hi'` is three words.
pub fn parse_command_line(text: &str) -> Result<Vec<String>, String> {
    let mut jobs = parse_script(text)?;
    match (jobs.len(), jobs.first()) {
        (0, _) => Err("empty command: give a program and its arguments, such as sleep 60".into()),
        (1, Some(job)) if !job.background => Ok(jobs.remove(0).argv),
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

    #[test]
    fn scripts_split_at_separators_and_keep_quotes() {
        let jobs = parse_script("sleep 5 & echo 'a b'; true").unwrap();
        assert_eq!(
            jobs,
            vec![
                Job {
                    argv: argv(&["sleep", "5"]),
                    background: true
                },
                Job {
                    argv: argv(&["echo", "a b"]),
                    background: false
                },
                Job {
                    argv: argv(&["true"]),
                    background: false
                },
            ]
        );
        assert!(parse_script("; true").is_err());
        assert!(parse_script("echo 'open").is_err());
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
