//! The workshop image's `sh` against its oracle, BusyBox's `ash` (Debian's
//! busybox-static): each line of `tests/shell/ash-cases.txt` (`\n` for a
//! newline) runs through both, on this host, and must print the same on
//! stdout and stderr and end with the same status.

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

fn run(program: &Path, first: &str, script: &str, cwd: &Path) -> String {
    let output = Command::new(program)
        .args([first, "-c", script])
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
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

#[test]
fn every_line_answers_as_busybox_ash_does() {
    if !anchorage_tests::runnable(&[anchorage_tests::Need::Tool("/bin/busybox")]) {
        return;
    }
    let toolbox = toolbox();
    assert!(
        toolbox.exists(),
        "{} is built by cargo xtask dist",
        toolbox.display()
    );
    let cases =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("shell/ash-cases.txt"))
            .unwrap();
    let mut differ = Vec::new();
    let mut count = 0;
    for line in cases.lines().filter(|l| !l.trim().is_empty()) {
        count += 1;
        let script = unescape(line);
        // One directory for both: a case may print where it runs.
        let scratch = tempfile::tempdir().unwrap();
        let ours = run(&toolbox, "sh", &script, scratch.path());
        let ash = run(Path::new("/bin/busybox"), "sh", &script, scratch.path());
        if ours != ash {
            differ.push(format!("{line}\n  sh:  {ours:?}\n  ash: {ash:?}"));
        }
    }
    assert!(count > 150, "{count} cases");
    assert!(
        differ.is_empty(),
        "{} of {count} lines differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}
