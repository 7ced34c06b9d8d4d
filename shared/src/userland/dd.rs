//! `dd`: copies blocks, as BusyBox's: `if=`, `of=`, `bs=`, `ibs=`,
//! `obs=`, `count=`, `skip=`, `seek=`, `conv=`, `iflag=`, `oflag=` and
//! `status=`, numbers with BusyBox's suffixes, the records in and out on
//! standard error. Its buffer is memory the process holds, so a big `bs=`
//! meets the memory cgroup.

use super::io::Io;
use super::text::{Status, usage};
use crate::shell::os::{Fd, Kind, Open, Os, WriteError};

/// BusyBox's `dd` suffixes.
const SUFFIXES: &[(&str, u64)] = &[
    ("c", 1),
    ("w", 2),
    ("b", 512),
    ("kB", 1000),
    ("kD", 1000),
    ("k", 1024),
    ("K", 1024),
    ("MB", 1_000_000),
    ("MD", 1_000_000),
    ("M", 1 << 20),
    ("GB", 1_000_000_000),
    ("GD", 1_000_000_000),
    ("G", 1 << 30),
];

fn number(text: &str) -> Result<u64, String> {
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (value, suffix) = text.split_at(digits);
    let invalid = || format!("invalid number '{text}'");
    let value: u64 = value.parse().map_err(|_| invalid())?;
    let scale = if suffix.is_empty() {
        1
    } else {
        SUFFIXES
            .iter()
            .find(|(s, _)| *s == suffix)
            .map(|(_, n)| *n)
            .ok_or_else(invalid)?
    };
    value.checked_mul(scale).ok_or_else(invalid)
}

#[derive(Default)]
struct Flags {
    notrunc: bool,
    noerror: bool,
    sync: bool,
    fsync: bool,
    swab: bool,
    skip_bytes: bool,
    count_bytes: bool,
    fullblock: bool,
    seek_bytes: bool,
    append: bool,
    quiet: bool,
}

#[derive(Default)]
struct Records {
    in_full: u64,
    in_part: u64,
    out_full: u64,
    out_part: u64,
}

/// The most one block may be: BusyBox's limit is the address space;
/// here a block past 64 MiB is refused before it is allocated (the
/// simulated kernel holds its copies in the page's memory).
const MAX_BLOCK: u64 = 64 << 20;

pub async fn dd<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let mut ibs = 512;
    let mut obs = 512;
    let (mut count, mut skip, mut seek) = (None, 0, 0);
    let (mut input, mut output) = (None, None);
    let mut flags = Flags::default();
    for arg in args {
        let Some((key, value)) = arg.split_once('=') else {
            return usage(io, &format!("unknown operand '{arg}'"), 1).await;
        };
        let size = |text: &str| -> Result<u64, String> {
            let n = number(text)?;
            if n == 0 {
                return Err(format!("number {n} is not in 1..{} range", i64::MAX));
            }
            if n > MAX_BLOCK {
                return Err(format!(
                    "a block of {n} bytes is more than this dd takes (64M): give a smaller bs= and a larger count="
                ));
            }
            Ok(n)
        };
        let parsed = match key {
            "bs" => size(value).map(|n| {
                ibs = n;
                obs = n;
            }),
            "ibs" => size(value).map(|n| ibs = n),
            "obs" => size(value).map(|n| obs = n),
            "count" => number(value).map(|n| count = Some(n)),
            "skip" => number(value).map(|n| skip = n),
            "seek" => number(value).map(|n| seek = n),
            "if" => {
                input = Some(value.to_string());
                Ok(())
            }
            "of" => {
                output = Some(value.to_string());
                Ok(())
            }
            "conv" | "iflag" | "oflag" | "status" => {
                let mut result = Ok(());
                for word in value.split(',') {
                    let known = match (key, word) {
                        ("conv", "notrunc") => Some(&mut flags.notrunc),
                        ("conv", "noerror") => Some(&mut flags.noerror),
                        ("conv", "sync") => Some(&mut flags.sync),
                        ("conv", "fsync") => Some(&mut flags.fsync),
                        ("conv", "swab") => Some(&mut flags.swab),
                        ("iflag", "skip_bytes") => Some(&mut flags.skip_bytes),
                        ("iflag", "count_bytes") => Some(&mut flags.count_bytes),
                        ("iflag", "fullblock") => Some(&mut flags.fullblock),
                        ("oflag", "seek_bytes") => Some(&mut flags.seek_bytes),
                        ("oflag", "append") => Some(&mut flags.append),
                        ("status", "none") => Some(&mut flags.quiet),
                        ("status", "noxfer") => None,
                        _ => {
                            result = Err(format!("invalid argument '{word}' to '{key}'"));
                            break;
                        }
                    };
                    if let Some(flag) = known {
                        *flag = true;
                    }
                }
                result
            }
            _ => return usage(io, &format!("unknown operand '{arg}'"), 1).await,
        };
        if let Err(message) = parsed {
            io.say(&message).await;
            return Ok(1);
        }
    }
    let in_name = input.clone().unwrap_or_else(|| "standard input".into());
    let out_name = output.clone().unwrap_or_else(|| "standard output".into());
    let in_fd: Fd = match &input {
        Some(path) => match io.os.open(path, Open::Read).await {
            Ok(fd) => fd,
            Err(message) => {
                io.say(&format!("can't open '{path}': {message}")).await;
                return Ok(1);
            }
        },
        None => 0,
    };
    let out_fd: Fd = match &output {
        Some(path) => {
            // BusyBox truncates unless told not to, even to append.
            let how = if seek == 0 && !flags.notrunc {
                Open::Write
            } else if flags.append {
                Open::Append
            } else {
                Open::ReadWrite
            };
            match io.os.open(path, how).await {
                Ok(fd) => fd,
                Err(message) => {
                    io.say(&format!("can't open '{path}': {message}")).await;
                    return Ok(1);
                }
            }
        }
        None => 1,
    };
    if seek > 0
        && !flags.notrunc
        && let Some(path) = &output
    {
        let block = if flags.seek_bytes { 1 } else { obs };
        if let Err(message) = io.os.truncate(out_fd, seek.saturating_mul(block)).await {
            // A device cannot be truncated, and need not be.
            let stored = io
                .os
                .stat(path)
                .await
                .is_ok_and(|m| matches!(m.kind, Kind::File | Kind::Dir));
            if stored {
                io.say(&format!("{out_name}: {message}")).await;
                return Ok(1);
            }
        }
    }
    // The blocks it holds: the simulated kernel charges them to its cgroup.
    let held = ibs + if ibs == obs { 0 } else { obs };
    io.hold(held).await;
    let names = (in_name.as_str(), out_name.as_str());
    let result = copy(
        io,
        (in_fd, out_fd),
        names,
        (ibs, obs),
        (count, skip, seek),
        &flags,
    )
    .await;
    io.release(held).await;
    let (records, failure) = match result {
        Ok(records) => (records, None),
        Err((records, message, fatal)) => {
            io.say(&message).await;
            if fatal {
                return Ok(1);
            }
            (records, Some(()))
        }
    };
    if input.is_some() {
        io.os.close(in_fd).await;
    }
    if output.is_some() {
        io.os.close(out_fd).await;
    }
    if !flags.quiet {
        let text = format!(
            "{}+{} records in\n{}+{} records out\n",
            records.in_full, records.in_part, records.out_full, records.out_part
        );
        let _ = io.flush().await;
        let _ = io.os.write(2, text.as_bytes()).await;
    }
    Ok(i32::from(failure.is_some()))
}

/// What went wrong: the records so far, the message, and whether `dd`
/// ends there without its status lines.
type Failure = (Records, String, bool);

async fn copy<O: Os>(
    io: &mut Io<'_, O>,
    (in_fd, out_fd): (Fd, Fd),
    (in_name, out_name): (&str, &str),
    (ibs, obs): (u64, u64),
    (count, skip, seek): (Option<u64>, u64, u64),
    flags: &Flags,
) -> Result<Records, Failure> {
    let mut records = Records::default();
    if skip > 0 {
        let block = if flags.skip_bytes { 1 } else { ibs };
        let target = skip.saturating_mul(block);
        if io.os.seek(in_fd, target as i64).await.is_err() {
            // A pipe cannot seek: read the blocks and drop them.
            let mut left = skip;
            while left > 0 {
                match read_block(io, in_fd, block as usize, flags.fullblock).await {
                    Ok(data) if data.is_empty() => break,
                    Ok(_) => left -= 1,
                    Err(message) => return Err((records, format!("{in_name}: {message}"), true)),
                }
            }
        }
    }
    if seek > 0 {
        let block = if flags.seek_bytes { 1 } else { obs };
        if let Err(message) = io.os.seek(out_fd, seek.saturating_mul(block) as i64).await {
            return Err((records, format!("{out_name}: {message}"), true));
        }
    }
    let mut pending: Vec<u8> = Vec::new();
    let mut read_total = 0u64;
    // Where the input is, for skipping a bad block.
    let mut position = if flags.skip_bytes {
        skip
    } else {
        skip.saturating_mul(ibs)
    };
    loop {
        let want = match count {
            Some(n) if flags.count_bytes => {
                if read_total >= n {
                    break;
                }
                (n - read_total).min(ibs)
            }
            Some(n) if records.in_full + records.in_part >= n => break,
            _ => ibs,
        };
        let mut block = match read_block(io, in_fd, want as usize, flags.fullblock).await {
            Ok(data) if data.is_empty() => break,
            Ok(data) => data,
            Err(message) if flags.noerror => {
                // A bad block is skipped (and with sync written as zeros).
                io.say(&format!("{in_name}: {message}")).await;
                position += ibs;
                if let Err(message) = io.os.seek(in_fd, position as i64).await {
                    return Err((records, format!("{in_name}: {message}"), true));
                }
                Vec::new()
            }
            Err(message) => return Err((records, format!("{in_name}: {message}"), true)),
        };
        read_total += block.len() as u64;
        position += block.len() as u64;
        if flags.swab {
            for pair in block.chunks_exact_mut(2) {
                pair.swap(0, 1);
            }
        }
        if block.len() as u64 == ibs {
            records.in_full += 1;
        } else {
            records.in_part += 1;
            if flags.sync {
                block.resize(ibs as usize, 0);
            }
        }
        if ibs == obs {
            write_block(io, (out_fd, out_name), &block, obs, &mut records).await?;
        } else {
            pending.extend_from_slice(&block);
            while pending.len() as u64 >= obs {
                let rest = pending.split_off(obs as usize);
                let full = std::mem::replace(&mut pending, rest);
                write_block(io, (out_fd, out_name), &full, obs, &mut records).await?;
            }
        }
        io.os.yield_now().await;
    }
    if !pending.is_empty() {
        let last = std::mem::take(&mut pending);
        write_block(io, (out_fd, out_name), &last, obs, &mut records).await?;
    }
    Ok(records)
}

/// One read (with `fullblock`, reads until the block is full or the
/// input ends).
async fn read_block<O: Os>(
    io: &mut Io<'_, O>,
    fd: Fd,
    size: usize,
    full: bool,
) -> Result<Vec<u8>, String> {
    let mut block = io.os.read(fd, size).await?;
    while full && !block.is_empty() && block.len() < size {
        let more = io.os.read(fd, size - block.len()).await?;
        if more.is_empty() {
            break;
        }
        block.extend(more);
    }
    Ok(block)
}

async fn write_block<O: Os>(
    io: &mut Io<'_, O>,
    (fd, name): (Fd, &str),
    data: &[u8],
    obs: u64,
    records: &mut Records,
) -> Result<(), Failure> {
    if data.is_empty() {
        return Ok(());
    }
    match io.os.write(fd, data).await {
        Ok(()) => {
            if data.len() as u64 == obs {
                records.out_full += 1;
            } else {
                records.out_part += 1;
            }
            Ok(())
        }
        Err(err) => {
            let message = match err {
                WriteError::BrokenPipe => "Broken pipe".to_string(),
                WriteError::Other(message) => message,
            };
            Err((
                std::mem::take(records),
                format!("error writing '{name}': {message}"),
                false,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers_take_busybox_suffixes() {
        assert_eq!(number("2"), Ok(2));
        assert_eq!(number("1k"), Ok(1024));
        assert_eq!(number("1kB"), Ok(1000));
        assert_eq!(number("2M"), Ok(2 << 20));
        assert_eq!(number("3b"), Ok(1536));
        assert!(number("x").is_err());
        assert!(number("1q").is_err());
    }
}
