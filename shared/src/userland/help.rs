//! `help`: what each of the workshop image's commands does and takes,
//! the same on both engines. The README's table of applets says the
//! same; a test keeps every applet here.

use super::io::{Io, Stop};
use crate::shell::os::Os;

/// Each applet: its name, how it is called, and what it does.
pub const APPLETS: &[(&str, &str, &str)] = &[
    // The shell and processes.
    (
        "sh",
        "sh [-c SCRIPT [NAME ARG...] | FILE [ARG...]]",
        "the POSIX shell (BusyBox ash's language): pipes, lists, if/for/while/case, functions, expansions, here-documents",
    ),
    (
        "ps",
        "ps [-ef] [-o FIELD,...]",
        "processes in this pid namespace; fields pid ppid user uid stat rss time comm args",
    ),
    (
        "kill",
        "kill [-SIGNAL | -s SIGNAL | -l] PID...",
        "sends a signal (TERM by default)",
    ),
    (
        "sleep",
        "sleep DURATION",
        "waits: 5, 0.5, 2m, 1h or infinity",
    ),
    (
        "nsenter",
        "nsenter -t PID [-m -u -n -p -U | -a] [-F] [COMMAND...]",
        "runs a command in another process's namespaces",
    ),
    (
        "unshare",
        "unshare [-m -u -n -p -U] [-f] [-r] [--mount-proc] [COMMAND...]",
        "runs a command in new namespaces",
    ),
    ("env", "env", "the environment"),
    ("whoami", "whoami", "the effective user's name"),
    (
        "date",
        "date [-uR] [-I[SPEC]] [-d TIME | -r FILE] [+FORMAT]",
        "the time (UTC): +FORMAT as strftime (%F %T %s...), -d @SECONDS or YYYY-MM-DD hh:mm[:ss], -r a file's",
    ),
    (
        "nproc",
        "nproc [--all] [--ignore=N]",
        "how many CPUs this process may use (--all: the host's)",
    ),
    (
        "free",
        "free [-bkmgh]",
        "the host's memory and swap, from /proc/meminfo (a container sees the host's)",
    ),
    (
        "id",
        "id",
        "user and group ids, as this user namespace maps them",
    ),
    (
        "hostname",
        "hostname [NAME]",
        "the UTS namespace's host name",
    ),
    (
        "uname",
        "uname [-a -s -n -r -m]",
        "the kernel and host name",
    ),
    ("true", "true", "succeeds"),
    ("false", "false", "fails"),
    ("echo", "echo [-n] WORD...", "prints its words"),
    (
        "printf",
        "printf FORMAT [ARG...]",
        "formatted output: %s %b %c %d %i %u %o %x %X %e %f %g, widths and precisions",
    ),
    // Files.
    ("ls", "ls [-1adfhlnrsAR] [PATH...]", "lists a directory"),
    (
        "cat",
        "cat [FILE...]",
        "prints files, or copies standard input",
    ),
    ("touch", "touch FILE...", "makes empty files"),
    ("mkdir", "mkdir [-p] DIR...", "makes directories"),
    ("rm", "rm [-rf] PATH...", "removes files and directories"),
    (
        "umount",
        "umount [-lf] DIRECTORY...",
        "takes a mount away (-l lazily, even in use); a container's root may not (no CAP_SYS_ADMIN)",
    ),
    (
        "mount",
        "mount [-t TYPE [-o OPTIONS] SOURCE TARGET]",
        "the mount table, or mounts a file system",
    ),
    // Text.
    (
        "grep",
        "grep [-HhnlLoqvsiwxFEc] [-m N] PATTERN | -e PATTERN... [FILE...]",
        "lines that match a regular expression (-E extended, -F fixed, -i any case, -v not matching, -c count, -n numbered, -o only the match, -q quiet, -w words, -x whole lines, -l names)",
    ),
    ("egrep", "egrep PATTERN [FILE...]", "grep -E"),
    ("fgrep", "fgrep PATTERN [FILE...]", "grep -F"),
    (
        "sed",
        "sed [-nEi] SCRIPT | -e SCRIPT... | -f FILE [FILE...]",
        "edits a stream: addresses N, $, /RE/, ranges and !; commands s/RE/TEXT/[gpNI], y, p, d, q, =, n, a, i, c and { }",
    ),
    (
        "wc",
        "wc [-lwcmL] [FILE...]",
        "counts lines, words and bytes",
    ),
    (
        "head",
        "head [-n [-]N] [-c [-]N] [-qv] [FILE...]",
        "the first lines (or bytes), or all but the last",
    ),
    (
        "tail",
        "tail [-n [+]N] [-c [+]N] [-qv] [FILE...]",
        "the last lines (or bytes), or from line N on",
    ),
    (
        "sort",
        "sort [-nrufbsc] [-t SEP] [-k FIELD[.CHAR][nrfb][,FIELD[.CHAR]]]... [-o FILE] [FILE...]",
        "sorts lines",
    ),
    (
        "uniq",
        "uniq [-cdui] [-f N] [-s N] [-w N] [INPUT [OUTPUT]]",
        "drops (or counts) repeated adjacent lines",
    ),
    (
        "cut",
        "cut -b LIST | -c LIST | -f LIST [-d SEP] [-s] [FILE...]",
        "parts of each line: LIST is N, N-M, N- or -M, joined by commas",
    ),
    (
        "tr",
        "tr [-cds] SET1 [SET2]",
        "translates, deletes or squeezes characters: ranges a-z, classes [:upper:], escapes \\n",
    ),
    ("seq", "seq [-w] [-s SEP] [FIRST [STEP]] LAST", "counts"),
    (
        "yes",
        "yes [WORD...]",
        "says y (or its words) until stopped",
    ),
    (
        "xargs",
        "xargs [-tr0] [-n N] [-s SIZE] [-I TOKEN] [-E END] [COMMAND [ARG...]]",
        "runs a command with words read from standard input",
    ),
    // Files.
    (
        "find",
        "find [PATH...] [-maxdepth N] [-mindepth N] [-depth] [-xdev] [-follow] [EXPRESSION]",
        "walks file trees: -name -iname -path -type -empty -size, -print -print0 -exec CMD {} ; or + -prune, ! -a -o ( )",
    ),
    (
        "readlink",
        "readlink [-fnv] FILE",
        "where a symbolic link points; -f follows every link to the real path",
    ),
    (
        "stat",
        "stat [-Lt] [-c FORMAT] FILE...",
        "what an inode holds: FORMAT takes %n %N %s %b %B %o %a %A %f %F %h %i %d %D %u %U %g %G %t %T %x %X %y %Y %z %Z, with widths",
    ),
    (
        "ln",
        "ln [-sfnbvT] [-S SUFFIX] TARGET... LINK|DIR",
        "makes links: -s symbolic, -f replacing what is there, -b keeping it as LINK~",
    ),
    (
        "cp",
        "cp [-arRPdLHpfinlsTuv] [-t DIR] SOURCE... DEST",
        "copies files (-r trees, -a keeping links, modes, owners and times; -d links as links, -L followed)",
    ),
    (
        "mv",
        "mv [-finTv] [-t DIR] SOURCE... DEST",
        "renames or moves files; a directory the image holds is copied, then removed",
    ),
    (
        "dd",
        "dd [if=FILE] [of=FILE] [bs=N | ibs=N obs=N] [count=N] [skip=N] [seek=N] [conv=notrunc,noerror,sync,fsync,swab] [iflag=skip_bytes,count_bytes,fullblock] [oflag=seek_bytes,append] [status=none|noxfer]",
        "copies blocks (N takes c w b kB k MB M GB G); the records in and out on stderr",
    ),
    (
        "du",
        "du [-aHLdclsxhmkb] [FILE...]",
        "the disk a tree takes, in KiB: -s a total each, -a files too, -d N deep, -h readable, -b bytes",
    ),
    (
        "lsns",
        "lsns [-Jlnru] [-t TYPE] [-p PID] [-o LIST] [NS]",
        "each namespace in sight by inode: its kind, processes, the lowest one (NS: its processes as a tree)",
    ),
    (
        "pstree",
        "pstree [-acnplsuTAU] [PID|USER]",
        "the processes as a tree: -p pids, -a arguments, -c no merging of alike siblings, -n by pid, -s parents",
    ),
    (
        "top",
        "top [-bH] [-n COUNT] [-d SECONDS]",
        "the processes busiest first, with memory, CPU and load above: -b batch (for a pipe), -n screens, -d delay, -H threads",
    ),
    (
        "chroot",
        "chroot NEWROOT [PROG ARGS...]",
        "runs PROG (or $SHELL -i) with NEWROOT as its / (CAP_SYS_CHROOT: a container's root has it)",
    ),
    (
        "df",
        "df [-PkmhTai] [-B SIZE] [-t TYPE] [PATH...]",
        "each file system's size, use and room (statfs): -h readable, -i inodes, -T type, -a all",
    ),
    (
        "chmod",
        "chmod [-Rcvf] MODE[,MODE]... FILE...",
        "changes permissions: MODE is octal (4755) or [ugoa][+-=][rwxXst] or [ugo]",
    ),
    (
        "chown",
        "chown [-RhLHPcvf] USER[:GROUP] FILE...",
        "changes the owner and group (names from /etc/passwd and /etc/group, or numbers)",
    ),
    // The network.
    (
        "ip",
        "ip [-o] [-4|-6] address|link|route [show|add|del|flush|set ...]",
        "this network namespace's devices, addresses and routes: link set DEV up|down|mtu N|name NEW, addr add|del ADDR/LEN dev DEV, route add|del|replace PREFIX [via GW] [dev DEV] (changes need CAP_NET_ADMIN: a container's root lacks it)",
    ),
    // Teaching tools.
    (
        "memhog",
        "memhog SIZE [DURATION]",
        "touches SIZE of memory (100M, 1G), for the memory cgroup",
    ),
    (
        "cpuburn",
        "cpuburn [DURATION]",
        "spins on a CPU, for the cpu cgroup",
    ),
    ("forkbomb", "forkbomb", "forks until pids.max stops it"),
    ("stty", "stty [size]", "the terminal's size"),
    (
        "keyctl",
        "keyctl new_session",
        "asks for a new kernel keyring (refused under the default seccomp profile)",
    ),
    (
        "help",
        "help [COMMAND]",
        "this list, or how one command is used",
    ),
    (
        "toolbox",
        "toolbox APPLET [ARG...]",
        "the multi-call binary behind every command here",
    ),
];

pub async fn help<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Result<i32, Stop> {
    if let Some(name) = args.first() {
        let Some((_, usage, what)) = APPLETS.iter().find(|(n, _, _)| n == name) else {
            io.say(&format!("no help for '{name}': 'help' lists the commands"))
                .await;
            return Ok(1);
        };
        io.put_str(&format!("Usage: {usage}\n\n{what}\n")).await?;
        io.flush().await?;
        return Ok(0);
    }
    io.put_str("The workshop image's commands ('help COMMAND' for one):\n\n")
        .await?;
    let width = APPLETS.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0);
    for (name, _, what) in APPLETS {
        let first = what.split(" (").next().unwrap_or(what);
        let first = first.split([':', ';']).next().unwrap_or(first);
        io.put_str(&format!("  {name:width$}  {first}\n")).await?;
    }
    io.flush().await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::APPLETS;
    use crate::sim::tarball::WORKSHOP_COMMANDS;

    #[test]
    fn every_command_of_the_image_has_help() {
        for command in WORKSHOP_COMMANDS {
            assert!(
                APPLETS.iter().any(|(name, _, _)| name == command),
                "{command} has no help"
            );
        }
        for (name, usage, _) in APPLETS {
            assert!(usage.starts_with(name), "{name}'s usage names it");
            assert!(
                WORKSHOP_COMMANDS.contains(name) || *name == "toolbox",
                "{name} is not in the image"
            );
        }
    }
}
