//! `toolbox`: the workshop image's userland in one static binary. It runs
//! the applet it is called by (`/bin/ps` is a symlink to it), or
//! `toolbox APPLET ARGS...`. The portable applets (`grep`, `sed`, `sort`...)
//! are `shared`'s own code run over real system calls; the rest print as
//! the simulated kernel's (`shared/src/sim/userland.rs`) do, so a lesson
//! prints the same on the simulator and in a real container, except where
//! the kernel differs.

use std::process::ExitCode;

use anchorage_shared::shell::block_on;
use anchorage_shared::sim::tarball::WORKSHOP_COMMANDS;
use anchorage_shared::userland::{PORTABLE, applet, run_portable};

mod files;
mod net;
mod ns;
mod posix;
mod procs;
mod tools;

/// An applet's failure: the message for stderr, and the exit code.
pub type Failure = (String, i32);

/// Prints a failure the way the applets do, and gives its code.
pub fn report(result: Result<i32, Failure>) -> i32 {
    match result {
        Ok(code) => code,
        Err((message, code)) => {
            eprintln!("{message}");
            code
        }
    }
}

/// Runs an applet in this process; returns its exit code.
pub fn run_applet(name: &str, args: &[String]) -> i32 {
    if PORTABLE.contains(&name) {
        let env: Vec<String> = std::env::vars_os()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect();
        let mut os = posix::RealOs::default();
        return block_on(run_portable(&mut os, name, args, &env)).unwrap_or(127);
    }
    match name {
        "sh" => posix::main(args),
        "echo" => {
            let (newline, words) = match args.first().map(String::as_str) {
                Some("-n") => (false, &args[1..]),
                _ => (true, args),
            };
            let mut text = words.join(" ");
            if newline {
                text.push('\n');
            }
            files::write_stdout(text.as_bytes())
        }
        "true" => 0,
        "false" => 1,
        "sleep" => report(tools::sleep(args)),
        "env" => {
            let mut text = String::new();
            for (key, value) in std::env::vars_os() {
                text.push_str(&format!(
                    "{}={}\n",
                    key.to_string_lossy(),
                    value.to_string_lossy()
                ));
            }
            files::write_stdout(text.as_bytes())
        }
        "hostname" => report(ns::hostname(args)),
        "id" => report(procs::id()),
        "uname" => report(ns::uname(args)),
        "ps" => report(procs::ps(args)),
        "kill" => report(procs::kill(args)),
        "ls" => files::ls(args),
        "cat" => files::cat(args),
        "rm" => files::rm(args),
        "touch" => files::touch(args),
        "mkdir" => files::mkdir(args),
        "mount" => report(ns::mount(args)),
        "nsenter" => report(ns::nsenter(args)),
        "unshare" => report(ns::unshare(args)),
        "memhog" => report(tools::memhog(args)),
        "cpuburn" => report(tools::cpuburn(args)),
        "forkbomb" => tools::forkbomb(),
        "stty" => report(tools::stty(args)),
        "keyctl" => report(tools::keyctl(args)),
        "toolbox" => {
            println!(
                "toolbox: the workshop image's userland. Applets: {}",
                WORKSHOP_COMMANDS.join(", ")
            );
            0
        }
        other => {
            eprintln!("{other}: applet not found");
            127
        }
    }
}

fn main() -> ExitCode {
    // A closed pipe ends a command quietly, as it does for C programs.
    // SAFETY: setting a signal's disposition to the default is always sound.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (name, args) = applet(&argv);
    let code = run_applet(&name, &args);
    ExitCode::from((code & 0xff) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workshop_command_is_an_applet() {
        let source = include_str!("main.rs");
        for command in WORKSHOP_COMMANDS {
            assert!(
                source.contains(&format!("\"{command}\" =>")) || PORTABLE.contains(command),
                "{command} has no applet"
            );
        }
    }
}
