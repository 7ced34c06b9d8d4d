//! `xargs`: words from standard input, quoted as BusyBox reads them, run
//! as commands in the same process tree, with its statuses (123 when a
//! command failed, 127 when none could be found).

use super::io::{Input, Io};
use super::opts::Opts;
use super::text::{Status, usage};
use crate::shell::os::Os;
use crate::shell::os::SpawnError;

/// How long a command line `xargs` builds may be, in bytes.
const XARGS_MAX: usize = 128 * 1024;

pub async fn xargs<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "n:s:I:trx0pE:", true) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let per_command = match opts.value('n') {
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => return usage(io, &format!("invalid number '{text}'"), 1).await,
        },
        None => None,
    };
    let limit = match opts.value('s') {
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return usage(io, &format!("invalid number '{text}'"), 1).await,
        },
        None => XARGS_MAX,
    };
    let replace = opts.value('I').map(str::to_string);
    let command: Vec<String> = if opts.operands.is_empty() {
        vec!["echo".to_string()]
    } else {
        opts.operands.clone()
    };
    let Some(path) = find_program(io, &command[0]).await else {
        io.say(&format!("{}: No such file or directory", command[0]))
            .await;
        return Ok(127);
    };
    // The items: NUL-ended with -0, else words with quotes and
    // backslashes; with -I, whole lines. Each command runs as soon as its
    // items are read, so `yes | xargs -n 1 echo` goes on as it reads.
    let mut input = Input::standard();
    let eof = opts.value('E').map(str::to_string);
    let base: usize = command.iter().map(|a| a.len() + 1).sum();
    let mut batch = Batch {
        path,
        env: io.env.to_vec(),
        trace: opts.has('t') || opts.has('p'),
        code: 0,
        ran: false,
    };
    let mut current: Vec<String> = Vec::new();
    let mut size = base;
    let mut ended = false;
    while !ended {
        let record = match input.until(io, if opts.has('0') { 0 } else { b'\n' }).await {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(message) => {
                io.say(&message).await;
                break;
            }
        };
        let text = String::from_utf8_lossy(&record).into_owned();
        let mut items = if opts.has('0') {
            vec![text.trim_end_matches('\0').to_string()]
        } else if replace.is_some() {
            let line = text.trim_end_matches('\n').trim_start();
            if line.is_empty() {
                Vec::new()
            } else {
                vec![line.to_string()]
            }
        } else {
            match xargs_words(&text) {
                Ok(words) => words,
                Err(message) => {
                    io.say(&message).await;
                    return Ok(1);
                }
            }
        };
        if let Some(end) = &eof
            && let Some(at) = items.iter().position(|w| w == end)
        {
            items.truncate(at);
            ended = true;
        }
        for item in items {
            if let Some(token) = &replace {
                let argv: Vec<String> = command.iter().map(|a| a.replace(token, &item)).collect();
                if let Some(stop) = batch.run(io, argv).await {
                    return Ok(stop);
                }
                continue;
            }
            let full = per_command.is_some_and(|n| current.len() >= n)
                || !current.is_empty() && size + item.len() + 1 > limit;
            if full {
                let argv = command.iter().cloned().chain(current.drain(..)).collect();
                io.release((size - base) as u64).await;
                size = base;
                if let Some(stop) = batch.run(io, argv).await {
                    return Ok(stop);
                }
            }
            size += item.len() + 1;
            io.hold(item.len() as u64 + 1).await;
            current.push(item);
        }
    }
    // What is left; and once even for no input, unless -r.
    if replace.is_none() && (!current.is_empty() || !batch.ran && !opts.has('r')) {
        let argv = command.iter().cloned().chain(current).collect();
        if let Some(stop) = batch.run(io, argv).await {
            return Ok(stop);
        }
    }
    Ok(batch.code)
}

/// How `xargs` runs its commands, and what they came to.
struct Batch {
    path: String,
    env: Vec<String>,
    trace: bool,
    /// 123 once a command failed.
    code: i32,
    ran: bool,
}

impl Batch {
    /// Runs one command and waits for it: `Some(status)` when `xargs`
    /// must stop with that status.
    async fn run<O: Os>(&mut self, io: &mut Io<'_, O>, argv: Vec<String>) -> Option<i32> {
        self.ran = true;
        if self.trace {
            let line = format!("{}\n", argv.join(" "));
            let _ = io.os.write(2, line.as_bytes()).await;
        }
        let status = match io.os.spawn(&self.path, &argv, &self.env).await {
            Ok(pid) => io.os.wait(pid).await.unwrap_or(0),
            Err(SpawnError::Exec(message, status)) => {
                io.say(&format!("{}: {message}", argv[0])).await;
                return Some(status);
            }
            Err(SpawnError::Fork(message)) => {
                io.say(&format!("can't fork: {message}")).await;
                return Some(125);
            }
        };
        match status {
            0 => None,
            255 => {
                io.say(&format!("{}: exited with status 255", argv[0]))
                    .await;
                Some(124)
            }
            s if s > 128 => Some(125),
            _ => {
                self.code = 123;
                None
            }
        }
    }
}

/// One line's words as `xargs` reads them: blanks between, `'...'` and
/// `"..."` quote, a backslash takes the next character as it is.
fn xargs_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\n') => return Err("unmatched quote".to_string()),
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
                in_word = true;
            }
            (None, ' ' | '\t' | '\n') => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unmatched quote".to_string());
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// A program on the environment's `PATH`, as the shell finds one.
pub(crate) async fn find_program<O: Os>(io: &mut Io<'_, O>, name: &str) -> Option<String> {
    if name.contains('/') {
        return Some(name.to_string());
    }
    let path = io.var("PATH").unwrap_or("/sbin:/usr/sbin:/bin:/usr/bin");
    for dir in path.split(':') {
        let candidate = if dir.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", dir.trim_end_matches('/'))
        };
        if let Ok(meta) = io.os.stat(&candidate).await
            && meta.kind == crate::shell::os::Kind::File
            && io
                .os
                .access(&candidate, crate::shell::os::Access::Execute)
                .await
        {
            return Some(candidate);
        }
    }
    None
}
