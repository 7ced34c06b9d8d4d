//! `ln`, `cp` and `mv`, as BusyBox's answer: the same choice of where a
//! name goes (`ln f dir` makes `dir/f`), the same order of checks and the
//! same messages (`cp: can't create 'd/x': No such file or directory`).
//! A directory `rename(2)` refuses across file systems (EXDEV, as
//! overlayfs answers for a directory of the image) is copied, then
//! removed, as BusyBox's `mv` does.

use std::collections::HashSet;

use super::find::base_name;
use super::io::Io;
use super::opts::Opts;
use super::text::{Status, usage};
use crate::shell::os::{Kind, Meta, Open, Os};

const NO_ENTRY: &str = "No such file or directory";

/// `dir/name`, without doubling a slash.
pub(super) fn under(dir: &str, name: &str) -> String {
    let name = name.trim_start_matches('/');
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// What is at a path, as `cp` and `mv` first ask: nothing, a file (1)
/// or a directory (3); an error other than "no such file" is said.
async fn kind_of<O: Os>(io: &mut Io<'_, O>, path: &str, follow: bool) -> Result<u8, ()> {
    let found = io.os.stat_as(path, follow).await;
    match found {
        Ok(meta) if meta.kind == Kind::Dir => Ok(3),
        Ok(_) => Ok(1),
        Err(message) if message == NO_ENTRY => Ok(0),
        Err(message) => {
            io.say(&format!("can't stat '{path}': {message}")).await;
            Err(())
        }
    }
}

async fn is_dir<O: Os>(io: &mut Io<'_, O>, path: &str, follow: bool) -> bool {
    let found = io.os.stat_as(path, follow).await;
    found.is_ok_and(|m| m.kind == Kind::Dir)
}

/// Asks on standard error and reads the answer from standard input.
async fn confirm<O: Os>(io: &mut Io<'_, O>, question: &str) -> bool {
    let _ = io.flush().await;
    let _ = io.os.write(2, question.as_bytes()).await;
    let mut answer = Vec::new();
    loop {
        match io.os.read(0, 1).await {
            Ok(byte) if !byte.is_empty() && byte[0] != b'\n' => answer.extend(byte),
            _ => break,
        }
    }
    matches!(answer.first(), Some(b'y' | b'Y'))
}

// ---- ln ----

pub async fn ln<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "sfnbS:vT", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let mut sources = opts.operands.clone();
    if sources.is_empty() {
        return usage(io, "give a TARGET", 1).await;
    }
    if opts.has('T') && sources.len() != 2 {
        return usage(io, "-T takes one TARGET and its LINK", 1).await;
    }
    let suffix = opts.value('S').unwrap_or("~").to_string();
    let backup = opts.has('b');
    if opts.has('T') && is_dir(io, &sources[1], !opts.has('n')).await {
        io.say(&format!("'{}' is a directory", sources[1])).await;
        return Ok(1);
    }
    // One operand: the link is made here, with the target's name.
    let last = if sources.len() == 1 {
        base_name(&sources[0]).to_string()
    } else {
        sources.pop().unwrap_or_default()
    };
    let mut status = 0;
    for source in &sources {
        let mut link = last.clone();
        if !opts.has('T') && is_dir(io, &last, !opts.has('n')).await {
            link = under(&last, base_name(source));
        }
        if !opts.has('s')
            && let Err(message) = io.os.stat(source).await
        {
            // A hard link to a dangling symbolic link is a link to it.
            if !io
                .os
                .lstat(source)
                .await
                .is_ok_and(|m| m.kind == Kind::Symlink)
            {
                io.say(&format!("{source}: {message}")).await;
                status = 1;
                continue;
            }
        }
        if backup {
            let saved = format!("{link}{suffix}");
            if let Err(message) = io.os.rename(&link, &saved).await
                && message != NO_ENTRY
            {
                io.say(&format!("{link}: {message}")).await;
                status = 1;
                continue;
            }
            let _ = io.os.unlink(&link).await;
        } else if opts.has('f') {
            let _ = io.os.unlink(&link).await;
        }
        let made = if opts.has('s') {
            io.os.symlink(source, &link).await
        } else {
            io.os.link(source, &link).await
        };
        match made {
            Err(message) => {
                io.say(&format!("{link}: {message}")).await;
                status = 1;
            }
            Ok(()) if opts.has('v') => io.put_str(&format!("'{link}' -> '{source}'\n")).await?,
            Ok(()) => {}
        }
    }
    io.flush().await?;
    Ok(status)
}

// ---- cp ----

/// How `cp` (or `mv`, copying) copies.
#[derive(Clone, Copy, Default)]
struct How {
    recurse: bool,
    /// Follows symbolic links (cp without -d, -P or -R).
    follow: bool,
    /// Follows the links named on the command line only (-H).
    follow_top: bool,
    preserve: bool,
    force: bool,
    ask: bool,
    keep: bool,
    soft: bool,
    hard: bool,
    newer: bool,
    verbose: bool,
}

/// What one copy met, beyond its own file: the directories it made
/// (a copy into itself stops there).
struct Copier {
    made: HashSet<(u64, u64)>,
    umask: u32,
}

pub async fn cp<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "arRPdLHpfinlsTt:uv", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let archive = opts.has('a');
    let recurse = archive || opts.has('r') || opts.has('R');
    let keep_links = archive || opts.has('d') || opts.has('P');
    let how = How {
        recurse,
        // -R copies links as links unless -L or -H says otherwise.
        follow: !keep_links && (!recurse || opts.has('L') || opts.has('H')),
        follow_top: opts.has('H'),
        preserve: archive || opts.has('p'),
        force: opts.has('f'),
        ask: opts.has('i'),
        keep: opts.has('n'),
        soft: opts.has('s'),
        hard: opts.has('l'),
        newer: opts.has('u'),
        verbose: opts.has('v'),
    };
    let mut sources = opts.operands.clone();
    let last = match opts.value('t') {
        Some(dir) => dir.to_string(),
        None if sources.len() >= 2 => sources.pop().unwrap_or_default(),
        None => return usage(io, "give a SOURCE and a DEST", 1).await,
    };
    if sources.is_empty() {
        return usage(io, "give a SOURCE", 1).await;
    }
    let umask = io.os.umask(None).await;
    let mut copier = Copier {
        made: HashSet::new(),
        umask,
    };
    let mut status = 0;
    if sources.len() == 1 {
        let follow = how.follow || how.follow_top;
        let Ok(source_kind) = kind_of(io, &sources[0], follow).await else {
            return Ok(1);
        };
        let Ok(dest_kind) = kind_of(io, &last, true).await else {
            return Ok(1);
        };
        if opts.has('T') && dest_kind & 2 != 0 {
            io.say(&format!("'{last}' is a directory")).await;
            return Ok(1);
        }
        if opts.has('T')
            || (source_kind | dest_kind) & 2 == 0
            || (how.recurse && source_kind & 2 != 0 && dest_kind == 0)
        {
            let top = How {
                follow: how.follow || how.follow_top,
                ..how
            };
            if copier.copy(io, &sources[0], &last, top).await.is_err() {
                status = 1;
            }
            io.flush().await?;
            return Ok(status);
        }
    }
    for source in &sources {
        let dest = under(&last, base_name(source));
        let top = How {
            follow: how.follow || how.follow_top,
            ..how
        };
        if copier.copy(io, source, &dest, top).await.is_err() {
            status = 1;
        }
    }
    io.flush().await?;
    Ok(status)
}

impl Copier {
    /// Copies one file, link or tree, as BusyBox's `copy_file`.
    async fn copy<O: Os>(
        &mut self,
        io: &mut Io<'_, O>,
        source: &str,
        dest: &str,
        how: How,
    ) -> Result<(), ()> {
        let found = io.os.stat_as(source, how.follow).await;
        let meta = match found {
            Ok(meta) => meta,
            Err(message) => {
                io.say(&format!("can't stat '{source}': {message}")).await;
                return Err(());
            }
        };
        let mut existing = match io.os.lstat(dest).await {
            Ok(there) => {
                if there.dev == meta.dev && there.ino == meta.ino {
                    io.say(&format!("'{source}' and '{dest}' are the same file"))
                        .await;
                    return Err(());
                }
                if how.keep {
                    return Ok(());
                }
                Some(there)
            }
            Err(message) if message == NO_ENTRY => None,
            Err(message) => {
                io.say(&format!("can't stat '{dest}': {message}")).await;
                return Err(());
            }
        };
        if meta.kind == Kind::Dir {
            return self.copy_dir(io, source, dest, how, &meta, existing).await;
        }
        if let Some(there) = &existing {
            if how.newer && meta.mtime <= there.mtime {
                return Ok(());
            }
            if how.ask && !confirm(io, &format!("{}: overwrite '{dest}'? ", io.name)).await {
                return Ok(());
            }
        }
        if how.soft || how.hard {
            let made = if how.soft {
                io.os.symlink(source, dest).await
            } else {
                io.os.link(source, dest).await
            };
            if let Err(message) = made {
                if !self.unlink_to_retry(io, dest, &message, how).await? {
                    return Ok(());
                }
                let again = if how.soft {
                    io.os.symlink(source, dest).await
                } else {
                    io.os.link(source, dest).await
                };
                if let Err(message) = again {
                    io.say(&format!("can't create link '{dest}': {message}"))
                        .await;
                    return Err(());
                }
            }
            return Ok(());
        }
        if meta.kind == Kind::File || (!how.recurse && meta.kind != Kind::Symlink) {
            return self.copy_data(io, source, dest, how, &meta, existing).await;
        }
        if meta.kind == Kind::Symlink && !how.follow {
            if existing.take().is_some()
                && !self.unlink_to_retry(io, dest, "File exists", how).await?
            {
                return Ok(());
            }
            let Ok(target) = io.os.readlink(source).await else {
                io.say(&format!("{source}: cannot read link")).await;
                return Err(());
            };
            if let Err(message) = io.os.symlink(&target, dest).await {
                io.say(&format!(
                    "can't create symlink '{dest}' to '{target}': {message}"
                ))
                .await;
                return Err(());
            }
            if how.preserve
                && let Err(message) = io
                    .os
                    .chown(dest, Some(meta.uid), Some(meta.gid), false)
                    .await
            {
                io.say(&format!("can't preserve ownership of '{dest}': {message}"))
                    .await;
            }
            return Ok(());
        }
        // A device, a fifo or a socket, copied as itself: this `cp` does
        // not make device nodes.
        io.say(&format!(
            "can't create '{dest}': special files are not copied here (copy its contents without -R)"
        ))
        .await;
        Err(())
    }

    /// A destination that could not be made: with -f (or -i, said yes
    /// to), it is removed and tried again; otherwise the error is said.
    /// Whether to try again.
    async fn unlink_to_retry<O: Os>(
        &mut self,
        io: &mut Io<'_, O>,
        dest: &str,
        why: &str,
        how: How,
    ) -> Result<bool, ()> {
        if !how.force && !how.ask {
            io.say(&format!("can't create '{dest}': {why}")).await;
            return Err(());
        }
        if io.os.unlink(dest).await.is_err() {
            io.say(&format!("can't create '{dest}': {why}")).await;
            return Err(());
        }
        Ok(true)
    }

    async fn copy_dir<O: Os>(
        &mut self,
        io: &mut Io<'_, O>,
        source: &str,
        dest: &str,
        how: How,
        meta: &Meta,
        existing: Option<Meta>,
    ) -> Result<(), ()> {
        if !how.recurse {
            io.say(&format!("omitting directory '{source}'")).await;
            return Err(());
        }
        if self.made.contains(&(meta.dev, meta.ino)) {
            io.say(&format!(
                "recursion detected, omitting directory '{source}'"
            ))
            .await;
            return Err(());
        }
        let made = match &existing {
            Some(there) if there.kind != Kind::Dir => {
                io.say(&format!("target '{dest}' is not a directory")).await;
                return Err(());
            }
            Some(there) => *there,
            None => {
                let mut mode = if how.preserve {
                    meta.mode
                } else {
                    meta.mode & !self.umask
                };
                // The owner may at least fill it.
                mode |= 0o700;
                let saved = io.os.umask(Some(0)).await;
                let result = io.os.mkdir(dest, mode).await;
                io.os.umask(Some(saved)).await;
                if let Err(message) = result {
                    io.say(&format!("can't create directory '{dest}': {message}"))
                        .await;
                    return Err(());
                }
                match io.os.lstat(dest).await {
                    Ok(made) => made,
                    Err(message) => {
                        io.say(&format!("can't stat '{dest}': {message}")).await;
                        return Err(());
                    }
                }
            }
        };
        self.made.insert((made.dev, made.ino));
        let mut result = Ok(());
        let mut names = io.os.read_dir(source).await.unwrap_or_default();
        names.retain(|n| n != "." && n != "..");
        for name in names {
            let inner = How {
                follow: how.follow && !how.follow_top,
                ..how
            };
            let from = under(source, &name);
            let to = under(dest, &name);
            if Box::pin(self.copy(io, &from, &to, inner)).await.is_err() {
                result = Err(());
            }
        }
        if existing.is_none()
            && let Err(message) = io.os.chmod(dest, meta.mode & !self.umask).await
        {
            io.say(&format!(
                "can't preserve permissions of '{dest}': {message}"
            ))
            .await;
        }
        self.finish(io, source, dest, how, meta).await;
        result
    }

    async fn copy_data<O: Os>(
        &mut self,
        io: &mut Io<'_, O>,
        source: &str,
        dest: &str,
        how: How,
        meta: &Meta,
        existing: Option<Meta>,
    ) -> Result<(), ()> {
        let input = match io.os.open(source, Open::Read).await {
            Ok(fd) => fd,
            Err(message) => {
                io.say(&format!("can't open '{source}': {message}")).await;
                return Err(());
            }
        };
        let output = match io.os.open(dest, Open::Write).await {
            Ok(fd) => fd,
            Err(message) => {
                let retry = self.unlink_to_retry(io, dest, &message, how).await;
                let again = match retry {
                    Ok(true) => io.os.open(dest, Open::Write).await,
                    _ => {
                        io.os.close(input).await;
                        return if retry.is_ok() { Ok(()) } else { Err(()) };
                    }
                };
                match again {
                    Ok(fd) => fd,
                    Err(message) => {
                        io.say(&format!("can't open '{dest}': {message}")).await;
                        io.os.close(input).await;
                        return Err(());
                    }
                }
            }
        };
        // A new file takes the source's mode, less the umask, as open(2)
        // with that mode would make it.
        let created = existing.is_none();
        let mut result = Ok(());
        loop {
            match io.os.read(input, 64 * 1024).await {
                Ok(data) if data.is_empty() => break,
                Ok(data) => {
                    if let Err(err) = io.os.write(output, &data).await {
                        let message = match err {
                            crate::shell::os::WriteError::BrokenPipe => "Broken pipe".to_string(),
                            crate::shell::os::WriteError::Other(m) => m,
                        };
                        io.say(&format!("error writing to '{dest}': {message}"))
                            .await;
                        result = Err(());
                        break;
                    }
                }
                Err(message) => {
                    io.say(&format!("read error: {message}")).await;
                    result = Err(());
                    break;
                }
            }
            io.os.yield_now().await;
        }
        io.os.close(output).await;
        io.os.close(input).await;
        if meta.kind != Kind::File {
            return result;
        }
        if created {
            let _ = io.os.chmod(dest, meta.mode & !self.umask).await;
        }
        self.finish(io, source, dest, how, meta).await;
        result
    }

    /// With -p: the source's times, owner and mode; with -v: what was
    /// copied where.
    async fn finish<O: Os>(
        &mut self,
        io: &mut Io<'_, O>,
        source: &str,
        dest: &str,
        how: How,
        meta: &Meta,
    ) {
        if how.preserve {
            if let Err(message) = io.os.utime(dest, meta.mtime, meta.mtime).await {
                io.say(&format!("can't preserve times of '{dest}': {message}"))
                    .await;
            }
            let mut mode = meta.mode;
            if let Err(message) = io
                .os
                .chown(dest, Some(meta.uid), Some(meta.gid), true)
                .await
            {
                mode &= !0o6000;
                io.say(&format!("can't preserve ownership of '{dest}': {message}"))
                    .await;
            }
            if let Err(message) = io.os.chmod(dest, mode).await {
                io.say(&format!(
                    "can't preserve permissions of '{dest}': {message}"
                ))
                .await;
            }
        }
        if how.verbose {
            let _ = io.put_str(&format!("'{source}' -> '{dest}'\n")).await;
        }
    }
}

// ---- mv ----

pub async fn mv<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "finTt:v", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let mut sources = opts.operands.clone();
    let last = match opts.value('t') {
        Some(dir) => dir.to_string(),
        None if sources.len() >= 2 => sources.pop().unwrap_or_default(),
        None => return usage(io, "give a SOURCE and a DEST", 1).await,
    };
    if sources.is_empty() {
        return usage(io, "give a SOURCE", 1).await;
    }
    let mut status = 0;
    if sources.len() == 1 {
        let Ok(kind) = kind_of(io, &last, true).await else {
            return Ok(1);
        };
        if kind & 2 == 0 {
            let result = move_one(io, &sources[0], &last, kind, &opts).await;
            io.flush().await?;
            return Ok(i32::from(result.is_err()));
        }
        if opts.has('T') {
            io.say(&format!("'{last}' is a directory")).await;
            return Ok(1);
        }
    }
    for source in &sources {
        let dest = under(&last, base_name(source));
        let Ok(kind) = kind_of(io, &dest, true).await else {
            status = 1;
            continue;
        };
        if move_one(io, source, &dest, kind, &opts).await.is_err() {
            status = 1;
        }
    }
    io.flush().await?;
    Ok(status)
}

/// One `rename(2)`, or across file systems a copy and a removal.
async fn move_one<O: Os>(
    io: &mut Io<'_, O>,
    source: &str,
    dest: &str,
    dest_kind: u8,
    opts: &Opts,
) -> Result<(), ()> {
    if dest_kind != 0 {
        if opts.has('n') {
            return Ok(());
        }
        if opts.has('i')
            && !opts.has('f')
            && !confirm(io, &format!("mv: overwrite '{dest}'? ")).await
        {
            return Ok(());
        }
    }
    let Err(message) = io.os.rename(source, dest).await else {
        return moved(io, source, dest, opts).await;
    };
    let source_kind = if message == "Invalid cross-device link" {
        kind_of(io, source, false).await.unwrap_or(0)
    } else {
        0
    };
    if source_kind == 0 {
        io.say(&format!("can't rename '{source}': {message}")).await;
        return Err(());
    }
    if dest_kind != 0 {
        if dest_kind == 3 && source_kind != 3 {
            io.say("can't overwrite directory with non-directory").await;
            return Err(());
        }
        if dest_kind != 3 && source_kind == 3 {
            io.say("can't overwrite non-directory with directory").await;
            return Err(());
        }
        if let Err(message) = io.os.unlink(dest).await {
            io.say(&format!("can't remove '{dest}': {message}")).await;
            return Err(());
        }
    }
    let umask = io.os.umask(None).await;
    let mut copier = Copier {
        made: HashSet::new(),
        umask,
    };
    let how = How {
        recurse: true,
        preserve: true,
        ..How::default()
    };
    copier.copy(io, source, dest, how).await?;
    remove_tree(io, source).await?;
    moved(io, source, dest, opts).await
}

async fn moved<O: Os>(io: &mut Io<'_, O>, source: &str, dest: &str, opts: &Opts) -> Result<(), ()> {
    if opts.has('v') {
        io.put_str(&format!("'{source}' -> '{dest}'\n"))
            .await
            .map_err(|_| ())?;
    }
    Ok(())
}

/// Removes a file or a whole tree, as `rm -rf` would, saying what could
/// not be removed.
pub(super) async fn remove_tree<O: Os>(io: &mut Io<'_, O>, path: &str) -> Result<(), ()> {
    let meta = match io.os.lstat(path).await {
        Ok(meta) => meta,
        Err(message) if message == NO_ENTRY => return Ok(()),
        Err(message) => {
            io.say(&format!("can't stat '{path}': {message}")).await;
            return Err(());
        }
    };
    if meta.kind == Kind::Dir {
        let mut result = Ok(());
        let names = io.os.read_dir(path).await.unwrap_or_default();
        for name in names.iter().filter(|n| *n != "." && *n != "..") {
            if Box::pin(remove_tree(io, &under(path, name))).await.is_err() {
                result = Err(());
            }
        }
        if let Err(message) = io.os.rmdir(path).await {
            io.say(&format!("can't remove '{path}': {message}")).await;
            return Err(());
        }
        return result;
    }
    if let Err(message) = io.os.unlink(path).await {
        io.say(&format!("can't remove '{path}': {message}")).await;
        return Err(());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_under_a_directory_as_busybox_puts_them() {
        assert_eq!(under("d/", "f"), "d/f");
        assert_eq!(under("d", "/f"), "d/f");
    }
}
