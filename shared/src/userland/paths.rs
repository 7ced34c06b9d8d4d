//! `readlink`: where a symbolic link points, or with `-f` the path with
//! every link followed, as BusyBox's `readlink` answers.

use super::io::Io;
use super::opts::Opts;
use super::text::{Status, usage};
use crate::shell::os::{Kind, Os};

/// How many links one path may pass through (the kernel's `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

pub async fn readlink<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "fnvse", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let [path] = opts.operands.as_slice() else {
        return usage(io, "give one FILE", 1).await;
    };
    let end = if opts.has('n') { "" } else { "\n" };
    let answer = if opts.has('f') {
        canonical(io, path).await
    } else {
        match io.os.lstat(path).await {
            Ok(meta) if meta.kind == Kind::Symlink => io.os.readlink(path).await.ok(),
            Ok(_) => {
                if opts.has('v') {
                    io.say(&format!("{path}: cannot read link: not a symlink"))
                        .await;
                }
                None
            }
            Err(message) => {
                if opts.has('v') {
                    io.say(&format!("{path}: cannot read link: {message}"))
                        .await;
                }
                None
            }
        }
    };
    match answer {
        Some(target) => {
            if io.put_str(&format!("{target}{end}")).await.is_err() || io.flush().await.is_err() {
                return Ok(1);
            }
            Ok(0)
        }
        None => Ok(1),
    }
}

/// The absolute path `path` names with every symbolic link followed and
/// `.` and `..` resolved; the last part need not exist, the others must.
async fn canonical<O: Os>(io: &mut Io<'_, O>, path: &str) -> Option<String> {
    let mut current: Vec<String> = if path.starts_with('/') {
        Vec::new()
    } else {
        let cwd = io.os.chdir(".").await.ok()?;
        cwd.split('/')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut pending: std::collections::VecDeque<String> = path
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    // `dir/` names a directory: its last part must be one.
    let want_dir = path.ends_with('/');
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        match part.as_str() {
            "." => continue,
            ".." => {
                current.pop();
                continue;
            }
            _ => {}
        }
        let candidate = format!("/{}", {
            let mut parts = current.clone();
            parts.push(part.clone());
            parts.join("/")
        });
        match io.os.lstat(&candidate).await {
            Ok(meta) if meta.kind == Kind::Symlink => {
                links += 1;
                if links > MAX_LINKS {
                    return None;
                }
                let target = io.os.readlink(&candidate).await.ok()?;
                if target.starts_with('/') {
                    current.clear();
                }
                for piece in target.split('/').filter(|p| !p.is_empty()).rev() {
                    pending.push_front(piece.to_string());
                }
            }
            Ok(meta) => {
                if (want_dir || !pending.is_empty()) && meta.kind != Kind::Dir {
                    return None;
                }
                current.push(part);
            }
            Err(_) if pending.is_empty() && !want_dir => current.push(part),
            Err(_) => return None,
        }
    }
    Some(format!("/{}", current.join("/")))
}
