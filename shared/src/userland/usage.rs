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
