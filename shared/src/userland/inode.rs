//! What an inode holds and who may change it: `stat`, `chmod`, `chown`
//! and `whoami`, as BusyBox answers. Names of users and groups come from
//! the container's own `/etc/passwd` and `/etc/group`, as libc's lookups
//! read them.

use super::civil;
use super::copy::under;
use super::io::Io;
use super::mode_string;
use super::opts::Opts;
use super::text::{Status, usage};
use crate::shell::builtins::{format_integer, pad, precision_cut};
use crate::shell::os::{Kind, Meta, Os};

/// One line of `/etc/passwd` or `/etc/group`: the name, the id, and for
/// a user the login group.
struct Entry {
    name: String,
    id: u32,
    group: Option<u32>,
}

async fn entries<O: Os>(io: &mut Io<'_, O>, file: &str) -> Vec<Entry> {
    let text = io.slurp(file, 1 << 20).await.unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            Some(Entry {
                name: fields.first()?.to_string(),
                id: fields.get(2)?.parse().ok()?,
                group: fields.get(3).and_then(|g| g.parse().ok()),
            })
        })
        .collect()
}

/// A user's (or with `group`, a group's) name by its id.
pub(crate) async fn name_of<O: Os>(io: &mut Io<'_, O>, id: u32, group: bool) -> Option<String> {
    let file = if group { "/etc/group" } else { "/etc/passwd" };
    entries(io, file)
        .await
        .into_iter()
        .find(|e| e.id == id)
        .map(|e| e.name)
}

/// User names by uid, each looked up in `/etc/passwd` once (a listing of
/// many processes names few users); a uid with none is its number.
#[derive(Default)]
pub(crate) struct UserNames(Vec<(u32, String)>);

impl UserNames {
    pub(crate) async fn name<O: Os>(&mut self, io: &mut Io<'_, O>, uid: u32) -> String {
        if let Some((_, name)) = self.0.iter().find(|(u, _)| *u == uid) {
            return name.clone();
        }
        let name = name_of(io, uid, false)
            .await
            .unwrap_or_else(|| uid.to_string());
        self.0.push((uid, name.clone()));
        name
    }
}

/// A user's id by its name in `/etc/passwd`.
pub(crate) async fn user_id<O: Os>(io: &mut Io<'_, O>, name: &str) -> Option<u32> {
    entries(io, "/etc/passwd")
        .await
        .into_iter()
        .find(|e| e.name == name)
        .map(|e| e.id)
}

// ---- whoami ----

pub async fn whoami<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    if !args.is_empty() {
        return usage(io, "takes no operands", 1).await;
    }
    let (uid, _) = io.os.ids().await;
    match name_of(io, uid, false).await {
        Some(name) => {
            io.put_str(&format!("{name}\n")).await?;
            io.flush().await?;
            Ok(0)
        }
        None => {
            io.say(&format!("unknown uid {uid}")).await;
            Ok(1)
        }
    }
}

// ---- stat ----

/// The type bits `st_mode` carries with the permissions.
fn type_bits(kind: Kind) -> u32 {
    match kind {
        Kind::Fifo => 0o010000,
        Kind::CharDevice => 0o020000,
        Kind::Dir => 0o040000,
        Kind::BlockDevice => 0o060000,
        Kind::File => 0o100000,
        Kind::Symlink => 0o120000,
        Kind::Socket => 0o140000,
    }
}

fn type_letter(kind: Kind) -> char {
    match kind {
        Kind::Fifo => 'p',
        Kind::CharDevice => 'c',
        Kind::Dir => 'd',
        Kind::BlockDevice => 'b',
        Kind::File => '-',
        Kind::Symlink => 'l',
        Kind::Socket => 's',
    }
}

fn file_type(meta: &Meta) -> &'static str {
    match meta.kind {
        Kind::File if meta.size == 0 => "regular empty file",
        Kind::File => "regular file",
        Kind::Dir => "directory",
        Kind::BlockDevice => "block special file",
        Kind::CharDevice => "character special file",
        Kind::Fifo => "fifo",
        Kind::Symlink => "symbolic link",
        Kind::Socket => "socket",
    }
}

/// `2026-01-01 00:00:00.000000000 +0000`: a time as `stat` shows it (in
/// UTC, the zone of a container with no `/etc/localtime`).
fn human_time(secs: i64, nanos: u32) -> String {
    let secs = secs.max(0) as u64;
    let (year, month, day, hour, minute) = civil(secs);
    format!(
        "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{:02}.{nanos:09} +0000",
        secs % 60
    )
}

const DEFAULT_FORMAT: &str = "  File: %N\n  Size: %-10s\tBlocks: %-10b IO Block: %-6o %F\nDevice: %Dh/%dd\tInode: %-10i  Links: %h\nAccess: (%04a/%10.10A)  Uid: (%5u/%8U)   Gid: (%5g/%8G)\nAccess: %x\nModify: %y\nChange: %z";
const DEVICE_FORMAT: &str = "  File: %N\n  Size: %-10s\tBlocks: %-10b IO Block: %-6o %F\nDevice: %Dh/%dd\tInode: %-10i  Links: %-5h Device type: %t,%T\nAccess: (%04a/%10.10A)  Uid: (%5u/%8U)   Gid: (%5g/%8G)\nAccess: %x\nModify: %y\nChange: %z";
const TERSE_FORMAT: &str = "%n %s %b %f %u %g %D %i %h %t %T %X %Y %Z %o";

pub async fn stat<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "c:Lt", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    if opts.operands.is_empty() {
        return usage(io, "give a FILE", 1).await;
    }
    let mut status = 0;
    for file in &opts.operands {
        let found = io.os.stat_as(file, opts.has('L')).await;
        let meta = match found {
            Ok(meta) => meta,
            Err(message) => {
                io.say(&format!("can't stat '{file}': {message}")).await;
                status = 1;
                continue;
            }
        };
        let format = match opts.value('c') {
            Some(format) => format,
            None if opts.has('t') => TERSE_FORMAT,
            None if matches!(meta.kind, Kind::CharDevice | Kind::BlockDevice) => DEVICE_FORMAT,
            None => DEFAULT_FORMAT,
        };
        let text = render(io, format, file, &meta).await;
        io.put_str(&text).await?;
    }
    io.flush().await?;
    Ok(status)
}

/// A `stat -c` format, filled in: `%` with modifiers (`%-10s`, `%04a`)
/// and a conversion; an unknown one prints its letter, a `%` at the very
/// end prints itself and ends the line there.
async fn render<O: Os>(io: &mut Io<'_, O>, format: &str, file: &str, meta: &Meta) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&m) = chars.peek() {
            if !"#-+.I 0123456789".contains(m) {
                break;
            }
            if m != 'I' {
                spec.push(m);
            }
            chars.next();
        }
        let Some(conversion) = chars.next() else {
            out.push('%');
            return out;
        };
        let number = |conv: char, value: u64| format_integer(&spec, conv, value as i64);
        let text = |value: &str| pad(&spec, &precision_cut(&spec, value));
        let piece = match conversion {
            '%' => "%".to_string(),
            'n' => text(file),
            'N' if meta.kind == Kind::Symlink => match io.os.readlink(file).await {
                Ok(target) => format!("'{file}' -> '{target}'"),
                Err(_) => String::new(),
            },
            'N' => text(file),
            'd' => number('u', meta.dev),
            'D' => number('x', meta.dev),
            'i' => number('u', meta.ino),
            'a' => number('o', u64::from(meta.mode & 0o7777)),
            'A' => text(&mode_string(type_letter(meta.kind), meta.mode)),
            'f' => number('x', u64::from(type_bits(meta.kind) | (meta.mode & 0o7777))),
            'F' => text(file_type(meta)),
            'h' => number('u', meta.nlink),
            'u' => number('u', u64::from(meta.uid)),
            'g' => number('u', u64::from(meta.gid)),
            'U' | 'G' => {
                let (id, group) = if conversion == 'U' {
                    (meta.uid, false)
                } else {
                    (meta.gid, true)
                };
                let name = name_of(io, id, group)
                    .await
                    .unwrap_or_else(|| "UNKNOWN".into());
                text(&name)
            }
            't' => number('x', u64::from(meta.rdev.0)),
            'T' => number('x', u64::from(meta.rdev.1)),
            's' => number('u', meta.size),
            'B' => number('u', 512),
            'b' => number('u', meta.blocks),
            'o' => number('u', meta.blksize),
            'x' => text(&human_time(meta.atime, meta.nanos[0])),
            'y' => text(&human_time(meta.mtime, meta.nanos[1])),
            'z' => text(&human_time(meta.ctime, meta.nanos[2])),
            'X' => number('u', meta.atime.max(0) as u64),
            'Y' => number('u', meta.mtime.max(0) as u64),
            'Z' => number('u', meta.ctime.max(0) as u64),
            other => text(&other.to_string()),
        };
        out.push_str(&piece);
    }
    out.push('\n');
    out
}

// ---- chmod and chown ----

/// A mode as `chmod` reads it, applied to a file's mode: octal, or
/// clauses `[ugoa]*[+-=]([rwxXst]*|[ugo])...` joined by commas. `None`
/// for a mode that is neither.
pub(super) fn parse_mode(text: &str, current: u32, is_dir: bool, umask: u32) -> Option<u32> {
    const WHO: [(char, u32); 4] = [('a', 0o7777), ('u', 0o4700), ('g', 0o2070), ('o', 0o0007)];
    const PERM: [(char, u32); 6] = [
        ('r', 0o444),
        ('w', 0o222),
        ('x', 0o111),
        ('X', 0o111),
        ('s', 0o6000),
        ('t', 0o1000),
    ];
    if text.starts_with(|c: char| c.is_ascii_digit() && c < '8') {
        let value = u32::from_str_radix(text, 8).ok()?;
        return (value <= 0o7777).then_some(value);
    }
    let bytes: Vec<char> = text.chars().collect();
    let mut mode = current & 0o7777;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == ',' {
            i += 1;
            continue;
        }
        let mut who = 0;
        while let Some((_, mask)) = WHO.iter().find(|(c, _)| Some(c) == bytes.get(i)) {
            who |= mask;
            i += 1;
            if i == bytes.len() {
                return None;
            }
        }
        loop {
            let op = *bytes.get(i)?;
            match op {
                '+' | '-' => {}
                '=' => mode &= if who != 0 { !who } else { !0o7777 },
                _ => return None,
            }
            i += 1;
            let mut perms = 0;
            if let Some(&(_, mask)) = WHO[1..].iter().find(|(c, _)| Some(c) == bytes.get(i)) {
                // A copy of another class's bits: `u=g`.
                let mut copied = mask & 0o777 & mode;
                for (_, bits) in &PERM[..3] {
                    if copied & bits != 0 {
                        copied |= bits;
                    }
                }
                perms = copied;
                i += 1;
            } else {
                while let Some(&(c, mask)) = PERM.iter().find(|(c, _)| Some(c) == bytes.get(i)) {
                    if c != 'X' || is_dir || mode & 0o111 != 0 {
                        perms |= mask;
                    }
                    i += 1;
                }
            }
            if perms != 0 {
                perms &= if who != 0 { who } else { !umask };
                if op == '-' {
                    mode &= !perms;
                } else {
                    mode |= perms;
                }
            }
            if i >= bytes.len() || bytes[i] == ',' {
                break;
            }
        }
    }
    Some(mode)
}

/// What `chmod` or `chown` does to each file it reaches.
enum Change {
    Mode(String),
    Owner {
        uid: Option<u32>,
        gid: Option<u32>,
        /// `lchown`: a link itself, not what it points at.
        links: bool,
    },
}

struct Walk {
    change: Change,
    recurse: bool,
    /// chown -L: follow every link; -H: those named only.
    follow: bool,
    follow_top: bool,
    /// Children before their directory (chown, as coreutils orders it).
    depth_first: bool,
    verbose: bool,
    changed: bool,
    quiet: bool,
    umask: u32,
}

impl Walk {
    /// BusyBox's `recursive_action`: a file, or a directory and with -R
    /// all below it. Whether all of it went well.
    async fn run<O: Os>(&self, io: &mut Io<'_, O>, path: &str, depth: usize) -> bool {
        let follow = self.follow || (depth == 0 && self.follow_top);
        let found = io.os.stat_as(path, follow).await;
        let meta = match found {
            Ok(meta) => meta,
            Err(message) => {
                io.say(&format!("{path}: {message}")).await;
                return false;
            }
        };
        if meta.kind != Kind::Dir || !self.recurse {
            return self.act(io, path, &meta, depth).await.is_ok();
        }
        if !self.depth_first
            && let Err(message) = self.act(io, path, &meta, depth).await
        {
            io.say(&format!("{path}: {message}")).await;
            return false;
        }
        let mut fine = true;
        let names = io.os.read_dir(path).await.unwrap_or_default();
        for name in names.iter().filter(|n| *n != "." && *n != "..") {
            if !Box::pin(self.run(io, &under(path, name), depth + 1)).await {
                fine = false;
            }
        }
        if self.depth_first
            && let Err(message) = self.act(io, path, &meta, depth).await
        {
            io.say(&format!("{path}: {message}")).await;
            return false;
        }
        fine
    }

    /// The change on one file; a failure is said (unless -f) and given
    /// back.
    async fn act<O: Os>(
        &self,
        io: &mut Io<'_, O>,
        path: &str,
        meta: &Meta,
        depth: usize,
    ) -> Result<(), String> {
        let result = match &self.change {
            Change::Mode(text) => {
                let meta = if depth == 0 {
                    // A link named on the command line: its target.
                    match io.os.stat(path).await {
                        Ok(target) => target,
                        Err(message) => {
                            io.say(&format!("{path}: {message}")).await;
                            return Err(message);
                        }
                    }
                } else if meta.kind == Kind::Symlink {
                    return Ok(());
                } else {
                    *meta
                };
                let Some(mode) = parse_mode(text, meta.mode, meta.kind == Kind::Dir, self.umask)
                else {
                    return Err(String::new());
                };
                io.os.chmod(path, mode).await.map(|()| {
                    (self.verbose || (self.changed && meta.mode & 0o7777 != mode)).then(|| {
                        format!(
                            "mode of '{path}' changed to {mode:04o} ({})\n",
                            &mode_string(type_letter(meta.kind), mode)[1..]
                        )
                    })
                })
            }
            Change::Owner { uid, gid, links } => {
                let u = uid.unwrap_or(meta.uid);
                let g = gid.unwrap_or(meta.gid);
                io.os.chown(path, Some(u), Some(g), !links).await.map(|()| {
                    (self.verbose || (self.changed && (meta.uid != u || meta.gid != g)))
                        .then(|| format!("changed ownership of '{path}' to {u}:{g}\n"))
                })
            }
        };
        match result {
            Ok(Some(line)) => {
                let _ = io.put_str(&line).await;
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(message) => {
                if !self.quiet {
                    io.say(&format!("{path}: {message}")).await;
                }
                Err(message)
            }
        }
    }
}

pub async fn chmod<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    // A mode that looks like an option (`-w`, `-x`) is the mode.
    let mut args = args.to_vec();
    let mut minus_mode = None;
    for (at, arg) in args.iter().enumerate() {
        if !arg.starts_with('-') {
            break;
        }
        if arg.chars().nth(1).is_some_and(|c| !"-Rvcf".contains(c)) {
            minus_mode = Some(at);
            break;
        }
    }
    if let Some(at) = minus_mode {
        args[at].replace_range(0..1, "a");
    }
    let opts = match Opts::parse(&args, "Rvcf", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let mut operands = opts.operands.clone();
    if let Some(mode) = operands.first_mut()
        && minus_mode.is_some()
        && mode.starts_with('a')
    {
        mode.replace_range(0..1, "-");
    }
    let [mode, files @ ..] = operands.as_slice() else {
        return usage(io, "give a MODE and a FILE", 1).await;
    };
    if files.is_empty() {
        return usage(io, "give a MODE and a FILE", 1).await;
    }
    let umask = io.os.umask(None).await;
    if parse_mode(mode, 0, false, umask).is_none() {
        io.say(&format!("invalid mode '{mode}'")).await;
        return Ok(1);
    }
    let walk = Walk {
        change: Change::Mode(mode.clone()),
        recurse: opts.has('R'),
        follow: false,
        follow_top: false,
        depth_first: false,
        verbose: opts.has('v'),
        changed: opts.has('c'),
        quiet: opts.has('f'),
        umask,
    };
    let mut status = 0;
    for file in files {
        if !walk.run(io, file, 0).await {
            status = 1;
        }
    }
    io.flush().await?;
    Ok(status)
}

/// `USER[:GROUP]`, `USER:`, `:GROUP` or `USER.GROUP`: the ids to give,
/// or `chown`'s words for a name it does not know.
async fn owner_of<O: Os>(
    io: &mut Io<'_, O>,
    text: &str,
) -> Result<(Option<u32>, Option<u32>), String> {
    let users = entries(io, "/etc/passwd").await;
    let groups = entries(io, "/etc/group").await;
    let user_id = |name: &str| {
        name.parse::<u32>()
            .ok()
            .or_else(|| users.iter().find(|e| e.name == name).map(|e| e.id))
    };
    let group_id = |name: &str| {
        name.parse::<u32>()
            .ok()
            .or_else(|| groups.iter().find(|e| e.name == name).map(|e| e.id))
    };
    let split = text.find('.').or_else(|| text.find(':'));
    let Some(at) = split else {
        return match user_id(text) {
            Some(uid) => Ok((Some(uid), None)),
            None => Err(format!("unknown user {text}")),
        };
    };
    let (user, group) = (&text[..at], &text[at + 1..]);
    if user.is_empty() {
        return match group_id(group) {
            Some(gid) => Ok((None, Some(gid))),
            None => Err(format!("unknown group {group}")),
        };
    }
    let unknown = || format!("unknown user/group {user}:{group}");
    // The user's login group, or for a bare number its own value.
    let (uid, login) = match user.parse::<u32>() {
        Ok(uid) => (
            uid,
            users
                .iter()
                .find(|e| e.id == uid)
                .and_then(|e| e.group)
                .unwrap_or(uid),
        ),
        Err(_) => {
            let entry = users.iter().find(|e| e.name == user).ok_or_else(unknown)?;
            (entry.id, entry.group.unwrap_or(entry.id))
        }
    };
    if group.is_empty() {
        return Ok((Some(uid), Some(login)));
    }
    let gid = group_id(group).ok_or_else(|| {
        if text.contains('.') && !text.contains(':') {
            format!("unknown user/group {user}:{group}")
        } else {
            unknown()
        }
    })?;
    Ok((Some(uid), Some(gid)))
}

pub async fn chown<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "RhvcfLHP", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let [owner, files @ ..] = opts.operands.as_slice() else {
        return usage(io, "give an OWNER and a FILE", 1).await;
    };
    if files.is_empty() {
        return usage(io, "give an OWNER and a FILE", 1).await;
    }
    let (uid, gid) = match owner_of(io, owner).await {
        Ok(ids) => ids,
        Err(message) => {
            io.say(&message).await;
            return Ok(1);
        }
    };
    let recurse = opts.has('R');
    let follow_top = opts.has('H') || opts.has('L');
    let walk = Walk {
        change: Change::Owner {
            uid,
            gid,
            // -h, or -R without -H or -L, changes links themselves.
            links: opts.has('h') || (recurse && !follow_top),
        },
        recurse,
        follow: opts.has('L'),
        follow_top,
        depth_first: true,
        verbose: opts.has('v'),
        changed: opts.has('c'),
        quiet: opts.has('f'),
        umask: 0,
    };
    let mut status = 0;
    for file in files {
        if !walk.run(io, file, 0).await {
            status = 1;
        }
    }
    io.flush().await?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::parse_mode;

    #[test]
    fn modes_read_as_busybox_reads_them() {
        let m = |text: &str, current: u32| parse_mode(text, current, false, 0o022);
        assert_eq!(m("600", 0o644), Some(0o600));
        assert_eq!(m("u+x", 0o644), Some(0o744));
        assert_eq!(m("go-r", 0o644), Some(0o600));
        assert_eq!(m("a=rx,u+w", 0o644), Some(0o755));
        assert_eq!(m("+x", 0o644), Some(0o755));
        assert_eq!(m("g+s,o+t", 0o644), Some(0o2644));
        assert_eq!(m("u=g", 0o644), Some(0o444));
        assert_eq!(m("u-w,+t", 0o644), Some(0o1444));
        assert_eq!(m("=r", 0o644), Some(0o444));
        assert_eq!(m("999", 0o644), None);
        assert_eq!(m("x", 0o644), None);
        assert_eq!(m("u+q", 0o644), None);
        assert_eq!(m("u", 0o644), None);
        assert_eq!(parse_mode("+X", 0o644, true, 0o022), Some(0o755));
        assert_eq!(m("+X", 0o644), Some(0o644));
    }
}
