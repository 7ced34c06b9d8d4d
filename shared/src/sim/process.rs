//! Simulated processes: the process table and the programs of the workshop
//! userland, each a small state machine the kernel steps as time passes.

use std::collections::VecDeque;

use crate::engine::Stream;
use crate::process::{ExitStatus, Job, Pid, ProcessState, parse_script};

use super::namespace::NsSet;

/// Resident memory of the simulated programs, in bytes: the sizes a static
/// multi-call userland shows in `ps` on a real host, rounded.
pub(crate) mod rss {
    pub const HOST_INIT: u64 = 9 << 20;
    pub const ENGINE: u64 = 14 << 20;
    pub const SHELL: u64 = 640 << 10;
    pub const TOOL: u64 = 256 << 10;
}

/// CPU time an instant command takes to run, in microseconds.
pub(crate) const INSTANT_COMMAND_CPU_USEC: u64 = 600;

/// One simulated process.
#[derive(Clone, Debug)]
pub(crate) struct SimProcess {
    pub pid: Pid,
    pub ppid: Pid,
    pub ns_pids: Vec<Pid>,
    /// The pid namespaces it is in, the host's first.
    pub pid_ns_chain: Vec<u64>,
    pub argv: Vec<String>,
    pub uid: u32,
    pub gid: u32,
    pub container: Option<String>,
    pub cgroup: String,
    pub ns: NsSet,
    pub program: Program,
    pub state: ProcessState,
    pub exit: Option<ExitStatus>,
    pub rss: u64,
    pub cpu_usec: u64,
}

impl SimProcess {
    /// Whether this process is the init (PID 1) of a pid namespace other
    /// than the host's.
    pub fn is_namespace_init(&self) -> bool {
        self.ns_pids.len() > 1 && self.ns_pids.last() == Some(&1)
    }

    /// The pid namespace it was born into.
    pub fn own_pid_ns(&self) -> u64 {
        *self
            .pid_ns_chain
            .last()
            .expect("every process has a pid namespace")
    }
}

/// What a program is doing.
#[derive(Clone, Debug)]
pub(crate) enum Program {
    /// The host's init: it reaps orphans and otherwise sleeps.
    HostInit,
    /// The engine's own process on the host, parent of every container init.
    Engine,
    /// `sleep`: wakes and exits at `until_ms`.
    Sleep { until_ms: u64 },
    /// `sh -c SCRIPT`: runs its jobs in order, waiting for foreground ones.
    Shell {
        jobs: VecDeque<Job>,
        waiting_for: Option<Pid>,
        status: i32,
    },
    /// A command that has done its work: it writes its output and exits
    /// at its next step.
    Finishing {
        output: Vec<(Stream, String)>,
        code: i32,
    },
}

impl Program {
    pub fn rss(&self) -> u64 {
        match self {
            Program::HostInit => rss::HOST_INIT,
            Program::Engine => rss::ENGINE,
            Program::Shell { .. } => rss::SHELL,
            Program::Sleep { .. } | Program::Finishing { .. } => rss::TOOL,
        }
    }

    /// Whether the program has a handler for catchable signals. None of the
    /// workshop programs install one, so as a namespace's init they ignore
    /// every signal but SIGKILL from an ancestor namespace.
    pub fn handles_signals(&self) -> bool {
        false
    }

    pub fn state(&self) -> ProcessState {
        match self {
            Program::Finishing { .. } => ProcessState::Running,
            _ => ProcessState::Sleeping,
        }
    }
}

/// What the environment of a command looks like to the userland.
pub(crate) struct ExecContext<'a> {
    pub clock_ms: u64,
    pub hostname: &'a str,
    /// The uid inside the process's user namespace.
    pub uid: u32,
    pub gid: u32,
    /// Whether the image has `bin/NAME`.
    pub has_command: &'a dyn Fn(&str) -> bool,
}

/// Turns a command line into the program it runs, as `execve` plus the
/// program's start-up would.
pub(crate) fn exec(argv: &[String], ctx: &ExecContext) -> Program {
    let Some(first) = argv.first() else {
        return finish_err("sh: empty command", 127);
    };
    let name = first.rsplit('/').next().unwrap_or(first);
    if !(ctx.has_command)(name) {
        return finish_err(&format!("sh: {first}: not found"), 127);
    }
    let args = &argv[1..];
    match name {
        "sh" => match args {
            [flag, script, ..] if flag == "-c" => match parse_script(script) {
                Ok(jobs) => Program::Shell {
                    jobs: jobs.into(),
                    waiting_for: None,
                    status: 0,
                },
                Err(msg) => finish_err(&format!("sh: {msg}"), 2),
            },
            // A shell with no script and no terminal reads an empty stdin
            // and exits at once, as `docker run IMAGE sh` without -it does.
            [] => finish(vec![], 0),
            _ => finish_err("sh: usage: sh [-c SCRIPT]", 2),
        },
        "sleep" => match args.first().map(|a| parse_duration_ms(a)) {
            Some(Some(ms)) => Program::Sleep {
                until_ms: ctx.clock_ms + ms,
            },
            Some(None) => finish_err(&format!("sleep: invalid number '{}'", args[0]), 1),
            None => finish_err("sleep: missing operand", 1),
        },
        "echo" => finish(vec![(Stream::Stdout, format!("{}\n", args.join(" ")))], 0),
        "true" => finish(vec![], 0),
        "false" => finish(vec![], 1),
        "hostname" => finish(vec![(Stream::Stdout, format!("{}\n", ctx.hostname))], 0),
        "id" => finish(
            vec![(
                Stream::Stdout,
                format!(
                    "uid={}({}) gid={}({})\n",
                    ctx.uid,
                    user_name(ctx.uid),
                    ctx.gid,
                    group_name(ctx.gid)
                ),
            )],
            0,
        ),
        other => finish_err(
            &format!("{other}: not yet supported by the simulated userland"),
            126,
        ),
    }
}

fn user_name(uid: u32) -> &'static str {
    match uid {
        0 => "root",
        _ => "nobody",
    }
}

fn group_name(gid: u32) -> &'static str {
    match gid {
        0 => "root",
        _ => "nogroup",
    }
}

fn finish(output: Vec<(Stream, String)>, code: i32) -> Program {
    Program::Finishing { output, code }
}

fn finish_err(message: &str, code: i32) -> Program {
    finish(vec![(Stream::Stderr, format!("{message}\n"))], code)
}

/// `sleep`'s operand: seconds, with an optional fraction and `s`, `m`,
/// `h` or `d` suffix.
pub(crate) fn parse_duration_ms(text: &str) -> Option<u64> {
    let (number, scale) = match text.chars().last()? {
        's' => (&text[..text.len() - 1], 1_000.0),
        'm' => (&text[..text.len() - 1], 60_000.0),
        'h' => (&text[..text.len() - 1], 3_600_000.0),
        'd' => (&text[..text.len() - 1], 86_400_000.0),
        _ => (text, 1_000.0),
    };
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| (value * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_fractions() {
        assert_eq!(parse_duration_ms("2"), Some(2000));
        assert_eq!(parse_duration_ms("0.5"), Some(500));
        assert_eq!(parse_duration_ms("1m"), Some(60_000));
        assert_eq!(parse_duration_ms("x"), None);
        assert_eq!(parse_duration_ms("-1"), None);
    }
}
