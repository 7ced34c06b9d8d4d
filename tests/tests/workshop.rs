//! The workshop image's real userland against the simulated one: the same
//! command lines, run by `anchorage sim` in a simulated container and by
//! the real static `toolbox` in the real built-in image (chrooted, as
//! root), print the same, byte for byte.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use anchorage::tarball::builtin;
use anchorage::tarball::store::{ImageStore, StoreOptions};
use anchorage_tests::anchorage_bin;

/// Command lines whose output depends only on the image and the kernel's
/// file-system semantics (not on the host's name, clock or processes).
const LINES: &[&str] = &[
    "echo hello world; echo $HOME; pwd; id",
    "ls /; ls /bin; ls -l /etc",
    // Directories by name and mode: their sizes and link counts are the
    // file system's (an overlay on tmpfs in a container, this host's disk
    // under the chroot).
    "ls -a /var/log; ls /var /root /home; ls -d /tmp /etc; stat -c \"%n %A %U\" /tmp /etc /var/log",
    "cat /etc/os-release /etc/motd",
    "false; echo $?; nosuch; echo $?; cat /nope; echo $?; ls /nope; echo $?",
    "kill -l",
    "mkdir -p /tmp/a/b; touch /tmp/a/b/c; ls /tmp/a/b; rm /tmp/a; echo $?; rm -r /tmp/a; ls /tmp; mkdir /tmp/x/y",
    "echo one > /tmp/f; echo two >> /tmp/f; cat /tmp/f; echo err >&2; ls /nope 2>&1; rm /tmp/f; rm -f /tmp/f; echo $?",
    "cd /etc; pwd; ls; cd /nowhere; echo $?",
    "memhog 8m 0; echo $?; memhog; echo $?; memhog lots; sleep x; echo $?",
    "uname; uname -s; exit 7",
];

fn sim(line: &str) -> Output {
    let mut child = Command::new(anchorage_bin())
        .arg("sim")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let script = format!("anchorage run --rm workshop sh -c '{line}'\n");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn real(root: &Path, line: &str) -> Output {
    Command::new("/usr/sbin/chroot")
        .arg(root)
        .args(["/bin/sh", "-c", line])
        .env_clear()
        .env("PATH", "/bin")
        .env("HOME", "/root")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn the_real_userland_prints_what_the_simulated_one_does() {
    if !anchorage_tests::runnable(&[anchorage_tests::Need::Root]) {
        return;
    }
    if builtin::toolbox().is_none() {
        assert!(
            !anchorage_tests::is_root(),
            "this build has no workshop userland: `cargo xtask test` embeds it"
        );
        anchorage_tests::skip("this build has no workshop userland (cargo xtask test embeds it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Owners unshifted: chrooted without a user namespace, root is root.
    let store = ImageStore::open(&dir.path().join("data"), StoreOptions::default()).unwrap();
    builtin::ensure_workshop(&store).unwrap().unwrap();
    let image = store.resolve("workshop").unwrap().image;
    let root = store.rootfs(&image);

    let mut differences = Vec::new();
    for line in LINES {
        let (s, r) = (sim(line), real(&root, line));
        let show = |o: &Output| {
            format!(
                "status {:?}\n--- stdout\n{}--- stderr\n{}",
                o.status.code(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        };
        if (s.status.code(), &s.stdout, &s.stderr) != (r.status.code(), &r.stdout, &r.stderr) {
            differences.push(format!(
                "`{line}`\n== simulated: {}\n== real: {}",
                show(&s),
                show(&r)
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "the userlands differ:\n{}",
        differences.join("\n")
    );
}
