//! The workshop image's userland, shared by the simulated kernel
//! (`sim/userland.rs`) and the real image's multi-call binary (the
//! `workshop` crate), so both parse and print alike.
//!
//! - The portable applets ([`text`], [`grep`], [`sed`], [`sort`],
//!   [`xargs`], [`find`], [`paths`] and [`help`]) are written
//!   once, over the shell's system-call seam ([`crate::shell::os::Os`]):
//!   `toolbox` runs them over real system calls, the simulated kernel as
//!   a process's program, so `ps | grep sleep` is the same code on both
//!   engines. [`run_portable`] picks one by name.
//! - The conventions the engine-specific applets share: how the
//!   multi-call binary picks its applet, flags, `sleep` durations, and
//!   the way `ls` shows modes, sizes and dates.

pub mod copy;
pub mod dd;
pub mod find;
pub mod grep;
pub mod help;
pub mod inode;
pub mod io;
pub mod ip;
pub mod lsns;
pub mod opts;
pub mod paths;
pub mod posix_re;
pub mod pstree;
pub mod sed;
pub mod sort;
pub mod system;
pub mod text;
pub mod top;
pub mod usage;
pub mod xargs;

use crate::shell::os::Os;

/// The applets written once over [`Os`], for both engines.
pub const PORTABLE: &[&str] = &[
    "grep", "egrep", "fgrep", "wc", "head", "tail", "sort", "uniq", "cut", "tr", "seq", "yes",
    "printf", "xargs", "sed", "find", "readlink", "help", "ln", "cp", "mv", "stat", "chmod",
    "chown", "whoami", "date", "nproc", "free", "du", "dd", "umount", "df", "lsns", "pstree",
    "chroot", "top", "ip",
];

/// Runs a portable applet as a process's program: its exit status, or
/// `None` when `name` is not one of [`PORTABLE`]. `env` is the process's
/// environment (`xargs` runs commands with it and finds them on its
/// `PATH`).
pub async fn run_portable<O: Os>(
    os: &mut O,
    name: &str,
    args: &[String],
    env: &[String],
) -> Option<i32> {
    let mut io = io::Io::new(os, name, env);
    let mut grep_args;
    let result = match name {
        "grep" => grep::grep(&mut io, args).await,
        "egrep" | "fgrep" => {
            grep_args = vec![if name == "egrep" { "-E" } else { "-F" }.to_string()];
            grep_args.extend(args.iter().cloned());
            grep::grep(&mut io, &grep_args).await
        }
        "wc" => text::wc(&mut io, args).await,
        "head" => text::head(&mut io, args).await,
        "tail" => text::tail(&mut io, args).await,
        "sort" => sort::sort(&mut io, args).await,
        "uniq" => sort::uniq(&mut io, args).await,
        "cut" => text::cut(&mut io, args).await,
        "tr" => text::tr(&mut io, args).await,
        "seq" => text::seq(&mut io, args).await,
        "yes" => text::yes(&mut io, args).await,
        "printf" => text::printf(&mut io, args).await,
        "xargs" => xargs::xargs(&mut io, args).await,
        "sed" => sed::sed(&mut io, args).await,
        "find" => find::find(&mut io, args).await,
        "readlink" => paths::readlink(&mut io, args).await,
        "help" => help::help(&mut io, args).await,
        "ln" => copy::ln(&mut io, args).await,
        "cp" => copy::cp(&mut io, args).await,
        "mv" => copy::mv(&mut io, args).await,
        "stat" => inode::stat(&mut io, args).await,
        "chmod" => inode::chmod(&mut io, args).await,
        "chown" => inode::chown(&mut io, args).await,
        "whoami" => inode::whoami(&mut io, args).await,
        "date" => system::date(&mut io, args).await,
        "nproc" => system::nproc(&mut io, args).await,
        "free" => system::free(&mut io, args).await,
        "du" => usage::du(&mut io, args).await,
        "df" => usage::df(&mut io, args).await,
        "lsns" => lsns::lsns(&mut io, args).await,
        "pstree" => pstree::pstree(&mut io, args).await,
        "chroot" => system::chroot(&mut io, args).await,
        "top" => top::top(&mut io, args).await,
        "ip" => ip::ip(&mut io, args).await,
        "dd" => dd::dd(&mut io, args).await,
        "umount" => system::umount(&mut io, args).await,
        _ => return None,
    };
    Some(result.unwrap_or(1))
}

/// The applet a multi-call binary runs, and its arguments: by the name it
/// was called by, or `toolbox APPLET ARGS...`.
pub fn applet(argv: &[String]) -> (String, Vec<String>) {
    let first = argv.first().map_or("", String::as_str);
    let name = first.rsplit('/').next().unwrap_or(first);
    if name == "toolbox" && argv.len() > 1 {
        (argv[1].clone(), argv[2..].to_vec())
    } else {
        (name.to_string(), argv.get(1..).unwrap_or_default().to_vec())
    }
}

/// Splits `-abc` style flags from operands; `--` ends the flags.
pub fn flags_and_operands(args: &[String]) -> (String, Vec<String>) {
    let mut flags = String::new();
    let mut operands = Vec::new();
    let mut done = false;
    for arg in args {
        if !done && arg == "--" {
            done = true;
        } else if !done && arg.len() > 1 && arg.starts_with('-') {
            flags.push_str(&arg[1..]);
        } else {
            operands.push(arg.clone());
        }
    }
    (flags, operands)
}

/// The civil date of a day count from 1970-01-01, before it too
/// (proleptic Gregorian): year, month, day.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A civil date and time from Unix seconds (proleptic Gregorian, UTC).
pub fn civil(secs: u64) -> (i64, u32, u32, u32, u32) {
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
    )
}

/// `ls -l`'s date: `Nov 27 09:00`.
pub fn ls_date(secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (_, month, day, hour, minute) = civil(secs);
    format!(
        "{} {day:>2} {hour:02}:{minute:02}",
        MONTHS[month as usize - 1]
    )
}

/// `drwxr-xr-x` and friends: the type letter, then the permission bits
/// (with set-id and sticky bits shown as `s`, `S`, `t`, `T`).
pub fn mode_string(kind: char, mode: u32) -> String {
    let mut text = String::from(kind);
    for (shift, special, letter) in [(6, 0o4000, 's'), (3, 0o2000, 's'), (0, 0o1000, 't')] {
        let bits = (mode >> shift) & 7;
        text.push(if bits & 4 != 0 { 'r' } else { '-' });
        text.push(if bits & 2 != 0 { 'w' } else { '-' });
        text.push(match (bits & 1 != 0, mode & special != 0) {
            (true, true) => letter,
            (false, true) => letter.to_ascii_uppercase(),
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    text
}

/// The letters of 1024's powers from K on.
pub const UNIT_LETTERS: [char; 8] = ['K', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];

/// `bytes` divided by 1024 while it is 1024 or more: the whole part, the
/// tenths of the last division rounded (0 to 10), and which letter of
/// [`UNIT_LETTERS`] (none below 1024), as `make_human_readable_str`
/// scales.
pub fn scale_1024(bytes: u64) -> (u64, u64, Option<usize>) {
    let (mut value, mut frac, mut unit) = (bytes, 0, None);
    while value >= 1024 {
        frac = ((value % 1024) * 10 + 512) / 1024;
        value /= 1024;
        unit = Some(unit.map_or(0, |u: usize| (u + 1).min(UNIT_LETTERS.len() - 1)));
    }
    (value, frac, unit)
}

/// The pids `/proc` lists, in order.
pub async fn proc_pids<O: Os>(io: &mut io::Io<'_, O>) -> Vec<u32> {
    let mut pids: Vec<u32> = io
        .os
        .read_dir("/proc")
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// Sizes as BusyBox's `ls -h`, `du -h` and `free -h` print them
/// (`make_human_readable_str`): bytes up to 1023, then one decimal and a
/// unit, `12.0K`, `1.5M`.
pub fn human(bytes: u64) -> String {
    if bytes == 0 {
        return "0".into();
    }
    let (mut value, mut frac, unit) = scale_1024(bytes);
    if frac >= 10 {
        value += 1;
        frac = 0;
    }
    match unit {
        None => value.to_string(),
        Some(u) => format!("{value}.{frac}{}", UNIT_LETTERS[u]),
    }
}

/// A duration that is not a number of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadDuration;

/// The longest duration a command waits: a thousand years, in ms.
pub const MAX_DURATION_MS: u64 = 1000 * 365 * 86_400_000;

/// `sleep`'s operand: seconds, with an optional fraction and `s`, `m`,
/// `h` or `d` suffix; `None` for `infinity`.
pub fn parse_duration_ms(text: &str) -> Result<Option<u64>, BadDuration> {
    if text == "infinity" || text == "inf" {
        return Ok(None);
    }
    let (number, scale) = match text.chars().last().ok_or(BadDuration)? {
        's' => (&text[..text.len() - 1], 1_000.0),
        'm' => (&text[..text.len() - 1], 60_000.0),
        'h' => (&text[..text.len() - 1], 3_600_000.0),
        'd' => (&text[..text.len() - 1], 86_400_000.0),
        _ => (text, 1_000.0),
    };
    let value: f64 = number.parse().map_err(|_| BadDuration)?;
    if value.is_finite() && value >= 0.0 {
        // Longer than a thousand years is as good as for ever, and keeps
        // the clock arithmetic far from overflowing.
        Ok(Some(
            (value * scale).round().min(MAX_DURATION_MS as f64) as u64
        ))
    } else {
        Err(BadDuration)
    }
}

/// What `nsenter` or `unshare` was asked, read the same on both engines:
/// short flags (`-m -u -n -p -U -i -C -a -f -r`, `-t PID`) and their long
/// names (`--mount`, `--uts`, `--net`, `--pid`, `--user`, `--ipc`,
/// `--cgroup`, `--all`, `--fork`, `--map-root-user`, `--target PID` or
/// `--target=PID`, `--mount-proc`), then the command.
#[derive(Debug, PartialEq, Eq)]
pub enum NsArgs {
    /// `--help`: the usage to print.
    Help(String),
    Run {
        target: Option<String>,
        /// The short letters given, long names turned into theirs.
        flags: String,
        mount_proc: bool,
        command: Vec<String>,
    },
}

pub fn ns_args(tool: &str, args: &[String]) -> Result<NsArgs, String> {
    let mut target = None;
    let mut flags = String::new();
    let mut mount_proc = false;
    let mut rest = args.iter();
    let mut command = Vec::new();
    while let Some(arg) = rest.next() {
        if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (long, None),
            };
            let letter = match name {
                "" => {
                    command.extend(rest.by_ref().cloned());
                    break;
                }
                "help" => {
                    let (_, usage, what) = help::APPLETS
                        .iter()
                        .find(|(n, _, _)| *n == tool)
                        .copied()
                        .unwrap_or((tool, tool, ""));
                    return Ok(NsArgs::Help(format!("Usage: {usage}\n\n{what}\n")));
                }
                "target" if tool == "nsenter" => {
                    target = match value {
                        Some(v) => Some(v),
                        None => Some(rest.next().cloned().ok_or_else(|| {
                            format!("{tool}: option '--target' requires an argument")
                        })?),
                    };
                    continue;
                }
                "mount-proc" if tool == "unshare" => {
                    mount_proc = true;
                    'm'
                }
                "mount" => 'm',
                "uts" => 'u',
                "ipc" => 'i',
                "net" => 'n',
                "pid" => 'p',
                "user" => 'U',
                "cgroup" => 'C',
                "all" if tool == "nsenter" => 'a',
                "fork" => 'f',
                "map-root-user" if tool == "unshare" => 'r',
                _ => return Err(format!("{tool}: unrecognized option '{arg}'")),
            };
            if value.is_some() {
                return Err(format!(
                    "{tool}: '--{name}=FILE' (a namespace by its file) is not supported: give -t PID"
                ));
            }
            flags.push(letter);
        } else if tool == "nsenter" && arg == "-t" {
            target = Some(
                rest.next()
                    .cloned()
                    .ok_or_else(|| format!("{tool}: option requires an argument -- 't'"))?,
            );
        } else if tool == "nsenter" && arg.starts_with("-t") && arg.len() > 2 {
            target = Some(arg[2..].to_string());
        } else if arg.starts_with('-') && arg.len() > 1 {
            flags.push_str(&arg[1..]);
        } else {
            command.push(arg.clone());
            command.extend(rest.by_ref().cloned());
        }
    }
    Ok(NsArgs::Run {
        target,
        flags,
        mount_proc,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_tools_take_long_options_as_their_letters() {
        let args =
            |text: &str| -> Vec<String> { text.split_whitespace().map(str::to_string).collect() };
        assert_eq!(
            ns_args(
                "nsenter",
                &args("--target 7 --mount --uts --net -p --fork ps")
            ),
            Ok(NsArgs::Run {
                target: Some("7".into()),
                flags: "munpf".into(),
                mount_proc: false,
                command: args("ps"),
            })
        );
        assert_eq!(
            ns_args(
                "unshare",
                &args("--pid --fork --mount-proc --user --map-root-user sh")
            ),
            Ok(NsArgs::Run {
                target: None,
                flags: "pfmUr".into(),
                mount_proc: true,
                command: args("sh"),
            })
        );
        assert!(
            matches!(ns_args("nsenter", &args("--help")), Ok(NsArgs::Help(h)) if h.starts_with("Usage: nsenter"))
        );
        assert_eq!(
            ns_args("unshare", &args("--bogus")),
            Err("unshare: unrecognized option '--bogus'".into())
        );
    }

    #[test]
    fn durations_take_units_and_fractions() {
        assert_eq!(parse_duration_ms("2"), Ok(Some(2000)));
        assert_eq!(parse_duration_ms("0.5"), Ok(Some(500)));
        assert_eq!(parse_duration_ms("1m"), Ok(Some(60_000)));
        assert_eq!(parse_duration_ms("infinity"), Ok(None));
        assert!(parse_duration_ms("x").is_err());
        assert!(parse_duration_ms("-1").is_err());
        assert!(parse_duration_ms("").is_err());
    }

    #[test]
    fn modes_show_set_id_and_sticky_bits() {
        assert_eq!(mode_string('d', 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string('-', 0o644), "-rw-r--r--");
        assert_eq!(mode_string('-', 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string('-', 0o2644), "-rw-r-Sr--");
        assert_eq!(human(1536), "1.5K");
    }
}
