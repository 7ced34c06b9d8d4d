//! Faults that must be named and lose nothing: a data directory on a
//! small tmpfs that fills during an import and during a container's
//! writes, two imports of one image at once, and a damaged `refs.json`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anchorage_tests::Need::{Root, Tool};
use anchorage_tests::{Scene, runnable};

/// The image `bb`: Debian's static busybox, imported into the scene's store.
fn busybox(s: &Scene) -> PathBuf {
    let tarball = anchorage_tests::busybox_tarball(s.scratch());
    s.ok(&[
        "image",
        "import",
        "-q",
        "--name",
        "bb",
        &tarball.display().to_string(),
    ]);
    tarball
}

/// A tarball of busybox and `megabytes` MB of incompressible files.
fn tarball_of(dir: &Path, megabytes: usize) -> PathBuf {
    let root = dir.join(format!("root-{megabytes}"));
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    let _ = std::os::unix::fs::symlink("busybox", root.join("bin/sh"));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for i in 0..megabytes {
        let block: Vec<u8> = (0..1 << 20)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        fs::write(root.join(format!("blob{i}")), block).unwrap();
    }
    let tarball = dir.join(format!("blobs-{megabytes}.tar"));
    anchorage_tests::tar_dir(&root, &tarball);
    tarball
}

/// A tmpfs mounted over a directory for as long as it lives.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .unwrap();
        assert!(status.success(), "mount a tmpfs at {}", at.display());
        Tmpfs(at.to_path_buf())
    }

    /// Bytes in use, as `df` counts them.
    fn used(&self) -> u64 {
        let stat = nix_statvfs(&self.0);
        stat.0 - stat.1
    }

    fn resize(&self, bytes: u64) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={bytes}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Total and free bytes of the file system holding `path`.
fn nix_statvfs(path: &Path) -> (u64, u64) {
    let out = Command::new("stat")
        .args(["-f", "-c", "%S %b %f"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let n: Vec<u64> = text
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    (n[0] * n[1], n[0] * n[2])
}

fn files_under(path: &Path) -> usize {
    fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                1 + files_under(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn a_full_disk_is_named_and_leaves_nothing_half_written() {
    if !runnable(&[Root, Tool("/bin/busybox"), Tool("/usr/bin/tar")]) {
        return;
    }
    // The scene's data directory, on a tmpfs of its own (under the
    // scene's private directory; it goes before the scene does).
    let s = Scene::new();
    let big = tarball_of(s.scratch(), 24);
    let disk = Tmpfs::mount(&s.data(), "512m");
    busybox(&s);
    let before = s.ok(&["image", "ls", "-q"]);
    // 8 MiB free: the import needs three times that.
    disk.resize(disk.used() + (8 << 20));
    let import = s.run(&[
        "image",
        "import",
        "-q",
        "--name",
        "blobs",
        &big.display().to_string(),
    ]);
    let said = String::from_utf8_lossy(&import.stderr).into_owned();
    assert!(
        !import.status.success(),
        "an import past the disk succeeded"
    );
    assert!(
        said.contains("No space left on device"),
        "the error does not name the full disk: {said}"
    );
    assert_eq!(
        said.trim_end().lines().count(),
        1,
        "said more than once: {said}"
    );
    assert_eq!(s.ok(&["image", "ls", "-q"]), before, "the store changed");
    assert_eq!(
        files_under(&s.data().join("tmp")),
        0,
        "the import left scratch"
    );

    // A container fills it: its writes fail, its end is still recorded,
    // and removing it gives the space back.
    let free_before = nix_statvfs(&s.data()).1;
    let id = s
        .ok(&[
            "run",
            "-d",
            "bb",
            "busybox",
            "dd",
            "if=/dev/zero",
            "of=/fill",
            "bs=1M",
        ])
        .trim()
        .to_string();
    let started = std::time::Instant::now();
    while s.inspect(&id)["state"]["state"] != "exited" {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "dd never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ps = s.ok(&["ps", "-a"]);
    assert!(ps.contains("Exited (1)"), "{ps}");
    s.ok(&["rm", &id]);
    let free_after = nix_statvfs(&s.data()).1;
    assert!(
        free_after + (64 << 10) >= free_before,
        "removing the container gave back {free_after} of {free_before} free bytes"
    );
    let out = s.ok(&["run", "--rm", "bb", "sh", "-c", "echo after"]);
    assert_eq!(out.trim(), "after");
    // `disk` goes before `s`: the scene's directory is unmounted first.
}

#[test]
fn two_imports_of_one_image_at_once_give_one_image() {
    if !runnable(&[Tool("/bin/busybox"), Tool("/usr/bin/tar")]) {
        return;
    }
    let s = Scene::new();
    s.ok(&["image", "ls", "-q"]);
    let tarball = tarball_of(s.scratch(), 8);
    let spawn = || {
        s.command(&[
            "image",
            "import",
            "-q",
            "--name",
            "same",
            &tarball.display().to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a concurrent import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let images = s.ok(&["images"]);
    let same = images.lines().filter(|l| l.starts_with("same ")).count();
    assert_eq!(same, 1, "{images}");
    let images: Vec<String> = fs::read_dir(s.data().join("images"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    assert_eq!(images.len(), 2, "one image besides workshop: {images:?}");
    assert_eq!(files_under(&s.data().join("tmp")), 0);
}

#[test]
fn a_damaged_refs_json_is_reported_and_mended() {
    if !runnable(&[Tool("/bin/busybox")]) {
        return;
    }
    let s = Scene::new();
    busybox(&s);
    let tarball = anchorage_tests::busybox_tarball(s.scratch());
    s.ok(&[
        "image",
        "import",
        "-q",
        "--name",
        "zz-last",
        &tarball.display().to_string(),
    ]);
    let refs = s.data().join("refs.json");
    let whole = fs::read_to_string(&refs).unwrap();
    // Cut off inside the last name's entry.
    let cut = whole.rfind("zz-last").unwrap() + 3;
    fs::write(&refs, &whole[..cut]).unwrap();
    let images = s.run(&["images"]);
    assert!(images.status.success());
    let said = String::from_utf8_lossy(&images.stderr).into_owned();
    assert!(
        said.contains("refs.json was damaged") && said.contains("refs.json.damaged-"),
        "the damage is not reported: {said}"
    );
    let listed = String::from_utf8_lossy(&images.stdout).into_owned();
    // The names before the cut are kept, not emptied.
    assert!(listed.lines().any(|l| l.starts_with("bb ")), "{listed}");
    assert!(
        listed.lines().any(|l| l.starts_with("workshop ")),
        "{listed}"
    );
    // The damaged file is kept; the mended one parses, and is said once.
    let kept: Vec<_> = fs::read_dir(s.data())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("refs.json.damaged-")
        })
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(fs::read_to_string(kept[0].path()).unwrap(), &whole[..cut]);
    let again = s.run(&["images"]);
    assert!(String::from_utf8_lossy(&again.stderr).trim().is_empty());
    s.ok(&["run", "--rm", "bb", "sh", "-c", "exit 0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_supervisor_stalls_no_other_client() {
    if !runnable(&[Root]) {
        return;
    }
    use anchorage_shared::Command;
    use anchorage_shared::container::ContainerSpec;
    use std::time::{Duration, Instant};
    let s = Scene::new();
    let data = s.data();
    let server = anchorage_tests::Server::start_with_env(
        &[
            "--listen",
            "127.0.0.1:0",
            "--engine",
            "real",
            "--token",
            anchorage_tests::TEST_TOKEN,
        ],
        &[("ANCHORAGE_DATA_DIR", data.as_path())],
    )
    .await
    .unwrap();
    let mut a = anchorage_tests::LiveClient::connect(&server).await.unwrap();
    let mut b = anchorage_tests::LiveClient::connect(&server).await.unwrap();
    let mut spec = ContainerSpec::new("workshop");
    spec.name = Some("hung".into());
    spec.command = vec!["sleep".into(), "600".into()];
    a.command(Command::Run { spec }).await.unwrap().unwrap();
    let state = a
        .wait_state(Duration::from_secs(10), |s| {
            s.container("hung").is_some_and(|c| c.started_ms.is_some())
        })
        .await
        .unwrap();
    let id = state.container("hung").unwrap().id.clone();
    let record: serde_json::Value = serde_json::from_slice(
        &fs::read(data.join("containers").join(&id).join("state.json")).unwrap(),
    )
    .unwrap();
    let supervisor = record["shim_pid"].as_u64().unwrap() as u32;
    // The supervisor hangs: it records nothing, answers nothing.
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &supervisor.to_string()])
        .status()
        .unwrap();
    assert!(stopped.success(), "SIGSTOP the supervisor");
    let started = Instant::now();
    let (removed, other) = tokio::join!(
        a.command(Command::Remove {
            container: "hung".into(),
            force: true,
        }),
        async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let asked = Instant::now();
            let mut spec = ContainerSpec::new("workshop");
            spec.command = vec!["true".into()];
            let answer = b.command(Command::Run { spec }).await.unwrap();
            (answer, asked.elapsed())
        }
    );
    let waited = started.elapsed();
    removed.unwrap().unwrap();
    let (answer, took) = other;
    answer.unwrap();
    assert!(
        waited < Duration::from_secs(3),
        "rm -f of a container with a hung supervisor took {waited:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "another client's run waited {took:?} behind the hung supervisor"
    );
    let started = Instant::now();
    while !anchorage_tests::process_ended(supervisor) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the hung supervisor was left"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!data.join("containers").join(&id).exists());
    let _ = server.stop().await;
}
