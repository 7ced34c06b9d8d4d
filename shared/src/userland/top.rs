//! `top`: the processes in sight, busiest first, as BusyBox's `top`
//! shows them. Everything comes from `/proc`: the memory line from
//! `meminfo`, the CPU line from `stat`'s first line, the load from
//! `loadavg`, and each process from its `stat`, its directory's owner and
//! its `cmdline`. A process's `%CPU` is the ticks it used between two
//! samples (the first taken 100 ms before the first screen), so on both
//! engines it is what the kernel, real or simulated, accounted.

use super::inode::UserNames;
use super::io::Io;
use super::opts::Opts;
use super::text::{Status, usage};
use crate::shell::os::Os;

/// How wide a line of batch output may be: BusyBox's line buffer.
const BATCH_WIDTH: usize = 446;
/// The first screen's CPU figures need a sample before it.
const FIRST_SAMPLE_MS: u64 = 100;
/// BusyBox's default delay between screens.
const DEFAULT_DELAY_MS: u64 = 5_000;

/// One process, as one sample saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Proc {
    pid: u32,
    ppid: u32,
    uid: u32,
    /// `S`, `R`, `Z`..., then `W` for no memory (a kernel thread) and `<`
    /// or `N` for a nice below or above 0.
    state: String,
    vsz_kb: u64,
    /// User and system ticks since it started.
    ticks: u64,
    comm: String,
    /// The ticks it used since the previous sample.
    pcpu: u32,
}

/// The CPUs' ticks from `/proc/stat`'s `cpu` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Jiffies {
    usr: u64,
    nic: u64,
    sys: u64,
    idle: u64,
    iowait: u64,
    irq: u64,
    softirq: u64,
    total: u64,
    busy: u64,
}

fn parse_jiffies(stat: &str) -> Option<Jiffies> {
    let line = stat.lines().next()?.strip_prefix("cpu")?;
    let mut values: Vec<u64> = line
        .split_whitespace()
        .map_while(|v| v.parse().ok())
        .take(8)
        .collect();
    if values.len() < 4 {
        return None;
    }
    values.resize(8, 0);
    let total: u64 = values.iter().sum();
    Some(Jiffies {
        usr: values[0],
        nic: values[1],
        sys: values[2],
        idle: values[3],
        iowait: values[4],
        irq: values[5],
        softirq: values[6],
        total,
        // As procps 2.x counted it: iowait is not busy.
        busy: total - values[3] - values[4],
    })
}

/// A process from its `/proc/PID/stat` line.
fn parse_stat(pid: u32, uid: u32, line: &str) -> Option<Proc> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let comm = line.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = line.get(close + 1..)?.split_whitespace().collect();
    // After the name: state (3), ppid (4) ... utime (14), stime (15),
    // nice (19), vsize in bytes (23).
    let field = |n: usize| fields.get(n - 3).copied();
    let number = |n: usize| field(n).and_then(|v| v.parse::<u64>().ok());
    let state_char = field(3)?.chars().next()?;
    let vsz_kb = number(23)? >> 10;
    let nice: i64 = field(19)?.parse().ok()?;
    let mut state = state_char.to_string();
    if vsz_kb == 0 && state_char != 'Z' {
        state.push('W');
    }
    if nice < 0 {
        state.push('<');
    } else if nice > 0 {
        state.push('N');
    }
    Some(Proc {
        pid,
        ppid: number(4)? as u32,
        uid,
        state,
        vsz_kb,
        ticks: number(14)? + number(15)?,
        comm,
        pcpu: 0,
    })
}

/// Every process in `/proc` (with `threads`, every thread), as BusyBox
/// scans it: in pid order, leaving out one that ends while it is read.
async fn scan<O: Os>(io: &mut Io<'_, O>, threads: bool) -> Vec<Proc> {
    let mut out = Vec::new();
    for pid in super::proc_pids(io).await {
        let mut dirs = vec![(pid, format!("/proc/{pid}"))];
        if threads {
            let tasks = io.os.read_dir(&format!("/proc/{pid}/task")).await;
            let mut tids: Vec<u32> = tasks
                .unwrap_or_default()
                .iter()
                .filter_map(|t| t.parse().ok())
                .collect();
            tids.sort_unstable();
            if !tids.is_empty() {
                dirs = tids
                    .into_iter()
                    .map(|t| (t, format!("/proc/{pid}/task/{t}")))
                    .collect();
            }
        }
        for (id, dir) in dirs {
            let Ok(meta) = io.os.stat(&dir).await else {
                continue;
            };
            let Ok(line) = io.slurp(&format!("{dir}/stat"), 4096).await else {
                continue;
            };
            out.extend(parse_stat(id, meta.uid, &line));
        }
    }
    out
}

/// `ticks` since the previous sample, per process, and their sum.
fn deltas(now: &mut [Proc], before: &[(u32, u64)]) -> u32 {
    let mut total: u32 = 0;
    for p in now.iter_mut() {
        if let Some((_, ticks)) = before.iter().find(|(pid, _)| *pid == p.pid) {
            p.pcpu = p.ticks.saturating_sub(*ticks) as u32;
            total = total.wrapping_add(p.pcpu);
        }
    }
    total
}

/// BusyBox's order: most CPU, then most memory, then most time; a tie
/// keeps the scan's order.
fn sort(procs: &mut [Proc]) {
    procs.sort_by(|a, b| {
        b.pcpu
            .cmp(&a.pcpu)
            .then(b.vsz_kb.cmp(&a.vsz_kb))
            .then(b.ticks.cmp(&a.ticks))
    });
}

/// `%VSZ`: the address space against `MemTotal`, in whole percent,
/// rounded as BusyBox's fixed-point scaling rounds it (and at most 99,
/// since a VSZ may be larger than the memory).
fn percent_of_memory(vsz_kb: u64, total_kb: u64) -> u64 {
    let mut shift = 32 - 11;
    let mut scale = (100u64 << shift) / total_kb.max(1);
    while scale >= 512 {
        scale /= 4;
        shift -= 2;
    }
    let half = (1u64 << shift) / 2;
    ((vsz_kb.wrapping_mul(scale) + half) >> shift).min(99)
}

/// `%CPU` per process: its share of the busy ticks, as a share of all
/// ticks, scaled in BusyBox's 32-bit fixed point.
struct CpuScale {
    scale: u32,
    shift: u32,
}

impl CpuScale {
    fn new(busy: u32, total_diff: u32, total_pcpu: u32) -> CpuScale {
        let total_pcpu = total_pcpu.max(busy);
        let mut shift = 6;
        let mut scale = 100u32.wrapping_mul(64).wrapping_mul(busy & 0xffff);
        if scale == 0 {
            scale = 1;
        }
        while scale < (1 << 30) {
            scale = scale.wrapping_mul(4);
            shift += 2;
        }
        let divisor = (total_diff & 0xffff).wrapping_mul(total_pcpu);
        scale = scale.checked_div(divisor).unwrap_or(scale);
        while scale >= 1024 {
            scale /= 4;
            shift -= 2;
        }
        CpuScale { scale, shift }
    }

    fn percent(&self, pcpu: u32) -> u32 {
        let half = (1u32 << self.shift) / 2;
        (pcpu.wrapping_mul(self.scale).wrapping_add(half)) >> self.shift
    }
}

/// What the screen's first line says of the memory, from `/proc/meminfo`,
/// and `MemTotal` in kB.
fn memory_line(meminfo: &str) -> (String, u64) {
    let kb = |key: &str| -> u64 {
        meminfo
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let total = kb("MemTotal");
    let free = kb("MemFree");
    (
        format!(
            "Mem: {}K used, {free}K free, {}K shrd, {}K buff, {}K cached",
            total.saturating_sub(free),
            kb("MemShared") + kb("Shmem"),
            kb("Buffers"),
            kb("Cached")
        ),
        total,
    )
}

fn cpu_line(now: &Jiffies, before: &Jiffies) -> String {
    let total = (now.total.wrapping_sub(before.total) as u32).max(1);
    let pct = |a: u64, b: u64| 100 * (a.wrapping_sub(b) as u32) / total;
    format!(
        "CPU:{:>4}% usr{:>4}% sys{:>4}% nic{:>4}% idle{:>4}% io{:>4}% irq{:>4}% sirq",
        pct(now.usr, before.usr),
        pct(now.sys, before.sys),
        pct(now.nic, before.nic),
        pct(now.idle, before.idle),
        pct(now.iowait, before.iowait),
        pct(now.irq, before.irq),
        pct(now.softirq, before.softirq)
    )
}

/// At most `width` characters of `text`.
fn cut(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

/// The command column: the command line with its separators as spaces,
/// `{comm}` first when the program renamed itself (its name is not the
/// start of argv[0]'s base name), `[comm]` when it has none (a kernel
/// thread, a zombie). `room` is the bytes left on the line.
fn command(cmdline: &[u8], comm: &str, room: usize) -> String {
    let mut bytes: Vec<u8> = cmdline.iter().copied().take(room).collect();
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    if bytes.is_empty() {
        return cut(&format!("[{comm}]"), room);
    }
    let argv0_end = bytes
        .iter()
        .position(|&b| b == 0 || b == b' ')
        .unwrap_or(bytes.len());
    let argv0 = String::from_utf8_lossy(&bytes[..argv0_end]).into_owned();
    let base = argv0.rsplit('/').next().unwrap_or(&argv0);
    let base = base.strip_prefix('-').unwrap_or(base);
    for b in bytes.iter_mut() {
        if *b < b' ' {
            *b = b' ';
        }
    }
    let line = String::from_utf8_lossy(&bytes).into_owned();
    if base.starts_with(comm) {
        line
    } else {
        cut(&format!("{{{comm}}} {line}"), room)
    }
}

struct Screen {
    batch: bool,
    width: usize,
    /// Lines on the screen; batch output has no end.
    lines: usize,
}

/// One screen: the three summary lines, the column heads, and a line per
/// process, busiest first.
async fn show<O: Os>(
    io: &mut Io<'_, O>,
    screen: &Screen,
    procs: &[Proc],
    now: &Jiffies,
    before: &Jiffies,
    total_pcpu: u32,
    users: &mut UserNames,
) -> Status {
    let meminfo = io.slurp("/proc/meminfo", 1 << 16).await.unwrap_or_default();
    let (mem, total_kb) = memory_line(&meminfo);
    let summary_width = screen.width.min(100) - 1;
    let mut out = String::new();
    if !screen.batch {
        // Home, and clear the screen.
        out.push_str("\x1b[H\x1b[J");
    }
    out.push_str(&cut(&mem, summary_width));
    out.push('\n');
    out.push_str(&cut(&cpu_line(now, before), screen.width - 1));
    out.push('\n');
    let loadavg = io.slurp("/proc/loadavg", 4096).await.unwrap_or_default();
    let load = format!(
        "Load average: {}",
        loadavg.split('\n').next().unwrap_or_default()
    );
    out.push_str(&cut(&load, summary_width));
    out.push('\n');
    let heads = cut(
        "  PID  PPID USER     STAT   VSZ %VSZ %CPU COMMAND",
        screen.width,
    );
    if screen.batch {
        out.push_str(&heads);
    } else {
        out.push_str(&format!("\x1b[7m{heads}\x1b[m"));
    }
    let busy = now.busy.wrapping_sub(before.busy) as u32;
    let cpu = CpuScale::new(
        busy,
        now.total.wrapping_sub(before.total) as u32,
        total_pcpu,
    );
    let rows = screen.lines.saturating_sub(4).min(procs.len());
    for p in &procs[..rows] {
        let vsz = if p.vsz_kb >= 100_000 {
            format!("{:>6}m", p.vsz_kb / 1024)
        } else {
            format!("{:>7}", p.vsz_kb)
        };
        let user: String = users.name(io, p.uid).await.chars().take(8).collect();
        let head = format!(
            "{:>5}{:>6} {user:<8} {:<3}{vsz}{:>4}%{:>4}% ",
            p.pid,
            p.ppid,
            p.state,
            percent_of_memory(p.vsz_kb, total_kb),
            cpu.percent(p.pcpu)
        );
        let head = cut(&head, screen.width);
        let room = screen.width.saturating_sub(head.chars().count());
        let cmdline = match io
            .os
            .open(
                &format!("/proc/{}/cmdline", p.pid),
                crate::shell::os::Open::Read,
            )
            .await
        {
            Ok(fd) => {
                let data = io.os.read(fd, room).await.unwrap_or_default();
                io.os.close(fd).await;
                data
            }
            Err(_) => Vec::new(),
        };
        out.push('\n');
        out.push_str(&head);
        if room > 0 {
            out.push_str(&command(&cmdline, &p.comm, room));
        }
    }
    out.push(if screen.batch { '\n' } else { '\r' });
    io.put_str(&out).await?;
    io.flush().await?;
    Ok(0)
}

pub async fn top<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    // Every word is options, with or without its dash (`top bn1`).
    let dashed: Vec<String> = args
        .iter()
        .map(|a| {
            if a.starts_with('-') {
                a.clone()
            } else {
                format!("-{a}")
            }
        })
        .collect();
    let opts = match Opts::parse(&dashed, "bHn:d:", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let value = |c: char| {
        opts.value(c)
            .map(|v| v.strip_prefix('-').unwrap_or(v).to_string())
    };
    let mut iterations: Option<u64> = None;
    if let Some(n) = value('n') {
        match n.parse::<u64>() {
            Ok(0) => {}
            Ok(n) => iterations = Some(n),
            Err(_) => {
                io.say(&format!("invalid number '{n}'")).await;
                return Ok(1);
            }
        }
    }
    let delay_ms = match value('d') {
        None => DEFAULT_DELAY_MS,
        Some(d) => match super::parse_duration_ms(&d) {
            Ok(Some(ms)) => ms,
            _ => {
                io.say(&format!("invalid number '{d}'")).await;
                return Ok(1);
            }
        },
    };
    let batch = opts.has('b');
    let threads = opts.has('H');
    let screen = if batch {
        Screen {
            batch,
            width: BATCH_WIDTH,
            lines: usize::MAX,
        }
    } else {
        let size = |key: &str, default: usize| {
            io.var(key)
                .and_then(|v| v.parse().ok())
                .filter(|v: &usize| *v > 0)
                .unwrap_or(default)
        };
        Screen {
            batch,
            width: size("COLUMNS", 80).min(BATCH_WIDTH),
            lines: size("LINES", 24),
        }
    };
    if screen.width < 10 || screen.lines < 5 {
        io.say("the terminal is too small: give it at least 10 columns and 5 lines")
            .await;
        return Ok(1);
    }
    let mut users = UserNames::default();
    let mut before_jiffies: Option<Jiffies> = None;
    let mut before_ticks: Vec<(u32, u64)> = Vec::new();
    let mut shown = 0;
    loop {
        let mut procs = scan(io, threads).await;
        if procs.is_empty() {
            io.say("no process info in /proc: mount /proc to see the processes")
                .await;
            return Ok(1);
        }
        let Some(now) = io
            .slurp("/proc/stat", 1 << 16)
            .await
            .ok()
            .as_deref()
            .and_then(parse_jiffies)
        else {
            io.say("can't read /proc/stat: mount /proc to see the CPUs")
                .await;
            return Ok(1);
        };
        let total_pcpu = deltas(&mut procs, &before_ticks);
        before_ticks = procs.iter().map(|p| (p.pid, p.ticks)).collect();
        let Some(before) = before_jiffies.replace(now) else {
            io.os.sleep(FIRST_SAMPLE_MS).await;
            continue;
        };
        sort(&mut procs);
        show(io, &screen, &procs, &now, &before, total_pcpu, &mut users).await?;
        shown += 1;
        if iterations.is_some_and(|n| shown >= n) || io.os.interrupted() {
            break;
        }
        io.os.sleep(delay_ms).await;
        if io.os.interrupted() {
            break;
        }
    }
    io.put_str("\n").await?;
    io.flush().await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_state_times_and_size() {
        let line = "7 (sleep) S 1 0 0 0 -1 4194560 95 0 0 0 3 2 0 0 20 0 1 0 1057997 3170304 381 18446744073709551615 0 0";
        let p = parse_stat(7, 0, line).unwrap();
        assert_eq!(
            (p.ppid, p.state.as_str(), p.vsz_kb, p.ticks),
            (1, "S", 3096, 5)
        );
        assert_eq!(p.comm, "sleep");
        // A kernel thread has no memory; a nice below 0 shows `<`.
        let kthread = "15 (rcu (pre)) I 2 0 0 0 -1 0 0 0 0 0 0 9 0 0 0 -20 1 0 5 0 0 0";
        let k = parse_stat(15, 0, kthread).unwrap();
        assert_eq!((k.comm.as_str(), k.state.as_str()), ("rcu (pre)", "IW<"));
        let zombie = "9 (sh) Z 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0";
        assert_eq!(parse_stat(9, 0, zombie).unwrap().state, "Z");
    }

    #[test]
    fn the_cpu_line_is_each_share_of_the_ticks() {
        let before = parse_jiffies("cpu  100 0 50 800 0 0 0 0 0 0\n").unwrap();
        let now = parse_jiffies("cpu  130 0 60 860 0 0 0 0 0 0\n").unwrap();
        assert_eq!(
            cpu_line(&now, &before),
            "CPU:  30% usr  10% sys   0% nic  60% idle   0% io   0% irq   0% sirq"
        );
        assert_eq!(now.busy - before.busy, 40);
    }

    #[test]
    fn percentages_round_as_busybox_scales_them() {
        // 216 MiB of 23.5 GiB shows as 1%, as BusyBox showed a python3.
        assert_eq!(percent_of_memory(221_696, 24_683_664), 1);
        assert_eq!(percent_of_memory(3_096, 24_683_664), 0);
        assert_eq!(percent_of_memory(512 << 10, 1 << 20), 50);
        // A spinner on one of two CPUs: half the ticks.
        let cpu = CpuScale::new(10, 20, 10);
        assert_eq!(cpu.percent(10), 50);
        assert_eq!(cpu.percent(0), 0);
        assert_eq!(CpuScale::new(0, 0, 0).percent(0), 0);
    }

    #[test]
    fn the_command_column_shows_renames_and_bare_names() {
        assert_eq!(command(b"sleep\x001000\x00", "sleep", 100), "sleep 1000");
        assert_eq!(
            command(b"/bin/sh\x00-c\x00x\x00", "sh", 100),
            "/bin/sh -c x"
        );
        assert_eq!(command(b"-sh\x00", "sh", 100), "-sh");
        assert_eq!(
            command(b"line_io_tools/binary\x00--uid\x00", "memfd:sealed", 100),
            "{memfd:sealed} line_io_tools/binary --uid"
        );
        assert_eq!(command(b"", "kworker/0:1", 100), "[kworker/0:1]");
        assert_eq!(command(b"sleep\x001000\x00", "sleep", 7), "sleep 1");
    }

    #[test]
    fn ties_keep_the_scan_order_after_cpu_memory_and_time() {
        let p = |pid, pcpu, vsz_kb, ticks| Proc {
            pid,
            ppid: 0,
            uid: 0,
            state: "S".into(),
            vsz_kb,
            ticks,
            comm: String::new(),
            pcpu,
        };
        let mut procs = vec![
            p(1, 0, 10, 0),
            p(2, 0, 10, 5),
            p(3, 4, 1, 0),
            p(4, 0, 20, 0),
            p(5, 0, 10, 0),
        ];
        sort(&mut procs);
        let order: Vec<u32> = procs.iter().map(|p| p.pid).collect();
        assert_eq!(order, [3, 4, 2, 1, 5]);
    }
}
