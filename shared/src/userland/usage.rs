//! `du`: the disk a tree takes, as BusyBox counts it: the blocks each
//! inode holds (its apparent size with `-b`), a file with several links
//! once, in KiB by default.

use std::collections::HashSet;

use super::copy::under;
use super::io::Io;
use super::opts::Opts;
use super::text::{Status, usage};
use crate::shell::os::{Kind, Os};

struct Du {
    all: bool,
    apparent: bool,
    hard_links: bool,
    one_fs: bool,
    /// Follow links below this depth: 1 with -H (then every depth, as
    /// BusyBox does once it has followed one), every depth with -L.
    follow_depth: usize,
    max_print_depth: usize,
    /// Bytes per unit shown; 0 for -h.
    unit: u64,
    seen: HashSet<(u64, u64)>,
    dev: u64,
    failed: bool,
}

impl Du {
    fn show(&self, size: u64) -> String {
        if self.apparent && self.unit == 1 {
            return size.to_string();
        }
        let bytes = if self.apparent { size } else { size * 512 };
        if self.unit == 0 {
            return super::human(bytes);
        }
        // A fixed unit rounds up, as coreutils' du does.
        bytes.div_ceil(self.unit).to_string()
    }

    async fn walk<O: Os>(&mut self, io: &mut Io<'_, O>, path: &str, depth: usize) -> u64 {
        let mut meta = match io.os.lstat(path).await {
            Ok(meta) => meta,
            Err(message) => {
                io.say(&format!("{path}: {message}")).await;
                self.failed = true;
                return 0;
            }
        };
        if self.one_fs {
            if depth == 0 {
                self.dev = meta.dev;
            } else if meta.dev != self.dev {
                return 0;
            }
        }
        if meta.kind == Kind::Symlink && self.follow_depth > depth {
            meta = match io.os.stat(path).await {
                Ok(meta) => meta,
                Err(message) => {
                    io.say(&format!("{path}: {message}")).await;
                    self.failed = true;
                    return 0;
                }
            };
            if self.follow_depth == 1 {
                self.follow_depth = usize::MAX;
            }
        }
        let mut sum = if self.apparent {
            meta.size
        } else {
            meta.blocks
        };
        if !self.hard_links && meta.nlink > 1 && !self.seen.insert((meta.dev, meta.ino)) {
            return 0;
        }
        if meta.kind == Kind::Dir {
            match io.os.read_dir(path).await {
                Some(names) => {
                    for name in names.iter().filter(|n| *n != "." && *n != "..") {
                        sum += Box::pin(self.walk(io, &under(path, name), depth + 1)).await;
                    }
                }
                None => {
                    let message = io
                        .os
                        .open(path, crate::shell::os::Open::Read)
                        .await
                        .err()
                        .unwrap_or_else(|| "Permission denied".into());
                    io.say(&format!("can't open '{path}': {message}")).await;
                    self.failed = true;
                    return sum;
                }
            }
        } else if !self.all && depth != 0 {
            return sum;
        }
        if depth <= self.max_print_depth {
            let line = format!("{}\t{path}\n", self.show(sum));
            if io.put_str(&line).await.is_err() {
                self.failed = true;
            }
        }
        sum
    }
}

pub async fn du<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "aHLd:clsxhmkb", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let mut max_print_depth = usize::MAX;
    if let Some(depth) = opts.value('d') {
        match depth.parse() {
            Ok(depth) => max_print_depth = depth,
            Err(_) => {
                io.say(&format!("invalid number '{depth}'")).await;
                return Ok(1);
            }
        }
    }
    if opts.has('s') {
        max_print_depth = 0;
    }
    // The last of -h, -m, -k, -b says the unit.
    let mut unit = 1024;
    let mut apparent = false;
    for (flag, _) in &opts.given {
        match flag {
            'h' => unit = 0,
            'm' => unit = 1 << 20,
            'k' => unit = 1024,
            'b' => {
                apparent = true;
                unit = 1;
            }
            _ => {}
        }
    }
    let mut du = Du {
        all: opts.has('a'),
        apparent,
        hard_links: opts.has('l'),
        one_fs: opts.has('x'),
        follow_depth: if opts.has('L') {
            usize::MAX
        } else if opts.has('H') {
            1
        } else {
            0
        },
        max_print_depth,
        unit,
        seen: HashSet::new(),
        dev: 0,
        failed: false,
    };
    let operands = if opts.operands.is_empty() {
        vec![".".to_string()]
    } else {
        opts.operands.clone()
    };
    let mut total = 0;
    for operand in &operands {
        total += du.walk(io, operand, 0).await;
    }
    if opts.has('c') {
        io.put_str(&format!("{}\ttotal\n", du.show(total))).await?;
    }
    io.flush().await?;
    Ok(i32::from(du.failed || io.failed))
}

// ---- df ----

/// One line of `/proc/mounts`, its fields unescaped as `getmntent(3)`
/// does (`\040` is a space).
#[derive(Debug, PartialEq, Eq)]
pub struct MountEntry {
    pub source: String,
    pub target: String,
    pub fstype: String,
    pub options: String,
}

/// The mount table's lines, in order.
pub fn mount_entries(text: &str) -> Vec<MountEntry> {
    fn unescape(field: &str) -> String {
        let mut out = String::new();
        let mut rest = field;
        while let Some(at) = rest.find('\\') {
            out.push_str(&rest[..at]);
            let code = rest.get(at + 1..at + 4).unwrap_or("");
            match u8::from_str_radix(code, 8) {
                Ok(byte) if code.len() == 3 => {
                    out.push(char::from(byte));
                    rest = &rest[at + 4..];
                }
                _ => {
                    out.push('\\');
                    rest = &rest[at + 1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            Some(MountEntry {
                source: unescape(fields.next()?),
                target: unescape(fields.next()?),
                fstype: unescape(fields.next()?),
                options: unescape(fields.next().unwrap_or("")),
            })
        })
        .collect()
}

/// A size as BusyBox's `make_human_readable_str` writes it: `count`
/// blocks of `block` bytes in units of `unit` bytes, rounded; with no
/// unit, scaled to one decimal and a letter (`23.5G`); with no block,
/// scaled without the decimal (`4K`, a header's unit).
fn scaled(count: u64, block: u64, unit: u64) -> String {
    if count == 0 {
        return "0".into();
    }
    let bytes = count.saturating_mul(block.max(1));
    if let Some(units) = bytes.saturating_add(unit / 2).checked_div(unit) {
        return units.to_string();
    }
    if block != 0 {
        return super::human(bytes);
    }
    let (mut value, frac, letter) = super::scale_1024(bytes);
    if frac >= 5 {
        value += 1;
    }
    match letter {
        Some(l) => format!("{value}{}", super::UNIT_LETTERS[l]),
        None => value.to_string(),
    }
}

/// The device number `stat` gives for major and minor, as glibc's
/// `makedev` packs them.
fn makedev((major, minor): (u32, u32)) -> u64 {
    let (major, minor) = (u64::from(major), u64::from(minor));
    ((major & 0xffff_f000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff)
}

/// `-B`'s size: a number, perhaps with `k`, `m` or `g` (binary units).
fn block_size(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let scale = match suffix {
        "" => 1,
        "k" | "K" | "KiB" => 1 << 10,
        "m" | "M" | "MiB" => 1 << 20,
        "g" | "G" | "GiB" => 1 << 30,
        "KB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

/// The mount an operand is on, as BusyBox's `find_mount_point` finds it:
/// the first line naming it, or whose device (a device file's own number
/// for one) is the operand's.
async fn mount_point_of<'m, O: Os>(
    io: &mut Io<'_, O>,
    mounts: &'m [MountEntry],
    name: &str,
) -> Option<&'m MountEntry> {
    let meta = io.os.stat(name).await.ok()?;
    let device = match meta.kind {
        Kind::CharDevice | Kind::BlockDevice => makedev(meta.rdev),
        _ => meta.dev,
    };
    for entry in mounts.iter().filter(|m| m.source != "rootfs") {
        if entry.target == name || entry.source == name {
            return Some(entry);
        }
        if entry.source.starts_with('/')
            && let Ok(dev) = io.os.stat(&entry.source).await
            && matches!(dev.kind, Kind::CharDevice | Kind::BlockDevice)
            && makedev(dev.rdev) == device
        {
            return Some(entry);
        }
        if io
            .os
            .stat(&entry.target)
            .await
            .is_ok_and(|m| m.dev == device)
        {
            return Some(entry);
        }
    }
    None
}

/// `df`: each file system's size, use and what is left, as BusyBox
/// prints them: in KiB (`-m`, `-B SIZE`, `-h` another unit), `-i` its
/// inodes instead, `-T` its type, `-t TYPE` only that type, `-P` the
/// POSIX form; every mount with storage, every one with `-a`, or those
/// the operands are on.
pub async fn df<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "kPTaiB:hmt:", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    // The last of -k, -m and -B, then -h over them.
    let mut unit: u64 = 1024;
    for (flag, value) in &opts.given {
        match (flag, value) {
            ('k', _) => unit = 1024,
            ('m', _) => unit = 1 << 20,
            ('B', Some(size)) => match block_size(size) {
                Some(0) => {
                    let message = format!("number 0 is not in 1..{} range", u64::MAX);
                    io.say(&message).await;
                    return Ok(1);
                }
                Some(size) => unit = size,
                None => {
                    io.say(&format!("invalid number '{size}'")).await;
                    return Ok(1);
                }
            },
            _ => {}
        }
    }
    let posix = opts.has('P');
    let inodes = opts.has('i');
    let header = if inodes {
        "   Inodes".to_string()
    } else if opts.has('h') {
        "     Size".to_string()
    } else {
        let name = if posix {
            unit.to_string()
        } else {
            scaled(unit, 0, 0)
        };
        format!("{name}-blocks")
    };
    if opts.has('h') {
        unit = 0;
    }
    let line = format!(
        "Filesystem           {}{header:<15}Used Available {} Mounted on\n",
        if opts.has('T') { "Type       " } else { "" },
        if posix { "Capacity" } else { "Use%" },
    );
    io.put_str(&line).await?;
    let mounts = match io.slurp("/proc/mounts", 1 << 20).await {
        Ok(text) => mount_entries(&text),
        Err(message) => {
            io.say(&format!("/proc/mounts: {message}")).await;
            return Ok(1);
        }
    };
    let mut failed = false;
    if opts.operands.is_empty() {
        for entry in &mounts {
            failed |= !show_fs(io, &opts, entry, false, unit, inodes).await?;
        }
    }
    for name in &opts.operands {
        match mount_point_of(io, &mounts, name).await {
            Some(entry) => failed |= !show_fs(io, &opts, entry, true, unit, inodes).await?,
            None => {
                io.say(&format!("{name}: can't find mount point")).await;
                failed = true;
            }
        }
    }
    io.flush().await?;
    Ok(i32::from(failed || io.failed))
}

/// One line of `df`: false when `statfs` failed (and said so).
async fn show_fs<O: Os>(
    io: &mut Io<'_, O>,
    opts: &Opts,
    entry: &MountEntry,
    named: bool,
    unit: u64,
    inodes: bool,
) -> Result<bool, super::io::Stop> {
    if entry.source == "rootfs" || opts.value('t').is_some_and(|t| t != entry.fstype) {
        return Ok(true);
    }
    let mut s = match io.os.statfs(&entry.target).await {
        Ok(s) => s,
        Err(message) => {
            io.say(&format!("{}: {message}", entry.target)).await;
            return Ok(false);
        }
    };
    if s.blocks == 0 && !named && !opts.has('a') {
        return Ok(true);
    }
    let mut unit = unit;
    if inodes {
        s.blocks = s.files;
        s.free = s.files_free;
        s.available = s.files_free;
        s.block_size = 1;
        if unit != 0 {
            unit = 1;
        }
    }
    let used = s.blocks.saturating_sub(s.free);
    let room = used + s.available;
    let percent = (used * 100 + room / 2).checked_div(room).unwrap_or(0);
    let posix = opts.has('P');
    let mut line = format!("{:<20}", entry.source);
    if entry.source.len() > 20 && !posix {
        line.push_str(&format!("\n{:20}", ""));
    }
    if opts.has('T') {
        line.push_str(&format!(" {:<10}", entry.fstype));
        if entry.fstype.len() > 10 && !posix {
            line.push_str(&format!("\n{:30}", ""));
        }
    }
    line.push_str(&format!(
        " {:>9} {:>9} {:>9} {percent:>3}% {}\n",
        scaled(s.blocks, s.block_size, unit),
        scaled(used, s.block_size, unit),
        scaled(s.available, s.block_size, unit),
        entry.target
    ));
    io.put_str(&line).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_lines_unescape_as_getmntent_does() {
        let entries = mount_entries("a\\040b /mnt/x\\040y tmpfs rw,size=4k 0 0\nshort\n");
        assert_eq!(
            entries,
            vec![MountEntry {
                source: "a b".into(),
                target: "/mnt/x y".into(),
                fstype: "tmpfs".into(),
                options: "rw,size=4k".into(),
            }]
        );
    }

    #[test]
    fn sizes_round_as_busybox_does() {
        assert_eq!(scaled(16384, 4096, 1024), "65536");
        assert_eq!(scaled(3, 4096, 1 << 20), "0");
        assert_eq!(scaled(16384, 4096, 0), "64.0M");
        assert_eq!(scaled(1 << 20, 0, 0), "1M");
        assert_eq!(scaled(1000, 0, 0), "1000");
        assert_eq!(block_size("4k"), Some(4096));
        assert_eq!(block_size("4x"), None);
        assert_eq!(makedev((1, 3)), 0x103);
    }
}
