//! The workshop image's userland, as the simulated kernel runs it: `execve`
//! (finding the program through `PATH` in the process's own root), the
//! shell, and the commands, with output like the real ones (the static
//! multi-call binary of the real `workshop` image prints the same).

use std::fmt::Write as _;

use crate::cgroup::parse_size;
use crate::engine::{Event, Stream};
use crate::namespace::NamespaceKind;
use crate::process::{Pid, ProcessState, Signal};

use super::SimEngine;
use super::fs::Errno;
use super::namespace::Backing;
use super::process::{Program, parse_duration_ms};
use super::shell::Work;
use super::tarball::{ELF_MAGIC, Node, NodeKind, Tree, WORKSHOP_COMMANDS};
use crate::userland::{
    NsArgs, applet, flags_and_operands, human, ls_date, mode_string as mode_bits,
};

/// `drwxr-xr-x` and friends, for a node.
fn mode_string(node: &Node) -> String {
    let kind = match node.kind {
        NodeKind::Dir => 'd',
        NodeKind::Symlink(_) => 'l',
        NodeKind::CharDevice(..) => 'c',
        NodeKind::File(_) => '-',
    };
    mode_bits(kind, node.mode)
}

/// How the runtime reports a container command that cannot run: as the
/// real engine (and Docker) word it.
pub(crate) fn runtime_exec_error(program: &str, code: i32) -> String {
    format!(
        "exec: \"{program}\": {}",
        runtime_exec_reason(program, code)
    )
}

/// Why the runtime cannot run a program: the reason alone.
pub(crate) fn runtime_exec_reason(program: &str, code: i32) -> &'static str {
    match code {
        127 if program.contains('/') => "No such file or directory",
        127 => "executable file not found in $PATH",
        _ => "Permission denied",
    }
}

/// Output a command collects before it is written out.
#[derive(Default)]
struct Io {
    out: String,
    err: String,
}

impl Io {
    fn fail(&mut self, message: impl AsRef<str>, code: i32) -> i32 {
        self.err.push_str(message.as_ref());
        self.err.push('\n');
        code
    }
}

impl SimEngine {
    /// `execve`: replaces a process's program with the one `argv` names,
    /// found through `PATH` in the process's own root. A failure is
    /// reported on the process's stderr and it exits as `sh` would make it
    /// (127 not found, 126 not executable).
    /// With `path`, the caller found the program already (a shell searched
    /// `PATH`): `path` is what runs, `argv[0]` what it is called.
    pub(crate) fn execve_at(&mut self, pid: Pid, path: Option<&str>, argv: Vec<String>) {
        let mut loaded = self.load_at(pid, path, &argv, 0);
        // The runtime starting a container's command words it as the real
        // runtime does, not as a shell would.
        if let Err((message, code)) = &mut loaded
            && self
                .processes
                .get(&pid)
                .is_some_and(|p| p.ppid == self.engine_pid)
            && (*code == 126 || *code == 127)
        {
            *message = runtime_exec_error(argv.first().map_or("", String::as_str), *code);
        }
        let Some(p) = self.processes.get_mut(&pid) else {
            return;
        };
        match loaded {
            Ok((program, argv)) => {
                p.argv = argv;
                // A new address space: what the old program took is
                // freed.
                let freed = std::mem::take(&mut p.held);
                p.rss = p.rss.saturating_sub(freed);
                let cgroup = p.cgroup.clone();
                self.cgroups.charge(&cgroup, |usage| {
                    usage.memory_current = usage.memory_current.saturating_sub(freed);
                });
                let Some(p) = self.processes.get_mut(&pid) else {
                    return;
                };
                p.state = program.state();
                p.program = program;
                self.close_on_exec(pid);
            }
            Err((message, code)) => {
                p.program = Program::ExecFailed { message, code };
                p.state = ProcessState::Running;
            }
        }
    }

    pub(crate) fn load(&self, pid: Pid, argv: &[String]) -> Result<Program, (String, i32)> {
        self.load_at(pid, None, argv, 0).map(|(program, _)| program)
    }

    /// The program `argv` runs, and the argv it gets (a `#!` script's
    /// interpreter gets the script's path after its own words).
    /// `depth` counts interpreters, which Linux allows 4 of.
    fn load_at(
        &self,
        pid: Pid,
        found: Option<&str>,
        argv: &[String],
        depth: u32,
    ) -> Result<(Program, Vec<String>), (String, i32)> {
        let first = argv
            .first()
            .filter(|f| !f.is_empty())
            .ok_or_else(|| ("sh: : not found".to_string(), 127))?;
        let p = &self.processes[&pid];
        let path = if let Some(found) = found {
            found.to_string()
        } else if first.contains('/') {
            first.clone()
        } else {
            let search = p.env_var("PATH").unwrap_or("/bin").to_string();
            search
                .split(':')
                .map(|dir| format!("{}/{first}", dir.trim_end_matches('/')))
                .find(|candidate| matches!(self.stat(pid, candidate), Ok((_, node)) if !node.is_dir()))
                .ok_or_else(|| (format!("sh: {first}: not found"), 127))?
        };
        let (resolved, node) = self.stat(pid, &path).map_err(|err| match err {
            Errno::NoEnt => (format!("sh: {first}: not found"), 127),
            other => (format!("sh: {first}: {}", other.message()), 126),
        })?;
        let denied = || (format!("sh: {first}: Permission denied"), 126);
        let NodeKind::File(contents) = node.kind else {
            return Err(denied());
        };
        if node.mode & 0o111 == 0 {
            return Err(denied());
        }
        if let Some(rest) = contents.strip_prefix(b"#!") {
            // The kernel's `binfmt_script`: the first line names the
            // interpreter and at most one argument, and the interpreter
            // runs with the script's path after them.
            let line = rest.split(|b| *b == b'\n').next().unwrap_or_default();
            let line = String::from_utf8_lossy(line);
            let line = line.trim_matches([' ', '\t', '\r']);
            let (interpreter, arg) = match line.split_once([' ', '\t']) {
                Some((i, a)) => (i, Some(a.trim_matches([' ', '\t']))),
                None => (line, None),
            };
            if !interpreter.is_empty() {
                if depth >= 4 {
                    return Err((
                        format!("sh: {first}: Too many levels of symbolic links"),
                        126,
                    ));
                }
                let mut words = vec![interpreter.to_string()];
                words.extend(arg.filter(|a| !a.is_empty()).map(str::to_string));
                words.push(path.clone());
                words.extend(argv[1..].iter().cloned());
                return self
                    .load_at(pid, Some(interpreter), &words, depth + 1)
                    .map_err(|(message, code)| {
                        if code == 127 {
                            // ENOENT from execve names the script.
                            (format!("sh: {first}: not found"), 127)
                        } else {
                            (message, code)
                        }
                    });
            }
        }
        if !contents.starts_with(ELF_MAGIC) {
            // Not a binary (ENOEXEC): the shell runs it, as `sh FILE`.
            let text = String::from_utf8_lossy(&contents).into_owned();
            let invocation = crate::shell::invoke::Invocation {
                source: crate::shell::invoke::Source::File(path.clone()),
                arg0: None,
                positional: argv[1..].to_vec(),
                set: Vec::new(),
                interactive: false,
            };
            return Ok((
                self.shell_program(
                    pid,
                    Work::Script { text, tail: false },
                    &path,
                    &invocation,
                    1,
                ),
                argv.to_vec(),
            ));
        }
        let (name, args) = applet(argv);
        let program = match name.as_str() {
            "sh" => {
                use crate::shell::invoke::{self, Source};
                let invocation = invoke::parse(&args).map_err(|m| (format!("sh: {m}"), 2))?;
                let (work, arg0, line_base) = match &invocation.source {
                    Source::Command(script) => (
                        Work::Script {
                            text: script.clone(),
                            tail: true,
                        },
                        invocation.arg0.clone().unwrap_or_else(|| "sh".into()),
                        0,
                    ),
                    // A container's standard input, without -i, is
                    // empty: it exits at once.
                    Source::Stdin => (Work::Stdin, "sh".to_string(), 1),
                    Source::File(file) => {
                        let text = self.read_file(pid, file).map_err(|err| {
                            (format!("sh: can't open '{file}': {}", err.message()), 2)
                        })?;
                        (
                            Work::Script {
                                text: String::from_utf8_lossy(&text).into_owned(),
                                tail: false,
                            },
                            file.clone(),
                            1,
                        )
                    }
                };
                Ok(self.shell_program(pid, work, &arg0, &invocation, line_base))
            }
            "sleep" => match args.first().map(|a| (a, parse_duration_ms(a))) {
                Some((_, Ok(ms))) => Ok(Program::Sleep {
                    until_ms: ms.map(|ms| self.clock_ms.saturating_add(ms)),
                }),
                Some((text, Err(_))) => Err((format!("sleep: invalid number '{text}'"), 1)),
                None => Err(("sleep: missing operand".into(), 1)),
            },
            "memhog" => {
                let Some(size) = args.first() else {
                    return Err((
                        "memhog: usage: memhog SIZE [SECONDS], as in memhog 100m".to_string(),
                        2,
                    ));
                };
                let target = parse_size(size).map_err(|err| (format!("memhog: {err}"), 2))?;
                let hold_ms = match args.get(1).map(|s| parse_duration_ms(s)) {
                    None => None,
                    Some(Ok(ms)) => ms,
                    Some(Err(_)) => {
                        return Err((
                            format!("memhog: invalid number of seconds '{}'", args[1]),
                            2,
                        ));
                    }
                };
                Ok(Program::MemHog {
                    target,
                    touched: 0,
                    hold_ms,
                    hold_until: None,
                })
            }
            "cpuburn" => {
                let until_ms = match args.first().map(|s| parse_duration_ms(s)) {
                    None => None,
                    Some(Ok(ms)) => ms.map(|ms| self.clock_ms.saturating_add(ms)),
                    Some(Err(_)) => {
                        return Err((
                            format!("cpuburn: invalid number of seconds '{}'", args[0]),
                            2,
                        ));
                    }
                };
                Ok(Program::CpuBurn {
                    until_ms,
                    started_ms: self.clock_ms,
                })
            }
            "forkbomb" => Ok(Program::ForkBomb { complained: false }),
            "cat" if args.is_empty() || args.iter().all(|a| a == "-") => Ok(Program::Copy),
            // Only the host's own binary speaks for the terminal: a file of
            // that name anywhere else is an ordinary file.
            "anchorage" if self.is_host_binary(pid, &resolved) => {
                Ok(Program::Verb(Box::new(super::login::Verb {
                    argv: argv.to_vec(),
                    asked: false,
                    done: None,
                })))
            }
            portable if crate::userland::PORTABLE.contains(&portable) => {
                Ok(self.applet_program(pid, portable, &args))
            }
            known if WORKSHOP_COMMANDS.contains(&known) => Ok(Program::Instant),
            unknown => Err((format!("{unknown}: applet not found"), 127)),
        }?;
        Ok((program, argv.to_vec()))
    }

    /// Runs a command that completes in one step; returns its exit code.
    pub(crate) fn run_instant(&mut self, pid: Pid, events: &mut Vec<Event>) -> i32 {
        let (name, args) = applet(&self.processes[&pid].argv);
        let mut io = Io::default();
        let code = match name.as_str() {
            "echo" => {
                let (newline, words) = match args.first().map(String::as_str) {
                    Some("-n") => (false, &args[1..]),
                    _ => (true, &args[..]),
                };
                io.out = words.join(" ");
                if newline {
                    io.out.push('\n');
                }
                0
            }
            "true" => 0,
            "false" => 1,
            // The simulated host's processes have no terminal.
            "stty" => {
                io.err = "stty: standard input: Not a tty\n".into();
                1
            }
            // The kernel's keyrings are not namespaced, so Docker's
            // seccomp profile refuses every keyring call.
            "keyctl" => match args.first().map(String::as_str) {
                Some("new_session") if self.seccomp_confined(pid) => io.fail(
                    "keyctl: join_session_keyring: Operation not permitted",
                    1,
                ),
                Some("new_session") => io.fail(
                    "keyctl: the simulated kernel keeps no keyrings: try it in a container on a real host",
                    1,
                ),
                _ => io.fail("usage: keyctl new_session", 2),
            },
            "hostname" => self.cmd_hostname(pid, &args, &mut io),
            "id" => self.cmd_id(pid, &mut io),
            "uname" => self.cmd_uname(pid, &args, &mut io),
            "env" => {
                for pair in &self.processes[&pid].env {
                    let _ = writeln!(io.out, "{pair}");
                }
                0
            }
            "ps" => self.cmd_ps(pid, &args, &mut io),
            "ls" => self.cmd_ls(pid, &args, &mut io),
            "cat" => self.cmd_cat(pid, &args, &mut io),
            "rm" => self.cmd_rm(pid, &args, &mut io),
            "touch" => {
                let mut code = 0;
                for path in &args {
                    if let Err(err) = self.touch(pid, path) {
                        code = io.fail(format!("touch: {path}: {}", err.message()), 1);
                    }
                }
                code
            }
            "mkdir" => {
                let (flags, paths) = flags_and_operands(&args);
                let mut code = 0;
                if paths.is_empty() {
                    code = io.fail("mkdir: missing operand", 1);
                }
                for path in &paths {
                    if let Err(err) = self.mkdir(pid, path, flags.contains('p')) {
                        code = io.fail(
                            format!("mkdir: can't create directory '{path}': {}", err.message()),
                            1,
                        );
                    }
                }
                code
            }
            "kill" => self.cmd_kill(pid, &args, &mut io, events),
            "nsenter" => self.cmd_nsenter(pid, &args, &mut io, events),
            "unshare" => self.cmd_unshare(pid, &args, &mut io, events),
            "mount" => self.cmd_mount(pid, &args, &mut io),
            other => io.fail(format!("{other}: applet not found"), 127),
        };
        self.write_out(pid, Stream::Stdout, io.out, events);
        self.write_out(pid, Stream::Stderr, io.err, events);
        code
    }

    fn in_container(&self, pid: Pid) -> bool {
        self.processes[&pid].container.is_some()
    }

    /// Whether the process runs under Docker's default seccomp profile
    /// (a container's, unless it was run `seccomp=unconfined`).
    pub(crate) fn seccomp_confined(&self, pid: Pid) -> bool {
        let Some(id) = &self.processes[&pid].container else {
            return false;
        };
        self.containers.iter().any(|c| {
            &c.info.id == id && c.info.security.seccomp == crate::container::Seccomp::Default
        })
    }

    fn cmd_hostname(&mut self, pid: Pid, args: &[String], io: &mut Io) -> i32 {
        let uts = self.processes[&pid].ns[&NamespaceKind::Uts];
        match args.first() {
            None => {
                let _ = writeln!(io.out, "{}", self.namespaces.hostname(uts));
                0
            }
            // Setting it takes CAP_SYS_ADMIN, which Docker's default
            // capability set (and so a container's root) does not have.
            Some(_) if self.in_container(pid) => {
                io.fail("hostname: sethostname: Operation not permitted", 1)
            }
            Some(name) => {
                self.namespaces.set_hostname(uts, name);
                0
            }
        }
    }

    /// The name `/etc/passwd` (or `/etc/group`) in a process's root gives
    /// an id.
    fn name_of(&self, pid: Pid, file: &str, id: u32) -> Option<String> {
        let text = self.read_file(pid, file).ok()?;
        String::from_utf8_lossy(&text).lines().find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let number: u32 = fields.nth(1)?.parse().ok()?;
            (number == id).then(|| name.to_string())
        })
    }

    fn cmd_id(&self, pid: Pid, io: &mut Io) -> i32 {
        let p = &self.processes[&pid];
        let (uid, gid) = self.ids_seen_by(p, p);
        let user = self
            .name_of(pid, "/etc/passwd", uid)
            .map_or(String::new(), |n| format!("({n})"));
        let group = self
            .name_of(pid, "/etc/group", gid)
            .map_or(String::new(), |n| format!("({n})"));
        let _ = writeln!(
            io.out,
            "uid={uid}{user} gid={gid}{group} groups={gid}{group}"
        );
        0
    }

    fn cmd_uname(&self, pid: Pid, args: &[String], io: &mut Io) -> i32 {
        let (flags, _) = flags_and_operands(args);
        let uts = self.processes[&pid].ns[&NamespaceKind::Uts];
        let node = self.namespaces.hostname(uts);
        let all = flags.contains('a');
        let mut parts = Vec::new();
        if flags.is_empty() || all || flags.contains('s') {
            parts.push("Linux".to_string());
        }
        if all || flags.contains('n') {
            parts.push(node);
        }
        if all || flags.contains('r') {
            parts.push(super::KERNEL_RELEASE.to_string());
        }
        if all || flags.contains('m') {
            parts.push("x86_64".to_string());
        }
        let _ = writeln!(io.out, "{}", parts.join(" "));
        0
    }

    fn cmd_ps(&self, pid: Pid, args: &[String], io: &mut Io) -> i32 {
        let mut fields: Option<Vec<String>> = None;
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "-o" => match iter.next() {
                    Some(list) => fields = Some(list.split(',').map(str::to_string).collect()),
                    None => return io.fail("ps: option requires an argument -- 'o'", 1),
                },
                a if a.starts_with("-o") => {
                    fields = Some(a[2..].split(',').map(str::to_string).collect())
                }
                "-e" | "-A" | "-ef" | "-f" | "-a" | "-x" | "aux" | "ax" | "-aux" | "-w" => {}
                other => return io.fail(format!("ps: invalid option '{other}'"), 1),
            }
        }
        let viewer = &self.processes[&pid];
        // ps reads /proc: it lists the pid namespace that procfs shows.
        let Some(view_ns) = self.proc_pid_ns(pid) else {
            return io.fail("ps: can't open '/proc': No such file or directory", 1);
        };
        let mut rows: Vec<(Pid, &super::process::SimProcess)> = self
            .processes
            .values()
            .filter_map(|p| p.pid_in(view_ns).map(|inner| (inner, p)))
            .collect();
        rows.sort_by_key(|(inner, _)| *inner);
        let user_of = |p: &super::process::SimProcess| {
            let (uid, _) = self.ids_seen_by(p, viewer);
            self.name_of(pid, "/etc/passwd", uid)
                .unwrap_or_else(|| uid.to_string())
        };
        let time_of = |p: &super::process::SimProcess| {
            let secs = p.cpu_usec / 1_000_000;
            format!("{}:{:02}", secs / 60, secs % 60)
        };
        let args_of = |p: &super::process::SimProcess| {
            if p.state == ProcessState::Zombie {
                format!("[{}]", p.comm())
            } else {
                p.argv.join(" ")
            }
        };
        let Some(fields) = fields else {
            let _ = writeln!(io.out, "PID   USER     TIME  COMMAND");
            for (inner, p) in rows {
                let _ = writeln!(
                    io.out,
                    "{inner:>5} {:<8} {:>5} {}",
                    user_of(p),
                    time_of(p),
                    args_of(p)
                );
            }
            return 0;
        };
        let known = [
            "pid", "ppid", "user", "uid", "stat", "rss", "time", "comm", "args",
        ];
        if let Some(bad) = fields.iter().find(|f| !known.contains(&f.as_str())) {
            return io.fail(
                format!(
                    "ps: bad -o argument '{bad}', supported: {}",
                    known.join(",")
                ),
                1,
            );
        }
        let header: Vec<String> = fields
            .iter()
            .map(|f| match f.as_str() {
                "comm" | "args" => "COMMAND".to_string(),
                other => other.to_uppercase(),
            })
            .collect();
        let mut lines = vec![header];
        for (inner, p) in rows {
            let ppid = self
                .processes
                .get(&p.ppid)
                .and_then(|parent| parent.pid_in(view_ns))
                .unwrap_or(0);
            lines.push(
                fields
                    .iter()
                    .map(|f| match f.as_str() {
                        "pid" => inner.to_string(),
                        "ppid" => ppid.to_string(),
                        "user" => user_of(p),
                        "uid" => self.ids_seen_by(p, viewer).0.to_string(),
                        "stat" => p.state.code().to_string(),
                        "rss" => (p.rss / 1024).to_string(),
                        "time" => time_of(p),
                        "comm" => p.comm(),
                        _ => args_of(p),
                    })
                    .collect(),
            );
        }
        for line in lines {
            let cells: Vec<String> = line
                .iter()
                .zip(&fields)
                .enumerate()
                .map(|(i, (cell, field))| {
                    if i + 1 == fields.len() {
                        cell.clone()
                    } else if matches!(field.as_str(), "user" | "stat" | "comm") {
                        format!("{cell:<8}")
                    } else {
                        format!("{cell:>5}")
                    }
                })
                .collect();
            let _ = writeln!(io.out, "{}", cells.join(" "));
        }
        0
    }

    /// A directory's link count, as the kernel keeps it: its entry in its
    /// parent, its own `.`, and each subdirectory's `..`.
    fn long_entry(
        &self,
        pid: Pid,
        name: &str,
        abs: Option<&str>,
        node: &Node,
        human_sizes: bool,
    ) -> String {
        let user = self
            .name_of(pid, "/etc/passwd", node.uid)
            .unwrap_or_else(|| node.uid.to_string());
        let group = self
            .name_of(pid, "/etc/group", node.gid)
            .unwrap_or_else(|| node.gid.to_string());
        let bytes = abs.map_or(node.size(), |abs| self.size_of(pid, abs, node));
        let size = match node.kind {
            NodeKind::CharDevice(major, minor) => format!("{major}, {minor}"),
            _ if human_sizes => human(bytes),
            _ => bytes.to_string(),
        };
        let links = match abs {
            Some(abs) => self.links_of(pid, abs, node),
            None if node.is_dir() => 2,
            None => 1,
        };
        let mut line = format!(
            "{} {links:>4} {user:<8} {group:<8} {size:>9} {} {name}",
            mode_string(node),
            ls_date(node.mtime)
        );
        if let NodeKind::Symlink(target) = &node.kind {
            let _ = write!(line, " -> {target}");
        }
        line
    }

    fn cmd_ls(&self, pid: Pid, args: &[String], io: &mut Io) -> i32 {
        let (flags, mut paths) = flags_and_operands(args);
        if let Some(bad) = flags.chars().find(|c| !"laAd1hF".contains(*c)) {
            return io.fail(format!("ls: invalid option -- '{bad}'"), 2);
        }
        let long = flags.contains('l');
        let all = flags.contains('a');
        let almost_all = all || flags.contains('A');
        let human_sizes = flags.contains('h');
        if paths.is_empty() {
            paths.push(".".into());
        }
        let mut code = 0;
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        for path in &paths {
            let found = if long {
                self.lstat(pid, path)
            } else {
                self.stat(pid, path)
            };
            match found {
                Ok((abs, node)) if node.is_dir() && !flags.contains('d') => {
                    dirs.push((path.clone(), abs))
                }
                Ok((abs, node)) => files.push((path.clone(), abs, node)),
                Err(err) => code = io.fail(format!("ls: {path}: {}", err.message()), 2),
            }
        }
        for (name, abs, node) in &files {
            if long {
                let _ = writeln!(
                    io.out,
                    "{}",
                    self.long_entry(pid, name, Some(abs), node, human_sizes)
                );
            } else {
                let _ = writeln!(io.out, "{name}");
            }
        }
        let headers = paths.len() > 1;
        for (i, (shown, abs)) in dirs.iter().enumerate() {
            if headers {
                if i > 0 || !files.is_empty() {
                    io.out.push('\n');
                }
                let _ = writeln!(io.out, "{shown}:");
            }
            let names = match self.read_dir(pid, abs) {
                Ok(names) => names,
                Err(err) => {
                    code = io.fail(format!("ls: {shown}: {}", err.message()), 2);
                    continue;
                }
            };
            let mut entries: Vec<String> = Vec::new();
            if all {
                entries.push(".".into());
                entries.push("..".into());
            }
            entries.extend(
                names
                    .into_iter()
                    .filter(|n| almost_all || !n.starts_with('.')),
            );
            if !long {
                for name in entries {
                    let _ = writeln!(io.out, "{name}");
                }
                continue;
            }
            let mut listed = Vec::new();
            for name in entries {
                let child = match name.as_str() {
                    "." => abs.clone(),
                    ".." => format!(
                        "/{}",
                        super::tarball::parent_of(abs.trim_start_matches('/'))
                    ),
                    _ => format!("{}/{name}", abs.trim_end_matches('/')),
                };
                match self.lookup(pid, &child) {
                    Ok(node) => listed.push((name, child, node)),
                    Err(err) => code = io.fail(format!("ls: {name}: {}", err.message()), 1),
                }
            }
            // `total` counts 1 KiB blocks, as ls does: 4 KiB blocks used.
            let blocks: u64 = listed
                .iter()
                .map(|(_, _, node)| match node.kind {
                    NodeKind::Dir => 4,
                    NodeKind::File(_) => node.size().div_ceil(4096) * 4,
                    _ => 0,
                })
                .sum();
            let _ = writeln!(io.out, "total {blocks}");
            for (name, child, node) in listed {
                let _ = writeln!(
                    io.out,
                    "{}",
                    self.long_entry(pid, &name, Some(&child), &node, human_sizes)
                );
            }
        }
        code
    }

    fn cmd_cat(&self, pid: Pid, args: &[String], io: &mut Io) -> i32 {
        let mut code = 0;
        for path in args {
            // `/proc/PID/ns/*` are magic links to nsfs inodes: they open,
            // but reading them is EINVAL.
            if let Ok((_, node)) = self.lstat(pid, path)
                && let NodeKind::Symlink(target) = &node.kind
                && target.contains(":[")
                && path.contains("/ns/")
            {
                code = io.fail("cat: read error: Invalid argument", 1);
                continue;
            }
            match self.read_file(pid, path) {
                Ok(data) => io.out.push_str(&String::from_utf8_lossy(&data)),
                Err(Errno::IsDir) => code = io.fail("cat: read error: Is a directory", 1),
                Err(err) => {
                    code = io.fail(format!("cat: can't open '{path}': {}", err.message()), 1)
                }
            }
        }
        code
    }

    fn cmd_rm(&mut self, pid: Pid, args: &[String], io: &mut Io) -> i32 {
        let (flags, paths) = flags_and_operands(args);
        let recursive = flags.contains('r') || flags.contains('R');
        let force = flags.contains('f');
        if paths.is_empty() && !force {
            return io.fail("rm: missing operand", 1);
        }
        let mut code = 0;
        for path in &paths {
            match self.remove(pid, path, recursive) {
                Ok(()) => {}
                Err(Errno::NoEnt) if force => {}
                Err(err) => {
                    code = io.fail(format!("rm: can't remove '{path}': {}", err.message()), 1)
                }
            }
        }
        code
    }

    fn cmd_kill(&mut self, pid: Pid, args: &[String], io: &mut Io, events: &mut Vec<Event>) -> i32 {
        let mut signal = Signal::Term;
        let mut targets = Vec::new();
        let mut iter = args.iter().peekable();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "-l" => {
                    for s in Signal::ALL {
                        let _ = writeln!(io.out, "{:>2}) SIG{}", s.number(), s.name());
                    }
                    return 0;
                }
                "-s" => match iter.next().map(|s| s.parse::<Signal>()) {
                    Some(Ok(s)) => signal = s,
                    Some(Err(err)) => return io.fail(format!("kill: {err}"), 1),
                    None => return io.fail("kill: option requires an argument -- 's'", 1),
                },
                a if a.starts_with('-') && targets.is_empty() => match a[1..].parse::<Signal>() {
                    Ok(s) => signal = s,
                    Err(err) => return io.fail(format!("kill: {err}"), 1),
                },
                a => targets.push(a.to_string()),
            }
        }
        if targets.is_empty() {
            return io.fail("kill: usage: kill [-s SIGNAL | -SIGNAL] PID...", 1);
        }
        let view_ns = self.processes[&pid].own_pid_ns();
        let mut code = 0;
        for target in targets {
            let found = target.parse::<Pid>().ok().and_then(|inner| {
                self.processes
                    .values()
                    .find(|p| p.pid_in(view_ns) == Some(inner))
                    .map(|p| p.pid)
            });
            let protected = found.is_some_and(|p| {
                matches!(
                    self.processes[&p].program,
                    Program::Engine | Program::HostInit
                )
            });
            match found {
                // The simulation needs its engine: it stays, and says so.
                Some(_) if protected && signal == Signal::Kill => {
                    code = io.fail(
                        format!("kill: can't kill pid {target}: Operation not permitted (the simulated host keeps its init and engine)"),
                        1,
                    )
                }
                Some(host_pid) => self.signal(pid, host_pid, signal, events),
                None => {
                    code = io.fail(format!("kill: can't kill pid {target}: No such process"), 1)
                }
            }
        }
        code
    }

    /// After a namespace tool forked its command: it waits for it and
    /// exits with its status, as a shell with one job does.
    fn wait_for_child(&mut self, pid: Pid, child: Pid) {
        if let Some(p) = self.processes.get_mut(&pid) {
            p.program = Program::WaitChild { child };
            p.state = ProcessState::Sleeping;
        }
    }

    /// Which namespaces `-m -u -i -n -p -U -C` (or `-a`, all) name.
    fn namespace_flags(flags: &str) -> Result<Vec<NamespaceKind>, char> {
        let mut kinds = Vec::new();
        for flag in flags.chars() {
            let kind = match flag {
                'm' => NamespaceKind::Mnt,
                'u' => NamespaceKind::Uts,
                'i' => NamespaceKind::Ipc,
                'n' => NamespaceKind::Net,
                'p' => NamespaceKind::Pid,
                'U' => NamespaceKind::User,
                'C' => NamespaceKind::Cgroup,
                'T' => NamespaceKind::Time,
                'a' => {
                    kinds.extend(NamespaceKind::ALL);
                    continue;
                }
                // `-r` (map root) implies a user namespace.
                'r' => NamespaceKind::User,
                'f' => continue,
                other => return Err(other),
            };
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        Ok(kinds)
    }

    /// `nsenter -t PID [-a | -m -u -i -n -p -U -C] [COMMAND...]`: `setns`
    /// into another process's namespaces, then fork the command there.
    fn cmd_nsenter(
        &mut self,
        pid: Pid,
        args: &[String],
        io: &mut Io,
        events: &mut Vec<Event>,
    ) -> i32 {
        let (target, flags, mut command) = match crate::userland::ns_args("nsenter", args) {
            Ok(NsArgs::Help(usage)) => {
                io.out.push_str(&usage);
                return 0;
            }
            Ok(NsArgs::Run {
                target,
                flags,
                command,
                ..
            }) => (target, flags, command),
            Err(message) => return io.fail(message, 1),
        };
        let kinds = match Self::namespace_flags(&flags) {
            Ok(kinds) if !kinds.is_empty() => kinds,
            Ok(_) => {
                return io.fail(
                    "nsenter: no namespace given: use -a, or -m -u -i -n -p -U -C",
                    1,
                );
            }
            Err(bad) => return io.fail(format!("nsenter: invalid option -- '{bad}'"), 1),
        };
        let Some(target) = target else {
            return io.fail("nsenter: no target process: give -t PID", 1);
        };
        // setns takes CAP_SYS_ADMIN over the target's namespaces.
        if self.in_container(pid) {
            return io.fail(
                "nsenter: reassociate to namespaces failed: Operation not permitted",
                1,
            );
        }
        let view_ns = self.processes[&pid].own_pid_ns();
        let found = target.parse::<Pid>().ok().and_then(|inner| {
            self.processes
                .values()
                .find(|p| p.pid_in(view_ns) == Some(inner) && p.state != ProcessState::Zombie)
        });
        let Some(target_p) = found else {
            return io.fail(
                format!("nsenter: cannot open /proc/{target}/ns/ipc: No such file or directory"),
                1,
            );
        };
        let (target_ns, target_container) = (target_p.ns.clone(), target_p.container.clone());
        if command.is_empty() {
            command.push("sh".into());
        }
        let mut spawn = self.child_spawn(pid, command);
        for kind in &kinds {
            spawn.ns.insert(*kind, target_ns[kind]);
        }
        if kinds.contains(&NamespaceKind::Mnt) {
            spawn.cwd = "/".into();
        }
        // In the container's pid namespace, it is one of its processes
        // (and dies with its init), though its cgroup is still ours.
        if kinds.contains(&NamespaceKind::Pid) {
            spawn.container = target_container;
        }
        match self.fork_exec(spawn, events) {
            Ok(child) => {
                self.wait_for_child(pid, child);
                0
            }
            Err(err) => io.fail(format!("nsenter: fork failed: {}", err.message()), 1),
        }
    }

    /// `unshare [-m -u -i -n -p -U -C] [-f] [-r] [--mount-proc] COMMAND...`:
    /// new namespaces, then the command in them.
    fn cmd_unshare(
        &mut self,
        pid: Pid,
        args: &[String],
        io: &mut Io,
        events: &mut Vec<Event>,
    ) -> i32 {
        let (flags, mount_proc, mut command) = match crate::userland::ns_args("unshare", args) {
            Ok(NsArgs::Help(usage)) => {
                io.out.push_str(&usage);
                return 0;
            }
            Ok(NsArgs::Run {
                flags,
                mount_proc,
                command,
                ..
            }) => (flags, mount_proc, command),
            Err(message) => return io.fail(message, 1),
        };
        let kinds = match Self::namespace_flags(&flags) {
            Ok(kinds) => kinds,
            Err(bad) => return io.fail(format!("unshare: invalid option -- '{bad}'"), 1),
        };
        if kinds.contains(&NamespaceKind::Pid) && !flags.contains('f') {
            return io.fail(
                "unshare: -p needs -f (--fork): the first process of a new pid namespace must be forked, or it stays outside",
                1,
            );
        }
        // Docker's seccomp profile refuses unshare(2); without it, a new
        // user namespace takes no capability (and gives every one inside
        // it), but any other kind takes CAP_SYS_ADMIN, which a
        // container's root lacks.
        if self.seccomp_confined(pid)
            || (self.in_container(pid) && !kinds.contains(&NamespaceKind::User))
        {
            return io.fail("unshare: unshare failed: Operation not permitted", 1);
        }
        if command.is_empty() {
            command.push("sh".into());
        }
        let (own_ns, own_cgroup, own_uid) = {
            let p = &self.processes[&pid];
            (p.ns.clone(), p.cgroup.clone(), p.uid)
        };
        let mut ns = own_ns.clone();
        let owner = if kinds.contains(&NamespaceKind::User) {
            let map = if flags.contains('r') {
                vec![crate::namespace::IdMap {
                    inside: 0,
                    outside: own_uid,
                    count: 1,
                }]
            } else {
                vec![]
            };
            let user = self.namespaces.create(
                NamespaceKind::User,
                own_ns[&NamespaceKind::User],
                own_ns[&NamespaceKind::User],
                crate::namespace::NamespaceDetail::User {
                    uid_map: map.clone(),
                    gid_map: map,
                },
            );
            ns.insert(NamespaceKind::User, user);
            user
        } else {
            own_ns[&NamespaceKind::User]
        };
        for kind in kinds.iter().filter(|k| **k != NamespaceKind::User) {
            let detail = match kind {
                NamespaceKind::Uts => crate::namespace::NamespaceDetail::Uts {
                    hostname: self.namespaces.hostname(own_ns[kind]),
                },
                NamespaceKind::Net => crate::namespace::NamespaceDetail::Net {
                    interfaces: vec!["lo".into()],
                },
                NamespaceKind::Mnt => crate::namespace::NamespaceDetail::Mnt {
                    root: "/".into(),
                    mounts: vec![],
                },
                _ => crate::namespace::NamespaceDetail::Plain,
            };
            let inode = self.namespaces.create(*kind, own_ns[kind], owner, detail);
            if *kind == NamespaceKind::Cgroup
                && let Some(created) = self.namespaces.table.get_mut(&inode)
            {
                created.cgroup_root = Some(own_cgroup.clone());
            }
            ns.insert(*kind, inode);
        }
        if kinds.contains(&NamespaceKind::Mnt) {
            // A new mount namespace starts as a copy of the old table.
            let mounts = self.namespaces.table[&own_ns[&NamespaceKind::Mnt]]
                .mounts
                .clone();
            for m in mounts {
                let backing = match (&m.backing, mount_proc) {
                    (Backing::Proc { .. }, true) if m.target == "/proc" => Backing::Proc {
                        pid_ns: ns[&NamespaceKind::Pid],
                        sub: String::new(),
                    },
                    (other, _) => other.clone(),
                };
                self.namespaces.mount(
                    ns[&NamespaceKind::Mnt],
                    &m.target,
                    m.fstype,
                    &m.source,
                    &m.options,
                    backing,
                );
            }
        }
        let mut spawn = self.child_spawn(pid, command);
        spawn.ns = ns.clone();
        match self.fork_exec(spawn, events) {
            Ok(child) => {
                self.wait_for_child(pid, child);
                0
            }
            Err(err) => {
                // Nobody entered the new namespaces: they go at once.
                let created: super::namespace::NsSet = ns
                    .into_iter()
                    .filter(|(kind, inode)| own_ns[kind] != *inode)
                    .collect();
                self.namespaces.enter(&created);
                self.namespaces.leave(&created);
                io.fail(format!("unshare: fork failed: {}", err.message()), 1)
            }
        }
    }

    fn cmd_mount(&mut self, pid: Pid, args: &[String], io: &mut Io) -> i32 {
        let mnt = self.processes[&pid].ns[&NamespaceKind::Mnt];
        if args.is_empty() {
            for m in &self.namespaces.table[&mnt].mounts {
                let _ = writeln!(
                    io.out,
                    "{} on {} type {} ({})",
                    m.source, m.target, m.fstype, m.options
                );
            }
            return 0;
        }
        // Mounting takes CAP_SYS_ADMIN, which a container's root lacks.
        if self.in_container(pid) {
            return io.fail("mount: permission denied (are you root?)", 255);
        }
        let mut fstype = None;
        let mut options = "rw,relatime".to_string();
        let mut operands = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "-t" => fstype = iter.next().cloned(),
                "-o" => {
                    if let Some(o) = iter.next() {
                        options = format!("rw,{o}");
                    }
                }
                other => operands.push(other.to_string()),
            }
        }
        let [source, target] = operands.as_slice() else {
            return io.fail(
                "mount: usage: mount [-t TYPE] [-o OPTIONS] SOURCE DIRECTORY",
                1,
            );
        };
        match self.stat(pid, target) {
            Ok((_, node)) if node.is_dir() => {}
            _ => {
                return io.fail(
                    format!(
                        "mount: mounting {source} on {target} failed: No such file or directory"
                    ),
                    255,
                );
            }
        }
        let abs = self.resolve(pid, target, true).unwrap_or_default();
        if fstype.as_deref() != Some("tmpfs") {
            // The simulated kernel's only file system for new mounts.
            return io.fail(
                format!(
                    "mount: mounting {source} on {target} failed: No such device (the simulated kernel mounts tmpfs only)"
                ),
                255,
            );
        }
        let tree = Tree::empty(0o1777, self.now_epoch());
        self.namespaces
            .mount(mnt, &abs, "tmpfs", source, &options, Backing::Tmpfs(tree));
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_modes_print_like_ls() {
        assert_eq!(ls_date(super::super::BOOT_EPOCH), "Nov 27 09:00");
        assert_eq!(ls_date(super::super::tarball::IMAGE_EPOCH), "Jan  1 00:00");
        let mut node = Node::dir(0o1777, 0);
        assert_eq!(mode_string(&node), "drwxrwxrwt");
        node.kind = NodeKind::File(vec![]);
        node.mode = 0o644;
        assert_eq!(mode_string(&node), "-rw-r--r--");
        assert_eq!(human(1536), "1.5K");
        assert_eq!(human(100 << 20), "100.0M");
    }

    #[test]
    fn the_multi_call_binary_dispatches_on_its_name() {
        let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(
            applet(&argv(&["/bin/ls", "-l"])),
            ("ls".into(), argv(&["-l"]))
        );
        assert_eq!(applet(&argv(&["toolbox", "ps"])), ("ps".into(), vec![]));
        assert_eq!(
            flags_and_operands(&argv(&["-rf", "a", "--", "-b"])),
            ("rf".into(), argv(&["a", "-b"]))
        );
    }
}
