//! `anchorage image`, as a user runs it, on images other tools wrote:
//! umoci's OCI layouts and skopeo's `docker save` and OCI archives. Also an
//! import killed half way, and bad input.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anchorage_tests::anchorage_bin;

/// Runs a command and insists it succeeds.
fn ok(command: &mut Command) -> Output {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        Scene {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn anchorage(&self, args: &[&str]) -> Output {
        Command::new(anchorage_bin())
            .args(args)
            .env("ANCHORAGE_DATA_DIR", self.path("data"))
            .stdin(Stdio::null())
            .output()
            .expect("anchorage runs")
    }

    fn stdout(&self, args: &[&str]) -> String {
        let output = self.anchorage(args);
        assert!(
            output.status.success(),
            "anchorage {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// The image's root, from `image inspect`.
    fn rootfs(&self, image: &str) -> PathBuf {
        let json: serde_json::Value =
            serde_json::from_str(&self.stdout(&["image", "inspect", image])).unwrap();
        PathBuf::from(json[0]["rootfs"].as_str().unwrap())
    }

    /// The names `image ls` shows, but for the built-in `workshop`.
    fn imported(&self) -> Vec<String> {
        self.stdout(&["image", "ls"])
            .lines()
            .skip(1)
            .filter_map(|line| {
                let mut cells = line.split_whitespace();
                let (repository, tag) = (cells.next()?, cells.next()?);
                (repository != "workshop").then(|| format!("{repository}:{tag}"))
            })
            .collect()
    }

    fn scratch_is_empty(&self) -> bool {
        fs::read_dir(self.path("data/tmp"))
            .map(|mut d| d.next().is_none())
            .unwrap_or(true)
    }
}

#[test]
fn images_written_by_umoci_and_skopeo_import_alike() {
    use anchorage_tests::Need::Tool;
    if !anchorage_tests::runnable(&[
        Tool("/usr/bin/umoci"),
        Tool("/usr/bin/skopeo"),
        Tool("/bin/busybox"),
    ]) {
        return;
    }
    let s = Scene::new();
    let layout = s.path("layout");
    let image = format!("{}:app", layout.display());
    ok(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout));
    ok(Command::new("umoci").args(["new", "--image", &image]));
    let bundle = s.path("bundle");
    ok(Command::new("umoci")
        .args(["unpack", "--rootless", "--image", &image])
        .arg(&bundle));
    // Layer 1: busybox and a file; layer 2: that file deleted, another
    // added.
    let root = bundle.join("rootfs");
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    fs::write(root.join("etc/motd"), "layer one\n").unwrap();
    ok(Command::new("umoci")
        .args(["repack", "--image", &image])
        .arg(&bundle));
    ok(Command::new("umoci").args(["config", "--image", &image, "--config.cmd", "/bin/sh"]));
    fs::remove_dir_all(&bundle).unwrap();
    ok(Command::new("umoci")
        .args(["unpack", "--rootless", "--image", &image])
        .arg(&bundle));
    fs::remove_file(root.join("etc/motd")).unwrap();
    fs::write(root.join("etc/second"), "layer two\n").unwrap();
    ok(Command::new("umoci")
        .args(["repack", "--image", &image])
        .arg(&bundle));
    let docker = s.path("app-docker.tar");
    let oci_tar = s.path("app-oci.tar");
    ok(Command::new("skopeo").args([
        "copy",
        &format!("oci:{image}"),
        &format!("docker-archive:{}:team/app:docker", docker.display()),
    ]));
    ok(Command::new("skopeo").args([
        "copy",
        &format!("oci:{image}"),
        &format!("oci-archive:{}:team/app:oci", oci_tar.display()),
    ]));

    let from_layout = s.stdout(&["image", "import", "-q", layout.to_str().unwrap()]);
    assert!(
        from_layout.starts_with("app:latest: sha256:"),
        "{from_layout}"
    );
    assert!(from_layout.contains("(2 layers"), "{from_layout}");
    let id = from_layout.split_whitespace().nth(1).unwrap().to_string();
    for archive in [&docker, &oci_tar] {
        let out = s.stdout(&["image", "import", archive.to_str().unwrap()]);
        assert!(
            out.contains(&id),
            "the same config is the same image: {out}"
        );
    }
    let ls = s.stdout(&["image", "ls"]);
    let rows: Vec<Vec<&str>> = ls
        .lines()
        .map(|l| l.split_whitespace().take(3).collect())
        .collect();
    let short = &id["sha256:".len().."sha256:".len() + 12];
    for (repository, tag) in [
        ("app", "latest"),
        ("team/app", "docker"),
        ("team/app", "oci"),
    ] {
        assert!(
            rows.contains(&vec![repository, tag, short]),
            "{repository}:{tag} in\n{ls}"
        );
    }
    let rootfs = s.rootfs("team/app:oci");
    assert!(!rootfs.join("etc/motd").exists(), "layer two's whiteout");
    assert_eq!(
        fs::read_to_string(rootfs.join("etc/second")).unwrap(),
        "layer two\n"
    );
    assert_eq!(
        fs::read_link(rootfs.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&s.stdout(&["image", "inspect", "app"])).unwrap();
    assert_eq!(inspect[0]["config"]["cmd"][0], "/bin/sh");
    assert_eq!(inspect[0]["layers"].as_array().unwrap().len(), 2);

    // Removing: names first, then the image.
    assert_eq!(
        s.stdout(&["image", "rm", "team/app:docker"]),
        "Untagged: team/app:docker\n"
    );
    let gone = s.stdout(&["image", "rm", &id]);
    assert!(gone.ends_with(&format!("Deleted: {id}\n")), "{gone}");
    assert_eq!(s.imported(), Vec::<String>::new());
    assert!(!rootfs.exists());
    assert!(s.scratch_is_empty());
}

#[test]
fn an_import_killed_half_way_leaves_nothing_and_the_next_clears_up() {
    let s = Scene::new();
    // A root file system of 48 MiB of incompressible files, gzipped.
    let tree = s.path("big");
    fs::create_dir_all(tree.join("data")).unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..48 {
        let bytes: Vec<u8> = (0..1 << 20)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        fs::write(tree.join(format!("data/{i}")), bytes).unwrap();
    }
    let archive = s.path("big.tar.gz");
    ok(Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(&tree)
        .arg("."));

    let mut child = Command::new(anchorage_bin())
        .args(["image", "import", "-q"])
        .arg(&archive)
        .env("ANCHORAGE_DATA_DIR", s.path("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the unpacking to be under way, then kill it.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(20) && s.scratch_is_empty() {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    let status = child.wait().unwrap();

    // Killed or (on a fast machine) finished: either way the store holds
    // the whole image or none of it.
    let imported = s.imported();
    if status.success() {
        assert_eq!(imported, ["big:latest"]);
    } else {
        assert!(imported.is_empty(), "a killed import is not listed");
    }
    let small = s.path("small.tar");
    ok(Command::new("tar")
        .arg("-cf")
        .arg(&small)
        .arg("-C")
        .arg(&tree)
        .arg("data/0"));
    s.stdout(&["image", "import", small.to_str().unwrap()]);
    assert!(s.scratch_is_empty(), "the next import cleared the scratch");
    assert!(s.stdout(&["image", "ls"]).contains("small "));
}

#[test]
fn bad_input_is_named_with_what_to_do() {
    let s = Scene::new();
    let cases: [(&[&str], &str); 4] = [
        (
            &["image", "import", "/no/such/file.tar"],
            "cannot read /no/such/file.tar",
        ),
        (&["image", "rm", "nothing"], "no image is called `nothing`"),
        (
            &["image", "inspect", "nothing"],
            "`anchorage image import FILE` adds one",
        ),
        (
            &["image", "import", "--name", "UPPER", "/etc/hostname"],
            "is not an image name",
        ),
    ];
    for (args, expected) in cases {
        let output = s.anchorage(args);
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // A file that is not an image.
    let notes = s.path("notes.txt");
    fs::write(
        &notes,
        "just some text, long enough to fill a tar header or two\n".repeat(20),
    )
    .unwrap();
    let output = s.anchorage(&["image", "import", notes.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not an image") && stderr.contains("docker save"),
        "{stderr}"
    );
}

/// A Debian root file system as people make one: `mmdebstrap`'s tarball
/// (made once, then kept in the target folder), with `procps` for `ps`.
fn debian_rootfs() -> PathBuf {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bookworm-minbase-procps.tar");
    if !cache.exists() {
        let partial = cache.with_extension("partial");
        ok(Command::new("mmdebstrap")
            .args([
                "--quiet",
                "--format=tar",
                "--variant=minbase",
                "--include=procps",
                "bookworm",
            ])
            .arg(&partial)
            .stdin(Stdio::null()));
        fs::rename(&partial, &cache).unwrap();
    }
    cache
}

#[test]
fn debian_root_file_systems_and_podman_saves_of_them_import_and_run() {
    use anchorage_tests::Need::{Root, Tool};
    if !anchorage_tests::runnable(&[Root, Tool("/usr/bin/mmdebstrap"), Tool("/usr/bin/podman")]) {
        return;
    }
    let rootfs = debian_rootfs();
    // `podman save` of it, in both of its formats, with a store of its own.
    let work = tempfile::tempdir().unwrap();
    let podman = |args: &[&str]| {
        let mut command = Command::new("podman");
        command
            .arg("--root")
            .arg(work.path().join("storage"))
            .arg("--runroot")
            .arg(work.path().join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .stdin(Stdio::null());
        ok(&mut command);
    };
    podman(&[
        "import",
        "-q",
        &rootfs.display().to_string(),
        "localhost/deb:1",
    ]);
    let docker = work.path().join("docker-archive.tar");
    let oci = work.path().join("oci-archive.tar");
    for (format, file) in [("docker-archive", &docker), ("oci-archive", &oci)] {
        podman(&[
            "save",
            "-q",
            "--format",
            format,
            "-o",
            &file.display().to_string(),
            "localhost/deb:1",
        ]);
    }
    for archive in [&rootfs, &docker, &oci] {
        let s = anchorage_tests::Scene::new();
        let imported = s.ok(&[
            "image",
            "import",
            "-q",
            "--name",
            "deb",
            &archive.display().to_string(),
        ]);
        assert_eq!(
            imported
                .matches("passed over: the runtime makes /dev")
                .count(),
            1,
            "{}: the device nodes are said once: {imported}",
            archive.display()
        );
        let out = s.ok(&[
            "run",
            "--rm",
            "deb",
            "bash",
            "-c",
            "apt-get --version; ps -ef",
        ]);
        assert!(
            out.starts_with("apt ") && out.contains("UID") && out.contains("ps -ef"),
            "{}: {out}",
            archive.display()
        );
    }
}
