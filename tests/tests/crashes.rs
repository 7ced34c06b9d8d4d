//! Crashes that must lose nothing and hide nothing: `kill -9` of
//! `anchorage run -d`, of a container's supervisor, of an import and of a
//! server receiving an upload, each after a range of delays. After each,
//! the next commands must agree with what is on disk and in the kernel:
//! every container directory is a listed container, nothing listed as
//! Created or Exited has a process left, and once all is removed no
//! cgroup, mount or file of theirs remains. Real containers need root
//! (CI runs these as root).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anchorage_tests::Need::{Root, Tool};
use anchorage_tests::{Scene, runnable};

/// Every place a container's cgroup may be, on any layout.
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("/sys/fs/cgroup/anchorage").join(id)];
    for entry in fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        dirs.push(entry.path().join("anchorage").join(id));
    }
    dirs.retain(|d| d.exists());
    dirs
}

/// The processes in a container's cgroups.
fn processes_in(id: &str) -> Vec<u32> {
    let mut pids: Vec<u32> = cgroup_dirs(id)
        .iter()
        .flat_map(|d| {
            fs::read_to_string(d.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Container directories on disk (full ids).
fn on_disk(s: &Scene) -> Vec<String> {
    fs::read_dir(s.data().join("containers"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

/// What any command would see: each container's full id and state.
fn listed(s: &Scene) -> Vec<(String, String)> {
    let ids = s.ok(&["ps", "-aq"]);
    ids.split_whitespace()
        .map(|short| {
            let c = s.inspect(short);
            (c["id"].as_str().unwrap().to_string(), state_of(&c))
        })
        .collect()
}

/// A container's state as `inspect` gives it: `created`, `running`,
/// `exited`.
fn state_of(c: &serde_json::Value) -> String {
    c["state"]["state"].as_str().unwrap_or("").to_string()
}

/// The mounts of the host under a path.
fn mounts_under(path: &Path) -> Vec<String> {
    let text = path.display().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&text))
        .map(str::to_string)
        .collect()
}

/// The live processes started for the scene (the commands, their
/// supervisors, an init before its exec): those with its data directory
/// in their environment. A container's program has its own.
fn scene_processes(s: &Scene) -> Vec<u32> {
    let mut marker = b"ANCHORAGE_DATA_DIR=".to_vec();
    marker.extend_from_slice(s.data().as_os_str().as_encoded_bytes());
    marker.push(0);
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            !anchorage_tests::process_ended(*pid)
                && fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.windows(marker.len()).any(|w| w == marker.as_slice()))
        })
        .collect()
}

/// After a crash: the next `ps` lists every directory on disk, nothing
/// but a running container has processes, and `run` still works.
fn assert_consistent(s: &Scene, after: &str) {
    let listed = listed(s);
    for dir in on_disk(s) {
        assert!(
            listed.iter().any(|(id, _)| *id == dir),
            "{after}: containers/{dir} is on disk but `ps -a` does not list it ({} listed)",
            listed.len()
        );
    }
    for (id, _) in &listed {
        // The kernel first, then the record: a supervisor still going on
        // may move a container on between the two, never back.
        let left = processes_in(id);
        let state = state_of(&s.inspect(id));
        if state != "running" {
            assert!(
                left.is_empty(),
                "{after}: container {id} shows {state} while {} process(es) run in its cgroup",
                left.len()
            );
        }
    }
}

/// Removes every container, then asserts nothing of the ones seen is
/// left: no cgroup, mount or directory.
fn assert_clean(s: &Scene, seen: &[String]) {
    for (id, _) in listed(s) {
        s.ok(&["rm", "-f", &id]);
    }
    assert_eq!(
        on_disk(s),
        Vec::<String>::new(),
        "container directories left"
    );
    for id in seen {
        assert_eq!(
            cgroup_dirs(id),
            Vec::<PathBuf>::new(),
            "cgroups of {id} left"
        );
    }
    assert_eq!(
        mounts_under(&s.data()),
        Vec::<String>::new(),
        "mounts under the data directory left"
    );
    assert_eq!(scene_processes(s), Vec::<u32>::new(), "processes left");
    let out = s.ok(&["run", "--rm", "workshop", "echo", "still works"]);
    assert_eq!(out.trim(), "still works");
}

/// Waits for a spawned command to end, at most 20 s.
fn reap(child: &mut std::process::Child) {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a killed command did not end"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn kill_9_of_run_at_any_point_leaves_what_ps_shows() {
    if !runnable(&[Root]) {
        return;
    }
    let s = Scene::new();
    s.ok(&["image", "ls", "-q"]);
    let mut seen = Vec::new();
    for delay_ms in (0..=60).step_by(4) {
        let mut run = s
            .command(&["run", "-d", "workshop", "sleep", "1000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = run.kill();
        reap(&mut run);
        seen.extend(on_disk(&s));
        assert_consistent(&s, &format!("kill -9 of run -d after {delay_ms} ms"));
    }
    seen.sort();
    seen.dedup();
    assert_clean(&s, &seen);
}

#[test]
fn kill_9_of_a_supervisor_ends_its_container_with_the_reason() {
    if !runnable(&[Root]) {
        return;
    }
    let s = Scene::new();
    s.ok(&["image", "ls", "-q"]);
    let mut seen = Vec::new();
    for delay_ms in [0u64, 1, 2, 4, 8, 16, 40, 200] {
        let run = s
            .command(&["run", "-d", "workshop", "sleep", "1000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The supervisor writes its pid first thing.
        let started = Instant::now();
        let (dir, shim) = loop {
            let found = on_disk(&s).into_iter().find_map(|id| {
                let dir = s.data().join("containers").join(&id);
                let state: serde_json::Value =
                    serde_json::from_slice(&fs::read(dir.join("state.json")).ok()?).ok()?;
                (!seen.contains(&id) && state["exit"].is_null())
                    .then(|| (id, state["shim_pid"].as_u64().unwrap() as i32))
            });
            if let Some(found) = found {
                break found;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no supervisor started"
            );
            std::thread::sleep(Duration::from_millis(1));
        };
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = Command::new("kill")
            .args(["-9", &shim.to_string()])
            .status();
        let said = run.wait_with_output().unwrap();
        // A signal is sent at once, but the process ends when next run.
        let started = Instant::now();
        while !anchorage_tests::process_ended(shim as u32) {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "kill -9 took no effect"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        seen.push(dir.clone());
        let after = format!("kill -9 of the supervisor {delay_ms} ms in");
        if !said.status.success() {
            // Killed before it answered: `run` says so, and removes the
            // container it made.
            let said = String::from_utf8_lossy(&said.stderr);
            assert!(said.contains("supervisor"), "{after}: run said {said}");
            assert!(!on_disk(&s).contains(&dir), "{after}: the container stays");
            assert_eq!(processes_in(&dir), Vec::<u32>::new(), "{after}");
            assert_eq!(scene_processes(&s), Vec::<u32>::new(), "{after}");
            assert_consistent(&s, &after);
            continue;
        }
        // The container ends at once, as the next command sees it.
        let c = s.inspect(&dir);
        assert_eq!(state_of(&c), "exited", "{after}: {}", c["state"]);
        let reason = c["reason"].as_str().unwrap_or("");
        assert!(
            reason.contains("supervisor") && reason.contains("was killed"),
            "{after}: the reason given is {reason:?}"
        );
        assert_eq!(processes_in(&dir), Vec::<u32>::new(), "{after}");
        assert_eq!(scene_processes(&s), Vec::<u32>::new(), "{after}");
        assert_consistent(&s, &after);
    }
    // One killed while its container runs is shown as killed.
    let ps = s.ok(&["ps", "-a"]);
    assert!(ps.contains("Exited (137)"), "{ps}");
    assert_clean(&s, &seen);
}

/// A root file system tarball of busybox and 40 MB of files, slow
/// enough to import that kills land in every phase.
fn big_tarball(dir: &Path) -> PathBuf {
    let root = dir.join("big-root");
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    let data = root.join("data");
    fs::create_dir_all(&data).unwrap();
    let block: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for i in 0..2000 {
        fs::write(data.join(format!("f{i}")), &block).unwrap();
    }
    let tarball = dir.join("big.tar");
    anchorage_tests::tar_dir(&root, &tarball);
    tarball
}

/// The bytes under a directory.
fn bytes_under(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| bytes_under(&e.path()))
        .sum()
}

#[test]
fn kill_9_of_an_import_leaves_the_store_whole_and_no_scratch() {
    if !runnable(&[Tool("/bin/busybox"), Tool("/usr/bin/tar")]) {
        return;
    }
    let s = Scene::new();
    s.ok(&["image", "ls", "-q"]);
    let tarball = big_tarball(s.scratch());
    let tarball = tarball.display().to_string();
    let mut imported = false;
    for delay_ms in [0u64, 5, 20, 50, 100, 200, 400, 800] {
        let mut import = s
            .command(&["image", "import", "-q", "--name", "big", &tarball])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = import.kill();
        reap(&mut import);
        // The next command (any: here `images`) sees a whole store and
        // leaves no scratch behind.
        let images = s.ok(&["images"]);
        let has = images.lines().any(|l| l.starts_with("big "));
        imported |= has;
        let scratch = bytes_under(&s.data().join("tmp"));
        assert_eq!(
            scratch, 0,
            "after a kill {delay_ms} ms into an import, tmp/ holds {scratch} bytes"
        );
        if has {
            // What is listed runs.
            let out = s.ok(&["run", "--rm", "big", "sh", "-c", "ls /data | wc -l"]);
            assert_eq!(out.trim(), "2000", "after a kill {delay_ms} ms in");
            s.ok(&["image", "rm", "big"]);
        }
    }
    // Finished in the end, it imports whole.
    s.ok(&["image", "import", "-q", "--name", "big", &tarball]);
    let out = s.ok(&["run", "--rm", "big", "sh", "-c", "ls /data | wc -l"]);
    assert_eq!(out.trim(), "2000");
    // Some kill came before the end (else the loop tested nothing).
    let _ = imported;
}

#[tokio::test]
async fn kill_9_of_a_server_receiving_an_upload_leaves_nothing_after_the_next_command() {
    if !runnable(&[Root, Tool("/bin/busybox")]) {
        return;
    }
    use tokio::io::AsyncWriteExt;
    let s = Scene::new();
    let tarball = big_tarball(s.scratch());
    let bytes = fs::read(&tarball).unwrap();
    let data = s.data();
    let server = anchorage_tests::Server::start_with_env(
        &[
            "--listen",
            "127.0.0.1:0",
            "--token",
            anchorage_tests::TEST_TOKEN,
        ],
        &[("ANCHORAGE_DATA_DIR", data.as_path())],
    )
    .await
    .unwrap();
    let pid = server.pid().unwrap();
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/images?name=up&file=big.tar HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
        server.addr,
        anchorage_tests::TEST_TOKEN,
        bytes.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Half of it, then the server is killed while it waits for the rest.
    stream.write_all(&bytes[..bytes.len() / 2]).await.unwrap();
    stream.flush().await.unwrap();
    let uploads = data.join("uploads");
    let started = Instant::now();
    while bytes_under(&uploads) < bytes.len() as u64 / 4 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the upload never reached the disk"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    drop(stream);
    let _ = server.stop().await;
    assert!(
        bytes_under(&uploads) > 0,
        "the killed upload left nothing to clean"
    );
    // The next command, whatever it is, clears it.
    let images = s.ok(&["images"]);
    assert!(!images.contains("up "), "{images}");
    assert_eq!(bytes_under(&uploads), 0, "the upload is still on disk");
    assert_eq!(bytes_under(&data.join("tmp")), 0, "scratch is left");
    let _ = std::io::stderr().flush();
}

#[test]
fn a_creation_killed_before_its_record_is_gone_at_the_next_command() {
    if !runnable(&[Root]) {
        return;
    }
    let s = Scene::new();
    // As a `run -d` killed 10 ms in leaves it: a directory with its launch
    // plan and a half-written record, and its cgroups.
    s.ok(&["run", "--rm", "workshop", "true"]);
    let id = "0123456789abcdef".repeat(4);
    let dir = s.data().join("containers").join(&id);
    for sub in ["upper", "work", "merged", "lower"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    fs::write(dir.join("launch.json"), "{}").unwrap();
    fs::write(dir.join(".container.json.tmp-999999"), "{\"id\":").unwrap();
    let mut made = 0;
    for entry in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for parent in [
            entry.path().join("anchorage"),
            PathBuf::from("/sys/fs/cgroup/anchorage"),
        ] {
            if parent.is_dir() && fs::create_dir(parent.join(&id)).is_ok() {
                made += 1;
            }
        }
    }
    assert!(made > 0, "no cgroup made");
    assert_eq!(s.ok(&["ps", "-aq"]), "");
    assert!(!dir.exists(), "the half-made container is still on disk");
    assert_eq!(
        cgroup_dirs(&id),
        Vec::<PathBuf>::new(),
        "its cgroups are left"
    );
    assert_clean(&s, &[id]);
}

#[test]
fn a_damaged_record_is_reported_and_rm_f_removes_it() {
    if !runnable(&[Root]) {
        return;
    }
    let s = Scene::new();
    let id = s
        .ok(&["run", "-d", "workshop", "sleep", "600"])
        .trim()
        .to_string();
    s.ok(&["stop", "-t", "0", &id]);
    let record = s.data().join("containers").join(&id).join("container.json");
    let whole = fs::read_to_string(&record).unwrap();
    fs::write(&record, &whole[..whole.len() / 2]).unwrap();
    // Every command says so, naming the file and the fix; nothing is lost.
    let ps = s.run(&["ps", "-a"]);
    let said = String::from_utf8_lossy(&ps.stderr).into_owned();
    assert!(
        said.contains("is damaged") && said.contains(&format!("anchorage rm -f {id}")),
        "{said}"
    );
    assert!(record.exists());
    s.ok(&["rm", "-f", &id]);
    assert!(!record.exists());
    assert_eq!(cgroup_dirs(&id), Vec::<PathBuf>::new());
    let again = s.run(&["ps", "-a"]);
    assert!(String::from_utf8_lossy(&again.stderr).trim().is_empty());
}
