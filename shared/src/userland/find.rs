//! `find`: walks file trees as BusyBox's `find` does, with its expression
//! language: tests (`-name`, `-iname`, `-path`, `-type`, `-empty`,
//! `-size`), actions (`-print`, `-print0`, `-exec ... ;`, `-exec ... +`,
//! `-prune`), operators (`!`, `-not`, `-a`, `-o`, `( )`) and the options
//! that hold for the whole walk wherever they stand (`-maxdepth`,
//! `-mindepth`, `-depth`, `-xdev`, `-follow`). Directories are listed in the order the
//! system gives them (sorted on the simulated kernel, as a real file
//! system's own order elsewhere).

use super::io::Io;
use super::text::{Status, usage};
use super::xargs::find_program;
use crate::shell::os::{Kind, Meta, Os, SpawnError};
use crate::shell::pattern;

/// One part of the expression.
#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Name(String, bool),
    Path(String),
    Type(Kind),
    Empty,
    /// `-size`: compare (-1 less, 0 equal, 1 more) the size in bytes with
    /// N units of so many bytes.
    Size(i8, u64, u64),
    Print(bool),
    /// `-exec`: the command, and for `... {} +` the number of its batch.
    Exec(Vec<String>, Option<usize>),
    Prune,
    True,
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// What walking needs besides the expression.
struct Walk {
    min_depth: usize,
    max_depth: Option<usize>,
    /// `-exec ... {} +`: the paths gathered for each such action.
    batches: Vec<(Vec<String>, Vec<String>)>,
    code: i32,
    /// `-depth`: a directory after what it holds.
    depth_first: bool,
    /// `-xdev`: the device of the path the walk started at, not left.
    xdev: bool,
    root_dev: u64,
    /// `-follow`: symbolic links are followed.
    follow: bool,
}

pub async fn find<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let start = args
        .iter()
        .position(|a| a.starts_with('-') && a.len() > 1 || a == "!" || a == "(")
        .unwrap_or(args.len());
    let mut paths: Vec<String> = args[..start].to_vec();
    if paths.is_empty() {
        paths.push(".".to_string());
    }
    let mut walk = Walk {
        min_depth: 0,
        max_depth: None,
        batches: Vec::new(),
        code: 0,
        depth_first: false,
        xdev: false,
        root_dev: 0,
        follow: false,
    };
    let words = &args[start..];
    let mut parser = Parser::new(words);
    let expr = match parser.or() {
        Ok(_) if parser.at < words.len() => {
            return usage(io, &format!("unrecognized: {}", words[parser.at]), 1).await;
        }
        Ok(expr) => expr,
        // BusyBox shows its usage for a word it does not know; for a bad
        // argument, only the message.
        Err(message) if message.starts_with("unrecognized") => {
            return usage(io, &message, 1).await;
        }
        Err(message) => {
            io.say(&message).await;
            return Ok(1);
        }
    };
    // With no action, every match is printed.
    let expr = if parser.acts {
        expr
    } else {
        Expr::And(Box::new(expr), Box::new(Expr::Print(false)))
    };
    walk.batches = parser
        .batches
        .into_iter()
        .map(|c| (c, Vec::new()))
        .collect();
    walk.min_depth = parser.min_depth;
    walk.max_depth = parser.max_depth;
    walk.depth_first = parser.depth_first;
    walk.xdev = parser.xdev;
    walk.follow = parser.follow;
    for path in &paths {
        match look(io, &walk, path).await {
            Ok(meta) => {
                walk.root_dev = meta.dev;
                if visit(io, &expr, &mut walk, path, meta, 0).await.is_err() {
                    return Ok(1);
                }
            }
            Err(message) => {
                io.say(&format!("{path}: {message}")).await;
                walk.code = 1;
            }
        }
    }
    // As BusyBox's stdio buffers it when it is not a terminal, what was
    // printed comes out after what the batched commands print.
    for (command, paths) in std::mem::take(&mut walk.batches) {
        if !paths.is_empty() {
            let status = run(io, &command, &paths).await;
            if status != 0 {
                walk.code = 1;
            }
        }
    }
    if io.flush().await.is_err() {
        return Ok(1);
    }
    Ok(if io.failed { 1 } else { walk.code })
}

/// Visits one path and, if it is a directory within depth, what it holds.
/// `Err` when output can no longer be written.
async fn visit<O: Os>(
    io: &mut Io<'_, O>,
    expr: &Expr,
    walk: &mut Walk,
    path: &str,
    meta: Meta,
    depth: usize,
) -> Result<(), ()> {
    // A walk is a loop: let others run between entries.
    io.os.yield_now().await;
    let mut pruned = false;
    // The expression holds for a directory before what it holds, or
    // after it with `-depth`.
    let judged = depth >= walk.min_depth;
    if judged && !walk.depth_first {
        judge(io, expr, walk, path, &meta, &mut pruned).await?;
    }
    let other_device = walk.xdev && meta.dev != walk.root_dev;
    let descend = meta.kind == Kind::Dir
        && !pruned
        && walk.max_depth.is_none_or(|max| depth < max)
        && !other_device;
    if descend {
        visit_children(io, expr, walk, path, depth).await?;
    }
    if judged && walk.depth_first {
        judge(io, expr, walk, path, &meta, &mut pruned).await?;
    }
    Ok(())
}

/// The expression evaluated for one path.
async fn judge<O: Os>(
    io: &mut Io<'_, O>,
    expr: &Expr,
    walk: &mut Walk,
    path: &str,
    meta: &Meta,
    pruned: &mut bool,
) -> Result<(), ()> {
    let mut state = Eval { path, meta, pruned };
    eval(io, expr, walk, &mut state).await.map(|_| ())
}

/// A path's metadata, its links followed with `-follow`.
async fn look<O: Os>(io: &mut Io<'_, O>, walk: &Walk, path: &str) -> Result<Meta, String> {
    io.os.stat_as(path, walk.follow).await
}

/// What a directory holds, each visited in turn.
async fn visit_children<O: Os>(
    io: &mut Io<'_, O>,
    expr: &Expr,
    walk: &mut Walk,
    path: &str,
    depth: usize,
) -> Result<(), ()> {
    let Some(names) = io.os.read_dir(path).await else {
        io.say(&format!("{path}: Permission denied")).await;
        walk.code = 1;
        return Ok(());
    };
    for name in names {
        if name == "." || name == ".." {
            continue;
        }
        let child = if path.ends_with('/') {
            format!("{path}{name}")
        } else {
            format!("{path}/{name}")
        };
        match look(io, walk, &child).await {
            Ok(child_meta) => {
                Box::pin(visit(io, expr, walk, &child, child_meta, depth + 1)).await?;
            }
            Err(message) => {
                io.say(&format!("{child}: {message}")).await;
                walk.code = 1;
            }
        }
    }
    Ok(())
}

struct Eval<'a> {
    path: &'a str,
    meta: &'a Meta,
    pruned: &'a mut bool,
}

/// Whether the expression holds for a path, doing its actions.
async fn eval<O: Os>(
    io: &mut Io<'_, O>,
    expr: &Expr,
    walk: &mut Walk,
    at: &mut Eval<'_>,
) -> Result<bool, ()> {
    Ok(match expr {
        Expr::True => true,
        Expr::Name(pattern, fold) => {
            let base = base_name(at.path);
            if *fold {
                pattern::matches(
                    &pattern::active(&pattern.to_lowercase()),
                    &base.to_lowercase(),
                )
            } else {
                pattern::matches(&pattern::active(pattern), base)
            }
        }
        Expr::Path(pattern) => pattern::matches(&pattern::active(pattern), at.path),
        Expr::Type(kind) => at.meta.kind == *kind,
        Expr::Empty => match at.meta.kind {
            Kind::File => at.meta.size == 0,
            Kind::Dir => io
                .os
                .read_dir(at.path)
                .await
                .is_some_and(|names| names.iter().all(|n| n == "." || n == "..")),
            _ => false,
        },
        Expr::Size(sign, n, unit) => {
            // BusyBox compares bytes: N units, not the file's size rounded
            // up to units (as GNU find does).
            let bytes = n.saturating_mul(*unit);
            match sign {
                -1 => at.meta.size < bytes,
                1 => at.meta.size > bytes,
                _ => at.meta.size == bytes,
            }
        }
        Expr::Print(nul) => {
            let end = if *nul { "\0" } else { "\n" };
            io.put_str(&format!("{}{end}", at.path))
                .await
                .map_err(|_| ())?;
            true
        }
        Expr::Prune => {
            *at.pruned = true;
            true
        }
        Expr::Exec(command, None) => {
            let argv: Vec<String> = command.iter().map(|a| a.replace("{}", at.path)).collect();
            // What was printed before comes out once the command is done,
            // as BusyBox's buffered stdout is flushed after its child.
            let ok = run(io, &argv, &[]).await == 0;
            io.flush().await.map_err(|_| ())?;
            ok
        }
        Expr::Exec(_, Some(n)) => {
            if let Some((_, paths)) = walk.batches.get_mut(*n) {
                paths.push(at.path.to_string());
            }
            true
        }
        Expr::Not(e) => !Box::pin(eval(io, e, walk, at)).await?,
        Expr::And(a, b) => {
            Box::pin(eval(io, a, walk, at)).await? && Box::pin(eval(io, b, walk, at)).await?
        }
        Expr::Or(a, b) => {
            Box::pin(eval(io, a, walk, at)).await? || Box::pin(eval(io, b, walk, at)).await?
        }
    })
}

/// Runs `-exec`'s command (with `paths` in the place of a final `{}` for
/// `+`) and waits for it: its status.
async fn run<O: Os>(io: &mut Io<'_, O>, command: &[String], paths: &[String]) -> i32 {
    let mut argv: Vec<String> = command.to_vec();
    if !paths.is_empty() {
        argv.pop();
        argv.extend(paths.iter().cloned());
    }
    let Some(program) = find_program(io, &argv[0]).await else {
        io.say(&format!("{}: No such file or directory", argv[0]))
            .await;
        return 127;
    };
    let env = io.env.to_vec();
    match io.os.spawn(&program, &argv, &env).await {
        Ok(pid) => io.os.wait(pid).await.unwrap_or(0),
        Err(SpawnError::Exec(message, status)) => {
            io.say(&format!("{}: {message}", argv[0])).await;
            status
        }
        Err(SpawnError::Fork(message)) => {
            io.say(&format!("can't fork: {message}")).await;
            1
        }
    }
}

/// The last part of a path, as `-name` matches it (`/` for the root).
pub(super) fn base_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "" } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// The expression's grammar: `or := and (-o and)*`,
/// `and := unary ((-a)? unary)*`, `unary := (! | -not)* primary`.
struct Parser<'a> {
    words: &'a [String],
    at: usize,
    /// Whether an action was given (else `-print` is implied).
    acts: bool,
    /// The commands of `-exec ... {} +`, by batch number.
    batches: Vec<Vec<String>>,
    /// The options that apply to the whole walk, wherever they stand.
    min_depth: usize,
    max_depth: Option<usize>,
    depth_first: bool,
    xdev: bool,
    follow: bool,
}

impl Parser<'_> {
    fn new(words: &[String]) -> Parser<'_> {
        Parser {
            words,
            at: 0,
            acts: false,
            batches: Vec::new(),
            min_depth: 0,
            max_depth: None,
            depth_first: false,
            xdev: false,
            follow: false,
        }
    }

    fn peek(&self) -> Option<&str> {
        self.words.get(self.at).map(String::as_str)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while matches!(self.peek(), Some("-o" | "-or")) {
            self.at += 1;
            // A dangling `-o` is ignored, as BusyBox ignores it.
            if matches!(self.peek(), None | Some(")")) {
                break;
            }
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = match self.peek() {
            None | Some(")") => return Ok(Expr::True),
            _ => self.unary()?,
        };
        loop {
            match self.peek() {
                Some("-a" | "-and") => {
                    self.at += 1;
                    if matches!(self.peek(), None | Some("-o" | "-or" | ")")) {
                        return Ok(left);
                    }
                }
                None | Some("-o" | "-or" | ")") => return Ok(left),
                _ => {}
            }
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some("!" | "-not") => {
                self.at += 1;
                // A dangling `!` is ignored, as BusyBox ignores it.
                if matches!(self.peek(), None | Some(")" | "-o" | "-or" | "-a" | "-and")) {
                    return Ok(Expr::True);
                }
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            _ => self.primary(),
        }
    }

    fn value(&mut self, option: &str) -> Result<String, String> {
        let value = self
            .words
            .get(self.at)
            .cloned()
            .ok_or_else(|| format!("{option} requires an argument"))?;
        self.at += 1;
        Ok(value)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let Some(word) = self.words.get(self.at).cloned() else {
            return Ok(Expr::True);
        };
        self.at += 1;
        Ok(match word.as_str() {
            "(" => {
                let inner = self.or()?;
                if self.peek() != Some(")") {
                    return Err("unterminated '('".to_string());
                }
                self.at += 1;
                inner
            }
            "-name" | "-iname" => Expr::Name(self.value(&word)?, word == "-iname"),
            "-path" | "-wholename" => Expr::Path(self.value(&word)?),
            "-type" => {
                let kind = match self.value(&word)?.as_str() {
                    "f" => Kind::File,
                    "d" => Kind::Dir,
                    "l" => Kind::Symlink,
                    "p" => Kind::Fifo,
                    "c" => Kind::CharDevice,
                    "b" => Kind::BlockDevice,
                    "s" => Kind::Socket,
                    other => return Err(format!("invalid argument '{other}' to '-type'")),
                };
                Expr::Type(kind)
            }
            "-maxdepth" | "-mindepth" => {
                let text = self.value(&word)?;
                let n = text
                    .parse::<usize>()
                    .map_err(|_| format!("invalid number '{text}'"))?;
                if word == "-maxdepth" {
                    self.max_depth = Some(n);
                } else {
                    self.min_depth = n;
                }
                Expr::True
            }
            "-depth" => {
                self.depth_first = true;
                Expr::True
            }
            "-xdev" => {
                self.xdev = true;
                Expr::True
            }
            "-follow" => {
                self.follow = true;
                Expr::True
            }
            "-empty" => Expr::Empty,
            "-size" => {
                let text = self.value(&word)?;
                size(&text).ok_or_else(|| format!("invalid number '{text}'"))?
            }
            "-print" | "-print0" => {
                self.acts = true;
                Expr::Print(word == "-print0")
            }
            "-prune" => Expr::Prune,
            "-exec" => {
                self.acts = true;
                let mut command = Vec::new();
                loop {
                    let Some(next) = self.words.get(self.at) else {
                        return Err("-exec requires an argument".to_string());
                    };
                    self.at += 1;
                    match next.as_str() {
                        ";" => break,
                        "+" if command.last().is_some_and(|a| a == "{}") => {
                            if command.len() < 2 {
                                return Err("-exec requires an argument".to_string());
                            }
                            self.batches.push(command.clone());
                            return Ok(Expr::Exec(command, Some(self.batches.len() - 1)));
                        }
                        _ => command.push(next.clone()),
                    }
                }
                if command.is_empty() {
                    return Err("-exec requires an argument".to_string());
                }
                Expr::Exec(command, None)
            }
            _ => return Err(format!("unrecognized: {word}")),
        })
    }
}

/// `-size [+-]N[cwbk]`: blocks of 512 bytes unless a unit says otherwise
/// (BusyBox takes no `M` or `G`).
fn size(text: &str) -> Option<Expr> {
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => (0, text),
    };
    let (digits, unit) = match rest.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&rest[..i], c),
        _ => (rest, 'b'),
    };
    let unit = match unit {
        'b' => 512,
        'c' => 1,
        'w' => 2,
        'k' => 1024,
        _ => return None,
    };
    Some(Expr::Size(sign, digits.parse().ok()?, unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<(Expr, bool), String> {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let mut parser = Parser::new(&words);
        let expr = parser.or()?;
        Ok((expr, parser.acts))
    }

    #[test]
    fn the_grammar_binds_as_finds_does() {
        let (expr, acts) = parse(&["-name", "*.rs", "-o", "!", "-type", "d", "-print"]).unwrap();
        assert!(acts);
        assert_eq!(
            expr,
            Expr::Or(
                Box::new(Expr::Name("*.rs".into(), false)),
                Box::new(Expr::And(
                    Box::new(Expr::Not(Box::new(Expr::Type(Kind::Dir)))),
                    Box::new(Expr::Print(false))
                ))
            )
        );
        assert!(parse(&["-type", "q"]).is_err());
        assert!(parse(&["-exec", "echo", "{}"]).is_err());
        assert_eq!(
            parse(&["-exec", "echo", "{}", "+"]).unwrap().0,
            Expr::Exec(vec!["echo".into(), "{}".into()], Some(0))
        );
    }

    #[test]
    fn sizes_and_names() {
        assert_eq!(size("+2k"), Some(Expr::Size(1, 2, 1024)));
        assert_eq!(size("10"), Some(Expr::Size(0, 10, 512)));
        assert_eq!(size("-3c"), Some(Expr::Size(-1, 3, 1)));
        assert_eq!(size("x"), None);
        assert_eq!(base_name("/etc/passwd"), "passwd");
        assert_eq!(base_name("/"), "/");
        assert_eq!(base_name("dir/"), "dir");
        assert_eq!(base_name("."), ".");
    }
}
