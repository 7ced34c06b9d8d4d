//! `ps`, `id` and `kill`: processes as `/proc` shows them.

use std::fs;

use anchorage_shared::process::Signal;

use crate::Failure;
use crate::files::{message, name_of, write_stdout};

/// One process, as `/proc/PID/stat` and `status` describe it.
struct Proc {
    pid: u32,
    ppid: u32,
    state: char,
    comm: String,
    args: String,
    uid: u32,
    rss_kb: u64,
    cpu_ticks: u64,
}

fn read_proc(pid: u32) -> Option<Proc> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces or `)`.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let rest: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let state = rest.first()?.chars().next()?;
    let ppid = rest.get(1)?.parse().ok()?;
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    let uid = field("Uid:")
        .and_then(|v| v.split_whitespace().next().and_then(|u| u.parse().ok()))
        .unwrap_or(0);
    let rss_kb = field("VmRSS:")
        .and_then(|v| v.split_whitespace().next().and_then(|k| k.parse().ok()))
        .unwrap_or(0);
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args = if state == 'Z' || cmdline.is_empty() {
        format!("[{comm}]")
    } else {
        cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    Some(Proc {
        pid,
        ppid,
        state,
        comm,
        args,
        uid,
        rss_kb,
        cpu_ticks: utime + stime,
    })
}

pub fn ps(args: &[String]) -> Result<i32, Failure> {
    let mut fields: Option<Vec<String>> = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-o" => match iter.next() {
                Some(list) => fields = Some(list.split(',').map(str::to_string).collect()),
                None => return Err(("ps: option requires an argument -- 'o'".into(), 1)),
            },
            a if a.starts_with("-o") => {
                fields = Some(a[2..].split(',').map(str::to_string).collect())
            }
            "-e" | "-A" | "-ef" | "-f" | "-a" | "-x" | "aux" | "ax" | "-aux" | "-w" => {}
            other => return Err((format!("ps: invalid option '{other}'"), 1)),
        }
    }
    let entries = fs::read_dir("/proc")
        .map_err(|err| (format!("ps: can't open '/proc': {}", message(&err)), 1))?;
    let mut procs: Vec<Proc> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read_proc)
        .collect();
    procs.sort_by_key(|p| p.pid);
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100)
        .max(1) as u64;
    let user_of = |p: &Proc| name_of("/etc/passwd", p.uid).unwrap_or_else(|| p.uid.to_string());
    let time_of = |p: &Proc| {
        let secs = p.cpu_ticks / ticks;
        format!("{}:{:02}", secs / 60, secs % 60)
    };
    let mut out = String::new();
    let Some(fields) = fields else {
        out.push_str("PID   USER     TIME  COMMAND\n");
        for p in &procs {
            out.push_str(&format!(
                "{:>5} {:<8} {:>5} {}\n",
                p.pid,
                user_of(p),
                time_of(p),
                p.args
            ));
        }
        return Ok(write_stdout(out.as_bytes()));
    };
    let known = [
        "pid", "ppid", "user", "uid", "stat", "rss", "time", "comm", "args",
    ];
    if let Some(bad) = fields.iter().find(|f| !known.contains(&f.as_str())) {
        return Err((
            format!(
                "ps: bad -o argument '{bad}', supported: {}",
                known.join(",")
            ),
            1,
        ));
    }
    let mut lines: Vec<Vec<String>> = vec![
        fields
            .iter()
            .map(|f| match f.as_str() {
                "comm" | "args" => "COMMAND".to_string(),
                other => other.to_uppercase(),
            })
            .collect(),
    ];
    for p in &procs {
        lines.push(
            fields
                .iter()
                .map(|f| match f.as_str() {
                    "pid" => p.pid.to_string(),
                    "ppid" => p.ppid.to_string(),
                    "user" => user_of(p),
                    "uid" => p.uid.to_string(),
                    "stat" => p.state.to_string(),
                    "rss" => p.rss_kb.to_string(),
                    "time" => time_of(p),
                    "comm" => p.comm.clone(),
                    _ => p.args.clone(),
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
        out.push_str(&cells.join(" "));
        out.push('\n');
    }
    Ok(write_stdout(out.as_bytes()))
}

pub fn id() -> Result<i32, Failure> {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let user = name_of("/etc/passwd", uid).map_or(String::new(), |n| format!("({n})"));
    let group = name_of("/etc/group", gid).map_or(String::new(), |n| format!("({n})"));
    Ok(write_stdout(
        format!("uid={uid}{user} gid={gid}{group} groups={gid}{group}\n").as_bytes(),
    ))
}

pub fn kill(args: &[String]) -> Result<i32, Failure> {
    let mut signal = Signal::Term;
    let mut targets = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-l" => {
                let mut out = String::new();
                for s in Signal::ALL {
                    out.push_str(&format!("{:>2}) SIG{}\n", s.number(), s.name()));
                }
                return Ok(write_stdout(out.as_bytes()));
            }
            "-s" => match iter.next().map(|s| s.parse::<Signal>()) {
                Some(Ok(s)) => signal = s,
                Some(Err(err)) => return Err((format!("kill: {err}"), 1)),
                None => return Err(("kill: option requires an argument -- 's'".into(), 1)),
            },
            a if a.starts_with('-') && targets.is_empty() => match a[1..].parse::<Signal>() {
                Ok(s) => signal = s,
                Err(err) => return Err((format!("kill: {err}"), 1)),
            },
            a => targets.push(a.to_string()),
        }
    }
    if targets.is_empty() {
        return Err(("kill: usage: kill [-s SIGNAL | -SIGNAL] PID...".into(), 1));
    }
    let real = nix::sys::signal::Signal::try_from(signal.number())
        .map_err(|_| (format!("kill: SIG{} is not known here", signal.name()), 1))?;
    let mut code = 0;
    for target in targets {
        let result = target
            .parse::<i32>()
            .map_err(|_| nix::errno::Errno::ESRCH)
            .and_then(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), real));
        if let Err(errno) = result {
            eprintln!(
                "kill: can't kill pid {target}: {}",
                crate::files::strerror(errno)
            );
            code = 1;
        }
    }
    Ok(code)
}
