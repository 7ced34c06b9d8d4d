//! The real engine's benchmarks, each against its peer in the same run:
//!
//! - start to exit of `/bin/true` from an imported image, `anchorage run
//!   --rm` against `runc run` of the same root file system (median of 25
//!   runs each, alternated);
//! - importing a 4-layer image of 128 MiB (gzip layers, an OCI layout)
//!   against GNU tar extracting the same layers in order (median of 3).
//!
//! Both need root (containers with cgroups, runc, ownership kept).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs a command to success, quietly, and says how long it took.
fn timed(command: &mut Command) -> Result<Duration> {
    let shown = format!("{command:?}");
    let started = Instant::now();
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start {shown}"))?;
    let took = started.elapsed();
    if !output.status.success() {
        bail!(
            "{shown} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(took)
}

fn sha256(path: &Path) -> Result<String> {
    let output = Command::new("sha256sum").arg(path).output()?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .context("sha256sum printed nothing")?
        .to_string())
}

/// Start to exit: `anchorage run --rm IMAGE true` against `runc run`.
fn start_to_exit(anchorage: &Path, work: &Path) -> Result<()> {
    let data = work.join("data");
    let run = |args: &[&str]| -> Result<Duration> {
        timed(
            Command::new(anchorage)
                .args(args)
                .env("ANCHORAGE_DATA_DIR", &data),
        )
    };
    // An imported image: the workshop image's root, as a tarball.
    run(&["image", "ls"])?;
    let inspect = Command::new(anchorage)
        .args(["image", "inspect", "workshop"])
        .env("ANCHORAGE_DATA_DIR", &data)
        .output()?;
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout)?;
    let workshop_root = json[0]["rootfs"]
        .as_str()
        .context("image inspect gave no rootfs")?
        .to_string();
    let tarball = work.join("true-rootfs.tar");
    timed(
        Command::new("tar")
            .arg("-C")
            .arg(&workshop_root)
            .arg("-cf")
            .arg(&tarball)
            .arg("."),
    )?;
    run(&[
        "image",
        "import",
        "-q",
        "--name",
        "bench-true",
        tarball.to_str().unwrap(),
    ])?;
    let inspect = Command::new(anchorage)
        .args(["image", "inspect", "bench-true"])
        .env("ANCHORAGE_DATA_DIR", &data)
        .output()?;
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout)?;
    let rootfs = json[0]["rootfs"].as_str().context("no rootfs")?.to_string();

    // runc's bundle: its default spec, on the same root, read-only.
    let bundle = work.join("bundle");
    fs::create_dir_all(&bundle)?;
    timed(Command::new("runc").arg("spec").current_dir(&bundle))?;
    let spec_path = bundle.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&spec_path)?)?;
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(["/bin/true"]);
    spec["root"]["path"] = rootfs.into();
    spec["root"]["readonly"] = true.into();
    fs::write(&spec_path, serde_json::to_vec(&spec)?)?;

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for round in 0..28 {
        let a = run(&["run", "--rm", "bench-true", "true"])?;
        let b = timed(
            Command::new("runc")
                .args(["run", "--bundle"])
                .arg(&bundle)
                .arg(format!("anchorage-bench-{}-{round}", std::process::id())),
        )?;
        // The first rounds warm caches.
        if round >= 3 {
            ours.push(a);
            theirs.push(b);
        }
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "start to exit of /bin/true (median of 25): anchorage run --rm {:.1} ms, runc run {:.1} ms: {:.2}x runc (target: at most 0.5x)",
        ms(ours),
        ms(theirs),
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
    Ok(())
}

/// A 4-layer image of 128 MiB of files: an OCI layout with gzip layers.
fn make_image(work: &Path) -> Result<(PathBuf, Vec<PathBuf>)> {
    let layout = work.join("layout");
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs)?;
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    let mut descriptors = Vec::new();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for layer in 0..4 {
        let tree = work.join(format!("tree{layer}"));
        fs::create_dir_all(&tree)?;
        // 32 MiB a layer: 16 directories of 64 files of 32 KiB, text-like
        // (compressible, as real files are), plus a few larger ones.
        for dir in 0..16 {
            let dir_path = tree.join(format!("layer{layer}/dir{dir}"));
            fs::create_dir_all(&dir_path)?;
            for file in 0..62 {
                let mut text = Vec::with_capacity(32 << 10);
                while text.len() < 32 << 10 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let word = seed % 4096;
                    text.extend_from_slice(format!("w{word:03x} ").as_bytes());
                    if seed.is_multiple_of(13) {
                        text.push(b'\n');
                    }
                }
                text.truncate(32 << 10);
                fs::write(dir_path.join(format!("f{file}.txt")), &text)?;
            }
            let big: Vec<u8> = (0..(64 << 10))
                .map(|i| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(i);
                    (seed >> 33) as u8
                })
                .collect();
            fs::write(dir_path.join("blob.bin"), &big)?;
        }
        let tar = work.join(format!("layer{layer}.tar"));
        timed(
            Command::new("tar")
                .arg("-C")
                .arg(&tree)
                .arg("-cf")
                .arg(&tar)
                .arg("."),
        )?;
        diff_ids.push(format!("sha256:{}", sha256(&tar)?));
        timed(Command::new("gzip").arg("-f").arg("-1").arg(&tar))?;
        let gz = work.join(format!("layer{layer}.tar.gz"));
        let digest = sha256(&gz)?;
        let size = fs::metadata(&gz)?.len();
        fs::copy(&gz, blobs.join(&digest))?;
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": format!("sha256:{digest}"),
            "size": size,
        }));
        layers.push(gz);
        fs::remove_dir_all(&tree)?;
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    }))?;
    let config_path = work.join("config.json");
    fs::write(&config_path, &config)?;
    let config_digest = sha256(&config_path)?;
    fs::write(blobs.join(&config_digest), &config)?;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{config_digest}"),
            "size": config.len(),
        },
        "layers": descriptors,
    }))?;
    let manifest_path = work.join("manifest.json");
    fs::write(&manifest_path, &manifest)?;
    let manifest_digest = sha256(&manifest_path)?;
    fs::write(blobs.join(&manifest_digest), &manifest)?;
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{manifest_digest}"),
                "size": manifest.len(),
                "annotations": { "org.opencontainers.image.ref.name": "bench-import:1" },
            }],
        }))?,
    )?;
    Ok((layout, layers))
}

/// Import throughput: `anchorage image import` against GNU tar.
fn import(anchorage: &Path, work: &Path) -> Result<()> {
    let (layout, layers) = make_image(work)?;
    let unpacked: u64 = 4 * 16 * (62 * (32 << 10) + (64 << 10));
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for round in 0..3 {
        let data = work.join(format!("import-data-{round}"));
        ours.push(timed(
            Command::new(anchorage)
                .args(["image", "import", "-q"])
                .arg(&layout)
                .env("ANCHORAGE_DATA_DIR", &data),
        )?);
        fs::remove_dir_all(&data)?;
        let out = work.join(format!("tar-out-{round}"));
        fs::create_dir_all(&out)?;
        let started = Instant::now();
        for layer in &layers {
            timed(
                Command::new("tar")
                    .arg("-xzf")
                    .arg(layer)
                    .arg("-C")
                    .arg(&out),
            )?;
        }
        theirs.push(started.elapsed());
        fs::remove_dir_all(&out)?;
    }
    let (ours, theirs) = (median(ours), median(theirs));
    let mib = unpacked as f64 / (1 << 20) as f64;
    println!(
        "import of a 4-layer image, {mib:.0} MiB unpacked (median of 3): anchorage image import {:.0} ms ({:.0} MiB/s, digests checked), GNU tar -xzf {:.0} ms ({:.0} MiB/s): {:.2}x tar (target: at most 1.5x)",
        ms(ours),
        mib / ours.as_secs_f64(),
        ms(theirs),
        mib / theirs.as_secs_f64(),
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
    Ok(())
}

pub fn run(anchorage: &Path, work: &Path) -> Result<()> {
    if work.exists() {
        fs::remove_dir_all(work)?;
    }
    fs::create_dir_all(work)?;
    // Container root (an unprivileged host id) must reach the images.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(work, fs::Permissions::from_mode(0o755))?;
    let result = start_to_exit(anchorage, work).and_then(|()| import(anchorage, work));
    let _ = fs::remove_dir_all(work);
    result
}
