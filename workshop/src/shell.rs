//! `sh`: the shell grammar of `anchorage_shared::process` (`;`, `&`,
//! quotes, `$VAR`, `$?`, `$$`, `>`, `>>`, `2>`, `2>&1`, `>&2`, `#`), run
//! for real: fork and exec through `PATH`, wait, and the builtins `cd`,
//! `pwd`, `exec` and `exit`. Finished background jobs are reaped before
//! each command, as the simulated shell does.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use anchorage_shared::process::{Job, RedirectTarget, parse_script};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// Where a job's output goes.
#[derive(Clone)]
enum Out {
    Inherit(i32),
    File(std::sync::Arc<File>),
}

impl Out {
    fn stdio(&self) -> io::Result<Stdio> {
        Ok(match self {
            Out::Inherit(1) => Stdio::from(io::stdout().as_fd().try_clone_to_owned()?),
            Out::Inherit(_) => Stdio::from(io::stderr().as_fd().try_clone_to_owned()?),
            Out::File(file) => Stdio::from(file.try_clone()?),
        })
    }

    fn write(&self, text: &str) {
        let _ = match self {
            Out::Inherit(1) => io::stdout().write_all(text.as_bytes()),
            Out::Inherit(_) => io::stderr().write_all(text.as_bytes()),
            Out::File(file) => (&**file).write_all(text.as_bytes()),
        };
    }
}

struct Shell {
    status: i32,
    /// Variables set on the command line of the shell (none yet besides
    /// the environment).
    vars: HashMap<String, String>,
}

pub fn main(args: &[String]) -> i32 {
    let script = match args {
        [flag, script, ..] if flag == "-c" => script.clone(),
        [flag] if flag == "-c" => {
            eprintln!("sh: -c requires an argument");
            return 2;
        }
        [file, ..] => match std::fs::read(file) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(err) => {
                eprintln!("sh: can't open '{file}': {}", crate::files::message(&err));
                return 2;
            }
        },
        [] if io::stdin().is_terminal() => return interactive(),
        [] => {
            let mut text = String::new();
            let _ = io::Read::read_to_string(&mut io::stdin(), &mut text);
            text
        }
    };
    let jobs = match parse_script(&script) {
        Ok(jobs) => jobs,
        Err(msg) => {
            eprintln!("sh: {msg}");
            return 2;
        }
    };
    let mut shell = Shell {
        status: 0,
        vars: HashMap::new(),
    };
    for job in jobs {
        if let Some(code) = shell.run(&job) {
            return code;
        }
    }
    shell.status
}

/// Set by SIGINT (Ctrl-C on the terminal) while the shell is interactive.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_interrupt(_: nix::libc::c_int) {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Reads a line from the terminal; `Ok(None)` at end of input, and
/// `Err(Interrupted)` when Ctrl-C discarded the line being typed.
fn read_line() -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(io::stdin().as_fd(), &mut byte) {
            Ok(0) if line.is_empty() => return Ok(None),
            Ok(0) => break,
            Ok(_) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    break;
                }
            }
            Err(nix::errno::Errno::EINTR) => {
                if INTERRUPTED.swap(false, std::sync::atomic::Ordering::Relaxed) {
                    return Err(io::ErrorKind::Interrupted.into());
                }
            }
            Err(err) => return Err(err.into()),
        }
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// A prompt, a line, its jobs; until end of input or `exit`. Ctrl-C
/// interrupts the command running (it shares the shell's process group),
/// not the shell, and at the prompt discards the line, as shells do.
fn interactive() -> i32 {
    let mut shell = Shell {
        status: 0,
        vars: HashMap::new(),
    };
    // A handler, not SIG_IGN: commands the shell runs get the default
    // action back at exec, so Ctrl-C stops them. No SA_RESTART, so a read
    // at the prompt returns on Ctrl-C.
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(on_interrupt),
        nix::sys::signal::SaFlags::empty(),
        nix::sys::signal::SigSet::empty(),
    );
    for signal in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGQUIT,
    ] {
        // SAFETY: the handler only stores to an atomic.
        let _ = unsafe { nix::sys::signal::sigaction(signal, &action) };
    }
    loop {
        let prompt = if nix::unistd::geteuid().is_root() {
            "# "
        } else {
            "$ "
        };
        let cwd = std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        eprint!("{cwd} {prompt}");
        let line = match read_line() {
            Ok(Some(line)) => line,
            Ok(None) => {
                eprintln!();
                return shell.status;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {
                eprintln!();
                shell.status = 130;
                continue;
            }
            Err(_) => return shell.status,
        };
        match parse_script(&line) {
            Ok(jobs) => {
                for job in jobs {
                    if let Some(code) = shell.run(&job) {
                        return code;
                    }
                    // Ctrl-C during a command ends the line, as in shells.
                    if INTERRUPTED.swap(false, std::sync::atomic::Ordering::Relaxed) {
                        eprintln!();
                        break;
                    }
                }
            }
            Err(msg) => {
                eprintln!("sh: {msg}");
                shell.status = 2;
            }
        }
    }
}

/// The path a command name runs: as given if it has a `/`, else the first
/// regular file of that name along `PATH`.
fn find(name: &str) -> Option<String> {
    if name.contains('/') {
        return Some(name.to_string());
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/bin:/usr/bin:/sbin:/usr/sbin".into());
    path.split(':')
        .map(|dir| format!("{}/{name}", dir.trim_end_matches('/')))
        .find(|candidate| Path::new(candidate).metadata().is_ok_and(|m| !m.is_dir()))
}

impl Shell {
    /// Reaps finished background children, as the simulated shell does
    /// before each command.
    fn reap(&self) {
        while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            if status == nix::sys::wait::WaitStatus::StillAlive {
                break;
            }
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        match name {
            "?" => Some(self.status.to_string()),
            "$" => Some(std::process::id().to_string()),
            "0" => Some("sh".into()),
            "PWD" => std::env::current_dir()
                .ok()
                .map(|p| p.display().to_string()),
            other => self
                .vars
                .get(other)
                .cloned()
                .or_else(|| std::env::var(other).ok()),
        }
    }

    /// Runs one job; `Some(code)` when the shell is to exit.
    fn run(&mut self, job: &Job) -> Option<i32> {
        self.reap();
        let lookup = |name: &str| self.lookup(name);
        let argv = job.argv(&lookup);
        let (mut stdout, mut stderr) = (Out::Inherit(1), Out::Inherit(2));
        for redirect in &job.redirects {
            let out = match &redirect.target {
                RedirectTarget::File { path, append } => {
                    let path = path.expand(&lookup);
                    match path.as_str() {
                        "/dev/stdout" => stdout.clone(),
                        "/dev/stderr" => stderr.clone(),
                        _ => {
                            let opened = OpenOptions::new()
                                .write(true)
                                .create(true)
                                .append(*append)
                                .truncate(!*append)
                                .open(&path);
                            match opened {
                                Ok(file) => Out::File(std::sync::Arc::new(file)),
                                Err(err) => {
                                    eprintln!(
                                        "sh: can't create {path}: {}",
                                        crate::files::message(&err)
                                    );
                                    self.status = 1;
                                    return None;
                                }
                            }
                        }
                    }
                }
                RedirectTarget::Stdout => stdout.clone(),
                RedirectTarget::Stderr => stderr.clone(),
            };
            if redirect.fd == 1 {
                stdout = out;
            } else {
                stderr = out;
            }
        }
        let Some(command) = argv.first().cloned() else {
            self.status = 0;
            return None;
        };
        match command.as_str() {
            "cd" => {
                let dir = argv
                    .get(1)
                    .cloned()
                    .or_else(|| std::env::var("HOME").ok())
                    .unwrap_or_else(|| "/".into());
                self.status = match std::env::set_current_dir(&dir) {
                    Ok(()) => {
                        if let Ok(cwd) = std::env::current_dir() {
                            // SAFETY: the shell is single-threaded.
                            unsafe { std::env::set_var("PWD", cwd) };
                        }
                        0
                    }
                    Err(_) => {
                        stderr.write(&format!(
                            "sh: cd: can't cd to {dir}: No such file or directory\n"
                        ));
                        2
                    }
                };
                None
            }
            "pwd" => {
                let cwd = std::env::current_dir()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                stdout.write(&format!("{cwd}\n"));
                self.status = 0;
                None
            }
            "exit" => Some(match argv.get(1).map(|a| a.parse::<i32>()) {
                None => self.status,
                Some(Ok(code)) => code & 0xff,
                Some(Err(_)) => {
                    stderr.write(&format!("sh: exit: Illegal number: {}\n", argv[1]));
                    2
                }
            }),
            "exec" if argv.len() > 1 => {
                // The shell becomes the command: same pid.
                if let Out::File(file) = &stdout {
                    let _ = nix::unistd::dup2_stdout(&**file);
                }
                if let Out::File(file) = &stderr {
                    let _ = nix::unistd::dup2_stderr(&**file);
                }
                let name = &argv[1];
                let Some(path) = find(name) else {
                    eprintln!("sh: {name}: not found");
                    return Some(127);
                };
                let err = Command::new(&path).arg0(name).args(&argv[2..]).exec();
                eprintln!("sh: {name}: {}", crate::files::message(&err));
                Some(if err.kind() == io::ErrorKind::NotFound {
                    127
                } else {
                    126
                })
            }
            _ => {
                self.status = self.spawn(&argv, &stdout, &stderr, job.background);
                None
            }
        }
    }

    /// Forks and execs a command; waits for it unless in the background.
    fn spawn(&mut self, argv: &[String], stdout: &Out, stderr: &Out, background: bool) -> i32 {
        let name = &argv[0];
        let Some(path) = find(name) else {
            stderr.write(&format!("sh: {name}: not found\n"));
            return 127;
        };
        let executable = Path::new(&path)
            .metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        if !executable {
            stderr.write(&format!("sh: {name}: Permission denied\n"));
            return 126;
        }
        let mut command = Command::new(&path);
        command.arg0(name).args(&argv[1..]);
        let (Ok(out), Ok(err)) = (stdout.stdio(), stderr.stdio()) else {
            stderr.write("sh: can't duplicate output\n");
            return 2;
        };
        command.stdout(out).stderr(err);
        let child = match command.spawn() {
            Ok(child) => child,
            // An executable text file without `#!`: a script for us.
            Err(err) if err.raw_os_error() == Some(libc_enoexec()) => {
                let mut script = Command::new("/proc/self/exe");
                script.arg0("sh").arg(&path).args(&argv[1..]);
                let (Ok(out), Ok(err)) = (stdout.stdio(), stderr.stdio()) else {
                    return 2;
                };
                match script.stdout(out).stderr(err).spawn() {
                    Ok(child) => child,
                    Err(err) => {
                        stderr.write(&format!("sh: {name}: {}\n", crate::files::message(&err)));
                        return 126;
                    }
                }
            }
            Err(err) if err.raw_os_error() == Some(nix::errno::Errno::EAGAIN as i32) => {
                // A failed fork is fatal for a non-interactive shell.
                stderr.write(&format!(
                    "sh: can't fork: {}\n",
                    crate::files::message(&err)
                ));
                std::process::exit(2);
            }
            Err(err) => {
                stderr.write(&format!("sh: {name}: {}\n", crate::files::message(&err)));
                return 126;
            }
        };
        if background {
            // Reaped later (see `reap`), not waited for.
            std::mem::forget(child);
            return 0;
        }
        let pid = Pid::from_raw(child.id() as i32);
        std::mem::forget(child);
        loop {
            match waitpid(pid, None) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => return code,
                Ok(nix::sys::wait::WaitStatus::Signaled(_, signal, _)) => {
                    return 128 + signal as i32;
                }
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                // Reaped elsewhere (it cannot be): report a failure.
                Err(_) => return 1,
            }
        }
    }
}

fn libc_enoexec() -> i32 {
    nix::errno::Errno::ENOEXEC as i32
}
