//! Real containers, run by the `anchorage` binary as a user runs it:
//! isolation, limits, the life cycle and what it leaves behind, recovery
//! after a crash, descriptor hygiene, the rootless path, and the same
//! script on the simulator and for real. They need root (CI runs them as
//! root); elsewhere they say they were skipped.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anchorage_tests::{Scene, anchorage_bin};

macro_rules! needs_root {
    () => {
        if !anchorage_tests::runnable(&[anchorage_tests::Need::Root]) {
            return;
        }
    };
}

/// Whether anything of a container is left on the host: its cgroup in any
/// hierarchy, a mount under its directory, its directory.
fn leftovers(scene: &Scene, id: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for base in [entry.path(), PathBuf::from("/sys/fs/cgroup")] {
            let cgroup = base.join("anchorage").join(id);
            if cgroup.exists() {
                found.push(cgroup.display().to_string());
            }
        }
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    for line in mountinfo.lines().filter(|l| l.contains(id)) {
        found.push(format!("mount: {line}"));
    }
    let dir = scene.data().join("containers").join(id);
    if dir.exists() {
        found.push(dir.display().to_string());
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn a_container_is_isolated_in_its_own_namespaces() {
    needs_root!();
    let s = Scene::new();
    let out = s.ok(&[
        "run",
        "--rm",
        "--hostname",
        "iso",
        "workshop",
        "sh",
        "-c",
        "hostname; ps -o pid,comm; cat /proc/self/uid_map; ls /proc/self/fd; ip link; ls -l /proc/self/ns",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "iso");
    // PID 1 is the container's command, and no host process shows.
    assert!(
        lines[1].contains("PID") && lines[2].trim_start().starts_with("1 sh"),
        "{out}"
    );
    let ps: Vec<&str> = lines[2..]
        .iter()
        .take_while(|l| !l.trim_start().starts_with('0'))
        .copied()
        .collect();
    assert!(
        ps.iter().all(|l| l.contains("sh") || l.contains("ps")),
        "{out}"
    );
    // Root inside is an unprivileged host id.
    let map: Vec<u64> = lines
        .iter()
        .find(|l| l.split_whitespace().count() == 3 && l.trim_start().starts_with('0'))
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(map[1] >= 1000 && map[2] == 65536, "{map:?}");
    // Only lo, and only stdin, stdout, stderr and ls's own directory.
    assert!(out.contains("1: lo: <LOOPBACK,UP,LOWER_UP>"), "{out}");
    assert!(!out.contains("eth0"), "{out}");
    let fds: Vec<&str> = lines
        .iter()
        .filter(|l| l.len() == 1 && l.chars().all(|c| c.is_ascii_digit()))
        .copied()
        .collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{out}");
    // Docker's default capabilities, and no way to gain more.
    let status = s.ok(&["run", "--rm", "workshop", "cat", "/proc/self/status"]);
    assert!(status.contains("CapEff:\t00000000a80425fb"), "{status}");
    assert!(status.contains("CapBnd:\t00000000a80425fb"), "{status}");
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    // Every namespace but time is new.
    for kind in ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"] {
        let host = fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
        let inside = out
            .lines()
            .find_map(|l| l.split(&format!(" {kind} -> ")).nth(1))
            .unwrap_or_else(|| panic!("no {kind} in {out}"));
        assert_ne!(inside, host.to_string_lossy(), "{kind}");
    }
}

#[test]
fn limits_hold_the_memory_hog_the_fork_bomb_and_the_cpu_burner() {
    needs_root!();
    let s = Scene::new();
    let hog = s.run(&[
        "run", "--name", "hog", "--memory", "64m", "workshop", "memhog", "200m",
    ]);
    assert_eq!(hog.status.code(), Some(137), "{hog:?}");
    let hog = s.inspect("hog");
    assert_eq!(hog["state"]["oom_killed"], true, "{hog}");

    s.ok(&[
        "run",
        "-d",
        "--name",
        "bomb",
        "--pids-limit",
        "20",
        "workshop",
        "forkbomb",
    ]);
    let layout =
        anchorage::cgroup::detect(&fs::read_to_string("/proc/self/mountinfo").unwrap()).unwrap();
    let path = s.inspect("bomb")["cgroup"].as_str().unwrap().to_string();
    let cgroup = anchorage::cgroup::Cgroup::open(&layout, &path);
    let started = Instant::now();
    let usage = loop {
        let usage = cgroup.usage().unwrap();
        if usage.pids_events_max > 0 || started.elapsed() > Duration::from_secs(20) {
            break usage;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(usage.pids_current, 20, "{usage:?}");
    assert!(usage.pids_events_max > 0, "forks were refused: {usage:?}");
    s.ok(&["rm", "-f", "bomb"]);

    let burn = s.ok(&["run", "--rm", "--cpus", "0.5", "workshop", "cpuburn", "2"]);
    let cpu: f64 = burn
        .split(", ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{burn}"));
    assert!(cpu > 0.5 && cpu < 1.4, "half a CPU for 2 s: {burn}");
}

#[test]
fn the_life_cycle_leaves_nothing_behind() {
    needs_root!();
    let s = Scene::new();
    let id = s
        .ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "workshop",
            "sh",
            "-c",
            "echo started; sleep 1000 & sleep 1000; wait",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    assert!(s.ok(&["ps"]).contains(" web\n"));
    let ps = s.ok(&["exec", "web", "ps", "-o", "pid,comm"]);
    assert!(ps.contains("    1 sh") && ps.contains("sleep"), "{ps}");
    let exec = s.run(&["exec", "web", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(exec.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&exec.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&exec.stderr), "err\n");
    let logs = s.ok(&["logs", "web"]);
    assert_eq!(logs, "started\n", "exec output is not in the logs");
    let init = s.inspect("web")["init_pid"].as_u64().unwrap();
    // sh as PID 1 ignores SIGTERM: SIGKILL ends it after the grace period.
    s.ok(&["stop", "-t", "1", "web"]);
    assert!(s.ok(&["ps", "-a"]).contains("Exited (137)"));
    assert!(
        !Path::new(&format!("/proc/{init}")).exists(),
        "the init is gone"
    );
    s.ok(&["rm", "web"]);
    assert!(leftovers(&s, &id).is_empty(), "{:?}", leftovers(&s, &id));

    // Volumes: a host directory, and a named volume that outlives its
    // containers (owned by container root).
    let host = s.scratch().join("shared");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("note"), "from the host\n").unwrap();
    let out = s.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/mnt/host", host.display()),
        "-v",
        "keep:/data",
        "workshop",
        "sh",
        "-c",
        "cat /mnt/host/note; echo kept > /data/file",
    ]);
    assert_eq!(out, "from the host\n");
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "-v",
            "keep:/data",
            "workshop",
            "cat",
            "/data/file"
        ]),
        "kept\n"
    );

    // --rm, and a command that is not there.
    let out = s.run(&["run", "--rm", "workshop", "nosuch"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"nosuch\": executable file not found"),
        "{out:?}"
    );
    assert_eq!(s.ok(&["ps", "-aq"]), "");
}

#[test]
fn a_killed_supervisor_is_noticed_and_cleaned_up() {
    needs_root!();
    let s = Scene::new();
    let id = s
        .ok(&["run", "-d", "workshop", "sleep", "1000"])
        .trim()
        .to_string();
    let dir = s.data().join("containers").join(&id);
    let state: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("state.json")).unwrap()).unwrap();
    let init = state["init_pid"].as_i64().unwrap() as i32;
    let shim = state["shim_pid"].as_i64().unwrap() as i32;
    let running = |pid: i32| !anchorage_tests::process_ended(pid as u32);
    let gone = |pid: i32, what: &str| {
        let started = Instant::now();
        while running(pid) {
            assert!(started.elapsed() < Duration::from_secs(5), "{what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    // Only the supervisor: its init goes with it.
    nix_kill(shim);
    gone(shim, "kill -9 took no effect");
    // The next command sees it ended, killed, and why.
    let ps = s.ok(&["ps", "-a"]);
    assert!(ps.contains("Exited (137)"), "{ps}");
    let reason = s.inspect(&id)["reason"].as_str().unwrap_or("").to_string();
    assert!(reason.contains("supervisor"), "{reason}");
    gone(init, "the init outlived its supervisor");
    s.ok(&["rm", &id]);
    assert!(leftovers(&s, &id).is_empty(), "{:?}", leftovers(&s, &id));
}

#[test]
fn an_attached_run_ends_when_its_container_is_removed_elsewhere() {
    needs_root!();
    let s = Scene::new();
    let mut attached = s
        .command(&["run", "--name", "held", "workshop", "sleep", "1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !s.ok(&["ps"]).contains(" held\n") {
        assert!(started.elapsed() < Duration::from_secs(20), "it never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    s.ok(&["rm", "-f", "held"]);
    let removed = Instant::now();
    let status = loop {
        if let Some(status) = attached.try_wait().unwrap() {
            break status;
        }
        if removed.elapsed() > Duration::from_secs(10) {
            let _ = attached.kill();
            panic!("the attached run kept waiting for a container that is gone");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(137));
    assert_eq!(s.ok(&["ps", "-aq"]), "");
}

fn nix_kill(pid: i32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

#[test]
fn container_root_cannot_write_the_host_binary() {
    needs_root!();
    let s = Scene::new();
    // Even handed the directory of the `anchorage` binary (CVE-2019-5736
    // overwrote the runtime's binary from inside a container), container
    // root is an unprivileged host uid: the binary is not its to write.
    let bin = anchorage_bin();
    let dir = bin.parent().unwrap();
    let before = fs::read(&bin).unwrap();
    let out = s.run(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/hostbin", dir.display()),
        "workshop",
        "sh",
        "-c",
        "echo pwned > /hostbin/anchorage; echo $?; rm /hostbin/anchorage; echo $?",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text, "1\n1\n", "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "{out:?}"
    );
    assert_eq!(fs::read(&bin).unwrap(), before, "the binary is untouched");
}

#[test]
fn no_host_descriptor_reaches_a_container() {
    needs_root!();
    let s = Scene::new();
    // A descriptor for the host's root, open (and inheritable) in the
    // process that runs anchorage.
    let root = fs::File::open("/").unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&root);
    let mut command = s.command(&["run", "--rm", "workshop", "ls", "/proc/self/fd"]);
    // SAFETY: dup2 in the child, before exec.
    unsafe {
        command.pre_exec(move || {
            if nix_dup2(fd, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = command.output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "0\n1\n2\n3\n",
        "{out:?}"
    );
}

fn nix_dup2(from: i32, to: i32) -> i32 {
    // SAFETY: plain dup2 on descriptors this process owns.
    unsafe { libc_dup2(from, to) }
}

unsafe extern "C" {
    #[link_name = "dup2"]
    fn libc_dup2(from: i32, to: i32) -> i32;
}

#[test]
fn without_root_one_uid_is_mapped_and_limits_are_refused() {
    needs_root!();
    // The binary and data where `nobody` can reach them.
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let binary = dir.path().join("anchorage");
    fs::copy(anchorage_bin(), &binary).unwrap();
    let run = |args: &[&str]| {
        Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(&binary)
            .args(args)
            .env("HOME", dir.path())
            .env("ANCHORAGE_DATA_DIR", dir.path().join("data"))
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run(&[
        "run",
        "--rm",
        "workshop",
        "sh",
        "-c",
        "id; cat /proc/self/uid_map; touch /tmp/x; ls /tmp",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.starts_with("uid=0(root)"), "{text}");
    let map: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", "65534", "1"]);
    assert!(text.ends_with("x\n"), "{text}");
    let out = run(&["run", "--rm", "--memory", "10m", "workshop", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("limits need cgroups"),
        "{out:?}"
    );
}

/// The same script, on the simulator and for real, prints the same.
#[test]
fn a_script_prints_the_same_on_the_simulator_and_for_real() {
    needs_root!();
    let script = "\
anchorage run --rm --hostname h1 workshop sh -c 'hostname; id; ps -o pid,comm; ls /; cat /etc/motd'
anchorage run --rm workshop sh -c 'echo one > /tmp/f; cat /tmp/f; ls /tmp; exit 3'
echo status $?
anchorage run --rm --memory 64m workshop memhog 100m
echo status $?
anchorage run --rm --memory 64m workshop memhog 20m 0
anchorage run --rm -e GREETING=ahoy workshop sh -c 'echo $GREETING'
anchorage run --rm workshop nosuch
echo status $?
";
    let sim = Command::new(anchorage_bin())
        .arg("sim")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let s = Scene::new();
    let bin_dir = anchorage_bin().parent().unwrap().to_path_buf();
    let real = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("ANCHORAGE_DATA_DIR", s.data())
        .output()
        .unwrap();
    let sim_out = String::from_utf8_lossy(&sim.stdout);
    let real_out = String::from_utf8_lossy(&real.stdout);
    let (sim_err, real_err) = (
        String::from_utf8_lossy(&sim.stderr),
        String::from_utf8_lossy(&real.stderr),
    );
    // `/` inside: the simulator lists what the real kernel mounts too.
    assert_eq!(
        (&sim_out, &sim_err),
        (&real_out, &real_err),
        "the output differs\n--- sim\n{sim_out}{sim_err}\n--- real\n{real_out}{real_err}"
    );
}
