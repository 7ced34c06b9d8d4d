//! The text applets a lesson pipes through: `wc`, `head`, `tail`, `cut`,
//! `tr`, `seq`, `yes` and `printf` here; `grep`, `sort` and `uniq`, and
//! `xargs` beside. BusyBox's flags, output and messages; each streams
//! where BusyBox does (`yes | head -n 3` ends), and holds only what it
//! must.

use std::collections::VecDeque;

use super::io::{Input, Io, Out, Stop};
use super::opts::Opts;
use crate::shell::os::Os;

pub(super) type Status = Result<i32, Stop>;

/// The operands as inputs: standard input when there are none.
pub(super) fn inputs(operands: &[String]) -> Vec<String> {
    if operands.is_empty() {
        vec!["-".to_string()]
    } else {
        operands.to_vec()
    }
}

pub(super) fn display_name(operand: &str) -> &str {
    if operand == "-" {
        "(standard input)"
    } else {
        operand
    }
}

pub(super) async fn usage<O: Os>(io: &mut Io<'_, O>, message: &str, code: i32) -> Status {
    io.say(message).await;
    let line = format!("Try 'help {}' for how it is used.\n", io.name);
    let _ = io.os.write(2, line.as_bytes()).await;
    Ok(code)
}

pub(super) fn ensure_newline(line: &mut Vec<u8>) {
    if line.last() != Some(&b'\n') {
        line.push(b'\n');
    }
}

pub(super) fn strip_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}
// ---- wc ----

pub async fn wc<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "lwcmL", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    // Columns in BusyBox's order: lines, words, bytes, longest line.
    let mut columns: Vec<char> = "lwcL"
        .chars()
        .filter(|c| opts.has(*c) || (*c == 'c' && opts.has('m')))
        .collect();
    if columns.is_empty() {
        columns = vec!['l', 'w', 'c'];
    }
    let files = inputs(&opts.operands);
    let padded = columns.len() > 1 || files.len() > 1;
    let mut totals = [0u64; 4];
    let mut code = 0;
    for file in &files {
        let Some(mut input) = io.open(file).await else {
            code = 1;
            continue;
        };
        let (mut lines, mut words, mut bytes, mut longest) = (0u64, 0u64, 0u64, 0u64);
        let mut in_word = false;
        let mut width = 0u64;
        loop {
            let chunk = match input.chunk(io).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(message) => {
                    io.say(&format!("{file}: {message}")).await;
                    code = 1;
                    break;
                }
            };
            bytes += chunk.len() as u64;
            for b in chunk {
                if b == b'\n' {
                    lines += 1;
                    longest = longest.max(width);
                    width = 0;
                } else if b == b'\t' {
                    width = (width / 8 + 1) * 8;
                } else if (0x20..0x7f).contains(&b) {
                    // As the C locale prints: a byte past ASCII takes no
                    // column.
                    width += 1;
                }
                let space = b.is_ascii_whitespace() || b == 0x0b;
                if !space && !in_word {
                    words += 1;
                }
                in_word = !space;
            }
        }
        longest = longest.max(width);
        io.close(input).await;
        let counts = [lines, words, bytes, longest];
        for (i, (total, count)) in totals.iter_mut().zip(counts).enumerate() {
            // The longest line of all is the longest of any.
            *total = if i == 3 {
                (*total).max(count)
            } else {
                *total + count
            };
        }
        let name = (file != "-").then_some(file.as_str());
        let line = wc_line(&columns, counts, padded, name);
        io.put_str(&line).await?;
    }
    if files.len() > 1 {
        let line = wc_line(&columns, totals, true, Some("total"));
        io.put_str(&line).await?;
    }
    io.flush().await?;
    Ok(code)
}

fn wc_line(columns: &[char], counts: [u64; 4], padded: bool, name: Option<&str>) -> String {
    let mut line = String::new();
    for (i, column) in columns.iter().enumerate() {
        let value = counts["lwcL".find(*column).unwrap_or(0)];
        if !padded {
            line.push_str(&value.to_string());
        } else if i == 0 {
            line.push_str(&format!("{value:9}"));
        } else {
            line.push_str(&format!(" {value:9}"));
        }
    }
    if let Some(name) = name {
        line.push(' ');
        line.push_str(name);
    }
    line.push('\n');
    line
}

// ---- head and tail ----

/// A count as a length, saturating where `usize` is 32 bits (wasm).
fn as_len(count: u64) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX)
}

/// `N`, with BusyBox's suffixes (`b` 512, `k` 1024, `m` 1048576).
fn count_arg(text: &str) -> Option<u64> {
    let (digits, scale) = match text.as_bytes().last() {
        Some(b'b') => (&text[..text.len() - 1], 512),
        Some(b'k') => (&text[..text.len() - 1], 1024),
        Some(b'm') => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    digits.parse::<u64>().ok().map(|n| n.saturating_mul(scale))
}

/// `head -3` and `tail -3` as `-n 3` (and `tail +3` as `-n +3`).
fn legacy_count(args: &[String], plus: bool) -> Vec<String> {
    match args.first() {
        Some(first)
            if (first.starts_with('-') || plus && first.starts_with('+'))
                && first.len() > 1
                && first[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            let count = if first.starts_with('+') {
                first.clone()
            } else {
                first[1..].to_string()
            };
            let mut out = vec!["-n".to_string(), count];
            out.extend(args[1..].iter().cloned());
            out
        }
        _ => args.to_vec(),
    }
}

async fn header<O: Os>(io: &mut Io<'_, O>, file: &str, first: bool) -> Out {
    let name = if file == "-" { "standard input" } else { file };
    let gap = if first { "" } else { "\n" };
    io.put_str(&format!("{gap}==> {name} <==\n")).await
}

pub async fn head<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let args = legacy_count(args, false);
    let opts = match Opts::parse(&args, "n:c:qv", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let bytes = opts.value('c').is_some()
        && opts
            .given
            .iter()
            .rev()
            .find(|(c, _)| *c == 'n' || *c == 'c')
            .map(|g| g.0)
            == Some('c');
    let text = if bytes {
        opts.value('c')
    } else {
        opts.value('n')
    }
    .unwrap_or("10");
    let (all_but, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let Some(count) = count_arg(digits) else {
        io.say(&format!("invalid number '{text}'")).await;
        return Ok(1);
    };
    let files = inputs(&opts.operands);
    let headers = (files.len() > 1 || opts.has('v')) && !opts.has('q');
    let mut code = 0;
    let mut first = true;
    for file in &files {
        let Some(mut input) = io.open(file).await else {
            code = 1;
            continue;
        };
        if headers {
            header(io, file, first).await?;
        }
        first = false;
        let read = if bytes {
            head_bytes(io, &mut input, count, all_but).await?
        } else {
            head_lines(io, &mut input, count, all_but).await?
        };
        if let Err(message) = read {
            io.say(&format!("{file}: {message}")).await;
            code = 1;
        }
        io.close(input).await;
    }
    io.flush().await?;
    Ok(code)
}

async fn head_lines<O: Os>(
    io: &mut Io<'_, O>,
    input: &mut Input,
    count: u64,
    all_but: bool,
) -> Result<Result<(), String>, Stop> {
    let mut kept: VecDeque<Vec<u8>> = VecDeque::new();
    let mut done = 0;
    while all_but || done < count {
        let line = match input.line(io).await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(message) => return Ok(Err(message)),
        };
        if all_but {
            io.hold(line.len() as u64).await;
            kept.push_back(line);
            if kept.len() as u64 > count {
                let out = kept.pop_front().unwrap_or_default();
                io.release(out.len() as u64).await;
                io.put(&out).await?;
            }
        } else {
            io.put(&line).await?;
            done += 1;
        }
    }
    Ok(Ok(()))
}

async fn head_bytes<O: Os>(
    io: &mut Io<'_, O>,
    input: &mut Input,
    count: u64,
    all_but: bool,
) -> Result<Result<(), String>, Stop> {
    let mut kept: VecDeque<u8> = VecDeque::new();
    let mut done = 0u64;
    while all_but || done < count {
        let chunk = match input.chunk(io).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(message) => return Ok(Err(message)),
        };
        if all_but {
            io.hold(chunk.len() as u64).await;
            kept.extend(chunk);
            let over = kept.len().saturating_sub(as_len(count));
            let out: Vec<u8> = kept.drain(..over).collect();
            io.release(out.len() as u64).await;
            io.put(&out).await?;
        } else {
            let take = (count - done).min(chunk.len() as u64) as usize;
            io.put(&chunk[..take]).await?;
            done += take as u64;
        }
    }
    Ok(Ok(()))
}

pub async fn tail<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let args = legacy_count(args, true);
    let opts = match Opts::parse(&args, "n:c:qv", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let bytes = opts
        .given
        .iter()
        .rev()
        .find(|(c, _)| *c == 'n' || *c == 'c')
        .map(|g| g.0)
        == Some('c');
    let text = if bytes {
        opts.value('c')
    } else {
        opts.value('n')
    }
    .unwrap_or("10");
    let (from_start, digits) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('-').unwrap_or(text)),
    };
    let Some(count) = count_arg(digits) else {
        io.say(&format!("invalid number '{text}'")).await;
        return Ok(1);
    };
    let files = inputs(&opts.operands);
    let headers = (files.len() > 1 || opts.has('v')) && !opts.has('q');
    let mut code = 0;
    let mut first = true;
    for file in &files {
        let Some(mut input) = io.open(file).await else {
            code = 1;
            continue;
        };
        if headers {
            header(io, file, first).await?;
        }
        first = false;
        let mut kept: VecDeque<Vec<u8>> = VecDeque::new();
        let mut kept_bytes: VecDeque<u8> = VecDeque::new();
        let mut seen = 0u64;
        loop {
            let next = if bytes {
                input.chunk(io).await
            } else {
                input.line(io).await
            };
            let piece = match next {
                Ok(Some(piece)) => piece,
                Ok(None) => break,
                Err(message) => {
                    io.say(&format!("{file}: {message}")).await;
                    code = 1;
                    break;
                }
            };
            if from_start {
                // `+N`: from the Nth line (or byte) on.
                if bytes {
                    let skip = (count.max(1) - 1)
                        .saturating_sub(seen)
                        .min(piece.len() as u64);
                    io.put(&piece[skip as usize..]).await?;
                    seen += piece.len() as u64;
                } else {
                    seen += 1;
                    if seen >= count.max(1) {
                        io.put(&piece).await?;
                    }
                }
                continue;
            }
            io.hold(piece.len() as u64).await;
            if bytes {
                kept_bytes.extend(piece);
                let over = kept_bytes.len().saturating_sub(as_len(count));
                kept_bytes.drain(..over);
                io.release(over as u64).await;
            } else {
                kept.push_back(piece);
                if kept.len() as u64 > count {
                    let gone = kept.pop_front().map_or(0, |l| l.len());
                    io.release(gone as u64).await;
                }
            }
        }
        for line in kept {
            io.put(&line).await?;
        }
        let rest: Vec<u8> = kept_bytes.into_iter().collect();
        io.put(&rest).await?;
        io.close(input).await;
    }
    io.flush().await?;
    Ok(code)
}

// ---- cut ----

/// A `cut` list (`1,3-5,7-`): the ranges, 1-based and inclusive.
fn cut_list(text: &str) -> Result<Vec<(usize, usize)>, String> {
    let mut ranges = Vec::new();
    for part in text.split(',') {
        let number = |s: &str| -> Result<usize, String> {
            match s.parse::<usize>() {
                Ok(0) => Err("fields and positions are numbered from 1".into()),
                Ok(n) => Ok(n),
                Err(_) => Err(format!("invalid number '{s}'")),
            }
        };
        let range = match part.split_once('-') {
            None => {
                let n = number(part)?;
                (n, n)
            }
            Some(("", "")) => return Err("invalid range".into()),
            Some(("", end)) => (1, number(end)?),
            Some((start, "")) => (number(start)?, usize::MAX),
            Some((start, end)) => {
                let (s, e) = (number(start)?, number(end)?);
                if e < s {
                    return Err("invalid decreasing range".into());
                }
                (s, e)
            }
        };
        ranges.push(range);
    }
    Ok(ranges)
}

pub async fn cut<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "b:c:f:d:sn", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let (mode, list) = match (opts.value('b'), opts.value('c'), opts.value('f')) {
        (Some(l), None, None) | (None, Some(l), None) => ('c', l),
        (None, None, Some(l)) => ('f', l),
        (None, None, None) => {
            return usage(io, "expected a list of bytes, characters, or fields", 1).await;
        }
        _ => return usage(io, "only one type of list may be specified", 1).await,
    };
    let ranges = match cut_list(list) {
        Ok(ranges) => ranges,
        Err(message) => return usage(io, &message, 1).await,
    };
    let delimiter = match opts.value('d') {
        Some(d) if d.len() == 1 => d.as_bytes()[0],
        Some("") => b'\0',
        Some(_) => return usage(io, "the delimiter must be a single character", 1).await,
        None => b'\t',
    };
    let wanted = |i: usize| ranges.iter().any(|(s, e)| (*s..=*e).contains(&i));
    let mut code = 0;
    for file in inputs(&opts.operands) {
        let Some(mut input) = io.open(&file).await else {
            code = 1;
            continue;
        };
        loop {
            let line = match input.line(io).await {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(message) => {
                    io.say(&format!("{file}: {message}")).await;
                    code = 1;
                    break;
                }
            };
            let text = strip_newline(&line);
            let mut out = Vec::new();
            if mode == 'c' {
                for (i, b) in text.iter().enumerate() {
                    if wanted(i + 1) {
                        out.push(*b);
                    }
                }
            } else if !text.contains(&delimiter) {
                if opts.has('s') {
                    continue;
                }
                out.extend_from_slice(text);
            } else {
                let mut first = true;
                for (i, field) in text.split(|b| *b == delimiter).enumerate() {
                    if wanted(i + 1) {
                        if !first {
                            out.push(delimiter);
                        }
                        out.extend_from_slice(field);
                        first = false;
                    }
                }
            }
            out.push(b'\n');
            io.put(&out).await?;
        }
        io.close(input).await;
    }
    io.flush().await?;
    Ok(code)
}

// ---- tr ----

/// A `tr` set, expanded: ranges, classes, escapes.
fn tr_set(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut items: Vec<u8> = Vec::new();
    let mut i = 0;
    let escape = |i: &mut usize| -> u8 {
        // At a backslash: the byte it stands for.
        *i += 1;
        let Some(&c) = bytes.get(*i) else {
            return b'\\';
        };
        *i += 1;
        match c {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'v' => 11,
            b'0'..=b'7' => {
                let mut value = u32::from(c - b'0');
                let mut digits = 1;
                while digits < 3 && bytes.get(*i).is_some_and(|d| (b'0'..=b'7').contains(d)) {
                    value = value * 8 + u32::from(bytes[*i] - b'0');
                    *i += 1;
                    digits += 1;
                }
                (value & 0xff) as u8
            }
            other => other,
        }
    };
    while i < bytes.len() {
        if bytes[i] == b'[' && bytes.get(i + 1) == Some(&b':') {
            let rest = &text[i + 2..];
            if let Some(end) = rest.find(":]") {
                let class = &rest[..end];
                let members: Vec<u8> = (0u8..=255)
                    .filter(|b| match class {
                        "alpha" => b.is_ascii_alphabetic(),
                        "digit" => b.is_ascii_digit(),
                        "alnum" => b.is_ascii_alphanumeric(),
                        "upper" => b.is_ascii_uppercase(),
                        "lower" => b.is_ascii_lowercase(),
                        "space" => b.is_ascii_whitespace() || *b == 11,
                        "blank" => *b == b' ' || *b == b'\t',
                        "punct" => b.is_ascii_punctuation(),
                        "print" => b.is_ascii_graphic() || *b == b' ',
                        "graph" => b.is_ascii_graphic(),
                        "cntrl" => b.is_ascii_control(),
                        "xdigit" => b.is_ascii_hexdigit(),
                        _ => false,
                    })
                    .collect();
                if members.is_empty() {
                    return Err(format!("invalid class '{class}'"));
                }
                items.extend(members);
                i += 2 + end + 2;
                continue;
            }
        }
        let first = if bytes[i] == b'\\' {
            escape(&mut i)
        } else {
            i += 1;
            bytes[i - 1]
        };
        if bytes.get(i) == Some(&b'-') && i + 1 < bytes.len() {
            let mut j = i + 1;
            let last = if bytes[j] == b'\\' {
                escape(&mut j)
            } else {
                j += 1;
                bytes[j - 1]
            };
            if last < first {
                return Err(format!(
                    "range-endpoints of '{}-{}' are in reverse collating sequence order",
                    first as char, last as char
                ));
            }
            items.extend(first..=last);
            i = j;
        } else {
            items.push(first);
        }
    }
    Ok(items)
}

pub async fn tr<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "cdsC", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let (delete, squeeze) = (opts.has('d'), opts.has('s'));
    let complement = opts.has('c') || opts.has('C');
    let needed = if delete && !squeeze || squeeze && !delete && opts.operands.len() == 1 {
        1
    } else {
        2
    };
    if opts.operands.is_empty() || (needed == 2 && opts.operands.len() < 2 && !squeeze) {
        if opts.operands.len() == 1 && !delete && !squeeze {
            // BusyBox copies its input when given one set and nothing to do.
        } else {
            return usage(io, "missing operand", 1).await;
        }
    }
    let set1 = match tr_set(opts.operands.first().map_or("", String::as_str)) {
        Ok(set) => set,
        Err(message) => return usage(io, &message, 1).await,
    };
    let set2 = match tr_set(opts.operands.get(1).map_or("", String::as_str)) {
        Ok(set) => set,
        Err(message) => return usage(io, &message, 1).await,
    };
    let mut in_set1 = [false; 256];
    for b in &set1 {
        in_set1[*b as usize] = true;
    }
    if complement {
        for flag in in_set1.iter_mut() {
            *flag = !*flag;
        }
    }
    // Translation: the Nth of SET1 to the Nth of SET2, its last repeated.
    let mut map: [u8; 256] = std::array::from_fn(|i| i as u8);
    if !delete && !set2.is_empty() {
        let sources: Vec<u8> = if complement {
            (0u8..=255).filter(|b| in_set1[*b as usize]).collect()
        } else {
            set1.clone()
        };
        for (n, source) in sources.iter().enumerate() {
            map[*source as usize] = *set2.get(n).unwrap_or(&set2[set2.len() - 1]);
        }
    }
    let squeeze_set: [bool; 256] = {
        let mut set = [false; 256];
        let chosen: Vec<u8> = if delete || opts.operands.len() > 1 {
            set2.clone()
        } else if complement {
            (0u8..=255).filter(|b| in_set1[*b as usize]).collect()
        } else {
            set1.clone()
        };
        for b in chosen {
            set[b as usize] = true;
        }
        set
    };
    let mut input = Input::standard();
    let mut last: Option<u8> = None;
    loop {
        let chunk = match input.chunk(io).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(message) => {
                io.say(&message).await;
                break;
            }
        };
        let mut out = Vec::with_capacity(chunk.len());
        for b in chunk {
            if delete && in_set1[b as usize] {
                continue;
            }
            let c = if delete { b } else { map[b as usize] };
            if squeeze && squeeze_set[c as usize] && last == Some(c) {
                continue;
            }
            last = Some(c);
            out.push(c);
        }
        io.put(&out).await?;
    }
    io.flush().await?;
    Ok(i32::from(io.failed))
}

// ---- seq, yes, printf ----

pub async fn seq<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    // Negative numbers are operands, not options.
    let mut width = false;
    let mut separator = "\n".to_string();
    let mut numbers = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        match arg.as_str() {
            "-w" => width = true,
            "-s" => match args.get(i) {
                Some(sep) => {
                    separator = sep.clone();
                    i += 1;
                }
                None => return usage(io, "option requires an argument -- 's'", 1).await,
            },
            s if s.starts_with("-s") => separator = s[2..].to_string(),
            _ => numbers.push(arg.clone()),
        }
    }
    if numbers.is_empty() || numbers.len() > 3 {
        return usage(io, "expected FIRST [INC] LAST", 1).await;
    }
    let mut values = Vec::new();
    for text in &numbers {
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => values.push(v),
            _ => return usage(io, &format!("invalid number '{text}'"), 1).await,
        }
    }
    let decimals = |s: &str| s.split_once('.').map_or(0, |(_, d)| d.len());
    let (first, step, last, precision) = match values.as_slice() {
        [last] => (1.0, 1.0, *last, 0),
        [first, last] => (*first, 1.0, *last, decimals(&numbers[0])),
        [first, step, last] => (
            *first,
            *step,
            *last,
            decimals(&numbers[0]).max(decimals(&numbers[1])),
        ),
        _ => unreachable!("one to three numbers"),
    };
    if step == 0.0 {
        return usage(io, "the increment must not be 0", 1).await;
    }
    let pad = if width {
        format!("{first:.precision$}")
            .len()
            .max(format!("{last:.precision$}").len())
    } else {
        0
    };
    let mut n = 0u64;
    let mut first_out = true;
    loop {
        let value = first + step * n as f64;
        if step > 0.0 && value > last + 1e-10 || step < 0.0 && value < last - 1e-10 {
            break;
        }
        let mut text = format!("{value:.precision$}");
        if text.len() < pad {
            let zeros = "0".repeat(pad - text.len());
            text = match text.strip_prefix('-') {
                Some(rest) => format!("-{zeros}{rest}"),
                None => format!("{zeros}{text}"),
            };
        }
        if !first_out {
            io.put_str(&separator).await?;
        }
        io.put_str(&text).await?;
        first_out = false;
        n += 1;
    }
    if !first_out {
        io.put(b"\n").await?;
    }
    io.flush().await?;
    Ok(0)
}

pub async fn yes<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let mut line = if args.is_empty() {
        "y".to_string()
    } else {
        args.join(" ")
    };
    line.push('\n');
    let block = line.repeat((8192 / line.len()).max(1));
    loop {
        io.put_str(&block).await?;
        io.flush().await?;
    }
}

pub async fn printf<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let Some((format, rest)) = args.split_first() else {
        return usage(io, "missing format", 1).await;
    };
    let (out, errors) = crate::shell::builtins::printf_all(format, rest);
    let failed = !errors.is_empty();
    let mut written = 0;
    for (at, message) in errors {
        io.put_str(&out[written..at]).await?;
        io.flush().await?;
        io.say(&message).await;
        written = at;
    }
    io.put_str(&out[written..]).await?;
    io.flush().await?;
    Ok(i32::from(failed))
}
