//! The interpreter: runs the syntax tree over an [`Os`], as `ash` runs
//! it — lists, and-or lists, pipelines (every part in a child, the last
//! command of a child shell run in place by `exec`), compound commands,
//! functions, redirections (saved and put back around builtins) and
//! word expansion.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use super::arith;
use super::ast::*;
use super::fields::{self, Origin, Piece};
use super::os::{Fd, Open, Os, Subshell, WriteError};
use super::parse::Parser;
use super::pattern::{self, PatChar};
use super::vars::Var;
use super::vars::Vars;
use crate::process::Pid;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What a shell carries into a child shell: everything `fork` copies.
#[derive(Clone, Debug)]
pub struct State {
    pub vars: Vars,
    /// `$0`.
    pub arg0: String,
    /// `$1`...
    pub positional: Vec<String>,
    pub functions: HashMap<String, Rc<Command>>,
    /// `$?`.
    pub status: i32,
    /// `$!`.
    pub last_background: Option<Pid>,
    pub options: Options,
    /// The working directory, absolute.
    pub cwd: String,
    /// Background children not yet waited for.
    pub jobs: Vec<Pid>,
    /// Whether it reads from a terminal (a mistake abandons the line, not
    /// the shell).
    pub interactive: bool,
    /// What messages start with (`sh`).
    pub name: String,
    /// Added to a command's line in messages: 0 for `-c`, 1 for a file.
    pub line_base: u32,
    /// `$$`: the shell's pid, which its child shells keep.
    pub shell_pid: Option<Pid>,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// `set -e`
    pub errexit: bool,
    /// `set -u`
    pub nounset: bool,
    /// `set -x`
    pub xtrace: bool,
    /// `set -f`
    pub noglob: bool,
    /// `set -C`
    pub noclobber: bool,
    /// How the shell was started, first in `$-`: `c` for `-c`, `s` for a
    /// script on standard input, `i` as well when interactive.
    pub mode: &'static str,
}

impl Options {
    /// `$-`.
    pub fn letters(&self) -> String {
        let mut out = self.mode.to_string();
        for (on, letter) in [
            (self.errexit, 'e'),
            (self.noglob, 'f'),
            (self.nounset, 'u'),
            (self.xtrace, 'x'),
            (self.noclobber, 'C'),
        ] {
            if on {
                out.push(letter);
            }
        }
        out
    }
}

impl State {
    /// A new shell's state, as `ash` starts: its environment exported,
    /// `SHLVL` one more, `PWD` set, `IFS` and the prompts given.
    pub fn new(env: &[String], cwd: &str, name: &str) -> State {
        let mut vars = Vars::from_env(env);
        let level = vars
            .get("SHLVL")
            .and_then(|l| l.parse::<i64>().ok())
            .unwrap_or(0)
            + 1;
        let _ = vars.set("SHLVL", &level.to_string());
        vars.export("SHLVL");
        let _ = vars.set("PWD", cwd);
        vars.export("PWD");
        State {
            vars,
            arg0: name.to_string(),
            positional: Vec::new(),
            functions: HashMap::new(),
            status: 0,
            last_background: None,
            options: Options::default(),
            cwd: cwd.to_string(),
            jobs: Vec::new(),
            interactive: false,
            name: name.to_string(),
            line_base: 0,
            shell_pid: None,
        }
    }
}

/// How a command ended, besides its status (in `State::status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Next,
    Break(u32),
    Continue(u32),
    Return,
    /// `exit`, or the shell is done.
    Exit,
    /// A mistake that ends a non-interactive shell (an expansion's error,
    /// an assignment to a read-only variable): said already, `$?` is 2.
    Fatal,
}

pub struct Shell<O: Os> {
    pub state: State,
    pub os: O,
    /// Loops around the command running (for `break`).
    pub(super) loops: u32,
    /// Function calls around it (for `return`).
    pub(super) calls: u32,
    /// Inside a condition, where `set -e` does not act.
    pub(super) tested: u32,
    /// The line of the command running, for messages.
    pub(super) line: u32,
    /// Per function call, the variables `local` changed and what they
    /// were.
    pub(super) locals: Vec<Vec<(String, Option<Var>)>>,
}

impl<O: Os> Shell<O> {
    pub fn new(mut state: State, os: O) -> Shell<O> {
        if state.shell_pid.is_none() {
            // A new shell, not a child of one: `$$` and, as `ash` sets it
            // once, `$PPID`.
            state.shell_pid = Some(os.pid());
            let _ = state.vars.set("PPID", &os.ppid().to_string());
        }
        Shell {
            state,
            os,
            loops: 0,
            calls: 0,
            tested: 0,
            line: 0,
            locals: Vec::new(),
        }
    }

    /// The state a child shell starts with.
    fn child_state(&self) -> State {
        let mut state = self.state.clone();
        state.interactive = false;
        state.jobs.clear();
        state
    }

    // ---- messages ----

    /// `sh: MESSAGE` on standard error.
    pub async fn say(&mut self, message: &str) {
        let text = format!("{}: {message}\n", self.state.name);
        let _ = self.os.write(2, text.as_bytes()).await;
    }

    /// A builtin's complaint: `sh: cd: line 0: MESSAGE`.
    pub(super) async fn builtin_error(&mut self, builtin: &str, message: &str) {
        let line = self.line + self.state.line_base;
        self.say(&format!("{builtin}: line {line}: {message}"))
            .await;
    }

    /// A mistake that ends a non-interactive shell.
    pub(super) async fn fatal(&mut self, message: &str) -> Flow {
        self.say(message).await;
        self.state.status = 2;
        Flow::Fatal
    }

    // ---- scripts ----

    /// Runs a script one complete command at a time, as `sh -c` and `sh
    /// FILE` do; a syntax error ends it with status 2. The last command
    /// is run in place when `tail` (nothing follows the shell).
    pub async fn run_script(&mut self, text: &str, tail: bool) -> i32 {
        let interactive = self.state.interactive;
        let flow = self
            .run_text(text, tail, "", |flow| {
                *flow == Flow::Exit || (*flow == Flow::Fatal && !interactive)
            })
            .await;
        let status = if flow == Flow::Fatal {
            2
        } else {
            self.state.status
        };
        self.finish(status).await
    }

    /// Runs what was typed at an interactive prompt: `Some(status)` when
    /// the shell is to end (`exit`). A mistake ends the line, not the
    /// shell.
    pub async fn run_script_interactive(&mut self, text: &str) -> Option<i32> {
        let flow = self
            .run_text(text, false, "", |flow| {
                matches!(flow, Flow::Exit | Flow::Fatal)
            })
            .await;
        (flow == Flow::Exit).then_some(self.state.status)
    }

    /// Parses and runs `text` one complete command at a time until `stop`
    /// says a command's flow ends it: that flow, or `Next`. A syntax
    /// error is said (after `prefix`), sets `$?` to 2 and gives `Fatal`.
    /// `sh -c`, a prompt's line, `eval` and `.` all read this way.
    pub(super) async fn run_text(
        &mut self,
        text: &str,
        tail: bool,
        prefix: &str,
        stop: impl Fn(&Flow) -> bool,
    ) -> Flow {
        let mut parser = Parser::new(text);
        loop {
            let list = match parser.next_command() {
                Ok(Some(list)) => list,
                Ok(None) => return Flow::Next,
                Err(err) => {
                    self.say(&format!("{prefix}{}", err.message)).await;
                    self.state.status = 2;
                    return Flow::Fatal;
                }
            };
            let last = tail && parser.at_end();
            let flow = self.run_list(&list, last).await;
            if stop(&flow) {
                return flow;
            }
        }
    }

    /// Runs a child shell's body (a subshell, a pipeline's part, a
    /// background job, a command substitution): its exit status.
    pub async fn run_body(&mut self, body: &List) -> i32 {
        let _ = self.run_list(body, true).await;
        let status = self.state.status;
        self.finish(status).await
    }

    /// What the shell does as it ends: nothing left to wait for here (its
    /// children are reparented, as with `ash`).
    async fn finish(&mut self, status: i32) -> i32 {
        status
    }

    // ---- lists ----

    pub fn run_list<'a>(&'a mut self, list: &'a List, tail: bool) -> Boxed<'a, Flow> {
        Box::pin(async move {
            let count = list.0.len();
            for (index, item) in list.0.iter().enumerate() {
                let last = tail && index + 1 == count;
                let flow = if item.background {
                    self.background(&item.and_or).await
                } else {
                    self.run_and_or(&item.and_or, last).await
                };
                if flow != Flow::Next {
                    return flow;
                }
            }
            Flow::Next
        })
    }

    async fn background(&mut self, and_or: &AndOr) -> Flow {
        let body = Rc::new(List(vec![Item {
            and_or: and_or.clone(),
            background: false,
        }]));
        // A background job reads nothing of the terminal.
        let moves = match self.os.open("/dev/null", Open::Read).await {
            Ok(null) => vec![(null, 0)],
            Err(_) => Vec::new(),
        };
        let state = self.child_state();
        let started = self.fork_with(moves, state, body).await;
        match started {
            Ok(pid) => {
                self.state.last_background = Some(pid);
                self.state.jobs.push(pid);
                self.state.status = 0;
            }
            // As `ash`, a shell that cannot fork gives up.
            Err(message) => return self.fatal(&format!("can't fork: {message}")).await,
        }
        Flow::Next
    }

    async fn run_and_or(&mut self, and_or: &AndOr, tail: bool) -> Flow {
        let count = and_or.rest.len();
        // Every pipeline but the last is a condition for `set -e`.
        if count > 0 {
            self.tested += 1;
        }
        let mut flow = self.run_pipeline(&and_or.first, tail && count == 0).await;
        if count > 0 {
            self.tested -= 1;
        }
        for (index, (connector, pipeline)) in and_or.rest.iter().enumerate() {
            if flow != Flow::Next {
                return flow;
            }
            let go = match connector {
                Connector::And => self.state.status == 0,
                Connector::Or => self.state.status != 0,
            };
            if !go {
                continue;
            }
            let last = index + 1 == count;
            if !last {
                self.tested += 1;
            }
            flow = self.run_pipeline(pipeline, tail && last).await;
            if !last {
                self.tested -= 1;
            }
        }
        flow
    }

    async fn run_pipeline(&mut self, pipeline: &Pipeline, tail: bool) -> Flow {
        if pipeline.bang {
            self.tested += 1;
        }
        let flow = if pipeline.commands.len() == 1 {
            self.run_command(&pipeline.commands[0], tail && !pipeline.bang)
                .await
        } else {
            self.run_pipe(&pipeline.commands).await
        };
        if pipeline.bang {
            self.tested -= 1;
            self.state.status = i32::from(self.state.status == 0);
            return flow;
        }
        if flow == Flow::Next
            && self.state.status != 0
            && self.state.options.errexit
            && self.tested == 0
        {
            return Flow::Exit;
        }
        flow
    }

    /// `a | b | c`: each in a child, joined by pipes; the status is the
    /// last one's.
    async fn run_pipe(&mut self, commands: &[Command]) -> Flow {
        let mut children = Vec::new();
        let mut failed = None;
        let mut input: Option<Fd> = None;
        for (index, command) in commands.iter().enumerate() {
            let last = index + 1 == commands.len();
            let (next, output) = if last {
                (None, None)
            } else {
                match self.os.pipe().await {
                    Ok((read, write)) => (Some(read), Some(write)),
                    Err(message) => {
                        self.say(&format!("pipe call failed: {message}")).await;
                        self.state.status = 2;
                        break;
                    }
                }
            };
            let moves = input
                .map(|read| (read, 0))
                .into_iter()
                .chain(output.map(|write| (write, 1)))
                .collect();
            let body = Rc::new(List(vec![Item {
                and_or: AndOr {
                    first: Pipeline {
                        bang: false,
                        commands: vec![command.clone()],
                    },
                    rest: Vec::new(),
                },
                background: false,
            }]));
            let state = self.child_state();
            let started = self.fork_with(moves, state, body).await;
            input = next;
            match started {
                Ok(pid) => children.push(pid),
                Err(message) => {
                    failed = Some(message);
                    break;
                }
            }
        }
        if let Some(read) = input {
            self.os.close(read).await;
        }
        if let Some(message) = failed {
            return self.fatal(&format!("can't fork: {message}")).await;
        }
        let mut status = 0;
        for child in children {
            status = self.wait_status(child).await;
        }
        self.state.status = status;
        Flow::Next
    }

    /// Forks a child shell that runs `body` with each `(fd, target)` of
    /// `moves` at `target`: the parent's own are put back after, and each
    /// `fd` is closed.
    async fn fork_with(
        &mut self,
        moves: Vec<(Fd, Fd)>,
        state: State,
        body: Rc<List>,
    ) -> Result<Pid, String> {
        let mut saved = Vec::new();
        for (fd, target) in moves {
            saved.push((target, self.swap_in(fd, target).await));
        }
        let started = self.os.subshell(Subshell { state, body }).await;
        self.restore(saved).await;
        started
    }

    /// Puts `fd` at `target` for a child to inherit: what was at
    /// `target`, to put back.
    async fn swap_in(&mut self, fd: Fd, target: Fd) -> Option<Fd> {
        let saved = self.os.dup_private(target).await.ok();
        let _ = self.os.dup2(fd, target).await;
        self.os.close(fd).await;
        saved
    }

    async fn put_back(&mut self, saved: Option<Fd>, target: Fd) {
        match saved {
            Some(saved) => {
                let _ = self.os.dup2(saved, target).await;
                self.os.close(saved).await;
            }
            None => self.os.close(target).await,
        }
    }

    pub(super) async fn wait_status(&mut self, pid: Pid) -> i32 {
        self.state.jobs.retain(|job| *job != pid);
        self.os.wait(pid).await.unwrap_or(127)
    }

    // ---- commands ----

    pub fn run_command<'a>(&'a mut self, command: &'a Command, tail: bool) -> Boxed<'a, Flow> {
        Box::pin(async move {
            match command {
                Command::Simple(simple) => self.run_simple(simple, tail).await,
                Command::Function(name, body) => {
                    self.state.functions.insert(name.clone(), body.clone());
                    self.state.status = 0;
                    Flow::Next
                }
                Command::Compound(compound, redirects) => {
                    let saved = match self.redirect(redirects).await {
                        Ok(saved) => saved,
                        Err(flow) => return flow,
                    };
                    let flow = self.run_compound(compound, tail).await;
                    self.restore(saved).await;
                    flow
                }
            }
        })
    }

    async fn run_compound(&mut self, compound: &Compound, tail: bool) -> Flow {
        match compound {
            Compound::Brace(list) => self.run_list(list, tail).await,
            Compound::Subshell(list) => {
                if tail {
                    // Nothing follows: no need for another process.
                    return self.run_list(list, true).await;
                }
                let started = self
                    .os
                    .subshell(Subshell {
                        state: self.child_state(),
                        body: Rc::new(list.clone()),
                    })
                    .await;
                match started {
                    Ok(pid) => self.state.status = self.wait_status(pid).await,
                    Err(message) => return self.fatal(&format!("can't fork: {message}")).await,
                }
                Flow::Next
            }
            Compound::If {
                branches,
                otherwise,
            } => {
                for (condition, body) in branches {
                    self.tested += 1;
                    let flow = self.run_list(condition, false).await;
                    self.tested -= 1;
                    if flow != Flow::Next {
                        return flow;
                    }
                    if self.state.status == 0 {
                        return self.run_list(body, tail).await;
                    }
                }
                match otherwise {
                    Some(body) => self.run_list(body, tail).await,
                    None => {
                        self.state.status = 0;
                        Flow::Next
                    }
                }
            }
            Compound::For { name, words, body } => {
                let items = match words {
                    Some(words) => match self.expand_words(words).await {
                        Ok(items) => items,
                        Err(flow) => return flow,
                    },
                    None => self.state.positional.clone(),
                };
                self.state.status = 0;
                self.loops += 1;
                let mut flow = Flow::Next;
                for item in items {
                    self.os.yield_now().await;
                    if let Err(message) = self.state.vars.set(name, &item) {
                        flow = self.fatal(&message).await;
                        break;
                    }
                    match self.run_list(body, false).await {
                        Flow::Next | Flow::Continue(1) => {}
                        Flow::Continue(n) => {
                            flow = Flow::Continue(n - 1);
                            break;
                        }
                        Flow::Break(1) => break,
                        Flow::Break(n) => {
                            flow = Flow::Break(n - 1);
                            break;
                        }
                        other => {
                            flow = other;
                            break;
                        }
                    }
                }
                self.loops -= 1;
                flow
            }
            Compound::Loop {
                until,
                condition,
                body,
            } => {
                self.loops += 1;
                let mut status = 0;
                let mut flow = Flow::Next;
                loop {
                    // A loop of builtins makes no other system call: it
                    // gives the kernel its turn here, as a preemption
                    // point would.
                    self.os.yield_now().await;
                    if self.os.interrupted() {
                        status = 130;
                        break;
                    }
                    self.tested += 1;
                    let tested = self.run_list(condition, false).await;
                    self.tested -= 1;
                    if tested != Flow::Next {
                        flow = tested;
                        break;
                    }
                    if (self.state.status == 0) == *until {
                        break;
                    }
                    match self.run_list(body, false).await {
                        Flow::Next | Flow::Continue(1) => {}
                        Flow::Continue(n) => {
                            flow = Flow::Continue(n - 1);
                            break;
                        }
                        Flow::Break(1) => {
                            status = self.state.status;
                            break;
                        }
                        Flow::Break(n) => {
                            flow = Flow::Break(n - 1);
                            break;
                        }
                        other => {
                            flow = other;
                            break;
                        }
                    }
                    status = self.state.status;
                }
                self.loops -= 1;
                if flow == Flow::Next {
                    self.state.status = status;
                }
                // Flows from inside pass on, with the loop's counts spent.
                match flow {
                    Flow::Break(0) | Flow::Continue(0) => Flow::Next,
                    other => other,
                }
            }
            Compound::Case { word, arms } => {
                let subject = match self.expand_string(word).await {
                    Ok(subject) => subject,
                    Err(flow) => return flow,
                };
                for arm in arms {
                    for pattern in &arm.patterns {
                        let pattern = match self.expand_pattern(pattern).await {
                            Ok(pattern) => pattern,
                            Err(flow) => return flow,
                        };
                        if pattern::matches(&pattern, &subject) {
                            if arm.body.0.is_empty() {
                                self.state.status = 0;
                                return Flow::Next;
                            }
                            return self.run_list(&arm.body, tail).await;
                        }
                    }
                }
                self.state.status = 0;
                Flow::Next
            }
        }
    }

    async fn run_simple(&mut self, simple: &Simple, tail: bool) -> Flow {
        self.line = simple.line;
        let argv = match self.expand_words(&simple.words).await {
            Ok(argv) => argv,
            Err(flow) => return flow,
        };
        let mut assigns = Vec::new();
        for (name, value) in &simple.assigns {
            match self.expand_string(value).await {
                Ok(value) => assigns.push((name.clone(), value)),
                Err(flow) => return flow,
            }
        }
        if self.state.options.xtrace {
            let mut trace: Vec<String> = assigns.iter().map(|(n, v)| format!("{n}={v}")).collect();
            trace.extend(argv.iter().cloned());
            let text = format!("+ {}\n", trace.join(" "));
            let _ = self.os.write(2, text.as_bytes()).await;
        }
        let Some(name) = argv.first().cloned() else {
            // Assignments alone set the shell's variables; redirections
            // alone are made and undone.
            for (name, value) in &assigns {
                if let Err(message) = self.state.vars.set(name, value) {
                    return self.fatal(&message).await;
                }
            }
            let status = match self.redirect(&simple.redirects).await {
                Ok(saved) => {
                    self.restore(saved).await;
                    0
                }
                Err(Flow::Next) => 1,
                Err(flow) => return flow,
            };
            // `$?` is that of the last command substitution, if any.
            if !simple.words.is_empty() || !has_substitution(simple) {
                self.state.status = status;
            }
            return Flow::Next;
        };
        let saved = match self.redirect(&simple.redirects).await {
            Ok(saved) => saved,
            Err(Flow::Next) => {
                self.state.status = 1;
                return Flow::Next;
            }
            Err(flow) => return flow,
        };
        let flow = if let Some(body) = self.state.functions.get(&name).cloned() {
            self.call(&body, &argv[1..], &assigns).await
        } else if super::builtins::is_builtin(&name) {
            // A builtin's assignments stay, as with `ash`'s special
            // builtins; for the others they are its own.
            let special = super::builtins::is_special(&name);
            let saved_vars = (!special && !assigns.is_empty()).then(|| self.state.vars.clone());
            for (var, value) in &assigns {
                if let Err(message) = self.state.vars.set(var, value) {
                    self.restore(saved).await;
                    return self.fatal(&message).await;
                }
                if !special {
                    self.state.vars.export(var);
                }
            }
            let flow = self.builtin(&name, &argv, tail).await;
            if let Some(vars) = saved_vars {
                self.state.vars = vars;
            }
            flow
        } else {
            self.external(&argv, &assigns, tail).await
        };
        if name == "exec" && argv.len() == 1 {
            // `exec` with redirections only: they stay.
            for (_, copy) in saved {
                if let Some(copy) = copy {
                    self.os.close(copy).await;
                }
            }
        } else {
            self.restore(saved).await;
        }
        flow
    }

    async fn call(
        &mut self,
        body: &Rc<Command>,
        args: &[String],
        assigns: &[(String, String)],
    ) -> Flow {
        let saved_vars = (!assigns.is_empty()).then(|| self.state.vars.clone());
        for (var, value) in assigns {
            let _ = self.state.vars.set(var, value);
            self.state.vars.export(var);
        }
        let positional = std::mem::replace(&mut self.state.positional, args.to_vec());
        let loops = std::mem::take(&mut self.loops);
        self.os.yield_now().await;
        self.calls += 1;
        self.locals.push(Vec::new());
        let flow = self.run_command(body, false).await;
        for (name, old) in self.locals.pop().unwrap_or_default().into_iter().rev() {
            self.state.vars.restore(&name, old);
        }
        self.calls -= 1;
        self.loops = loops;
        self.state.positional = positional;
        if let Some(vars) = saved_vars {
            self.state.vars = vars;
        }
        match flow {
            Flow::Return | Flow::Break(_) | Flow::Continue(_) => Flow::Next,
            other => other,
        }
    }

    /// Finds a program on `PATH` as `ash` does: a name with a `/` is a
    /// path; otherwise the first executable regular file.
    pub(super) async fn find_program(&mut self, name: &str) -> Option<String> {
        if name.contains('/') {
            return Some(name.to_string());
        }
        let path = self
            .state
            .vars
            .get("PATH")
            .unwrap_or("/sbin:/usr/sbin:/bin:/usr/bin")
            .to_string();
        for dir in path.split(':') {
            let candidate = if dir.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", dir.trim_end_matches('/'))
            };
            if let Ok(meta) = self.os.stat(&candidate).await
                && meta.kind == super::os::Kind::File
                && self.os.access(&candidate, super::os::Access::Execute).await
            {
                return Some(candidate);
            }
        }
        None
    }

    async fn external(
        &mut self,
        argv: &[String],
        assigns: &[(String, String)],
        tail: bool,
    ) -> Flow {
        let name = &argv[0];
        let Some(path) = self.find_program(name).await else {
            self.say(&format!("{name}: not found")).await;
            self.state.status = 127;
            return if tail { Flow::Exit } else { Flow::Next };
        };
        let env = self.state.vars.environment(assigns);
        if tail {
            let (message, status) = self.os.exec(&path, argv, &env).await;
            self.say(&format!("{name}: {message}")).await;
            self.state.status = status;
            return Flow::Exit;
        }
        match self.os.spawn(&path, argv, &env).await {
            Ok(pid) => {
                self.state.status = self.wait_status(pid).await;
            }
            Err(super::os::SpawnError::Exec(message, status)) => {
                self.say(&format!("{name}: {message}")).await;
                self.state.status = status;
            }
            Err(super::os::SpawnError::Fork(message)) => {
                return self.fatal(&format!("can't fork: {message}")).await;
            }
        }
        Flow::Next
    }

    // ---- redirections ----

    /// Makes the redirections: for each descriptor changed, what it was
    /// (a private copy, or `None` if it was closed), to put back. On a
    /// mistake, said, what was made is undone and `Err(Flow::Next)`.
    pub(super) async fn redirect(
        &mut self,
        redirects: &[Redirect],
    ) -> Result<Vec<(Fd, Option<Fd>)>, Flow> {
        let mut saved: Vec<(Fd, Option<Fd>)> = Vec::new();
        for redirect in redirects {
            let target = redirect.fd() as Fd;
            if !saved.iter().any(|(fd, _)| *fd == target) {
                let copy = if self.os.is_open(target).await {
                    self.os.dup_private(target).await.ok()
                } else {
                    None
                };
                saved.push((target, copy));
            }
            if let Err(flow) = self.redirect_one(redirect, target).await {
                self.restore(saved).await;
                return Err(flow);
            }
        }
        Ok(saved)
    }

    async fn redirect_one(&mut self, redirect: &Redirect, target: Fd) -> Result<(), Flow> {
        let word = match &redirect.target {
            Target::Here(doc) => {
                let body = doc.body.get().cloned().unwrap_or_default();
                let text = self.expand_string(&body).await?;
                return self.here_document(text, target).await;
            }
            Target::Word(word) => self.expand_string(word).await?,
        };
        let how = match redirect.op {
            RedirOp::In => Open::Read,
            RedirOp::Out | RedirOp::Clobber => Open::Write,
            RedirOp::Append => Open::Append,
            RedirOp::ReadWrite => Open::ReadWrite,
            RedirOp::DupIn | RedirOp::DupOut => {
                if word == "-" {
                    self.os.close(target).await;
                    return Ok(());
                }
                let Some(from) = word.parse::<Fd>().ok().filter(|_| !word.is_empty()) else {
                    self.say(&format!("{word}: bad number")).await;
                    return Err(Flow::Next);
                };
                if from != target && self.os.dup2(from, target).await.is_err() {
                    self.say(&format!("{from}: Bad file descriptor")).await;
                    return Err(Flow::Next);
                }
                return Ok(());
            }
            RedirOp::Here { .. } => unreachable!("here-documents have bodies"),
        };
        if redirect.op == RedirOp::Out
            && self.state.options.noclobber
            && self
                .os
                .stat(&word)
                .await
                .is_ok_and(|m| m.kind == super::os::Kind::File)
        {
            self.say(&format!("can't create {word}: File exists")).await;
            return Err(Flow::Next);
        }
        match self.os.open(&word, how).await {
            Ok(fd) => {
                if fd != target {
                    let _ = self.os.dup2(fd, target).await;
                    self.os.close(fd).await;
                }
                Ok(())
            }
            Err(message) => {
                let verb = if how == Open::Read { "open" } else { "create" };
                let message = if message == "No such file or directory" {
                    if how == Open::Read {
                        "no such file".to_string()
                    } else {
                        "nonexistent directory".to_string()
                    }
                } else {
                    message
                };
                self.say(&format!("can't {verb} {word}: {message}")).await;
                Err(Flow::Next)
            }
        }
    }

    /// A here-document's text, given on a pipe (written by a child when
    /// it is more than a pipe holds).
    async fn here_document(&mut self, text: String, target: Fd) -> Result<(), Flow> {
        let (read, write) = match self.os.pipe().await {
            Ok(ends) => ends,
            Err(message) => {
                self.say(&format!("pipe call failed: {message}")).await;
                return Err(Flow::Next);
            }
        };
        if text.len() <= PIPE_HOLDS {
            let _ = self.os.write(write, text.as_bytes()).await;
        } else {
            // The child writes the text with the builtin `printf`, given
            // it as one quoted word: nothing of it is expanded again.
            let write_it = Simple {
                line: 0,
                assigns: Vec::new(),
                words: ["printf", "%s"]
                    .iter()
                    .map(|w| Word(vec![Part::Single(w.to_string())]))
                    .chain([Word(vec![Part::Single(text)])])
                    .collect(),
                redirects: Vec::new(),
            };
            let body = Rc::new(List(vec![Item {
                and_or: AndOr {
                    first: Pipeline {
                        bang: false,
                        commands: vec![Command::Simple(write_it)],
                    },
                    rest: Vec::new(),
                },
                background: false,
            }]));
            let dup = self.os.dup_private(write).await;
            let moves = dup.into_iter().map(|copy| (copy, 1)).collect();
            let mut state = self.child_state();
            // `printf` is the builtin, whatever the script defined.
            state.functions.clear();
            let started = self.fork_with(moves, state, body).await;
            if let Ok(pid) = started {
                self.state.jobs.push(pid);
            }
        }
        self.os.close(write).await;
        if read != target {
            let _ = self.os.dup2(read, target).await;
            self.os.close(read).await;
        }
        Ok(())
    }

    pub(super) async fn restore(&mut self, saved: Vec<(Fd, Option<Fd>)>) {
        for (target, copy) in saved.into_iter().rev() {
            self.put_back(copy, target).await;
        }
    }

    // ---- expansion ----

    /// A word list's fields: expanded, split, globbed.
    pub(super) async fn expand_words(&mut self, words: &[Word]) -> Result<Vec<String>, Flow> {
        let mut out = Vec::new();
        for word in words {
            let mut pieces = Vec::new();
            self.expand_parts(&word.0, false, &mut pieces).await?;
            let ifs = self.state.vars.get("IFS").unwrap_or(" \t\n").to_string();
            for field in fields::split(&pieces, &ifs) {
                if self.state.options.noglob {
                    out.push(fields::text(&field));
                } else {
                    let cwd = self.state.cwd.clone();
                    let mut dirs = Dirs {
                        names: HashMap::new(),
                    };
                    // Directories are read ahead: the matcher is not async.
                    if pattern::has_magic(&field) {
                        self.read_dirs_for(&field, &cwd, &mut dirs).await;
                    }
                    out.extend(fields::glob(&field, &cwd, &mut dirs));
                }
            }
        }
        Ok(out)
    }

    /// Reads every directory a pattern's walk may look in.
    async fn read_dirs_for(&mut self, field: &[PatChar], cwd: &str, dirs: &mut Dirs) {
        let absolute = field.first().is_some_and(|p| p.c == '/');
        let components: Vec<&[PatChar]> = field
            .split(|p| p.c == '/')
            .filter(|c| !c.is_empty())
            .collect();
        let mut paths = vec![if absolute {
            "/".to_string()
        } else {
            cwd.to_string()
        }];
        for (index, component) in components.iter().enumerate() {
            let last = index + 1 == components.len();
            let mut next = Vec::new();
            for path in paths {
                let names = match dirs.names.get(&path) {
                    Some(names) => names.clone(),
                    None => {
                        let names = self.os.read_dir(&path).await;
                        dirs.names.insert(path.clone(), names.clone());
                        names
                    }
                };
                if last {
                    continue;
                }
                let join = |name: &str| format!("{}/{name}", path.trim_end_matches('/'));
                if pattern::has_magic(component) {
                    for name in names.unwrap_or_default() {
                        if pattern::matches(component, &name) {
                            next.push(join(&name));
                        }
                    }
                } else {
                    next.push(join(&fields::text(component)));
                }
            }
            paths = next;
        }
    }

    /// A word as one string: expanded, not split or globbed (assignments,
    /// redirection targets, `case` words, here-documents).
    pub(super) async fn expand_string(&mut self, word: &Word) -> Result<String, Flow> {
        let mut pieces = Vec::new();
        self.expand_parts(&word.0, false, &mut pieces).await?;
        Ok(pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Char(c, _) => Some(*c),
                _ => None,
            })
            .collect())
    }

    /// A word as a pattern: its quoted characters match only themselves.
    async fn expand_pattern(&mut self, word: &Word) -> Result<Vec<PatChar>, Flow> {
        let mut pieces = Vec::new();
        self.expand_parts(&word.0, false, &mut pieces).await?;
        Ok(pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Char(c, origin) => Some(PatChar {
                    c: *c,
                    active: *origin != Origin::Quoted,
                }),
                _ => None,
            })
            .collect())
    }

    fn expand_parts<'a>(
        &'a mut self,
        parts: &'a [Part],
        quoted: bool,
        out: &'a mut Vec<Piece>,
    ) -> Boxed<'a, Result<(), Flow>> {
        Box::pin(async move {
            let expanded = if quoted {
                Origin::Quoted
            } else {
                Origin::Expanded
            };
            for part in parts {
                match part {
                    Part::Lit(text) => out.extend(fields::pieces(
                        text,
                        if quoted {
                            Origin::Quoted
                        } else {
                            Origin::Literal
                        },
                    )),
                    Part::Single(text) => {
                        out.push(Piece::Empty);
                        out.extend(fields::pieces(text, Origin::Quoted));
                    }
                    Part::Escaped(c) => out.push(Piece::Char(*c, Origin::Quoted)),
                    Part::Double(inner) => {
                        let all_at = inner
                            .iter()
                            .any(|p| matches!(p, Part::Param(Param { name, op: ParamOp::Plain }) if name == "@"));
                        if !all_at {
                            out.push(Piece::Empty);
                        }
                        self.expand_parts(inner, true, out).await?;
                    }
                    Part::Tilde(user) => {
                        let home = if user.is_empty() {
                            self.state.vars.get("HOME").map(str::to_string)
                        } else {
                            self.home_of(user).await
                        };
                        match home {
                            Some(home) => out.extend(fields::pieces(&home, Origin::Quoted)),
                            None => {
                                out.push(Piece::Char('~', Origin::Quoted));
                                out.extend(fields::pieces(user, Origin::Quoted));
                            }
                        }
                    }
                    Part::Command(list) => {
                        let text = self.command_output(list.clone()).await?;
                        out.extend(fields::pieces(&text, expanded));
                    }
                    Part::Arith(word) => {
                        let text = self.expand_string(word).await?;
                        let mut vars = ArithVars(&mut self.state.vars);
                        match arith::eval(&text, &mut vars) {
                            Ok(value) => out.extend(fields::pieces(&value.to_string(), expanded)),
                            Err(message) => return Err(self.fatal(&message).await),
                        }
                    }
                    Part::Param(param) => self.expand_param(param, quoted, out).await?,
                }
            }
            Ok(())
        })
    }

    async fn home_of(&mut self, user: &str) -> Option<String> {
        let fd = self.os.open("/etc/passwd", Open::Read).await.ok()?;
        let mut text = Vec::new();
        loop {
            match self.os.read(fd, 4096).await {
                Ok(chunk) if !chunk.is_empty() => text.extend(chunk),
                _ => break,
            }
        }
        self.os.close(fd).await;
        String::from_utf8_lossy(&text).lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() >= 6 && fields[0] == user).then(|| fields[5].to_string())
        })
    }

    /// A parameter's value: `None` when unset.
    fn param_value(&self, name: &str) -> Option<String> {
        let state = &self.state;
        match name {
            "?" => Some(state.status.to_string()),
            "$" => Some(state.shell_pid.unwrap_or_else(|| self.os.pid()).to_string()),
            "#" => Some(state.positional.len().to_string()),
            "!" => state.last_background.map(|pid| pid.to_string()),
            "-" => Some(state.options.letters()),
            "0" => Some(state.arg0.clone()),
            "@" | "*" => {
                let sep = match state.vars.get("IFS") {
                    Some(ifs) => ifs.chars().next().map(String::from).unwrap_or_default(),
                    None => " ".into(),
                };
                (!state.positional.is_empty()).then(|| state.positional.join(&sep))
            }
            digits if digits.bytes().all(|b| b.is_ascii_digit()) => {
                let n: usize = digits.parse().ok()?;
                state.positional.get(n.checked_sub(1)?).cloned()
            }
            name => state.vars.get(name).map(str::to_string),
        }
    }

    async fn expand_param(
        &mut self,
        param: &Param,
        quoted: bool,
        out: &mut Vec<Piece>,
    ) -> Result<(), Flow> {
        let origin = if quoted {
            Origin::Quoted
        } else {
            Origin::Expanded
        };
        let name = param.name.as_str();
        if name == "@" && param.op == ParamOp::Plain {
            // Each positional parameter its own field.
            let all = self.state.positional.clone();
            for (index, value) in all.iter().enumerate() {
                if index > 0 {
                    out.push(Piece::Break);
                }
                if quoted {
                    out.push(Piece::Empty);
                }
                out.extend(fields::pieces(value, origin));
            }
            return Ok(());
        }
        let value = self.param_value(name);
        let unset_error = |shell: &Self| {
            shell.state.options.nounset && value.is_none() && !matches!(name, "@" | "*")
        };
        match &param.op {
            ParamOp::Plain => {
                if unset_error(self) {
                    return Err(self.fatal(&format!("{name}: parameter not set")).await);
                }
                out.extend(fields::pieces(&value.unwrap_or_default(), origin));
            }
            ParamOp::Length => {
                if unset_error(self) {
                    return Err(self.fatal(&format!("{name}: parameter not set")).await);
                }
                let length = value.unwrap_or_default().chars().count();
                out.extend(fields::pieces(&length.to_string(), origin));
            }
            ParamOp::Default { colon, word } | ParamOp::Assign { colon, word } => {
                let missing = value.as_ref().is_none_or(|v| *colon && v.is_empty());
                if !missing {
                    out.extend(fields::pieces(&value.unwrap_or_default(), origin));
                } else if matches!(param.op, ParamOp::Assign { .. }) {
                    let text = self.expand_string(word).await?;
                    if !super::parse::valid_name(name) {
                        return Err(self.fatal(&format!("{name}: bad variable name")).await);
                    }
                    if let Err(message) = self.state.vars.set(name, &text) {
                        return Err(self.fatal(&message).await);
                    }
                    out.extend(fields::pieces(&text, origin));
                } else {
                    self.expand_parts(&word.0, quoted, out).await?;
                }
            }
            ParamOp::Error { colon, word } => {
                let missing = value.as_ref().is_none_or(|v| *colon && v.is_empty());
                if missing {
                    let text = self.expand_string(word).await?;
                    let message = if !text.is_empty() {
                        text
                    } else if *colon {
                        "parameter not set or null".into()
                    } else {
                        "parameter not set".into()
                    };
                    return Err(self.fatal(&format!("{name}: {message}")).await);
                }
                out.extend(fields::pieces(&value.unwrap_or_default(), origin));
            }
            ParamOp::Alternative { colon, word } => {
                let present = value.as_ref().is_some_and(|v| !(*colon && v.is_empty()));
                if present {
                    self.expand_parts(&word.0, quoted, out).await?;
                }
            }
            ParamOp::RemoveSuffix {
                longest,
                pattern: p,
            }
            | ParamOp::RemovePrefix {
                longest,
                pattern: p,
            } => {
                if unset_error(self) {
                    return Err(self.fatal(&format!("{name}: parameter not set")).await);
                }
                let value = value.unwrap_or_default();
                let pattern = self.expand_pattern(p).await?;
                let result = if matches!(param.op, ParamOp::RemoveSuffix { .. }) {
                    pattern::remove_suffix(&value, &pattern, *longest)
                } else {
                    pattern::remove_prefix(&value, &pattern, *longest)
                };
                out.extend(fields::pieces(&result, origin));
            }
        }
        Ok(())
    }

    /// `$(list)`: the output of `list` in a child shell, its trailing
    /// newlines removed; `$?` becomes the child's status.
    async fn command_output(&mut self, list: Rc<List>) -> Result<String, Flow> {
        let (read, write) = match self.os.pipe().await {
            Ok(ends) => ends,
            Err(message) => return Err(self.fatal(&format!("pipe call failed: {message}")).await),
        };
        let state = self.child_state();
        let started = self.fork_with(vec![(write, 1)], state, list).await;
        let mut bytes = Vec::new();
        loop {
            match self.os.read(read, 65536).await {
                Ok(chunk) if !chunk.is_empty() => bytes.extend(chunk),
                _ => break,
            }
        }
        self.os.close(read).await;
        match started {
            Ok(pid) => self.state.status = self.wait_status(pid).await,
            Err(message) => {
                return Err(self.fatal(&format!("can't fork: {message}")).await);
            }
        }
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        while text.ends_with('\n') {
            text.pop();
        }
        Ok(text)
    }

    /// Writes to a descriptor; a broken pipe ends a builtin's output as
    /// SIGPIPE would end a process.
    pub(super) async fn write_fd(&mut self, fd: Fd, text: &str) -> Result<(), WriteError> {
        self.os.write(fd, text.as_bytes()).await
    }
}

/// How much a pipe takes before a writer waits (Linux's default).
const PIPE_HOLDS: usize = 65536;

fn has_substitution(simple: &Simple) -> bool {
    fn any(parts: &[Part]) -> bool {
        parts.iter().any(|p| match p {
            Part::Command(_) => true,
            Part::Double(inner) => any(inner),
            _ => false,
        })
    }
    simple.assigns.iter().any(|(_, w)| any(&w.0))
}

/// Directory names read ahead for the (synchronous) globber.
struct Dirs {
    names: HashMap<String, Option<Vec<String>>>,
}

impl fields::Dirs for Dirs {
    fn names(&mut self, dir: &str) -> Option<Vec<String>> {
        let key = if dir.len() > 1 {
            dir.trim_end_matches('/')
        } else {
            dir
        };
        self.names.get(key).cloned().flatten()
    }
}

struct ArithVars<'a>(&'a mut Vars);

impl arith::Vars for ArithVars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).map(str::to_string)
    }

    fn set(&mut self, name: &str, value: i64) {
        let _ = self.0.set(name, &value.to_string());
    }
}
