//! Scenario tests: command lines typed at the simulated host's terminal,
//! checked against what a real Linux host prints and does.

use super::terminal::LineResult;
use super::*;
use crate::engine::Engine;
use crate::sim::SimEngine;

fn terminal() -> SimTerminal {
    SimTerminal::new(SimEngine::default(), Box::new(Instant))
}

/// Runs a line; returns everything printed and the exit status.
fn sh(t: &mut SimTerminal, line: &str) -> (String, i32) {
    let mut transcript = Transcript::default();
    match t.run_line(line, &mut transcript) {
        LineResult::Continue(status) | LineResult::Exit(status) => (transcript.text(), status),
    }
}

fn cgroup_of(t: &SimTerminal, name: &str) -> crate::cgroup::Cgroup {
    let snap = t.engine().snapshot();
    let path = snap
        .container(name)
        .expect("container exists")
        .cgroup
        .clone();
    snap.cgroup(&path).expect("cgroup exists").clone()
}

#[test]
fn a_64m_limit_and_a_100m_hog_give_an_oom_kill_and_exit_137() {
    let mut t = terminal();
    let (out, status) = sh(
        &mut t,
        "anchorage run --name hog --memory 64m workshop memhog 100m",
    );
    assert_eq!(status, 137, "{out}");
    let cg = cgroup_of(&t, "hog");
    assert_eq!(cg.usage.oom_kill, 1);
    assert_eq!(cg.usage.oom, 1);
    assert!(cg.usage.memory_peak <= 64 << 20);
    let (out, _) = sh(&mut t, "anchorage ps -a");
    assert!(out.contains("Exited (137) (OOM)"), "{out}");
    let (out, _) = sh(&mut t, "anchorage inspect hog");
    assert!(out.contains("\"oom_killed\": true"), "{out}");
    // Under the limit, the same hog lives and holds its memory.
    let (out, status) = sh(
        &mut t,
        "anchorage run --rm --memory 64m workshop memhog 32m 1",
    );
    assert_eq!((out.as_str(), status), ("memhog: touched 32MiB\n", 0));
}

#[test]
fn the_oom_killer_picks_the_biggest_process_in_the_cgroup() {
    let mut t = terminal();
    sh(
        &mut t,
        "anchorage run -d --name pair --memory 100m workshop sh -c 'memhog 20m & memhog 200m'",
    );
    sh(&mut t, "sleep 2");
    let (out, _) = sh(&mut t, "anchorage logs pair");
    assert!(out.contains("memhog: touched 20MiB"), "{out}");
    // The big hog died; the shell reports its status and exits with it.
    let (out, _) = sh(&mut t, "anchorage ps -a");
    assert!(out.contains("Exited (137) (OOM)"), "{out}");
    assert_eq!(cgroup_of(&t, "pair").usage.oom_kill, 1);
}

#[test]
fn pids_max_10_holds_a_fork_bomb_at_10() {
    let mut t = terminal();
    let (_, status) = sh(
        &mut t,
        "anchorage run -d --name bomb --pids-limit 10 workshop forkbomb",
    );
    assert_eq!(status, 0);
    for _ in 0..5 {
        sh(&mut t, "sleep 0.5");
        let cg = cgroup_of(&t, "bomb");
        assert_eq!(cg.usage.pids_current, 10);
        assert!(cg.usage.pids_events_max > 0);
    }
    // Not even `exec` gets in: the fork is refused.
    let (out, status) = sh(&mut t, "anchorage exec bomb ps");
    assert_eq!(status, 126);
    assert!(out.contains("Resource temporarily unavailable"), "{out}");
    // The host is fine.
    let (out, status) = sh(&mut t, "hostname");
    assert_eq!((out.as_str(), status), ("workshop-host\n", 0));
    let (_, status) = sh(&mut t, "anchorage rm -f bomb");
    assert_eq!(status, 0);
    assert_eq!(
        t.engine().snapshot().processes.len(),
        3,
        "init, engine, login shell"
    );
}

#[test]
fn a_fork_bomb_gets_the_default_pids_limit_unless_it_asks_for_none() {
    let mut t = terminal();
    sh(&mut t, "anchorage run -d --name held workshop forkbomb");
    sh(&mut t, "sleep 0.5");
    let (out, _) = sh(&mut t, "anchorage inspect held");
    assert!(out.contains("\"pids_max\": 1024"), "{out}");
    let (out, status) = sh(&mut t, "ps");
    assert_eq!(status, 0, "the host still forks: {out}");
    sh(&mut t, "anchorage rm -f held");
}

#[test]
fn a_fork_bomb_without_a_limit_fills_the_hosts_task_table() {
    let mut t = terminal();
    sh(
        &mut t,
        "anchorage run -d --name bomb --pids-limit -1 workshop forkbomb",
    );
    sh(&mut t, "sleep 0.5");
    // Full, but for the slot `sleep` just gave back.
    assert_eq!(
        t.engine().snapshot().processes.len(),
        crate::sim::HOST_TASKS_MAX - 1
    );
    // The login shell forks into the one slot left; the next fork fails.
    let (out, status) = sh(&mut t, "sleep 5 & ps");
    assert_eq!(status, 2, "{out}");
    assert!(
        out.contains("can't fork: Resource temporarily unavailable"),
        "{out}"
    );
    sh(&mut t, "anchorage rm -f bomb");
    let (_, status) = sh(&mut t, "true");
    assert_eq!(status, 0, "the host recovers once the bomb is gone");
}

#[test]
fn a_containers_first_process_is_pid_1_inside_and_another_pid_outside() {
    let mut t = terminal();
    sh(&mut t, "anchorage run -d --name web workshop sleep 60");
    let (out, status) = sh(&mut t, "anchorage exec web ps");
    assert_eq!(status, 0);
    assert_eq!(
        out,
        "PID   USER     TIME  COMMAND\n    1 root      0:00 sleep 60\n    2 root      0:00 ps\n"
    );
    // On the host the same process has a host pid and an unprivileged uid.
    let (out, _) = sh(&mut t, "ps -o pid,user,args");
    let line = out
        .lines()
        .find(|l| l.ends_with("sleep 60"))
        .expect("the host sees the container's process");
    let host_pid: u32 = line.split_whitespace().next().unwrap().parse().unwrap();
    assert!(host_pid > 1000, "{line}");
    assert!(line.contains("100000"), "{line}");
    let (out, _) = sh(&mut t, "anchorage top web");
    assert!(out.contains(&format!("1     {host_pid}")), "{out}");
}

#[test]
fn a_file_in_the_writable_layer_dies_with_the_container_and_a_volume_keeps_it() {
    let mut t = terminal();
    let (_, status) = sh(
        &mut t,
        "anchorage run --name first -v data:/data workshop sh -c 'echo kept > /data/note; echo lost > /tmp/note; cat /tmp/note'",
    );
    assert_eq!(status, 0);
    let snap = t.engine().snapshot();
    assert!(snap.container("first").unwrap().writable_bytes >= 5);
    sh(&mut t, "anchorage rm first");
    let (out, status) = sh(
        &mut t,
        "anchorage run --rm -v data:/data workshop sh -c 'cat /data/note; cat /tmp/note'",
    );
    assert_eq!(
        out,
        "kept\ncat: can't open '/tmp/note': No such file or directory\n"
    );
    assert_eq!(status, 1);
    // The volume lives on the host.
    let (out, _) = sh(&mut t, "cat /var/lib/anchorage/volumes/data/_data/note");
    assert_eq!(out, "kept\n");
}

#[test]
fn whiteouts_hide_image_files_and_the_image_stays_intact() {
    let mut t = terminal();
    let (out, status) = sh(
        &mut t,
        "anchorage run --name w workshop sh -c 'rm /etc/motd; ls /etc; rm /bin/ps; ps'",
    );
    assert_eq!(out, "group\nos-release\npasswd\nsh: ps: not found\n");
    assert_eq!(status, 127);
    let snap = t.engine().snapshot();
    // Two whiteouts, and nothing else: the mount points under /dev, /proc
    // and /sys are in the file systems mounted there, not the root.
    assert_eq!(snap.container("w").unwrap().writable_entries, 2);
    let (out, _) = sh(&mut t, "anchorage run --rm workshop ls /etc");
    assert!(out.contains("motd"), "{out}");
    // A directory removed and made again is opaque: the old files stay gone.
    let (out, _) = sh(
        &mut t,
        "anchorage run --rm workshop sh -c 'rm -r /etc; mkdir /etc; ls -A /etc; echo done'",
    );
    assert_eq!(out, "done\n");
}

#[test]
fn proc_shows_the_containers_own_view() {
    let mut t = terminal();
    sh(
        &mut t,
        "anchorage run -d --name box --hostname harbor --memory 64m workshop sleep 60",
    );
    let exec = |t: &mut SimTerminal, cmd: &str| sh(t, &format!("anchorage exec box {cmd}")).0;
    assert_eq!(exec(&mut t, "cat /proc/self/cgroup"), "0::/\n");
    assert_eq!(exec(&mut t, "hostname"), "harbor\n");
    assert_eq!(
        exec(&mut t, "id"),
        "uid=0(root) gid=0(root) groups=0(root)\n"
    );
    assert_eq!(exec(&mut t, "cat /sys/fs/cgroup/memory.max"), "67108864\n");
    let status = exec(&mut t, "cat /proc/1/status");
    assert!(status.contains("NSpid:\t1\n"), "{status}");
    assert!(status.contains("Uid:\t0\t0\t0\t0\n"), "{status}");
    let uid_map = exec(&mut t, "cat /proc/self/uid_map");
    assert_eq!(uid_map, "         0     100000      65536\n");
    let mounts = exec(&mut t, "mount");
    assert!(
        mounts.starts_with("overlay on / type overlay (rw,relatime,lowerdir="),
        "{mounts}"
    );
    assert!(
        mounts.contains("cgroup2 on /sys/fs/cgroup type cgroup2 (ro,"),
        "{mounts}"
    );
    let ip = exec(&mut t, "ip addr");
    assert!(ip.starts_with("1: lo: <LOOPBACK,UP,LOWER_UP>"), "{ip}");
    assert!(!ip.contains("eth0"), "{ip}");
    // /proc/PID/ns names the same inodes the engine reports.
    let snap = t.engine().snapshot();
    let pid_ns = snap
        .container("box")
        .unwrap()
        .namespaces
        .iter()
        .find(|n| n.kind == crate::namespace::NamespaceKind::Pid)
        .unwrap()
        .inode;
    let ns = exec(&mut t, "ls -l /proc/1/ns");
    assert!(ns.contains(&format!("pid -> pid:[{pid_ns}]")), "{ns}");
    assert!(
        ns.contains("time -> time:[4026531834]"),
        "the time namespace is the host's: {ns}"
    );
    let (out, status) = sh(&mut t, "anchorage exec box cat /proc/1/ns/pid");
    assert_eq!(
        (out.as_str(), status),
        ("cat: read error: Invalid argument\n", 1)
    );
    // Only the container's processes are visible.
    let listing = exec(&mut t, "ls /proc");
    assert!(listing.starts_with("1\n"), "{listing}");
    assert!(!listing.contains("1000\n"), "{listing}");
}

#[test]
fn a_cpu_quota_throttles_and_weights_share_a_busy_host() {
    let mut t = terminal();
    sh(
        &mut t,
        "anchorage run -d --name half --cpus 0.5 workshop cpuburn",
    );
    sh(&mut t, "sleep 2");
    let usage = cgroup_of(&t, "half").usage;
    let used = usage.cpu_usage_usec as f64 / 1e6;
    assert!((0.95..=1.05).contains(&used), "half a CPU for 2 s: {used}");
    assert!(usage.nr_throttled >= 19, "{usage:?}");
    assert!(usage.throttled_usec >= 900_000, "{usage:?}");
    let (stat, _) = sh(&mut t, "anchorage exec half cat /sys/fs/cgroup/cpu.stat");
    assert!(
        stat.contains(&format!("nr_throttled {}", usage.nr_throttled)),
        "{stat}"
    );
    sh(&mut t, "anchorage rm -f half");

    // Two CPUs, four spinners, no quota: shares follow cpu.weight, 1 to 3.
    sh(
        &mut t,
        "anchorage run -d --name low --cpus max --cpu-weight 100 workshop sh -c 'cpuburn & cpuburn'",
    );
    sh(
        &mut t,
        "anchorage run -d --name high --cpus max --cpu-weight 300 workshop sh -c 'cpuburn & cpuburn'",
    );
    sh(&mut t, "sleep 4");
    let low = cgroup_of(&t, "low").usage.cpu_usage_usec as f64;
    let high = cgroup_of(&t, "high").usage.cpu_usage_usec as f64;
    let ratio = high / low;
    assert!((2.8..=3.2).contains(&ratio), "high/low = {ratio}");
    assert!(
        cgroup_of(&t, "low").usage.nr_throttled == 0,
        "no quota, no throttling"
    );
}

#[test]
fn a_throttled_burn_reports_less_cpu_than_wall_time() {
    let mut t = terminal();
    let (out, status) = sh(&mut t, "anchorage run --rm --cpus 0.25 workshop cpuburn 2");
    assert_eq!(status, 0);
    // A quarter CPU for 2 s, give or take the periods it started and
    // ended in (they are aligned to the clock, not to the burn).
    let cpu: f64 = out
        .strip_prefix("cpuburn: 2.00 s of wall time, ")
        .and_then(|rest| rest.strip_suffix(" s of CPU\n"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!((0.49..=0.53).contains(&cpu), "{out}");
}

#[test]
fn pid_1_ignores_signals_it_has_no_handler_for() {
    let mut t = terminal();
    sh(
        &mut t,
        "anchorage run -d --name p workshop sh -c 'sleep 100 & sleep 100; exit'",
    );
    sh(&mut t, "sleep 0.1");
    // Inside, even SIGKILL to PID 1 does nothing; other processes die.
    let (_, status) = sh(&mut t, "anchorage exec p kill -9 1");
    assert_eq!(status, 0);
    let (out, _) = sh(&mut t, "anchorage exec p kill 2");
    assert_eq!(out, "");
    let (out, _) = sh(&mut t, "anchorage exec p ps -o pid,stat,args");
    assert!(out.contains("    1 S        sh -c"), "{out}");
    assert!(
        !out.contains("    2 "),
        "pid 2 was killed and reaped: {out}"
    );
    // From the host, SIGTERM is ignored too; `stop` escalates to SIGKILL.
    sh(&mut t, "anchorage kill -s TERM p");
    sh(&mut t, "sleep 1");
    let (out, _) = sh(&mut t, "anchorage ps");
    assert!(out.contains("Up "), "{out}");
    let (_, status) = sh(&mut t, "anchorage stop -t 1 p");
    assert_eq!(status, 0);
    let (out, _) = sh(&mut t, "anchorage ps -a");
    assert!(out.contains("Exited (137)"), "{out}");
}

#[test]
fn zombies_stay_until_reaped_and_orphans_go_to_pid_1() {
    let mut t = terminal();
    // `exec` makes sleep PID 1; it never reaps its dead child.
    sh(
        &mut t,
        "anchorage run -d --name z workshop sh -c 'sleep 1 & exec sleep 100'",
    );
    sh(&mut t, "sleep 2");
    let (out, _) = sh(&mut t, "anchorage exec z ps -o pid,ppid,stat,args");
    assert!(out.contains("    2     1 Z        [sleep]"), "{out}");
    // An inner shell leaves its background child behind: PID 1 adopts it.
    sh(
        &mut t,
        "anchorage run -d --name o workshop sh -c 'sh -c \"sleep 50 &\"; sleep 100'",
    );
    sh(&mut t, "sleep 1");
    let (out, _) = sh(&mut t, "anchorage exec o ps -o pid,ppid,args");
    assert!(out.contains("    3     1 sleep 50"), "{out}");
}

#[test]
fn the_host_sees_every_cgroup_and_can_read_its_files() {
    let mut t = terminal();
    let (id, _) = sh(&mut t, "anchorage run -d --pids-limit 5 workshop sleep 60");
    let id = id.trim();
    let (out, status) = sh(
        &mut t,
        &format!("cat /sys/fs/cgroup/anchorage/{id}/pids.max"),
    );
    assert_eq!((out.as_str(), status), ("5\n", 0));
    let (out, _) = sh(&mut t, &format!("ls /sys/fs/cgroup/anchorage/{id}"));
    assert!(out.contains("memory.events\n"), "{out}");
    // The container cannot change its own limits: cgroupfs is read-only.
    let (out, status) = sh(
        &mut t,
        &format!(
            "anchorage exec {} sh -c 'echo 99 > /sys/fs/cgroup/pids.max'",
            &id[..12]
        ),
    );
    assert_eq!(
        out,
        "sh: can't create /sys/fs/cgroup/pids.max: Read-only file system\n"
    );
    assert_eq!(status, 1);
    // `update` can, from outside.
    sh(
        &mut t,
        &format!("anchorage update --pids-limit 50 {}", &id[..12]),
    );
    let (out, _) = sh(
        &mut t,
        &format!("cat /sys/fs/cgroup/anchorage/{id}/pids.max"),
    );
    assert_eq!(out, "50\n");
}

#[test]
fn nsenter_joins_a_containers_namespaces_and_unshare_makes_new_ones() {
    let mut t = terminal();
    sh(
        &mut t,
        "anchorage run -d --name box --hostname harbor workshop sleep 100",
    );
    let namespaces_before = t.engine().snapshot().namespaces.len();
    let init = t
        .engine()
        .snapshot()
        .container("box")
        .unwrap()
        .init_pid
        .unwrap();
    let (out, status) = sh(&mut t, &format!("nsenter -t {init} -a hostname"));
    assert_eq!((out.as_str(), status), ("harbor\n", 0));
    let (out, _) = sh(&mut t, &format!("nsenter -t {init} -a ps -o pid,user,args"));
    assert!(out.contains("    1 root     sleep 100\n"), "{out}");
    assert!(!out.contains("/sbin/init"), "{out}");
    // Only the uts namespace: the hostname changes, nothing else.
    let (out, _) = sh(&mut t, &format!("nsenter -t {init} -u ps -o pid,args"));
    assert!(out.contains("    1 /sbin/init"), "{out}");

    let (out, _) = sh(
        &mut t,
        "unshare -u sh -c 'hostname sandbox; hostname'; hostname",
    );
    assert_eq!(out, "sandbox\nworkshop-host\n");
    // A new pid namespace, but /proc is still the host's: ps shows the
    // host's processes, until a procfs of the new namespace is mounted.
    let (out, _) = sh(&mut t, "unshare -fp ps -o pid,args");
    assert!(out.contains("    1 /sbin/init"), "{out}");
    let (out, _) = sh(&mut t, "unshare -fp --mount-proc ps -o pid,args");
    assert_eq!(out, "  PID COMMAND\n    1 ps -o pid,args\n");
    let (out, _) = sh(&mut t, "unshare -n ip addr");
    assert!(
        out.starts_with("1: lo: <LOOPBACK> mtu 65536 qdisc noop qlen 1000\n"),
        "{out}"
    );
    let (out, status) = sh(&mut t, "unshare -p ps");
    assert_eq!(status, 1);
    assert!(out.contains("-p needs -f"), "{out}");
    // A container's root has no CAP_SYS_ADMIN for either.
    let (out, status) = sh(&mut t, "anchorage exec box unshare -u hostname");
    assert_eq!(status, 1);
    assert!(out.contains("Operation not permitted"), "{out}");
    // What unshare made went with its processes.
    assert_eq!(t.engine().snapshot().namespaces.len(), namespaces_before);
}

#[test]
fn namespace_edge_cases_follow_linux() {
    let mut t = terminal();
    let before = t.engine().snapshot().namespaces.len();
    // /proc/self is the reader's pid in the procfs's namespace.
    let (out, _) = sh(&mut t, "unshare -fp --mount-proc cat /proc/self/status");
    assert!(out.contains("Name:\tcat\n"), "{out}");
    assert!(out.contains("NSpid:\t1\n"), "{out}");
    let (out, _) = sh(&mut t, "unshare -fp cat /proc/self/status");
    assert!(
        out.contains("Name:\tcat\n"),
        "the host's procfs, the host pid: {out}"
    );
    // -r maps root and implies a user namespace.
    let (out, _) = sh(&mut t, "unshare -r cat /proc/self/uid_map");
    assert_eq!(out, "         0          0          1\n");
    // Nested user namespaces go when their last process does.
    sh(&mut t, "unshare -U sh -c 'unshare -U true'");
    assert_eq!(t.engine().snapshot().namespaces.len(), before);
    // A container sees cgroups outside its namespace with one `..` a level.
    sh(&mut t, "anchorage run -d --name box workshop sleep 100");
    let init = t
        .engine()
        .snapshot()
        .container("box")
        .unwrap()
        .init_pid
        .unwrap();
    let (out, _) = sh(
        &mut t,
        &format!("nsenter -t {init} -C cat /proc/self/cgroup"),
    );
    assert_eq!(out, "0::/../../user.slice/user-0.slice/session-1.scope\n");
    // The orphaned init of an unshared pid namespace goes to the host's
    // init, which reaps it: nothing is left behind.
    sh(&mut t, "unshare -fp sh -c 'sleep 100 & exit 0'");
    sh(&mut t, "sleep 1");
    let snap = t.engine().snapshot();
    assert!(
        snap.processes
            .iter()
            .all(|p| p.state != crate::process::ProcessState::Zombie),
        "no zombie stays"
    );
}

#[test]
fn what_users_reach_for_works_or_says_what_to_do() {
    let mut t = terminal();
    // stderr from a shell, and /dev/stdout and /dev/stderr.
    let mut transcript = Transcript::default();
    t.run_line(
        "anchorage run --rm workshop sh -c 'echo oops >&2; echo fine > /dev/stdout; echo also 1>&2'",
        &mut transcript,
    );
    let streams: Vec<(Stream, &str)> = transcript
        .lines
        .iter()
        .map(|(stream, text)| (*stream, text.as_str()))
        .collect();
    assert_eq!(
        streams,
        [
            (Stream::Stderr, "oops\n"),
            (Stream::Stdout, "fine\n"),
            (Stream::Stderr, "also\n")
        ]
    );
    // A detached container has run by the time the next line does.
    sh(&mut t, "anchorage run -d --name e workshop echo hi");
    let (out, _) = sh(&mut t, "anchorage logs e");
    assert_eq!(out, "hi\n");
    // Docker's spellings of "no limit", and the smallest memory limit.
    let (_, status) = sh(
        &mut t,
        "anchorage run --rm --pids-limit -1 --memory 0 workshop true",
    );
    assert_eq!(status, 0);
    let (out, status) = sh(&mut t, "anchorage run --memory 1k workshop true");
    assert_eq!(status, 2);
    assert!(out.contains("smallest memory limit, 6m"), "{out}");
    let (out, status) = sh(&mut t, "anchorage run --cpus 99 workshop true");
    assert_eq!(status, 125);
    assert!(out.contains("the host has 2 CPUs"), "{out}");
    let (out, status) = sh(&mut t, "anchorage run -it workshop sh");
    assert_eq!(status, 125);
    assert!(
        out.contains("run it with -d, then use `anchorage exec"),
        "{out}"
    );
    // The host shell's $$, and kill on a zombie (delivered, no effect).
    let (out, _) = sh(&mut t, "echo $$");
    assert_ne!(out.trim(), "");
    sh(
        &mut t,
        "anchorage run -d --name z workshop sh -c 'sleep 1 & exec sleep 100'",
    );
    sh(&mut t, "sleep 2");
    let zombie = t
        .engine()
        .snapshot()
        .processes
        .iter()
        .find(|p| p.state == crate::process::ProcessState::Zombie)
        .map(|p| p.pid)
        .expect("a zombie");
    let (out, status) = sh(&mut t, &format!("kill -9 {zombie}"));
    assert_eq!((out.as_str(), status), ("", 0));
    // Newest first in `ps -a`.
    let (out, _) = sh(&mut t, "anchorage ps -a");
    let names: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    assert_eq!(names, ["z", "e"]);
    // A long sleep costs no more than a short one: idle time is skipped.
    let (_, status) = sh(&mut t, "sleep 100000");
    assert_eq!(status, 0);
}

#[test]
fn a_line_that_never_ends_is_interrupted_and_its_fork_bomb_runs_on() {
    let mut t = SimTerminal::new(
        SimEngine::default(),
        Box::new(SimulatedTime::new(Some(LINE_TIMEOUT_MS))),
    );
    let (out, status) = sh(
        &mut t,
        "anchorage run --name bomb --pids-limit 20 workshop forkbomb",
    );
    // As Ctrl-C: the run detaches, and the line says why.
    assert_eq!(status, INTERRUPTED);
    assert!(out.contains("detached from "), "{out}");
    assert!(
        out.contains("interrupted, as Ctrl-C would, after 1m of simulated time"),
        "{out}"
    );
    let clock = t.engine().snapshot().clock_ms;
    assert!((60_000..61_000).contains(&clock), "{clock}");
    // A simulated minute later the bomb is still held at pids.max, and
    // the clock moved by that minute, not by a day.
    let (_, status) = sh(&mut t, "sleep 59");
    assert_eq!(status, 0);
    let snap = t.engine().snapshot();
    assert!(snap.clock_ms < 121_000, "{}", snap.clock_ms);
    let bomb = snap.container("bomb").unwrap();
    assert!(matches!(bomb.state, ContainerState::Running));
    assert_eq!(cgroup_of(&t, "bomb").usage.pids_current, 20);
    // The next line has its own minute.
    let (out, status) = sh(&mut t, "echo next");
    assert_eq!((out.as_str(), status), ("next\n", 0));
}

#[test]
fn huge_times_and_the_engine_are_handled() {
    let mut t = SimTerminal::new(
        SimEngine::default(),
        Box::new(SimulatedTime::new(Some(120_000))),
    );
    // The simulated host keeps its engine: SIGKILL is refused, SIGTERM handled.
    let (out, status) = sh(&mut t, "kill -9 1000");
    assert_eq!(status, 1);
    assert!(out.contains("Operation not permitted"), "{out}");
    sh(&mut t, "kill 1000");
    let (_, status) = sh(&mut t, "anchorage run --rm workshop true");
    assert_eq!(status, 0);
    // Durations far beyond the clock's range saturate instead of wrapping.
    sh(
        &mut t,
        "anchorage run -d --name long workshop sleep 99999999999d",
    );
    sh(&mut t, "sleep 1");
    let (out, _) = sh(&mut t, "anchorage ps");
    assert!(out.contains("Up "), "{out}");
    // A grace period beyond the clock's range saturates too; the line
    // stops waiting at its limit, and the clock with it.
    let (out, status) = sh(&mut t, "anchorage stop -t 18446744073709552 long");
    assert_eq!(status, INTERRUPTED, "{out}");
    assert!(out.contains("SIGKILL follows"), "{out}");
    assert!(t.engine().snapshot().clock_ms < 200_000);
    let (out, _) = sh(&mut t, "anchorage ps");
    assert!(out.contains("Up "), "{out}");
    sh(&mut t, "anchorage kill long");
    let (out, _) = sh(&mut t, "anchorage ps -a");
    assert!(out.contains("Exited ("), "{out}");
}

#[test]
fn shell_features_work_inside_containers() {
    let mut t = terminal();
    let (out, status) = sh(
        &mut t,
        r#"anchorage run --rm -e GREETING=ahoy workshop sh -c 'echo $$ $GREETING "$HOSTNAME" | cat; false; echo $?; cd /tmp && pwd; echo "echo from a script" > /s.sh; sh /s.sh; exit 3'"#,
    );
    // A pipe's parts are child shells: `$$` is still the shell's.
    assert!(out.starts_with("1 ahoy "), "{out}");
    assert!(out.ends_with("\n1\n/tmp\nfrom a script\n"), "{out}");
    assert_eq!(status, 3);
    let (out, status) = sh(
        &mut t,
        r#"anchorage run --rm --hostname h -e GREETING=ahoy workshop sh -c 'echo $$ $GREETING "$HOSTNAME"; false; echo $?; cd /tmp; pwd; echo "echo from a script" > /s.sh; sh /s.sh; echo more >> /s.sh; cat /s.sh; exit 3'"#,
    );
    assert_eq!(
        out,
        "1 ahoy h\n1\n/tmp\nfrom a script\necho from a script\nmore\n"
    );
    assert_eq!(status, 3);
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let mut t = terminal();
    let (out, status) = sh(&mut t, "anchorage run --memory lots workshop");
    assert_eq!(status, 2);
    assert!(out.contains("`lots` is not a memory size"), "{out}");
    let (out, status) = sh(&mut t, "anchorage run -v nocolon workshop true");
    assert_eq!(status, 2);
    assert!(out.contains("SOURCE:TARGET"), "{out}");
    let (out, status) = sh(&mut t, "anchorage run postgres");
    assert_eq!(status, 125);
    assert!(out.contains("no such image `postgres`"), "{out}");
    let (out, status) = sh(&mut t, "anchorage exec nobody ps");
    assert_eq!(status, 126);
    assert!(out.contains("no such container `nobody`"), "{out}");
    let (out, status) = sh(&mut t, "anchorage run --rm workshop nosuchcmd");
    assert_eq!(
        (out.as_str(), status),
        (
            "exec: \"nosuchcmd\": executable file not found in $PATH\n",
            127
        )
    );
    let (out, status) = sh(&mut t, "anchorage run -d --name up workshop sleep 100");
    assert_eq!(status, 0, "{out}");
    let (out, status) = sh(&mut t, "anchorage exec up nosuchcmd");
    assert_eq!(status, 126);
    assert!(
        out.contains("`nosuchcmd` cannot run: executable file not found in $PATH"),
        "{out}"
    );
    sh(&mut t, "anchorage rm -f up");
    let (out, status) = sh(&mut t, "anchorage frobnicate");
    assert_eq!(status, 2);
    assert!(out.contains("unrecognized subcommand"), "{out}");
    assert!(
        t.engine().snapshot().containers.is_empty(),
        "nothing was left behind"
    );
}

#[test]
fn nothing_outside_a_containers_root_is_reachable() {
    let mut t = terminal();
    sh(&mut t, "echo hostfile > /root/secret");
    let (out, status) = sh(
        &mut t,
        "anchorage run --rm workshop sh -c 'cat /../../root/secret; ls /../..'",
    );
    assert_eq!(status, 0);
    assert!(
        out.starts_with("cat: can't open '/../../root/secret': No such file or directory\n"),
        "{out}"
    );
    assert!(out.contains("bin\n"), "{out}");
}

#[test]
fn the_same_script_gives_the_same_transcript() {
    let script = [
        "anchorage run -d --name a --memory 32m workshop sh -c 'memhog 16m; sleep 1; memhog 64m'",
        "anchorage run --name b workshop sh -c 'echo hi; ls /'",
        "sleep 3",
        "anchorage ps -a",
        "ps",
        "anchorage logs a",
    ];
    let run = || {
        let mut t = terminal();
        let text: Vec<(String, i32)> = script.iter().map(|line| sh(&mut t, line)).collect();
        (text, t.engine().snapshot())
    };
    assert_eq!(run(), run());
}

#[test]
fn the_hosts_terminal_is_the_full_shell_and_writes_to_cgroups_take_effect() {
    let mut t = terminal();
    // Variables and the working directory last from line to line.
    assert_eq!(sh(&mut t, "x=5; cd /tmp"), (String::new(), 0));
    assert_eq!(sh(&mut t, "echo $x $(pwd)"), ("5 /tmp\n".into(), 0));
    assert_eq!(t.prompt(), "root@workshop-host:/tmp# ");
    // Verbs go through pipes and substitutions like any program.
    let (id, status) = sh(&mut t, "anchorage run -d --name web workshop sleep 600");
    assert_eq!(status, 0);
    let id = id.trim().to_string();
    let (out, _) = sh(&mut t, "anchorage ps | grep -c web");
    assert_eq!(out, "1\n");
    let (out, _) = sh(&mut t, "ps | grep 'sleep 600' | grep -vc grep");
    assert_eq!(out, "1\n");
    // The classic exercise: the host writes a container's limits.
    let cg = format!("/sys/fs/cgroup/anchorage/{id}");
    let (out, status) = sh(
        &mut t,
        &format!("echo 20000 100000 > {cg}/cpu.max && cat {cg}/cpu.max"),
    );
    assert_eq!((out.as_str(), status), ("20000 100000\n", 0));
    let (out, _) = sh(
        &mut t,
        &format!("echo 100000000 > {cg}/memory.max; cat {cg}/memory.max"),
    );
    assert_eq!(out, "99999744\n", "kept in whole pages");
    let limits = cgroup_of(&t, "web").limits;
    assert_eq!(limits.cpu_max.quota_usec, Some(20_000));
    assert_eq!(limits.memory_max, Some(99_999_744));
    let (out, status) = sh(&mut t, &format!("echo lots > {cg}/pids.max"));
    assert_eq!(
        (out.as_str(), status),
        ("sh: write error: Invalid argument\n", 1)
    );
    // A process moved into the container's cgroup is counted there.
    let before = cgroup_of(&t, "web").usage.pids_current;
    let (_, status) = sh(&mut t, &format!("sleep 900 & echo $! > {cg}/cgroup.procs"));
    assert_eq!(status, 0);
    assert_eq!(cgroup_of(&t, "web").usage.pids_current, before + 1);
    let (out, _) = sh(&mut t, &format!("echo 99999 > {cg}/cgroup.procs"));
    assert_eq!(out, "sh: write error: No such process\n");
    // Inside a container cgroupfs stays read-only.
    let (out, _) = sh(
        &mut t,
        "anchorage exec web sh -c 'echo 5 > /sys/fs/cgroup/pids.max'",
    );
    assert!(out.contains("Read-only file system"), "{out}");
    // nsenter and unshare take their long options.
    let (out, status) = sh(
        &mut t,
        "nsenter --target $(ps | grep 'sleep 600' | grep -v grep | cut -c1-5) --uts --mount hostname",
    );
    assert_eq!(
        (out.as_str(), status),
        (format!("{}\n", &id[..12]).as_str(), 0)
    );
    let (out, _) = sh(
        &mut t,
        "unshare --uts --fork sh -c 'hostname inner; hostname'; hostname",
    );
    assert_eq!(out, "inner\nworkshop-host\n");
    let (out, status) = sh(&mut t, "nsenter --help | head -n 1");
    assert!(out.starts_with("Usage: nsenter"), "{out}");
    assert_eq!(status, 0);
    // `exit` ends the terminal with its status.
    let mut transcript = Transcript::default();
    assert_eq!(t.run_line("exit 4", &mut transcript), LineResult::Exit(4));
}

fn limited(limit_ms: u64) -> SimTerminal {
    SimTerminal::new(
        SimEngine::default(),
        Box::new(SimulatedTime::new(Some(limit_ms))),
    )
}

#[test]
fn a_loop_of_builtins_is_preempted_and_bounded() {
    let mut t = limited(5_000);
    // In a container: the rest of the machine goes on.
    let (_, status) = sh(
        &mut t,
        "anchorage run -d --name spin workshop sh -c 'while :; do :; done'",
    );
    assert_eq!(status, 0);
    let (out, status) = sh(&mut t, "sleep 1; echo on");
    assert_eq!((out.as_str(), status), ("on\n", 0));
    // On the host's terminal: the line is stopped at its limit.
    let (out, status) = sh(&mut t, "i=0; while :; do i=$((i+1)); done");
    assert_eq!(status, INTERRUPTED, "{out}");
    assert!(out.contains("after 5s of simulated time"), "{out}");
    let (out, _) = sh(&mut t, "echo still here");
    assert_eq!(out, "still here\n");
}

#[test]
fn a_wait_for_ever_stops_at_the_limit_and_the_clock_with_it() {
    let mut t = limited(60_000);
    let (_, status) = sh(&mut t, "sleep infinity");
    assert_eq!(status, INTERRUPTED);
    let clock = t.engine().snapshot().clock_ms;
    assert!((60_000..61_000).contains(&clock), "{clock}");
}

#[test]
fn an_interrupted_redirection_leaves_the_terminal_as_it_was() {
    let mut t = limited(10_000);
    let (_, status) = sh(
        &mut t,
        "cd /tmp; for i in 1 2; do sleep 30; done > /tmp/out",
    );
    assert_eq!(status, INTERRUPTED);
    // Output reaches the terminal again, and the shell is where it was.
    let (out, _) = sh(&mut t, "echo visible; pwd");
    assert_eq!(out, "visible\n/root\n");
    assert_eq!(t.prompt(), "root@workshop-host:~# ");
}

#[test]
fn commands_over_several_lines_wait_until_they_are_whole() {
    let mut t = terminal();
    assert_eq!(sh(&mut t, "for i in 1 2"), (String::new(), 0));
    assert_eq!(t.prompt(), "> ");
    let (out, status) = sh(&mut t, "do echo n$i; done");
    assert_eq!((out.as_str(), status), ("n1\nn2\n", 0));
    sh(&mut t, "if true; then");
    let mut transcript = Transcript::default();
    assert_eq!(
        t.finish(&mut transcript),
        Some(LineResult::Continue(2)),
        "{}",
        transcript.text()
    );
    assert!(transcript.text().contains("unexpected end of file"));
}

#[test]
fn a_job_of_an_earlier_line_can_be_waited_for() {
    let mut t = terminal();
    sh(&mut t, "sh -c 'exit 3' & j=$!");
    sh(&mut t, "sleep 1");
    let (out, _) = sh(&mut t, "wait $j; echo $?");
    assert_eq!(out, "3\n");
}
