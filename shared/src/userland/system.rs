//! What the system says of itself: `date`, `nproc` and `free`, as
//! BusyBox prints them. The clock, the CPUs a process may run on and
//! `/proc/meminfo` come from the kernel, real or simulated; a container
//! without `/etc/localtime` keeps UTC, and so does `date` here.

use super::io::Io;
use super::opts::Opts;
use super::text::{Status, usage};
use crate::shell::os::Os;

// ---- the calendar ----

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Days since 1970-01-01 of a civil date (any day of any month: the
/// 30th of February is the 2nd of March, as `mktime` reads it).
fn days_from_civil(year: i64, month: u32, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + day - 1
}

/// A moment broken down, as `gmtime` gives it.
struct Tm {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// 0 is Sunday.
    weekday: u32,
    /// 0 is the 1st of January.
    yearday: u32,
    secs: i64,
}

fn gmtime(secs: i64) -> Tm {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = super::civil_from_days(days);
    Tm {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem % 3600 / 60) as u32,
        second: (rem % 60) as u32,
        weekday: (days + 4).rem_euclid(7) as u32,
        yearday: (days - days_from_civil(year, 1, 1)) as u32,
        secs,
    }
}

/// The ISO 8601 week-based year and week of a day.
fn iso_week(tm: &Tm) -> (i64, u32) {
    let weekday = (tm.weekday + 6) % 7; // Monday is 0
    let thursday = i64::from(tm.yearday) - i64::from(weekday) + 3;
    let year_len = |y: i64| days_from_civil(y + 1, 1, 1) - days_from_civil(y, 1, 1);
    if thursday < 0 {
        let prev = tm.year - 1;
        let t = thursday + year_len(prev);
        (prev, (t / 7 + 1) as u32)
    } else if thursday >= year_len(tm.year) {
        (tm.year + 1, 1)
    } else {
        (tm.year, (thursday / 7 + 1) as u32)
    }
}

/// `strftime` in the C locale, in UTC: flags `-` `_` `0` `^` and a width
/// as glibc reads them; a conversion it does not know is printed as
/// written.
fn strftime(format: &str, tm: &Tm) -> String {
    let mut out = String::new();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let mut pad: Option<char> = None;
        let mut upper = false;
        while let Some(&flag) = chars.get(i) {
            match flag {
                '-' | '_' | '0' => pad = Some(flag),
                '^' => upper = true,
                '#' => {}
                _ => break,
            }
            i += 1;
        }
        let mut width = 0usize;
        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
            width = (width * 10 + d as usize).min(1024);
            i += 1;
        }
        if matches!(chars.get(i), Some('E' | 'O'))
            && chars
                .get(i + 1)
                .is_some_and(|c| "cCxXyYdeHImMSuUVwWy".contains(*c))
        {
            i += 1;
        }
        let Some(&conversion) = chars.get(i) else {
            out.extend(&chars[start..]);
            break;
        };
        i += 1;
        // A number, padded with zeros (or spaces) to its natural width.
        let number = |value: i64, natural: usize, space: bool| -> String {
            let fill = match pad {
                Some('-') => return value.to_string(),
                Some('_') => ' ',
                Some('0') => '0',
                _ if space => ' ',
                _ => '0',
            };
            let width = if width > 0 { width } else { natural };
            let digits = value.unsigned_abs().to_string();
            let sign = if value < 0 { "-" } else { "" };
            let len = digits.len() + sign.len();
            if len >= width {
                format!("{sign}{digits}")
            } else if fill == '0' {
                format!("{sign}{}{digits}", "0".repeat(width - len))
            } else {
                format!("{}{sign}{digits}", " ".repeat(width - len))
            }
        };
        let text = |value: String| -> String {
            let value = if upper { value.to_uppercase() } else { value };
            if width > value.chars().count() {
                let fill = if pad == Some('0') { '0' } else { ' ' };
                let padding: String =
                    std::iter::repeat_n(fill, width - value.chars().count()).collect();
                format!("{padding}{value}")
            } else {
                value
            }
        };
        let hour12 = if tm.hour.is_multiple_of(12) {
            12
        } else {
            tm.hour % 12
        };
        let piece = match conversion {
            '%' => "%".to_string(),
            'a' => text(DAYS[tm.weekday as usize][..3].to_string()),
            'A' => text(DAYS[tm.weekday as usize].to_string()),
            'b' | 'h' => text(MONTHS[tm.month as usize - 1][..3].to_string()),
            'B' => text(MONTHS[tm.month as usize - 1].to_string()),
            'c' => text(strftime("%a %b %e %H:%M:%S %Y", tm)),
            'C' => number(tm.year.div_euclid(100), 2, false),
            'd' => number(i64::from(tm.day), 2, false),
            'D' | 'x' => text(strftime("%m/%d/%y", tm)),
            'e' => number(i64::from(tm.day), 2, true),
            'F' => text(strftime("%Y-%m-%d", tm)),
            'g' => number(iso_week(tm).0.rem_euclid(100), 2, false),
            'G' => number(iso_week(tm).0, 1, false),
            'H' => number(i64::from(tm.hour), 2, false),
            'I' => number(i64::from(hour12), 2, false),
            'j' => number(i64::from(tm.yearday) + 1, 3, false),
            'k' => number(i64::from(tm.hour), 2, true),
            'l' => number(i64::from(hour12), 2, true),
            'm' => number(i64::from(tm.month), 2, false),
            'M' => number(i64::from(tm.minute), 2, false),
            'n' => "\n".to_string(),
            'p' => text(if tm.hour < 12 { "AM" } else { "PM" }.to_string()),
            'P' => text(if tm.hour < 12 { "am" } else { "pm" }.to_string()),
            'r' => text(strftime("%I:%M:%S %p", tm)),
            'R' => text(strftime("%H:%M", tm)),
            's' => number(tm.secs, 1, false),
            'S' => number(i64::from(tm.second), 2, false),
            't' => "\t".to_string(),
            'T' | 'X' => text(strftime("%H:%M:%S", tm)),
            'u' => number(i64::from((tm.weekday + 6) % 7 + 1), 1, false),
            'U' => number(i64::from((tm.yearday + 7 - tm.weekday) / 7), 2, false),
            'V' => number(i64::from(iso_week(tm).1), 2, false),
            'w' => number(i64::from(tm.weekday), 1, false),
            'W' => number(
                i64::from((tm.yearday + 7 - (tm.weekday + 6) % 7) / 7),
                2,
                false,
            ),
            'y' => number(tm.year.rem_euclid(100), 2, false),
            'Y' => number(tm.year, 1, false),
            'z' => text("+0000".to_string()),
            'Z' => text("UTC".to_string()),
            _ => chars[start..i].iter().collect(),
        };
        out.push_str(&piece);
    }
    out
}

// ---- date ----

/// Unsigned numbers and the characters between them, read as `sscanf`
/// reads `"%u-%u-%u %u:%u%c"`: the numbers, and the character after the
/// last (`'\0'` at the end), if every number was there.
fn scan(text: &str, pattern: &str) -> Option<(Vec<i64>, char)> {
    let mut rest = text;
    let mut numbers = Vec::new();
    for token in pattern.chars() {
        if token == 'u' {
            rest = rest.trim_start();
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 {
                return None;
            }
            numbers.push(rest[..digits].parse().ok()?);
            rest = &rest[digits..];
        } else if token == ' ' {
            rest = rest.trim_start();
        } else {
            rest = rest.strip_prefix(token)?;
        }
    }
    Some((numbers, rest.chars().next().unwrap_or('\0')))
}

/// A date as BusyBox's `parse_datestr` reads it, from `today` (the
/// current date, at midnight): Unix seconds, or `None` if it is not one.
fn parse_date(text: &str, today: &Tm) -> Option<i64> {
    let (mut year, mut month, mut day) = (today.year, i64::from(today.month), i64::from(today.day));
    let (mut hour, mut minute, mut second) = (0, 0, 0);
    let mut end;
    if let Some(colon) = text.rfind(':') {
        if let Some((n, e)) = scan(text, "u:u") {
            (hour, minute, end) = (n[0], n[1], e);
        } else if let Some((n, e)) = scan(text, "u.u-u:u") {
            (month, day, hour, minute, end) = (n[0], n[1], n[2], n[3], e);
        } else if let Some((n, e)) = scan(text, "u.u.u-u:u").or_else(|| scan(text, "u-u-u u:u")) {
            (year, month, day, hour, minute, end) = (n[0], n[1], n[2], n[3], n[4], e);
        } else {
            return None;
        }
        if end == ':' {
            match scan(&text[colon + 1..], "u") {
                Some((n, '\0')) => (second, end) = (n[0], '\0'),
                _ => return None,
            }
        }
    } else if text.contains('-')
        && let Some((n, e)) = scan(text, "u-u-u u").or_else(|| scan(text, "u-u-u"))
    {
        (year, month, day, end) = (n[0], n[1], n[2], e);
        if n.len() == 4 {
            hour = n[3];
        }
    } else if let Some(rest) = text.strip_prefix('@') {
        let secs: i64 = rest.parse().ok()?;
        return (secs != -1).then_some(secs);
    } else {
        let len = text.find('.').unwrap_or(text.len());
        let digits = &text[..len];
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let two = |at: usize| digits[at..at + 2].parse::<i64>().ok();
        match len {
            2 => minute = two(0)?,
            4 => (hour, minute) = (two(0)?, two(2)?),
            6 => (day, hour, minute) = (two(0)?, two(2)?, two(4)?),
            8 => (month, day, hour, minute) = (two(0)?, two(2)?, two(4)?, two(6)?),
            10 => {
                (month, day, hour, minute) = (two(2)?, two(4)?, two(6)?, two(8)?);
                // Two digits of year: the one within 50 years of now.
                let current = today.year - 1900;
                let mut y = two(0)? + (current / 100) * 100;
                if y < current - 50 {
                    y += 100;
                }
                if y > current + 50 {
                    y -= 100;
                }
                year = y + 1900;
            }
            12 => {
                year = digits[..4].parse().ok()?;
                (month, day, hour, minute) = (two(4)?, two(6)?, two(8)?, two(10)?);
            }
            _ => return None,
        }
        end = '\0';
        if len < text.len() {
            match scan(&text[len + 1..], "u") {
                Some((n, '\0')) => second = n[0],
                _ => return None,
            }
        }
    }
    if end != '\0'
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 61
    {
        return None;
    }
    // A year past what a 64-bit time holds is not a date.
    if !(-292_000_000_000..=292_000_000_000).contains(&year) {
        return None;
    }
    let secs = days_from_civil(year, month as u32, day)
        .checked_mul(86_400)?
        .checked_add(hour * 3600 + minute * 60 + second)?;
    (secs != -1).then_some(secs)
}

pub async fn date<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    // `-I` takes its argument only in the same word (`-Iseconds`).
    let mut iso = None;
    let mut rest = Vec::new();
    for arg in args {
        match arg.strip_prefix("-I") {
            Some(spec) if !arg.starts_with("--") => iso = Some(spec.to_string()),
            _ => rest.push(arg.clone()),
        }
    }
    let opts = match Opts::parse(&rest, "Rud:r:", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let mut format = None;
    for operand in &opts.operands {
        match operand.strip_prefix('+') {
            Some(f) if format.is_none() => format = Some(f.to_string()),
            _ if opts.operands.len() > 1 => {
                return usage(io, "give at most one +FORMAT", 1).await;
            }
            _ => {
                io.say(&format!(
                    "'{operand}': setting the clock is not done here: give +FORMAT to choose the output, or -d TIME to show another time"
                ))
                .await;
                return Ok(1);
            }
        }
    }
    let (now, nanos) = io.os.now().await;
    let (secs, nanos) = if let Some(time) = opts.value('d') {
        let today = gmtime(now.div_euclid(86_400) * 86_400);
        match parse_date(time, &today) {
            Some(secs) => (secs, 0),
            None => {
                io.say(&format!("invalid date '{time}'")).await;
                return Ok(1);
            }
        }
    } else if let Some(file) = opts.value('r') {
        match io.os.stat(file).await {
            Ok(meta) => (meta.mtime, meta.nanos[1]),
            Err(message) => {
                io.say(&format!("can't stat '{file}': {message}")).await;
                return Ok(1);
            }
        }
    } else {
        (now, nanos)
    };
    let tm = gmtime(secs);
    let text = if let Some(spec) = &iso {
        let pattern = match spec.as_str() {
            "" | "date" => "%Y-%m-%d".to_string(),
            "hours" => "%Y-%m-%dT%H%z".to_string(),
            "minutes" => "%Y-%m-%dT%H:%M%z".to_string(),
            "seconds" => "%Y-%m-%dT%H:%M:%S%z".to_string(),
            "ns" => format!("%Y-%m-%dT%H:%M:%S,{nanos:09}%z"),
            other => {
                io.say(&format!(
                    "invalid argument '{other}' to '-I': give date, hours, minutes, seconds or ns"
                ))
                .await;
                return Ok(1);
            }
        };
        // ISO 8601's zone has a colon: +00:00.
        strftime(&pattern, &tm).replace("+0000", "+00:00")
    } else if let Some(format) = &format {
        strftime(format, &tm)
    } else if opts.has('R') {
        strftime("%a, %d %b %Y %H:%M:%S %z", &tm)
    } else {
        strftime("%a %b %e %H:%M:%S %Z %Y", &tm)
    };
    io.put_str(&format!("{text}\n")).await?;
    io.flush().await?;
    Ok(0)
}

// ---- nproc ----

pub async fn nproc<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let mut all = false;
    let mut ignore: u64 = 0;
    for arg in args {
        if arg == "--all" {
            all = true;
        } else if let Some(n) = arg.strip_prefix("--ignore=") {
            match n.parse() {
                Ok(n) => ignore = n,
                Err(_) => {
                    io.say(&format!("invalid number '{n}'")).await;
                    return Ok(1);
                }
            }
        } else {
            return usage(io, &format!("unrecognized option '{arg}'"), 1).await;
        }
    }
    let count = if all {
        // The CPUs the kernel lists, not only those this process may use.
        io.os
            .read_dir("/sys/devices/system/cpu")
            .await
            .unwrap_or_default()
            .iter()
            .filter(|name| name.contains("cpu") && name.ends_with(|c: char| c.is_ascii_digit()))
            .count() as u64
    } else {
        u64::from(io.os.cpus().await)
    };
    io.put_str(&format!("{}\n", count.saturating_sub(ignore).max(1)))
        .await?;
    io.flush().await?;
    Ok(0)
}

// ---- umount ----

pub async fn umount<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "flnd", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    if opts.operands.is_empty() {
        return usage(io, "give a DIRECTORY", 1).await;
    }
    let mut status = 0;
    for target in &opts.operands {
        if let Err(message) = io.os.umount(target, opts.has('l'), opts.has('f')).await {
            io.say(&format!("can't unmount {target}: {message}")).await;
            status = 1;
        }
    }
    Ok(status)
}

// ---- free ----

pub async fn free<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "bkmgh", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    if !opts.operands.is_empty() {
        return usage(io, "takes no operands", 1).await;
    }
    // The first of -b, -k, -m, -g, -h decides, as BusyBox reads argv[1].
    let unit = match opts.given.first().map(|(c, _)| *c) {
        Some('b') => Some(0),
        Some('m') => Some(20),
        Some('g') => Some(30),
        Some('h') => None,
        _ => Some(10),
    };
    let Ok(text) = io.slurp("/proc/meminfo", 1 << 16).await else {
        io.say("can't open '/proc/meminfo': mount /proc to see the memory")
            .await;
        return Ok(1);
    };
    let kb = |key: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
            * 1024
    };
    let total = kb("MemTotal");
    let free = kb("MemFree");
    let cached = kb("Cached") + kb("SReclaimable") + kb("Buffers");
    let shared = kb("Shmem");
    let available = kb("MemAvailable");
    let swap_total = kb("SwapTotal");
    let swap_free = kb("SwapFree");
    let show = |bytes: u64| match unit {
        Some(shift) => (bytes >> shift).to_string(),
        None => super::human(bytes),
    };
    let mut out = format!(
        "       {:>12}{:>12}{:>12}{:>12}{:>12}{:>12}\n",
        "total", "used", "free", "shared", "buff/cache", "available"
    );
    out.push_str(&format!(
        "Mem:   {:>12} {:>11} {:>11} {:>11} {:>11} {:>11}\n",
        show(total),
        show(total.saturating_sub(free + cached)),
        show(free),
        show(shared),
        show(cached),
        show(available)
    ));
    out.push_str(&format!(
        "Swap:  {:>12} {:>11} {:>11}\n",
        show(swap_total),
        show(swap_total.saturating_sub(swap_free)),
        show(swap_free)
    ));
    io.put_str(&out).await?;
    io.flush().await?;
    Ok(0)
}

// ---- chroot ----

/// `chroot NEWROOT [PROG ARGS...]`: the process's `/` moved to NEWROOT,
/// its working directory to it, then PROG run there (found on `PATH`
/// inside it), or `$SHELL -i`. As BusyBox's, it reads no options.
pub async fn chroot<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let Some(new_root) = args.first() else {
        return usage(io, "NEWROOT missing", 1).await;
    };
    if let Err(message) = io.os.chroot(new_root).await {
        let line = format!("can't change root directory to '{new_root}': {message}");
        io.say(&line).await;
        return Ok(1);
    }
    if let Err(message) = io.os.chdir("/").await {
        io.say(&format!("can't change directory to '/': {message}"))
            .await;
        return Ok(1);
    }
    let argv: Vec<String> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        let shell = io.var("SHELL").unwrap_or("/bin/sh").to_string();
        vec![shell, "-i".to_string()]
    };
    let Some(path) = super::xargs::find_program(io, &argv[0]).await else {
        let line = format!("can't execute '{}': No such file or directory", argv[0]);
        io.say(&line).await;
        return Ok(127);
    };
    io.flush().await?;
    let env = io.env.to_vec();
    let (message, status) = io.os.exec(&path, &argv, &env).await;
    io.say(&format!("can't execute '{}': {message}", argv[0]))
        .await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_and_print_as_busybox_date() {
        let today = gmtime(1_796_256_000); // 2026-12-03
        assert_eq!(
            parse_date("2026-03-04 05:06:07", &today),
            Some(1_772_600_767)
        );
        assert_eq!(parse_date("2026-03-04", &today), Some(1_772_582_400));
        assert_eq!(
            parse_date("2026-02-30", &today),
            parse_date("2026-03-02", &today)
        );
        assert_eq!(parse_date("24:00", &today), None);
        assert_eq!(parse_date("12:30 ", &today), None);
        assert_eq!(parse_date("@-1", &today), None);
        assert_eq!(parse_date("202601010000.5", &today), Some(1_767_225_605));
        let tm = gmtime(1_767_254_706);
        assert_eq!(
            strftime("%c|%D|%F|%r|%j|%u|%w|%V|%-d|%_d|%10Y|%q", &tm),
            "Thu Jan  1 08:05:06 2026|01/01/26|2026-01-01|08:05:06 AM|001|4|4|01|1| 1|0000002026|%q"
        );
        assert_eq!(crate::userland::human(9_883_648), "9.4M");
    }
}
