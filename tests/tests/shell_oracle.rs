//! The workshop image's `sh` and applets against their oracle, BusyBox
//! (Debian's busybox-static): each line of `tests/shell/ash-cases.txt` and
//! `tests/shell/applet-cases.txt` (`\n` for a newline) runs through both,
//! on this host, and must print the same on stdout and stderr and end
//! with the same status. The applets' lines run with `PATH` holding only
//! the image's commands, each a link to `toolbox` or to `busybox`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn toolbox() -> PathBuf {
    std::env::var_os("ANCHORAGE_TOOLBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/workshop-dist/toolbox")
        })
}

/// `\n` and `\t` in a case line, as `printf %b` reads them.
fn unescape(line: &str) -> String {
    line.replace("\\n", "\n")
        .replace("\\t", "\t")
        .replace("\\\\", "\\")
}

fn run(program: &Path, first: &str, script: &str, cwd: &Path, path: &str) -> String {
    let output = Command::new(program)
        .args([first, "-c", script])
        .current_dir(cwd)
        .env_clear()
        .env("PATH", path)
        .env("HOME", "/root")
        .stdin(Stdio::null())
        .output()
        .expect("the shell runs");
    // Both streams, interleaved as a terminal would not show them but in
    // a fixed order: what each printed, and its status.
    format!(
        "{}{}[{}]",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        output
            .status
            .code()
            .map_or("signal".into(), |c| c.to_string())
    )
}

/// Every line of a case file through both; the lines that differ.
fn compare(cases: &str, path_for: impl Fn(&Path) -> String, min: usize) {
    let toolbox = toolbox();
    assert!(
        toolbox.exists(),
        "{} is built by cargo xtask dist",
        toolbox.display()
    );
    let cases = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("shell")
            .join(cases),
    )
    .unwrap();
    let mut differ = Vec::new();
    let mut count = 0;
    for line in cases.lines().filter(|l| !l.trim().is_empty()) {
        count += 1;
        let script = unescape(line);
        let mut answers = Vec::new();
        // One directory, made afresh for each: a case may print where it
        // runs, or change the files it is given.
        let scratch = tempfile::tempdir().unwrap();
        for program in [toolbox.as_path(), Path::new("/bin/busybox")] {
            std::fs::remove_dir_all(scratch.path()).unwrap();
            std::fs::create_dir(scratch.path()).unwrap();
            std::fs::write(scratch.path().join("f"), "b\na\nB\na\n").unwrap();
            std::fs::write(scratch.path().join("g"), "x:1:10\ny:2:9\nz:3:100\n").unwrap();
            let path = path_for(program);
            answers.push(run(program, "sh", &script, scratch.path(), &path));
        }
        if answers[0] != answers[1] {
            differ.push(format!(
                "{line}\n  ours: {:?}\n  busybox: {:?}",
                answers[0], answers[1]
            ));
        }
    }
    assert!(count >= min, "{count} cases");
    assert!(
        differ.is_empty(),
        "{} of {count} lines differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

#[test]
fn every_line_answers_as_busybox_ash_does() {
    if !anchorage_tests::runnable(&[anchorage_tests::Need::Tool("/bin/busybox")]) {
        return;
    }
    compare("ash-cases.txt", |_| "/usr/bin:/bin".to_string(), 150);
}

#[test]
fn every_applet_line_answers_as_busybox_does() {
    if !anchorage_tests::runnable(&[anchorage_tests::Need::Tool("/bin/busybox")]) {
        return;
    }
    // One directory of links per multi-call binary, named as the image's
    // commands are.
    let links = tempfile::tempdir().unwrap();
    for (side, target) in [
        ("ours", toolbox()),
        ("busybox", PathBuf::from("/bin/busybox")),
    ] {
        let dir = links.path().join(side);
        std::fs::create_dir(&dir).unwrap();
        for command in anchorage_shared::sim::tarball::WORKSHOP_COMMANDS {
            std::os::unix::fs::symlink(&target, dir.join(command)).unwrap();
        }
    }
    let root = links.path().to_path_buf();
    compare(
        "applet-cases.txt",
        move |program| {
            let side = if program.ends_with("busybox") {
                "busybox"
            } else {
                "ours"
            };
            root.join(side).display().to_string()
        },
        160,
    );
}

/// Runs `tests/shell/ip-cases.sh` in a new network namespace with `ip`
/// being `program`: everything it printed.
fn ip_cases_with(program: &Path) -> String {
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(program, bin.path().join("ip")).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("shell/ip-cases.sh");
    let output = Command::new("/usr/bin/unshare")
        .args(["-n", "/bin/sh"])
        .arg(&script)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.path().display()))
        .stdin(Stdio::null())
        .output()
        .expect("unshare runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn ip_changes_a_network_namespace_as_busybox_does_on_both_engines() {
    use anchorage_tests::Need;
    if !anchorage_tests::runnable(&[
        Need::Root,
        Need::Tool("/bin/busybox"),
        Need::Tool("/usr/bin/unshare"),
    ]) {
        return;
    }
    let busybox = ip_cases_with(Path::new("/bin/busybox"));
    assert!(busybox.lines().count() > 200, "{busybox}");
    let ours = ip_cases_with(&toolbox());
    // The simulator: the same script written into its host, run in a
    // namespace `unshare -n` makes there.
    let cases =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("shell/ip-cases.sh"))
            .unwrap();
    let mut input = String::from("rm -f /tmp/ip-cases.sh\n");
    for line in cases.lines() {
        input.push_str(&format!(
            "printf '%s\\n' '{}' >> /tmp/ip-cases.sh\n",
            line.replace('\'', "'\\''")
        ));
    }
    input.push_str("unshare -n sh /tmp/ip-cases.sh\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.sh");
    std::fs::write(&file, input).unwrap();
    let sim = Command::new(anchorage_tests::anchorage_bin())
        .arg("sim")
        .arg(&file)
        .output()
        .expect("anchorage sim runs");
    let sim = String::from_utf8_lossy(&sim.stdout).into_owned();
    for (side, text) in [("toolbox over netlink", &ours), ("anchorage sim", &sim)] {
        if *text != busybox {
            let first = busybox
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "{side} differs from BusyBox from line {}:\n--- busybox\n{}\n--- {side}\n{}",
                first + 1,
                busybox
                    .lines()
                    .skip(first)
                    .take(6)
                    .collect::<Vec<_>>()
                    .join("\n"),
                text.lines()
                    .skip(first)
                    .take(6)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}
