//! `anchorage sim`, the simulated host on the terminal, as a user runs it:
//! a script on stdin, a script file, and bad input.

use std::process::Output;

use anchorage_tests::run_anchorage;

fn sim(args: &[&str], stdin: &str) -> Output {
    run_anchorage(&[&["sim"], args].concat(), stdin)
}

const SCRIPT: &str = "\
# A container is a process: PID 1 inside, another pid outside.
anchorage run -d --name web workshop sh -c 'sleep 1000 & sleep 1000'
anchorage exec web ps
anchorage run --name hog --memory 64m workshop memhog 100m
echo hog exited with $?
anchorage ps -a --quiet
cat /proc/self/cgroup
";

#[test]
fn a_script_on_stdin_prints_what_a_host_would_and_the_same_every_time() {
    let first = sim(&[], SCRIPT);
    assert!(first.status.success(), "{first:?}");
    let stdout = String::from_utf8(first.stdout.clone()).unwrap();
    assert!(
        // `sh -c` ran its last command in place, as PID 1.
        stdout.contains("    1 root      0:00 sleep 1000\n"),
        "{stdout}"
    );
    assert!(stdout.contains("hog exited with 137\n"), "{stdout}");
    // The host's own shell is in the host's cgroup tree.
    assert!(
        stdout.ends_with("0::/user.slice/user-0.slice/session-1.scope\n"),
        "{stdout}"
    );
    let second = sim(&[], SCRIPT);
    assert_eq!(
        first.stdout, second.stdout,
        "the simulation is deterministic"
    );
}

#[test]
fn the_exit_status_is_the_last_commands_and_trace_shows_lines() {
    let out = sim(&["-x"], "anchorage run --rm workshop sh -c 'exit 7'\n");
    assert_eq!(out.status.code(), Some(7));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("+ anchorage run --rm workshop sh -c 'exit 7'"),
        "{stderr}"
    );
    let out = sim(&[], "anchorage run --memory lots workshop\n");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("`lots` is not a memory size"), "{stderr}");
}

#[test]
fn a_script_file_runs_and_a_missing_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lesson.sh");
    std::fs::write(
        &path,
        "anchorage run --rm --hostname harbor workshop hostname\n",
    )
    .unwrap();
    let out = sim(&[path.to_str().unwrap()], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "harbor\n");
    let missing = dir.path().join("nope.sh");
    let out = sim(&[missing.to_str().unwrap()], "");
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("nope.sh"), "{stderr}");
}
