//! `sort` (keys, numbers, folding, `-u`, `-c`, `-o`) and `uniq` (counts,
//! repeats, skipped fields and characters), as BusyBox's.

use super::io::{Io, Out, Stop};
use super::opts::Opts;
use super::text::{Status, inputs, strip_newline, usage};
use crate::shell::os::Os;

#[derive(Clone, Default)]
struct KeyFlags {
    numeric: bool,
    reverse: bool,
    fold: bool,
    blanks: bool,
}

struct Key {
    start: (usize, usize),
    end: Option<(usize, usize)>,
    flags: Option<KeyFlags>,
}

fn parse_key(text: &str) -> Option<Key> {
    let (start, end) = match text.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    let mut flags = KeyFlags::default();
    let mut any = false;
    let mut position = |part: &str| -> Option<(usize, usize)> {
        let digits_end = part
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(part.len());
        for c in part[digits_end..].chars() {
            any = true;
            match c {
                'n' => flags.numeric = true,
                'r' => flags.reverse = true,
                'f' => flags.fold = true,
                'b' => flags.blanks = true,
                _ => return None,
            }
        }
        let spot = &part[..digits_end];
        let (field, ch) = match spot.split_once('.') {
            Some((f, c)) => (f.parse().ok()?, c.parse().ok()?),
            None => (spot.parse().ok()?, 0),
        };
        (field >= 1).then_some((field, ch))
    };
    let start = position(start)?;
    let end = match end {
        Some(e) => Some(position(e)?),
        None => None,
    };
    Some(Key {
        start,
        end,
        flags: any.then_some(flags),
    })
}

/// The fields of a line: with a separator, split on it; else each field
/// starts with the blanks before it, as POSIX says.
fn fields(line: &[u8], separator: Option<u8>) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    match separator {
        Some(sep) => {
            let mut start = 0;
            for (i, b) in line.iter().enumerate() {
                if *b == sep {
                    out.push((start, i));
                    start = i + 1;
                }
            }
            out.push((start, line.len()));
        }
        None => {
            let mut i = 0;
            while i < line.len() {
                let start = i;
                while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
                    i += 1;
                }
                while i < line.len() && line[i] != b' ' && line[i] != b'\t' {
                    i += 1;
                }
                out.push((start, i));
            }
        }
    }
    out
}

fn key_text<'l>(line: &'l [u8], key: &Key, separator: Option<u8>, blanks: bool) -> &'l [u8] {
    let fields = fields(line, separator);
    let skip_blanks = |mut at: usize, end: usize| {
        while blanks && at < end && (line[at] == b' ' || line[at] == b'\t') {
            at += 1;
        }
        at
    };
    let Some(&(s, e)) = fields.get(key.start.0 - 1) else {
        return &[];
    };
    let s = skip_blanks(s, e);
    let begin = if key.start.1 > 0 {
        s.saturating_add(key.start.1 - 1).min(e)
    } else {
        s
    };
    let finish = match key.end {
        None => line.len(),
        Some((field, ch)) => match fields.get(field - 1) {
            None => line.len(),
            Some(&(fs, fe)) if ch > 0 => skip_blanks(fs, fe).saturating_add(ch).min(fe),
            Some(&(_, fe)) => fe,
        },
    };
    if finish <= begin {
        &[]
    } else {
        &line[begin..finish]
    }
}

/// A number at the start of a key, as `sort -n` reads it (blanks, a
/// sign, digits, a decimal point); none is 0.
fn leading_number(text: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(text);
    let s = s.trim_start();
    let mut end = 0;
    let bytes = s.as_bytes();
    if end < bytes.len() && (bytes[end] == b'-' || bytes[end] == b'+') {
        end += 1;
    }
    let mut dot = false;
    while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.' && !dot) {
        dot |= bytes[end] == b'.';
        end += 1;
    }
    s[..end].parse().unwrap_or(0.0)
}

fn compare_by(a: &[u8], b: &[u8], flags: &KeyFlags) -> std::cmp::Ordering {
    let order = if flags.numeric {
        leading_number(a)
            .partial_cmp(&leading_number(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    } else if flags.fold {
        a.to_ascii_uppercase().cmp(&b.to_ascii_uppercase())
    } else {
        a.cmp(b)
    };
    if flags.reverse {
        order.reverse()
    } else {
        order
    }
}

pub async fn sort<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "nrufbsct:k:o:", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let global = KeyFlags {
        numeric: opts.has('n'),
        reverse: opts.has('r'),
        fold: opts.has('f'),
        blanks: opts.has('b'),
    };
    let separator = match opts.value('t') {
        Some(t) if t.len() == 1 => Some(t.as_bytes()[0]),
        Some(_) => return usage(io, "bad -t parameter", 1).await,
        None => None,
    };
    let mut keys = Vec::new();
    for text in opts.values('k') {
        match parse_key(text) {
            Some(key) => keys.push(key),
            None => return usage(io, &format!("bad -k parameter '{text}'"), 1).await,
        }
    }
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut code = 0;
    for file in inputs(&opts.operands) {
        let Some(mut input) = io.open(&file).await else {
            code = 2;
            continue;
        };
        loop {
            match input.line(io).await {
                Ok(Some(line)) => {
                    io.hold(line.len() as u64 + 24).await;
                    lines.push(strip_newline(&line).to_vec());
                }
                Ok(None) => break,
                Err(message) => {
                    io.say(&format!("{file}: {message}")).await;
                    code = 2;
                    break;
                }
            }
        }
        io.close(input).await;
    }
    let compare = |a: &Vec<u8>, b: &Vec<u8>| -> std::cmp::Ordering {
        if keys.is_empty() {
            let (ka, kb) = if global.blanks {
                (a.trim_ascii_start(), b.trim_ascii_start())
            } else {
                (&a[..], &b[..])
            };
            return compare_by(ka, kb, &global);
        }
        for key in &keys {
            let flags = key.flags.clone().unwrap_or_else(|| global.clone());
            let ka = key_text(a, key, separator, flags.blanks);
            let kb = key_text(b, key, separator, flags.blanks);
            let order = compare_by(ka, kb, &flags);
            if order.is_ne() {
                return order;
            }
        }
        std::cmp::Ordering::Equal
    };
    let last_resort = |a: &Vec<u8>, b: &Vec<u8>| {
        let order = compare(a, b);
        if order.is_ne() || opts.has('s') {
            order
        } else if global.reverse {
            b.cmp(a)
        } else {
            a.cmp(b)
        }
    };
    if opts.has('c') {
        for (i, pair) in lines.windows(2).enumerate() {
            let order = last_resort(&pair[0], &pair[1]);
            let same_key = compare(&pair[0], &pair[1]).is_eq();
            if order.is_gt() || opts.has('u') && same_key {
                // BusyBox's words, without its name: the first line of
                // the pair out of order.
                let message = format!("Check line {}\n", i + 1);
                let _ = io.os.write(2, message.as_bytes()).await;
                return Ok(1);
            }
        }
        return Ok(code);
    }
    lines.sort_by(last_resort);
    if opts.has('u') {
        lines.dedup_by(|b, a| compare(a, b).is_eq());
    }
    // `-o` may name an input: it is opened only now that all is read.
    let output = match opts.value('o') {
        Some(path) => match io.os.open(path, crate::shell::os::Open::Write).await {
            Ok(fd) => Some(fd),
            Err(message) => {
                io.say(&format!("{path}: {message}")).await;
                return Ok(2);
            }
        },
        None => None,
    };
    let mut out: Vec<u8> = Vec::new();
    for line in &lines {
        out.extend_from_slice(line);
        out.push(b'\n');
        if out.len() >= 4096 {
            write_to(io, output, &mut out).await?;
        }
    }
    write_to(io, output, &mut out).await?;
    if let Some(fd) = output {
        io.os.close(fd).await;
    }
    io.flush().await?;
    Ok(code)
}

// ---- uniq ----

pub async fn uniq<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "cduif:s:w:", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let number = |c: char| -> Result<usize, String> {
        match opts.value(c) {
            None => Ok(0),
            Some(text) => text.parse().map_err(|_| format!("invalid number '{text}'")),
        }
    };
    let (skip_fields, skip_chars, width) = match (number('f'), number('s'), number('w')) {
        (Ok(f), Ok(s), Ok(w)) => (f, s, w),
        (Err(m), _, _) | (_, Err(m), _) | (_, _, Err(m)) => return usage(io, &m, 1).await,
    };
    let file = opts.operands.first().cloned().unwrap_or_else(|| "-".into());
    let Some(mut input) = io.open(&file).await else {
        return Ok(1);
    };
    let output = match opts.operands.get(1) {
        Some(path) => match io.os.open(path, crate::shell::os::Open::Write).await {
            Ok(fd) => Some(fd),
            Err(message) => {
                io.say(&format!("{path}: {message}")).await;
                return Ok(1);
            }
        },
        None => None,
    };
    let key = |line: &[u8]| -> Vec<u8> {
        let mut at = 0;
        for _ in 0..skip_fields {
            while at < line.len() && (line[at] == b' ' || line[at] == b'\t') {
                at += 1;
            }
            while at < line.len() && line[at] != b' ' && line[at] != b'\t' {
                at += 1;
            }
        }
        at = at.saturating_add(skip_chars).min(line.len());
        let mut k = line[at..].to_vec();
        if width > 0 {
            k.truncate(width);
        }
        if opts.has('i') {
            k.make_ascii_lowercase();
        }
        k
    };
    let mut current: Option<(Vec<u8>, Vec<u8>, u64)> = None;
    let mut out = Vec::new();
    loop {
        let next = match input.line(io).await {
            Ok(next) => next.map(|l| strip_newline(&l).to_vec()),
            Err(message) => {
                io.say(&format!("{file}: {message}")).await;
                None
            }
        };
        let next_key = next.as_deref().map(key);
        if let Some((_, k, n)) = &mut current
            && next_key.as_ref() == Some(k)
        {
            *n += 1;
            continue;
        }
        if let Some((line, _, n)) = current.take() {
            let show = !(opts.has('d') && n == 1 || opts.has('u') && n > 1);
            if show {
                if opts.has('c') {
                    out.extend(format!("{n:7} ").bytes());
                }
                out.extend(line);
                out.push(b'\n');
            }
        }
        match (next, next_key) {
            (Some(line), Some(k)) => current = Some((line, k, 1)),
            _ => break,
        }
        if out.len() >= 4096 {
            write_to(io, output, &mut out).await?;
        }
    }
    write_to(io, output, &mut out).await?;
    io.close(input).await;
    if let Some(fd) = output {
        io.os.close(fd).await;
    }
    io.flush().await?;
    Ok(i32::from(io.failed))
}

/// Writes what is ready to an output file (`sort -o`, `uniq IN OUT`)
/// or standard output.
async fn write_to<O: Os>(io: &mut Io<'_, O>, output: Option<i32>, out: &mut Vec<u8>) -> Out {
    let data = std::mem::take(out);
    match output {
        Some(fd) => io.os.write(fd, &data).await.map_err(|_| Stop),
        None => io.put(&data).await,
    }
}
