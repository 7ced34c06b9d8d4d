//! `ls`, `cat`, `rm`, `touch` and `mkdir`, with busybox's messages.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use anchorage_shared::userland::{flags_and_operands, human, ls_date, mode_string};

/// An I/O error as C's `strerror` words it: "No such file or directory".
pub fn message(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => strerror(nix::errno::Errno::from_raw(code)),
        None => err.to_string(),
    }
}

/// An errno as the C library's `strerror` words it ("Resource temporarily
/// unavailable"), as BusyBox prints it: the standard library asks the C
/// library, and adds " (os error N)", which is not part of the words.
pub fn strerror(errno: nix::errno::Errno) -> String {
    let code = errno as i32;
    let text = io::Error::from_raw_os_error(code).to_string();
    match text.strip_suffix(&format!(" (os error {code})")) {
        Some(words) => words.to_string(),
        None => text,
    }
}

/// Writes to stdout; a closed pipe is the reader's choice, not an error.
pub fn write_stdout(bytes: &[u8]) -> i32 {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(_) => 1,
    }
}

/// The name `/etc/passwd` (or `/etc/group`) gives an id.
pub fn name_of(file: &str, id: u32) -> Option<String> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let number: u32 = fields.nth(1)?.parse().ok()?;
        (number == id).then(|| name.to_string())
    })
}

fn kind_char(meta: &fs::Metadata) -> char {
    let t = meta.file_type();
    if t.is_dir() {
        'd'
    } else if t.is_symlink() {
        'l'
    } else if t.is_char_device() {
        'c'
    } else if t.is_block_device() {
        'b'
    } else if t.is_fifo() {
        'p'
    } else if t.is_socket() {
        's'
    } else {
        '-'
    }
}

fn long_entry(
    path: &std::path::Path,
    name: &str,
    meta: &fs::Metadata,
    human_sizes: bool,
) -> String {
    let user = name_of("/etc/passwd", meta.uid()).unwrap_or_else(|| meta.uid().to_string());
    let group = name_of("/etc/group", meta.gid()).unwrap_or_else(|| meta.gid().to_string());
    let size = if meta.file_type().is_char_device() || meta.file_type().is_block_device() {
        let rdev = meta.rdev();
        format!(
            "{}, {}",
            nix::sys::stat::major(rdev),
            nix::sys::stat::minor(rdev)
        )
    } else if human_sizes {
        human(meta.len())
    } else {
        meta.len().to_string()
    };
    let mut line = format!(
        "{} {:>4} {user:<8} {group:<8} {size:>9} {} {name}",
        mode_string(kind_char(meta), meta.mode()),
        meta.nlink(),
        ls_date(meta.mtime().max(0) as u64)
    );
    if meta.file_type().is_symlink()
        && let Ok(target) = fs::read_link(path)
    {
        line.push_str(&format!(" -> {}", target.display()));
    }
    line
}

pub fn ls(args: &[String]) -> i32 {
    let (flags, mut paths) = flags_and_operands(args);
    if let Some(bad) = flags.chars().find(|c| !"laAd1hF".contains(*c)) {
        eprintln!("ls: invalid option -- '{bad}'");
        return 2;
    }
    let long = flags.contains('l');
    let all = flags.contains('a');
    let almost_all = all || flags.contains('A');
    let human_sizes = flags.contains('h');
    if paths.is_empty() {
        paths.push(".".into());
    }
    let mut code = 0;
    let mut out = String::new();
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for path in &paths {
        let found = if long {
            fs::symlink_metadata(path)
        } else {
            fs::metadata(path)
        };
        match found {
            Ok(meta) if meta.is_dir() && !flags.contains('d') => dirs.push(path.clone()),
            Ok(meta) => files.push((path.clone(), meta)),
            Err(err) => {
                eprintln!("ls: {path}: {}", message(&err));
                code = 2;
            }
        }
    }
    for (name, meta) in &files {
        if long {
            out.push_str(&long_entry(
                std::path::Path::new(name),
                name,
                meta,
                human_sizes,
            ));
        } else {
            out.push_str(name);
        }
        out.push('\n');
    }
    let headers = paths.len() > 1;
    for (i, dir) in dirs.iter().enumerate() {
        if headers {
            if i > 0 || !files.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("{dir}:\n"));
        }
        let mut names: Vec<String> = match fs::read_dir(dir) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| almost_all || !n.starts_with('.'))
                .collect(),
            Err(err) => {
                eprintln!("ls: {dir}: {}", message(&err));
                code = 2;
                continue;
            }
        };
        names.sort();
        if all {
            names.insert(0, "..".into());
            names.insert(0, ".".into());
        }
        if !long {
            for name in names {
                out.push_str(&name);
                out.push('\n');
            }
            continue;
        }
        let mut listed = Vec::new();
        for name in names {
            let path = std::path::Path::new(dir).join(OsStr::from_bytes(name.as_bytes()));
            match fs::symlink_metadata(&path) {
                Ok(meta) => listed.push((path, name, meta)),
                Err(err) => {
                    eprintln!("ls: {name}: {}", message(&err));
                    code = 1;
                }
            }
        }
        // `total` counts 1 KiB blocks.
        let blocks: u64 = listed.iter().map(|(_, _, m)| m.blocks() / 2).sum();
        out.push_str(&format!("total {blocks}\n"));
        for (path, name, meta) in listed {
            out.push_str(&long_entry(&path, &name, &meta, human_sizes));
            out.push('\n');
        }
    }
    write_stdout(out.as_bytes()).max(code)
}

pub fn cat(args: &[String]) -> i32 {
    let mut code = 0;
    let mut stdout = io::stdout().lock();
    if args.is_empty() {
        return match io::copy(&mut io::stdin().lock(), &mut stdout) {
            Ok(_) => 0,
            Err(_) => 1,
        };
    }
    for path in args {
        let mut file = match fs::File::open(path) {
            Ok(file) => file,
            Err(err) => {
                eprintln!("cat: can't open '{path}': {}", message(&err));
                code = 1;
                continue;
            }
        };
        match io::copy(&mut file, &mut stdout) {
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => return code,
            Err(err) => {
                let _ = stdout.flush();
                eprintln!("cat: read error: {}", message(&err));
                code = 1;
            }
        }
    }
    let _ = stdout.flush();
    code
}

pub fn rm(args: &[String]) -> i32 {
    let (flags, paths) = flags_and_operands(args);
    let recursive = flags.contains('r') || flags.contains('R');
    let force = flags.contains('f');
    if paths.is_empty() && !force {
        eprintln!("rm: missing operand");
        return 1;
    }
    let mut code = 0;
    for path in &paths {
        let result = match fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() && recursive => fs::remove_dir_all(path),
            Ok(meta) if meta.is_dir() => Err(io::Error::from_raw_os_error(
                nix::errno::Errno::EISDIR as i32,
            )),
            Ok(_) => fs::remove_file(path),
            Err(err) => Err(err),
        };
        match result {
            Ok(()) => {}
            Err(err) if force && err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => {
                eprintln!("rm: can't remove '{path}': {}", message(&err));
                code = 1;
            }
        }
    }
    code
}

pub fn touch(args: &[String]) -> i32 {
    let mut code = 0;
    for path in args {
        let result = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|file| file.set_modified(std::time::SystemTime::now()));
        if let Err(err) = result {
            eprintln!("touch: {path}: {}", message(&err));
            code = 1;
        }
    }
    code
}

pub fn mkdir(args: &[String]) -> i32 {
    let (flags, paths) = flags_and_operands(args);
    if paths.is_empty() {
        eprintln!("mkdir: missing operand");
        return 1;
    }
    let mut code = 0;
    for path in &paths {
        let result = if flags.contains('p') {
            fs::create_dir_all(path)
        } else {
            fs::create_dir(path)
        };
        if let Err(err) = result {
            eprintln!("mkdir: can't create directory '{path}': {}", message(&err));
            code = 1;
        }
    }
    code
}
