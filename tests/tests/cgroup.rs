//! The real engine's cgroups on this host's real cgroupfs, whatever its
//! layout (v2, v1 or hybrid). Creating cgroups needs root: CI runs these
//! as root; elsewhere they say they were skipped.

use std::fs;
use std::process::Command;

use anchorage::cgroup::{Cgroup, detect};
use anchorage_shared::cgroup::{CgroupLimits, CpuMax};

/// Removes the test's cgroup however the test ends.
struct Cleanup(Cgroup);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.0.destroy();
    }
}

fn layout() -> anchorage::cgroup::Layout {
    detect(&fs::read_to_string("/proc/self/mountinfo").unwrap()).unwrap()
}

/// A shell command that moves the shell into the cgroup, then runs `then`.
fn inside(cgroup: &Cgroup, then: &str) -> Command {
    let moves: Vec<String> = cgroup
        .procs_files()
        .iter()
        .map(|f| format!("echo $$ > {}", f.display()))
        .collect();
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(format!("{}; {then}", moves.join("; ")));
    command
}

#[test]
fn a_real_cgroup_enforces_limits_reports_usage_and_goes_away() {
    if !anchorage_tests::runnable(&[anchorage_tests::Need::Root]) {
        return;
    }
    let layout = layout();
    let path = format!("/anchorage-test/limits-{}", std::process::id());
    let cgroup = Cleanup(Cgroup::create(&layout, &path).unwrap());
    cgroup
        .0
        .apply(&CgroupLimits {
            memory_max: Some(64 << 20),
            pids_max: Some(4),
            cpu_max: CpuMax::from_cpus(0.5).unwrap(),
            cpu_weight: 100,
        })
        .unwrap();

    // pids.max: four processes fill the cgroup; a fork from the fourth
    // fails. They are all this test's children, so it reaps them (an
    // orphan left to a slow reaper would stay charged as a zombie).
    let mut sleepers: Vec<_> = (0..3)
        .map(|_| inside(&cgroup.0, "exec sleep 30").spawn().unwrap())
        .collect();
    for _ in 0..200 {
        if cgroup.0.usage().unwrap().pids_current == 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = inside(&cgroup.0, "sleep 0.1 & wait").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("fork"),
        "{out:?}"
    );
    let usage = cgroup.0.usage().unwrap();
    assert_eq!(usage.pids_current, 3, "{usage:?}");
    assert!(
        usage.pids_events_max > 0,
        "the fork was refused at pids.max: {usage:?}"
    );
    for sleeper in &mut sleepers {
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
    }

    // memory.max: a pipe reader that keeps everything meets the OOM killer.
    let status = inside(&cgroup.0, "head -c 200000000 /dev/zero | tail > /dev/null")
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(137), "tail was OOM-killed");
    let usage = cgroup.0.usage().unwrap();
    assert!(usage.oom_kill >= 1, "{usage:?}");
    assert!(usage.memory_peak <= 64 << 20, "{usage:?}");

    // A process left inside is killed when the cgroup goes.
    let mut sleeper = inside(&cgroup.0, "exec sleep 60").spawn().unwrap();
    for _ in 0..100 {
        if cgroup.0.processes().unwrap().contains(&sleeper.id()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(cgroup.0.processes().unwrap().contains(&sleeper.id()));
    assert_eq!(cgroup.0.usage().unwrap().pids_current, 1);
    cgroup.0.destroy().unwrap();
    let status = sleeper.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    for file in cgroup.0.procs_files() {
        assert!(
            !file.parent().unwrap().exists(),
            "{} is gone",
            file.display()
        );
    }
    // The test's parent cgroup goes too.
    Cgroup::open(&layout, "/anchorage-test").destroy().unwrap();
}
