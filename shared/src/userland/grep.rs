//! `grep`, as BusyBox's: basic, extended (`-E`) or fixed (`-F`) patterns,
//! `-i -v -c -n -o -q -w -x -l -L -h -H -s -m`, and its statuses (0 a
//! line was selected, 1 none, 2 trouble).

use super::io::{Input, Io};
use super::opts::Opts;
use super::posix_re;
use super::text::{Status, display_name, ensure_newline, inputs, strip_newline, usage};
use crate::shell::os::Os;

pub async fn grep<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "HhnlLoqvsiwxFEcye:m:", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 2).await,
    };
    let mut operands = opts.operands.clone();
    let mut patterns: Vec<String> = opts.values('e').map(str::to_string).collect();
    if patterns.is_empty() {
        if operands.is_empty() {
            return usage(io, "no pattern given", 2).await;
        }
        patterns.push(operands.remove(0));
    }
    let max: Option<u64> = match opts.value('m') {
        Some(text) => match text.parse() {
            Ok(n) => Some(n),
            Err(_) => return usage(io, &format!("invalid number '{text}'"), 2).await,
        },
        None => None,
    };
    // Each pattern's lines are alternatives; `-e a -e b` matches either.
    let pieces: Vec<String> = patterns
        .iter()
        .flat_map(|p| p.split('\n'))
        .map(|p| {
            if opts.has('F') {
                regex::escape(p)
            } else {
                p.to_string()
            }
        })
        .collect();
    let extended = opts.has('E') || opts.has('F');
    let mut alternatives = Vec::new();
    for piece in &pieces {
        let translated = if opts.has('F') {
            Ok(piece.clone())
        } else {
            posix_re::translate(piece, extended)
        };
        match translated {
            Ok(t) => alternatives.push(format!("(?:{t})")),
            Err(message) => {
                io.say(&message).await;
                return Ok(2);
            }
        }
    }
    let mut joined = alternatives.join("|");
    if opts.has('w') {
        joined = format!("\\b(?:{joined})\\b");
    }
    if opts.has('x') {
        joined = format!("^(?:{joined})$");
    }
    let re = match regex::bytes::RegexBuilder::new(&joined)
        .unicode(false)
        .case_insensitive(opts.has('i') || opts.has('y'))
        .size_limit(1 << 22)
        .build()
    {
        Ok(re) => re,
        Err(_) => {
            io.say("invalid regular expression").await;
            return Ok(2);
        }
    };
    let files = inputs(&operands);
    let named = (files.len() > 1 || opts.has('H')) && !opts.has('h');
    let (invert, quiet, count, only) = (opts.has('v'), opts.has('q'), opts.has('c'), opts.has('o'));
    let mut matched_any = false;
    let mut trouble = false;
    for file in &files {
        let name = display_name(file).to_string();
        let input = if opts.has('s') && file != "-" {
            match io.os.open(file, crate::shell::os::Open::Read).await {
                Ok(fd) => Some(Input::owned(fd)),
                Err(_) => None,
            }
        } else {
            io.open(file).await
        };
        let Some(mut input) = input else {
            trouble = true;
            continue;
        };
        let prefix = if named {
            format!("{name}:")
        } else {
            String::new()
        };
        let mut number = 0u64;
        let mut matches = 0u64;
        loop {
            if max.is_some_and(|m| matches >= m) {
                break;
            }
            let line = match input.line(io).await {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(message) => {
                    if !opts.has('s') {
                        io.say(&format!("{name}: {message}")).await;
                    }
                    trouble = true;
                    break;
                }
            };
            number += 1;
            let text = strip_newline(&line);
            let hit = re.is_match(text) != invert;
            if !hit {
                continue;
            }
            matches += 1;
            matched_any = true;
            if quiet {
                io.close(input).await;
                io.flush().await?;
                return Ok(0);
            }
            if count || opts.has('l') || opts.has('L') {
                continue;
            }
            let numbered = if opts.has('n') {
                format!("{prefix}{number}:")
            } else {
                prefix.clone()
            };
            if only && !invert {
                for m in re.find_iter(text).filter(|m| !m.as_bytes().is_empty()) {
                    io.put_str(&numbered).await?;
                    io.put(m.as_bytes()).await?;
                    io.put(b"\n").await?;
                }
            } else if !only {
                let mut out = line;
                ensure_newline(&mut out);
                io.put_str(&numbered).await?;
                io.put(&out).await?;
            }
        }
        io.close(input).await;
        if count {
            io.put_str(&format!("{prefix}{matches}\n")).await?;
        }
        if opts.has('l') && matches > 0 || opts.has('L') && matches == 0 {
            io.put_str(&format!("{name}\n")).await?;
        }
    }
    io.flush().await?;
    Ok(if trouble {
        2
    } else if matched_any {
        0
    } else {
        1
    })
}
