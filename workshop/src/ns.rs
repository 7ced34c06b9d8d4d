//! `hostname`, `uname`, `mount`, `nsenter` and `unshare`: the namespace
//! tools, as real system calls.

use anchorage_shared::userland::{NsArgs, ns_args};
use std::fs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;

use nix::mount::MsFlags;
use nix::sched::CloneFlags;

use crate::Failure;
use crate::files::write_stdout;

pub fn hostname(args: &[String]) -> Result<i32, Failure> {
    match args.first() {
        None => {
            let name = nix::unistd::gethostname()
                .map_err(|e| (format!("hostname: {}", crate::files::strerror(e)), 1))?;
            Ok(write_stdout(
                format!("{}\n", name.to_string_lossy()).as_bytes(),
            ))
        }
        Some(name) => nix::unistd::sethostname(name).map(|()| 0).map_err(|e| {
            (
                format!("hostname: sethostname: {}", crate::files::strerror(e)),
                1,
            )
        }),
    }
}

pub fn uname(args: &[String]) -> Result<i32, Failure> {
    let (flags, _) = anchorage_shared::userland::flags_and_operands(args);
    let u = nix::sys::utsname::uname()
        .map_err(|e| (format!("uname: {}", crate::files::strerror(e)), 1))?;
    let all = flags.contains('a');
    let mut parts = Vec::new();
    if flags.is_empty() || all || flags.contains('s') {
        parts.push(u.sysname().to_string_lossy().into_owned());
    }
    if all || flags.contains('n') {
        parts.push(u.nodename().to_string_lossy().into_owned());
    }
    if all || flags.contains('r') {
        parts.push(u.release().to_string_lossy().into_owned());
    }
    if all || flags.contains('m') {
        parts.push(u.machine().to_string_lossy().into_owned());
    }
    Ok(write_stdout(format!("{}\n", parts.join(" ")).as_bytes()))
}

pub fn mount(args: &[String]) -> Result<i32, Failure> {
    if args.is_empty() {
        let text = fs::read_to_string("/proc/self/mounts").map_err(|e| {
            (
                format!(
                    "mount: can't read /proc/self/mounts: {}",
                    crate::files::message(&e)
                ),
                1,
            )
        })?;
        let mut out = String::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if let [source, target, fstype, options, ..] = f.as_slice() {
                out.push_str(&format!("{source} on {target} type {fstype} ({options})\n"));
            }
        }
        return Ok(write_stdout(out.as_bytes()));
    }
    let mut fstype = None;
    let mut options: Option<String> = None;
    let mut operands = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-t" => fstype = iter.next().cloned(),
            "-o" => options = iter.next().cloned(),
            other => operands.push(other.to_string()),
        }
    }
    let [source, target] = operands.as_slice() else {
        return Err((
            "mount: usage: mount [-t TYPE] [-o OPTIONS] SOURCE DIRECTORY".into(),
            1,
        ));
    };
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for option in options.iter().flat_map(|o| o.split(',')) {
        match option {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => {}
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "bind" => flags |= MsFlags::MS_BIND,
            "remount" => flags |= MsFlags::MS_REMOUNT,
            other => data.push(other),
        }
    }
    let data = data.join(",");
    nix::mount::mount(
        Some(source.as_str()),
        target.as_str(),
        fstype.as_deref(),
        flags,
        (!data.is_empty()).then_some(data.as_str()),
    )
    .map_err(|errno| match errno {
        nix::errno::Errno::EPERM => ("mount: permission denied (are you root?)".to_string(), 255),
        other => (
            format!(
                "mount: mounting {source} on {target} failed: {}",
                crate::files::strerror(other)
            ),
            255,
        ),
    })?;
    Ok(0)
}

/// The namespaces `-m -u -i -n -p -U -C -T` (or `-a`) name, as clone
/// flags and `/proc/PID/ns` file names.
fn namespace_flags(flags: &str) -> Result<Vec<(CloneFlags, &'static str)>, char> {
    const ALL: [(char, CloneFlags, &str); 8] = [
        ('U', CloneFlags::CLONE_NEWUSER, "user"),
        ('C', CloneFlags::CLONE_NEWCGROUP, "cgroup"),
        ('i', CloneFlags::CLONE_NEWIPC, "ipc"),
        ('u', CloneFlags::CLONE_NEWUTS, "uts"),
        ('n', CloneFlags::CLONE_NEWNET, "net"),
        ('p', CloneFlags::CLONE_NEWPID, "pid"),
        ('m', CloneFlags::CLONE_NEWNS, "mnt"),
        ('T', CloneFlags::from_bits_retain(0x80), "time"),
    ];
    let mut kinds: Vec<(CloneFlags, &'static str)> = Vec::new();
    let mut add = |kind: (CloneFlags, &'static str)| {
        if !kinds.iter().any(|k| k.1 == kind.1) {
            kinds.push(kind);
        }
    };
    for flag in flags.chars() {
        match flag {
            'a' => ALL.iter().for_each(|(_, c, n)| add((*c, n))),
            'r' => add((CloneFlags::CLONE_NEWUSER, "user")),
            'f' => {}
            other => match ALL.iter().find(|(c, ..)| *c == other) {
                Some((_, c, n)) => add((*c, n)),
                None => return Err(other),
            },
        }
    }
    // Enter the user namespace first (it grants the rights for the rest)
    // and the mount namespace last.
    kinds.sort_by_key(|(_, name)| ALL.iter().position(|(_, _, n)| n == name));
    Ok(kinds)
}

/// Runs a command in a child and exits with its status, as a shell with
/// one job would.
fn run_child(command: &[String], tool: &str) -> Result<i32, Failure> {
    let (name, args) = command.split_first().expect("a command");
    let mut child = Command::new(name);
    child.args(args);
    let status = child.status().map_err(|err| {
        let code = if err.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        };
        (
            format!(
                "{tool}: failed to execute {name}: {}",
                crate::files::message(&err)
            ),
            code,
        )
    })?;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

pub fn nsenter(args: &[String]) -> Result<i32, Failure> {
    let (target, flags, mut command) = match ns_args("nsenter", args) {
        Ok(NsArgs::Help(usage)) => {
            print!("{usage}");
            return Ok(0);
        }
        Ok(NsArgs::Run {
            target,
            flags,
            command,
            ..
        }) => (target, flags, command),
        Err(message) => return Err((message, 1)),
    };
    let kinds = match namespace_flags(&flags) {
        Ok(kinds) if !kinds.is_empty() => kinds,
        Ok(_) => {
            return Err((
                "nsenter: no namespace given: use -a, or -m -u -i -n -p -U -C".into(),
                1,
            ));
        }
        Err(bad) => return Err((format!("nsenter: invalid option -- '{bad}'"), 1)),
    };
    let Some(target) = target else {
        return Err(("nsenter: no target process: give -t PID".into(), 1));
    };
    // Open them all first: entering the mount namespace changes what
    // /proc is.
    let mut files = Vec::new();
    for (flag, name) in &kinds {
        let path = format!("/proc/{target}/ns/{name}");
        match fs::File::open(&path) {
            Ok(file) => files.push((*flag, *name, file)),
            // With -a, namespaces the kernel lacks are skipped.
            Err(_) if flags.contains('a') && *name == "time" => {}
            Err(err) => {
                return Err((
                    format!(
                        "nsenter: cannot open {path}: {}",
                        crate::files::message(&err)
                    ),
                    1,
                ));
            }
        }
    }
    let own = |name: &str| fs::read_link(format!("/proc/self/ns/{name}")).ok();
    let theirs = |name: &str| fs::read_link(format!("/proc/{target}/ns/{name}")).ok();
    let root = fs::File::open(format!("/proc/{target}/root")).ok();
    let enters_mnt = files.iter().any(|(_, n, _)| *n == "mnt");
    for (flag, name, file) in &files {
        // Entering one's own user namespace is EINVAL: skip it, as
        // nsenter does.
        if *name == "user" && own("user") == theirs("user") {
            continue;
        }
        nix::sched::setns(file, *flag).map_err(|errno| {
            (
                format!(
                    "nsenter: reassociate to namespaces failed: {}",
                    crate::files::strerror(errno)
                ),
                1,
            )
        })?;
    }
    if enters_mnt {
        if let Some(root) = root {
            let _ = nix::unistd::fchdir(&root).and_then(|()| nix::unistd::chroot("."));
        }
        let _ = std::env::set_current_dir("/");
    }
    if command.is_empty() {
        command.push("sh".into());
    }
    // A new pid namespace applies to children only: fork the command.
    run_child(&command, "nsenter")
}

pub fn unshare(args: &[String]) -> Result<i32, Failure> {
    let (flags, mount_proc, mut command) = match ns_args("unshare", args) {
        Ok(NsArgs::Help(usage)) => {
            print!("{usage}");
            return Ok(0);
        }
        Ok(NsArgs::Run {
            flags,
            mount_proc,
            command,
            ..
        }) => (flags, mount_proc, command),
        Err(message) => return Err((message, 1)),
    };
    let kinds = match namespace_flags(&flags) {
        Ok(kinds) => kinds,
        Err(bad) => return Err((format!("unshare: invalid option -- '{bad}'"), 1)),
    };
    let has = |name: &str| kinds.iter().any(|(_, n)| *n == name);
    if has("pid") && !flags.contains('f') {
        return Err((
            "unshare: -p needs -f (--fork): the first process of a new pid namespace must be forked, or it stays outside".into(),
            1,
        ));
    }
    if command.is_empty() {
        command.push("sh".into());
    }
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    let all = kinds
        .iter()
        .fold(CloneFlags::empty(), |acc, (f, _)| acc | *f);
    nix::sched::unshare(all).map_err(|errno| {
        (
            format!("unshare: unshare failed: {}", crate::files::strerror(errno)),
            1,
        )
    })?;
    if flags.contains('r') {
        let write = |file: &str, text: String| {
            fs::write(format!("/proc/self/{file}"), text).map_err(|err| {
                (
                    format!(
                        "unshare: write /proc/self/{file}: {}",
                        crate::files::message(&err)
                    ),
                    1,
                )
            })
        };
        write("setgroups", "deny".into())?;
        write("uid_map", format!("0 {uid} 1"))?;
        write("gid_map", format!("0 {gid} 1"))?;
    }
    if has("mnt") {
        // Keep our mounts to ourselves.
        let _ = nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        );
    }
    if !flags.contains('f') {
        let (name, args) = command.split_first().expect("a command");
        let err = Command::new(name).args(args).exec();
        let code = if err.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        };
        return Err((
            format!(
                "unshare: failed to execute {name}: {}",
                crate::files::message(&err)
            ),
            code,
        ));
    }
    // SAFETY: single-threaded; the child only mounts and execs.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            if mount_proc {
                let _ = nix::mount::mount(
                    Some("proc"),
                    "/proc",
                    Some("proc"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                    None::<&str>,
                );
            }
            let (name, args) = command.split_first().expect("a command");
            let err = Command::new(name).args(args).exec();
            eprintln!(
                "unshare: failed to execute {name}: {}",
                crate::files::message(&err)
            );
            std::process::exit(if err.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            });
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => loop {
            match nix::sys::wait::waitpid(child, None) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => return Ok(code),
                Ok(nix::sys::wait::WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(errno) => {
                    return Err((
                        format!("unshare: wait: {}", crate::files::strerror(errno)),
                        1,
                    ));
                }
            }
        },
        Err(errno) => Err((
            format!("unshare: fork failed: {}", crate::files::strerror(errno)),
            1,
        )),
    }
}
