//! The commands the shell runs itself, with `ash`'s flags, output and
//! messages: `cd`, `echo`, `printf`, `test`/`[`, `read`, `export`, `set`,
//! `eval`, `exec`, `.` and the rest.

use super::os::{Access, Kind, Open, Os};
use super::parse::valid_name;
use super::run::{Flow, Shell};
use super::vars::Var;

const BUILTINS: [&str; 32] = [
    ":", ".", "[", "break", "cd", "command", "continue", "echo", "eval", "exec", "exit", "export",
    "false", "local", "printf", "pwd", "read", "readonly", "return", "set", "shift", "source",
    "test", "true", "type", "umask", "unset", "wait", "getopts", "times", "trap", "hash",
];

/// POSIX's special builtins: their assignments stay in the shell.
const SPECIAL: [&str; 13] = [
    ":", ".", "break", "continue", "eval", "exec", "exit", "export", "readonly", "return", "set",
    "shift", "unset",
];

pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

pub fn is_special(name: &str) -> bool {
    SPECIAL.contains(&name)
}

/// `ash`'s single quoting for `set` and `export -p`.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\"'\"'"))
}

impl<O: Os> Shell<O> {
    pub(super) async fn builtin(&mut self, name: &str, argv: &[String], tail: bool) -> Flow {
        let args = &argv[1..];
        let (status, flow) = match name {
            ":" | "true" | "hash" => (0, Flow::Next),
            "false" => (1, Flow::Next),
            "echo" => (self.echo(args).await, Flow::Next),
            "printf" => (self.printf(args).await, Flow::Next),
            "test" => (self.test(args).await, Flow::Next),
            "[" => match args.split_last() {
                Some((last, rest)) if last == "]" => (self.test(rest).await, Flow::Next),
                _ => {
                    self.say("missing ]").await;
                    (2, Flow::Next)
                }
            },
            "pwd" => {
                let text = format!("{}\n", self.state.cwd);
                (self.out(&text).await, Flow::Next)
            }
            "cd" => (self.cd(args).await, Flow::Next),
            "exit" => {
                let status = match args.first() {
                    None => self.state.status,
                    Some(text) => match text.parse::<i64>() {
                        Ok(n) if n >= 0 => (n & 0xff) as i32,
                        _ => {
                            self.builtin_error("exit", &format!("Illegal number: {text}"))
                                .await;
                            2
                        }
                    },
                };
                (status, Flow::Exit)
            }
            "return" => {
                let status = match args.first().map(|a| a.parse::<i64>()) {
                    None => self.state.status,
                    Some(Ok(n)) => (n & 0xff) as i32,
                    Some(Err(_)) => {
                        self.builtin_error("return", &format!("Illegal number: {}", args[0]))
                            .await;
                        2
                    }
                };
                (
                    status,
                    if self.calls > 0 {
                        Flow::Return
                    } else {
                        Flow::Exit
                    },
                )
            }
            "break" | "continue" => {
                let n = match args.first().map(|a| a.parse::<u32>()) {
                    None => 1,
                    Some(Ok(n)) if n > 0 => n,
                    Some(_) => {
                        self.builtin_error(name, &format!("Illegal number: {}", args[0]))
                            .await;
                        self.state.status = 2;
                        return Flow::Fatal;
                    }
                };
                if self.loops == 0 {
                    (0, Flow::Next)
                } else {
                    let n = n.min(self.loops);
                    (
                        0,
                        if name == "break" {
                            Flow::Break(n)
                        } else {
                            Flow::Continue(n)
                        },
                    )
                }
            }
            "shift" => {
                let n = match args.first().map(|a| a.parse::<usize>()) {
                    None => Some(1),
                    Some(Ok(n)) => Some(n),
                    Some(Err(_)) => None,
                };
                match n {
                    Some(n) if n <= self.state.positional.len() => {
                        self.state.positional.drain(..n);
                        (0, Flow::Next)
                    }
                    Some(_) => (1, Flow::Next),
                    None => {
                        self.builtin_error("shift", &format!("Illegal number: {}", args[0]))
                            .await;
                        self.state.status = 2;
                        return Flow::Fatal;
                    }
                }
            }
            "export" | "readonly" => self.export(name, args).await,
            "unset" => {
                let functions = args.first().is_some_and(|a| a == "-f");
                let names = args.iter().filter(|a| !a.starts_with('-'));
                let mut status = 0;
                for var in names {
                    if functions {
                        self.state.functions.remove(var);
                    } else if let Err(message) = self.state.vars.unset(var) {
                        self.builtin_error("unset", &message).await;
                        status = 1;
                    }
                }
                (status, Flow::Next)
            }
            "local" => {
                if self.calls == 0 {
                    self.builtin_error("local", "not in a function").await;
                    (2, Flow::Next)
                } else {
                    for arg in args {
                        let (var, value) = match arg.split_once('=') {
                            Some((var, value)) => (var, Some(value)),
                            None => (arg.as_str(), None),
                        };
                        let old = self.state.vars.get_var(var).cloned();
                        if let Some(frame) = self.locals.last_mut()
                            && !frame.iter().any(|(n, _)| n == var)
                        {
                            frame.push((var.to_string(), old));
                        }
                        if let Some(value) = value {
                            let _ = self.state.vars.set(var, value);
                        }
                    }
                    (0, Flow::Next)
                }
            }
            "set" => self.set(args).await,
            "eval" => {
                let text = args.join(" ");
                self.state.status = 0;
                return self
                    .run_text(&text, false, "", |flow| *flow != Flow::Next)
                    .await;
            }
            "." | "source" => return self.dot(args).await,
            "exec" => {
                let Some(program) = args.first() else {
                    return Flow::Next;
                };
                let Some(path) = self.find_program(program).await else {
                    self.say(&format!("exec: {program}: not found")).await;
                    self.state.status = 127;
                    return Flow::Exit;
                };
                let env = self.state.vars.environment(&[]);
                let (message, status) = self.os.exec(&path, args, &env).await;
                self.say(&format!("exec: {program}: {message}")).await;
                self.state.status = status;
                return Flow::Exit;
            }
            "read" => (self.read(args).await, Flow::Next),
            "wait" => {
                let mut status = 0;
                if args.is_empty() {
                    for job in std::mem::take(&mut self.state.jobs) {
                        let _ = self.os.wait(job).await;
                    }
                } else {
                    for arg in args {
                        status = match arg.parse::<u32>() {
                            Ok(pid) if self.state.jobs.contains(&pid) => {
                                self.wait_status(pid).await
                            }
                            _ => 127,
                        };
                    }
                }
                (status, Flow::Next)
            }
            "type" => {
                let mut status = 0;
                for arg in args {
                    let text = if self.state.functions.contains_key(arg) {
                        format!("{arg} is a function\n")
                    } else if is_builtin(arg) {
                        let kind = if is_special(arg) { "special " } else { "" };
                        format!("{arg} is a {kind}shell builtin\n")
                    } else if let Some(path) = self.find_program(arg).await
                        && (arg.contains('/') || self.os.stat(&path).await.is_ok())
                    {
                        format!("{arg} is {path}\n")
                    } else {
                        status = 127;
                        format!("{arg}: not found\n")
                    };
                    self.out(&text).await;
                }
                (status, Flow::Next)
            }
            "command" => {
                if args.first().is_some_and(|a| a == "-v" || a == "-V") {
                    let mut status = 0;
                    for arg in &args[1..] {
                        if self.state.functions.contains_key(arg) || is_builtin(arg) {
                            self.out(&format!("{arg}\n")).await;
                        } else if let Some(path) = self.find_program(arg).await
                            && self.os.stat(&path).await.is_ok()
                        {
                            self.out(&format!("{path}\n")).await;
                        } else {
                            status = 1;
                        }
                    }
                    (status, Flow::Next)
                } else if args.is_empty() {
                    (0, Flow::Next)
                } else if is_builtin(&args[0]) {
                    return Box::pin(self.builtin(&args[0], args, tail)).await;
                } else {
                    let flow = self.run_argv(args, tail).await;
                    return flow;
                }
            }
            "umask" => {
                let status = match args.first() {
                    None => {
                        let mask = self.os.umask(None).await;
                        self.os.umask(Some(mask)).await;
                        self.out(&format!("{mask:04o}\n")).await
                    }
                    Some(text) => match u32::from_str_radix(text, 8) {
                        Ok(mask) if mask <= 0o777 => {
                            self.os.umask(Some(mask)).await;
                            0
                        }
                        _ => {
                            self.builtin_error("umask", &format!("Illegal mode: {text}"))
                                .await;
                            1
                        }
                    },
                };
                (status, Flow::Next)
            }
            "times" => {
                let status = self
                    .out("0m0.000000s 0m0.000000s\n0m0.000000s 0m0.000000s\n")
                    .await;
                (status, Flow::Next)
            }
            "trap" | "getopts" => {
                self.builtin_error(name, "not supported by this shell")
                    .await;
                (2, Flow::Next)
            }
            _ => unreachable!("{name} is listed as a builtin"),
        };
        self.state.status = status;
        flow
    }

    /// Standard output, failing with 1 but saying nothing (`printf`'s
    /// way in `ash`).
    async fn out_quietly(&mut self, text: &str) -> i32 {
        i32::from(self.write_fd(1, text).await.is_err())
    }

    /// Standard output; a failed write is said (`echo`'s way).
    async fn out(&mut self, text: &str) -> i32 {
        match self.write_fd(1, text).await {
            Ok(()) => 0,
            // As `ash`'s builtins: a failed write is said once.
            Err(super::os::WriteError::Other(message)) => {
                self.say(&format!("write error: {message}")).await;
                1
            }
            Err(super::os::WriteError::BrokenPipe) => 1,
        }
    }

    async fn run_argv(&mut self, argv: &[String], tail: bool) -> Flow {
        let Some(path) = self.find_program(&argv[0]).await else {
            self.say(&format!("{}: not found", argv[0])).await;
            self.state.status = 127;
            return Flow::Next;
        };
        let env = self.state.vars.environment(&[]);
        if tail {
            let (message, status) = self.os.exec(&path, argv, &env).await;
            self.say(&format!("{}: {message}", argv[0])).await;
            self.state.status = status;
            return Flow::Exit;
        }
        match self.os.spawn(&path, argv, &env).await {
            Ok(pid) => self.state.status = self.wait_status(pid).await,
            Err(super::os::SpawnError::Exec(message, status)) => {
                self.say(&format!("{}: {message}", argv[0])).await;
                self.state.status = status;
            }
            Err(super::os::SpawnError::Fork(message)) => {
                self.say(&format!("can't fork: {message}")).await;
                self.state.status = 2;
                return Flow::Fatal;
            }
        }
        Flow::Next
    }

    async fn echo(&mut self, args: &[String]) -> i32 {
        let mut newline = true;
        let mut escapes = false;
        let mut words = args;
        while let Some(first) = words.first() {
            let flags = first
                .strip_prefix('-')
                .filter(|f| !f.is_empty() && f.chars().all(|c| matches!(c, 'n' | 'e' | 'E')));
            let Some(flags) = flags else { break };
            for c in flags.chars() {
                match c {
                    'n' => newline = false,
                    'e' => escapes = true,
                    _ => escapes = false,
                }
            }
            words = &words[1..];
        }
        let mut text = String::new();
        for (index, word) in words.iter().enumerate() {
            if index > 0 {
                text.push(' ');
            }
            if escapes {
                let (expanded, stop) = backslash_escapes(word, true);
                text.push_str(&expanded);
                if stop {
                    return self.out(&text).await;
                }
            } else {
                text.push_str(word);
            }
        }
        if newline {
            text.push('\n');
        }
        self.out(&text).await
    }

    async fn cd(&mut self, args: &[String]) -> i32 {
        let (target, print) = match args.first().map(String::as_str) {
            None => (
                self.state.vars.get("HOME").unwrap_or("/").to_string(),
                false,
            ),
            Some("-") => match self.state.vars.get("OLDPWD") {
                Some(old) => (old.to_string(), true),
                None => (self.state.cwd.clone(), true),
            },
            Some(dir) => (dir.to_string(), false),
        };
        match self.os.chdir(&target).await {
            Ok(now) => {
                let old = std::mem::replace(&mut self.state.cwd, now.clone());
                let _ = self.state.vars.set("OLDPWD", &old);
                let _ = self.state.vars.set("PWD", &now);
                if print {
                    self.out(&format!("{now}\n")).await;
                }
                0
            }
            Err(message) => {
                self.builtin_error("cd", &format!("can't cd to {target}: {message}"))
                    .await;
                2
            }
        }
    }

    async fn export(&mut self, name: &str, args: &[String]) -> (i32, Flow) {
        let listing = args.is_empty() || args.iter().all(|a| a == "-p");
        if listing {
            let mut lines: Vec<String> = self
                .state
                .vars
                .all()
                .filter(|v| {
                    if name == "export" {
                        v.exported
                    } else {
                        v.readonly
                    }
                })
                .map(|v| match &v.value {
                    Some(value) => format!("{name} {}={}\n", v.name, quote(value)),
                    None => format!("{name} {}\n", v.name),
                })
                .collect();
            lines.sort();
            let status = self.out(&lines.concat()).await;
            return (status, Flow::Next);
        }
        for arg in args.iter().filter(|a| *a != "-p") {
            let (var, value) = match arg.split_once('=') {
                Some((var, value)) => (var, Some(value)),
                None => (arg.as_str(), None),
            };
            if !valid_name(var) {
                self.builtin_error(name, &format!("{var}: bad variable name"))
                    .await;
                self.state.status = 2;
                return (2, Flow::Fatal);
            }
            if let Some(value) = value
                && let Err(message) = self.state.vars.set(var, value)
            {
                self.say(&message).await;
                self.state.status = 2;
                return (2, Flow::Fatal);
            }
            if name == "export" {
                self.state.vars.export(var);
            } else {
                self.state.vars.set_readonly(var);
            }
        }
        (0, Flow::Next)
    }

    async fn set(&mut self, args: &[String]) -> (i32, Flow) {
        if args.is_empty() {
            let mut lines: Vec<String> = self
                .state
                .vars
                .all()
                .filter_map(|v: &Var| {
                    v.value
                        .as_ref()
                        .map(|value| format!("{}={}\n", v.name, quote(value)))
                })
                .collect();
            lines.sort();
            return (self.out(&lines.concat()).await, Flow::Next);
        }
        let mut index = 0;
        while let Some(arg) = args.get(index) {
            if arg == "--" {
                index += 1;
                self.state.positional = args[index..].to_vec();
                return (0, Flow::Next);
            }
            let (on, letters) = match arg.chars().next() {
                Some('-') => (true, &arg[1..]),
                Some('+') => (false, &arg[1..]),
                _ => break,
            };
            if letters == "o" {
                let option = args.get(index + 1).cloned().unwrap_or_default();
                let letter = match option.as_str() {
                    "errexit" => 'e',
                    "nounset" => 'u',
                    "xtrace" => 'x',
                    "noglob" => 'f',
                    "noclobber" => 'C',
                    _ => {
                        self.builtin_error("set", &format!("Illegal option -o {option}"))
                            .await;
                        return (2, Flow::Fatal);
                    }
                };
                self.set_option(letter, on);
                index += 2;
                continue;
            }
            for letter in letters.chars() {
                if !matches!(letter, 'e' | 'u' | 'x' | 'f' | 'C') {
                    self.builtin_error("set", &format!("Illegal option -{letter}"))
                        .await;
                    return (2, Flow::Fatal);
                }
                self.set_option(letter, on);
            }
            index += 1;
        }
        if index < args.len() {
            self.state.positional = args[index..].to_vec();
        }
        (0, Flow::Next)
    }

    fn set_option(&mut self, letter: char, on: bool) {
        let options = &mut self.state.options;
        match letter {
            'e' => options.errexit = on,
            'u' => options.nounset = on,
            'x' => options.xtrace = on,
            'f' => options.noglob = on,
            _ => options.noclobber = on,
        }
    }

    async fn dot(&mut self, args: &[String]) -> Flow {
        let Some(file) = args.first() else {
            self.builtin_error(".", "filename argument required").await;
            self.state.status = 2;
            return Flow::Fatal;
        };
        let path = if file.contains('/') {
            Some(file.clone())
        } else {
            self.find_readable(file).await
        };
        let text = match path {
            Some(path) => self.read_file(&path).await,
            None => Err("No such file or directory".into()),
        };
        let text = match text {
            Ok(text) => text,
            Err(message) => {
                self.builtin_error(".", &format!("can't open '{file}': {message}"))
                    .await;
                self.state.status = 2;
                return Flow::Fatal;
            }
        };
        let positional = (args.len() > 1)
            .then(|| std::mem::replace(&mut self.state.positional, args[1..].to_vec()));
        self.state.status = 0;
        let flow = self
            .run_text(&text, false, &format!("{file}: "), |flow| {
                *flow != Flow::Next
            })
            .await;
        if let Some(positional) = positional {
            self.state.positional = positional;
        }
        if flow == Flow::Return {
            Flow::Next
        } else {
            flow
        }
    }

    async fn find_readable(&mut self, name: &str) -> Option<String> {
        let path = self.state.vars.get("PATH").unwrap_or("/bin").to_string();
        for dir in path.split(':') {
            let candidate = format!("{}/{name}", dir.trim_end_matches('/'));
            if self
                .os
                .stat(&candidate)
                .await
                .is_ok_and(|m| m.kind == Kind::File)
            {
                return Some(candidate);
            }
        }
        None
    }

    pub(super) async fn read_file(&mut self, path: &str) -> Result<String, String> {
        let fd = self.os.open(path, Open::Read).await?;
        let mut bytes = Vec::new();
        loop {
            match self.os.read(fd, 65536).await {
                Ok(chunk) if !chunk.is_empty() => bytes.extend(chunk),
                Ok(_) => break,
                Err(message) => {
                    self.os.close(fd).await;
                    return Err(message);
                }
            }
        }
        self.os.close(fd).await;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// `read [-r] [-p PROMPT] NAME...`: a line from standard input, a
    /// byte at a time (the rest stays for whoever reads next), split on
    /// `IFS`, the last name taking what is left.
    async fn read(&mut self, args: &[String]) -> i32 {
        let mut raw = false;
        let mut names = Vec::new();
        let mut index = 0;
        while let Some(arg) = args.get(index) {
            match arg.as_str() {
                "-r" => raw = true,
                "-p" => {
                    index += 1;
                    if let Some(prompt) = args.get(index) {
                        let _ = self.os.write(2, prompt.as_bytes()).await;
                    }
                }
                _ => names.push(arg.clone()),
            }
            index += 1;
        }
        if names.is_empty() {
            names.push("REPLY".into());
        }
        let mut line: Vec<(char, bool)> = Vec::new();
        let mut bytes = Vec::new();
        let mut ended = false;
        let mut escaped = false;
        loop {
            let chunk = match self.os.read(0, 1).await {
                Ok(chunk) => chunk,
                Err(message) => {
                    self.builtin_error("read", &message).await;
                    return 1;
                }
            };
            let Some(&byte) = chunk.first() else {
                break;
            };
            bytes.push(byte);
            let Ok(text) = std::str::from_utf8(&bytes) else {
                if bytes.len() < 4 {
                    continue;
                }
                bytes.clear();
                continue;
            };
            let c = text.chars().next().unwrap_or('\u{fffd}');
            bytes.clear();
            if escaped {
                escaped = false;
                if c != '\n' {
                    line.push((c, true));
                }
                continue;
            }
            if c == '\\' && !raw {
                escaped = true;
                continue;
            }
            if c == '\n' {
                ended = true;
                break;
            }
            line.push((c, false));
        }
        let ifs = self.state.vars.get("IFS").unwrap_or(" \t\n").to_string();
        let is_ifs = |c: &(char, bool)| !c.1 && ifs.contains(c.0);
        let is_blank = |c: &(char, bool)| is_ifs(c) && matches!(c.0, ' ' | '\t' | '\n');
        let mut rest: &[(char, bool)] = &line;
        for (position, name) in names.iter().enumerate() {
            while rest.first().is_some_and(is_blank) {
                rest = &rest[1..];
            }
            let value: String = if position + 1 == names.len() {
                let mut end = rest.len();
                while end > 0 && is_blank(&rest[end - 1]) {
                    end -= 1;
                }
                let value = rest[..end].iter().map(|c| c.0).collect();
                rest = &[];
                value
            } else {
                let end = rest.iter().position(is_ifs).unwrap_or(rest.len());
                let value = rest[..end].iter().map(|c| c.0).collect();
                rest = &rest[end..];
                // One delimiter, with the blanks around it.
                while rest.first().is_some_and(is_blank) {
                    rest = &rest[1..];
                }
                if rest.first().is_some_and(|c| is_ifs(c) && !is_blank(c)) {
                    rest = &rest[1..];
                }
                value
            };
            if let Err(message) = self.state.vars.set(name, &value) {
                self.say(&message).await;
                return 2;
            }
        }
        if ended { 0 } else { 1 }
    }

    /// `test EXPRESSION` and `[ EXPRESSION ]`: 0 true, 1 false, 2 with a
    /// message for a mistake.
    async fn test(&mut self, args: &[String]) -> i32 {
        let mut test = Test {
            args,
            at: 0,
            facts: Vec::new(),
        };
        // The files the expression names are looked at first: the
        // evaluation itself is not async.
        for (index, arg) in args.iter().enumerate() {
            if UNARY_FILE.contains(&arg.as_str())
                && let Some(path) = args.get(index + 1)
            {
                let fact = self.file_fact(arg, path).await;
                test.facts.push((arg.clone(), path.clone(), fact));
            }
        }
        match test.run() {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(message) => {
                self.say(&message).await;
                2
            }
        }
    }

    async fn file_fact(&mut self, op: &str, path: &str) -> bool {
        let meta = if op == "-L" || op == "-h" {
            self.os.lstat(path).await
        } else {
            self.os.stat(path).await
        };
        match op {
            "-e" => meta.is_ok(),
            "-f" => meta.is_ok_and(|m| m.kind == Kind::File),
            "-d" => meta.is_ok_and(|m| m.kind == Kind::Dir),
            "-L" | "-h" => meta.is_ok_and(|m| m.kind == Kind::Symlink),
            "-p" => meta.is_ok_and(|m| m.kind == Kind::Fifo),
            "-S" => meta.is_ok_and(|m| m.kind == Kind::Socket),
            "-b" => meta.is_ok_and(|m| m.kind == Kind::BlockDevice),
            "-c" => meta.is_ok_and(|m| m.kind == Kind::CharDevice),
            "-s" => meta.is_ok_and(|m| m.size > 0),
            "-u" => meta.is_ok_and(|m| m.mode & 0o4000 != 0),
            "-g" => meta.is_ok_and(|m| m.mode & 0o2000 != 0),
            "-k" => meta.is_ok_and(|m| m.mode & 0o1000 != 0),
            "-r" => self.os.access(path, Access::Read).await,
            "-w" => self.os.access(path, Access::Write).await,
            "-x" => self.os.access(path, Access::Execute).await,
            "-t" => false,
            _ => false,
        }
    }

    /// `printf FORMAT ARG...`, the format used again while arguments are
    /// left.
    async fn printf(&mut self, args: &[String]) -> i32 {
        let Some((format, rest)) = args.split_first() else {
            self.say("usage: printf FORMAT [ARGUMENT...]").await;
            return 2;
        };
        let (out, errors) = printf_all(format, rest);
        // Each message goes out where it arose among the output.
        let failed = !errors.is_empty();
        let mut written = 0;
        for (at, message) in errors {
            self.out_quietly(&out[written..at]).await;
            self.say(&message).await;
            written = at;
        }
        let last = self.out_quietly(&out[written..]).await;
        if failed { 1 } else { last }
    }
}

const UNARY_FILE: [&str; 17] = [
    "-e", "-f", "-d", "-L", "-h", "-p", "-S", "-b", "-c", "-s", "-u", "-g", "-k", "-r", "-w", "-x",
    "-t",
];

/// `test`'s expression over its arguments, with the file tests' answers
/// read ahead.
struct Test<'a> {
    args: &'a [String],
    at: usize,
    facts: Vec<(String, String, bool)>,
}

impl Test<'_> {
    fn run(&mut self) -> Result<bool, String> {
        // POSIX's rules by the number of arguments, then the grammar.
        match self.args.len() {
            0 => return Ok(false),
            1 => return Ok(!self.args[0].is_empty()),
            2 if self.args[0] == "!" => return Ok(self.args[1].is_empty()),
            3 if BINARY.contains(&self.args[1].as_str()) => {
                return self.binary(&self.args[0], &self.args[1], &self.args[2]);
            }
            _ => {}
        }
        let value = self.or()?;
        if self.at < self.args.len() {
            return Err(format!("{}: unknown operand", self.args[self.at]));
        }
        Ok(value)
    }

    fn peek(&self) -> Option<&str> {
        self.args.get(self.at).map(String::as_str)
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut value = self.and()?;
        while self.peek() == Some("-o") {
            self.at += 1;
            let right = self.and()?;
            value = value || right;
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut value = self.not()?;
        while self.peek() == Some("-a") {
            self.at += 1;
            let right = self.not()?;
            value = value && right;
        }
        Ok(value)
    }

    fn not(&mut self) -> Result<bool, String> {
        if self.peek() == Some("!") {
            self.at += 1;
            return Ok(!self.not()?);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<bool, String> {
        let Some(first) = self.peek().map(str::to_string) else {
            return Err("argument expected".into());
        };
        if first == "(" {
            self.at += 1;
            let value = self.or()?;
            if self.peek() != Some(")") {
                return Err("closing paren expected".into());
            }
            self.at += 1;
            return Ok(value);
        }
        if let Some(op) = self.args.get(self.at + 1)
            && BINARY.contains(&op.as_str())
        {
            let op = op.clone();
            let Some(right) = self.args.get(self.at + 2).cloned() else {
                return Err(format!("{op}: argument expected"));
            };
            self.at += 3;
            return self.binary(&first, &op, &right);
        }
        if first == "-n" || first == "-z" {
            let Some(operand) = self.args.get(self.at + 1).cloned() else {
                self.at += 1;
                return Ok(true);
            };
            self.at += 2;
            return Ok((first == "-n") != operand.is_empty());
        }
        if UNARY_FILE.contains(&first.as_str()) {
            let Some(path) = self.args.get(self.at + 1).cloned() else {
                self.at += 1;
                return Ok(true);
            };
            self.at += 2;
            return Ok(self
                .facts
                .iter()
                .find(|(op, p, _)| *op == first && *p == path)
                .is_some_and(|f| f.2));
        }
        self.at += 1;
        Ok(!first.is_empty())
    }

    fn binary(&self, left: &str, op: &str, right: &str) -> Result<bool, String> {
        let number = |text: &str| {
            text.trim()
                .parse::<i64>()
                .map_err(|_| format!("{text}: bad number"))
        };
        Ok(match op {
            "=" | "==" => left == right,
            "!=" => left != right,
            "<" => left < right,
            ">" => left > right,
            "-eq" => number(left)? == number(right)?,
            "-ne" => number(left)? != number(right)?,
            "-lt" => number(left)? < number(right)?,
            "-le" => number(left)? <= number(right)?,
            "-gt" => number(left)? > number(right)?,
            "-ge" => number(left)? >= number(right)?,
            _ => false,
        })
    }
}

const BINARY: [&str; 12] = [
    "=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt",
];

/// Backslash escapes as `echo -e`, `printf`'s format and `%b` take them:
/// the text, and whether `\c` asked to stop all output.
fn backslash_escapes(text: &str, zero_octal: bool) -> (String, bool) {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 == chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let next = chars[i + 1];
        i += 2;
        match next {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'c' => return (out, true),
            'e' => out.push('\x1b'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            'x' => {
                let digits: String = chars[i..]
                    .iter()
                    .take(2)
                    .take_while(|c| c.is_ascii_hexdigit())
                    .collect();
                if digits.is_empty() {
                    out.push_str("\\x");
                } else {
                    i += digits.len();
                    out.push(u8::from_str_radix(&digits, 16).map_or('?', char::from));
                }
            }
            '0'..='7' => {
                // `\0NNN` (echo, %b) or `\NNN` (a format).
                let start = if next == '0' && zero_octal { i } else { i - 1 };
                let digits: String = chars[start..]
                    .iter()
                    .take(3)
                    .take_while(|c| ('0'..='7').contains(c))
                    .collect();
                i = start + digits.len();
                let value = u32::from_str_radix(if digits.is_empty() { "0" } else { &digits }, 8)
                    .unwrap_or(0);
                out.push(char::from((value & 0xff) as u8));
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    (out, false)
}

/// `printf`'s output for a format and its arguments, the format used
/// again while arguments are left, and its complaints with where in the
/// output each arose (the builtin and the applet say them alike).
pub(crate) fn printf_all(format: &str, mut rest: &[String]) -> (String, Vec<(usize, String)>) {
    let mut out = String::new();
    let mut errors = Vec::new();
    loop {
        let before = rest.len();
        let stop = printf_once(format, &mut rest, &mut out, &mut errors);
        if stop || rest.is_empty() || rest.len() == before {
            break;
        }
    }
    (out, errors)
}

/// One pass of a `printf` format over the arguments: whether `\c` or
/// `%b`'s `\c` stopped it. Bad numbers' messages are kept with where in
/// the output they arose.
fn printf_once(
    format: &str,
    args: &mut &[String],
    out: &mut String,
    errors: &mut Vec<(usize, String)>,
) -> bool {
    let mut take = || -> Option<String> {
        let (first, rest) = args.split_first()?;
        *args = rest;
        Some(first.clone())
    };
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let mut end = i + 1;
            if end < chars.len() {
                end += 1;
                if chars[i + 1] == 'x' {
                    while end < chars.len() && end < i + 4 && chars[end].is_ascii_hexdigit() {
                        end += 1;
                    }
                } else if ('0'..='7').contains(&chars[i + 1]) {
                    while end < chars.len() && end < i + 4 && ('0'..='7').contains(&chars[end]) {
                        end += 1;
                    }
                }
            }
            let piece: String = chars[i..end].iter().collect();
            let (text, stop) = backslash_escapes(&piece, false);
            out.push_str(&text);
            if stop {
                return true;
            }
            i = end;
            continue;
        }
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'%') {
            out.push('%');
            i += 2;
            continue;
        }
        // %[flags][width][.precision]conversion
        let mut j = i + 1;
        while j < chars.len() && "-+ #0".contains(chars[j]) {
            j += 1;
        }
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
        if chars.get(j) == Some(&'.') {
            j += 1;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
        }
        let Some(&conversion) = chars.get(j) else {
            out.extend(&chars[i..]);
            break;
        };
        let spec: String = chars[i + 1..j].iter().collect();
        i = j + 1;
        let arg = take();
        match conversion {
            's' => out.push_str(&pad(&spec, &precision_cut(&spec, &arg.unwrap_or_default()))),
            'b' => {
                let (text, stop) = backslash_escapes(&arg.unwrap_or_default(), true);
                out.push_str(&pad(&spec, &text));
                if stop {
                    return true;
                }
            }
            'c' => {
                let first: String = arg.unwrap_or_default().chars().take(1).collect();
                out.push_str(&pad(&spec, &first));
            }
            'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
                let text = arg.unwrap_or_default();
                let value = match parse_number(&text) {
                    Some(value) => value,
                    None => {
                        errors.push((out.len(), format!("invalid number '{text}'")));
                        0
                    }
                };
                out.push_str(&format_integer(&spec, conversion, value));
            }
            'f' | 'e' | 'g' | 'E' | 'G' => {
                let text = arg.unwrap_or_default();
                let value = match text.trim().parse::<f64>() {
                    Ok(value) => value,
                    Err(_) if text.is_empty() => 0.0,
                    Err(_) => {
                        errors.push((out.len(), format!("invalid number '{text}'")));
                        0.0
                    }
                };
                out.push_str(&format_float(&spec, conversion, value));
            }
            other => {
                errors.push((out.len(), format!("%{other}: invalid format")));
                return true;
            }
        }
    }
    false
}

fn parse_number(text: &str) -> Option<i64> {
    let trimmed = text.trim();
    if let Some(c) = trimmed
        .strip_prefix('\'')
        .or_else(|| trimmed.strip_prefix('"'))
    {
        return Some(c.chars().next().map_or(0, |c| c as i64));
    }
    let (negative, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let value = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

/// The width and flags of a conversion spec (`-5`, `05`, `+`).
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alternate: bool,
    width: usize,
    precision: Option<usize>,
}

/// The widest a `printf` field may be: a script cannot have one line
/// cost the machine its memory (`%99999999999s`).
const MAX_FIELD: usize = 1 << 16;

fn spec(text: &str) -> Spec {
    let flags: String = text.chars().take_while(|c| "-+ #0".contains(*c)).collect();
    let rest = &text[flags.len()..];
    let field = |t: &str| t.parse::<usize>().unwrap_or(0).min(MAX_FIELD);
    let (width, precision) = match rest.split_once('.') {
        Some((w, p)) => (w, Some(field(p))),
        None => (rest, None),
    };
    Spec {
        left: flags.contains('-'),
        zero: flags.contains('0'),
        plus: flags.contains('+'),
        space: flags.contains(' '),
        alternate: flags.contains('#'),
        width: field(width),
        precision,
    }
}

pub(crate) fn pad(text_spec: &str, text: &str) -> String {
    let s = spec(text_spec);
    let len = text.chars().count();
    if len >= s.width {
        return text.to_string();
    }
    let fill = " ".repeat(s.width - len);
    if s.left {
        format!("{text}{fill}")
    } else {
        format!("{fill}{text}")
    }
}

pub(crate) fn precision_cut(text_spec: &str, text: &str) -> String {
    match spec(text_spec).precision {
        Some(p) => text.chars().take(p).collect(),
        None => text.to_string(),
    }
}

pub(crate) fn format_integer(text_spec: &str, conversion: char, value: i64) -> String {
    let s = spec(text_spec);
    let mut digits = match conversion {
        'x' => format!("{:x}", value),
        'X' => format!("{:X}", value),
        'o' => format!("{:o}", value),
        'u' => format!("{}", value as u64),
        _ => value.unsigned_abs().to_string(),
    };
    if let Some(p) = s.precision
        && digits.len() < p
    {
        digits = format!("{}{digits}", "0".repeat(p - digits.len()));
    }
    let sign = if matches!(conversion, 'd' | 'i') {
        if value < 0 {
            "-"
        } else if s.plus {
            "+"
        } else if s.space {
            " "
        } else {
            ""
        }
    } else {
        ""
    };
    let prefix = match (s.alternate, conversion) {
        (true, 'x') if value != 0 => "0x",
        (true, 'X') if value != 0 => "0X",
        (true, 'o') if !digits.starts_with('0') => "0",
        _ => "",
    };
    let body = format!("{sign}{prefix}{digits}");
    let len = body.chars().count();
    if len >= s.width {
        return body;
    }
    let fill = s.width - len;
    if s.left {
        format!("{body}{}", " ".repeat(fill))
    } else if s.zero && s.precision.is_none() {
        format!("{sign}{prefix}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

fn format_float(text_spec: &str, conversion: char, value: f64) -> String {
    let s = spec(text_spec);
    let precision = s.precision.unwrap_or(6);
    let body = match conversion {
        'f' => format!("{value:.precision$}"),
        'e' | 'E' => {
            let text = c_exponent(value, precision);
            if conversion == 'E' {
                text.to_uppercase()
            } else {
                text
            }
        }
        _ => {
            // %g: the shorter of %e and %f, trailing zeros taken off.
            let p = if precision == 0 { 1 } else { precision };
            let exponent = if value == 0.0 {
                0
            } else {
                value.abs().log10().floor() as i32
            };
            let text = if exponent < -4 || exponent >= p as i32 {
                let t = c_exponent(value, p - 1);
                let (mantissa, exp) = t.split_once('e').unwrap_or((&t, ""));
                let mantissa = if mantissa.contains('.') {
                    mantissa.trim_end_matches('0').trim_end_matches('.')
                } else {
                    mantissa
                };
                format!("{mantissa}e{exp}")
            } else {
                let decimals = (p as i32 - 1 - exponent).max(0) as usize;
                let t = format!("{value:.decimals$}");
                if t.contains('.') {
                    t.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    t
                }
            };
            if conversion == 'G' {
                text.to_uppercase()
            } else {
                text
            }
        }
    };
    let body = if s.plus && value >= 0.0 {
        format!("+{body}")
    } else {
        body
    };
    pad(
        &format!("{}{}", if s.left { "-" } else { "" }, s.width),
        &body,
    )
}

/// C's `%e`: `1.234500e+03`.
fn c_exponent(value: f64, precision: usize) -> String {
    let text = format!("{value:.precision$e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}
