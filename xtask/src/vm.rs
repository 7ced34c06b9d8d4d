//! `cargo xtask vm [v2|v1|hybrid]...`: the real-container checks on each
//! cgroup layout, in a guest. Debian's kernel boots under qemu (software
//! emulation: no KVM needed) with an initramfs holding busybox, the freshly
//! built `anchorage` binary with its libraries, `overlay.ko`, and the
//! scripts in `xtask/vm/`: `init` moves the root to a tmpfs (the initramfs
//! root cannot be pivoted from), `stage2` mounts the cgroup hierarchies as
//! the layout says, and `checks` runs the checks, each printing `vm-check
//! ok NAME` or `vm-check FAIL NAME: why` on the serial console, which this
//! reads.
//!
//! The three hosts: v2 only (`cgroup_no_v1=all`, cgroup2 at
//! `/sys/fs/cgroup`), v1 only (each controller's hierarchy, cpu and
//! cpuacct together as systemd mounts them, no cgroup2), and hybrid (the
//! same with cgroup2 at `/sys/fs/cgroup/unified`).

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The layouts, in the order they run.
pub const LAYOUTS: [&str; 3] = ["v2", "v1", "hybrid"];

/// What booting the guests needs, with a file each package installs.
pub const PACKAGES: &[(&str, &str)] = &[
    ("qemu-system-x86", "/usr/bin/qemu-system-x86_64"),
    ("linux-image-amd64", "/usr/share/doc/linux-image-amd64"),
    ("busybox-static", "/bin/busybox"),
    ("cpio", "/usr/bin/cpio"),
];

/// The differences between the simulator and the kernel that are
/// accepted, each with its reason: `LAYOUT SCENARIO: reason` per line
/// (`*` for every layout).
const ACCEPTED: &str = "tests/scenarios/accepted-differences.txt";

/// The layouts whose guests run the fidelity scenarios (as
/// `SCENARIO_LAYOUTS` in `xtask/vm/checks` says). `anchorage sim --cgroups`
/// models v1 and hybrid too; their comparison joins once its differences
/// are fixed or listed in [`ACCEPTED`].
const SCENARIO_LAYOUTS: &[&str] = &["v2", "v1", "hybrid"];

/// The most one guest may take, boot to power-off.
const GUEST_TIMEOUT: Duration = Duration::from_secs(900);

/// What one layout's guest came to.
pub struct Outcome {
    pub layout: &'static str,
    pub passed: u64,
    /// The failed checks, as the guest said them.
    pub failed: Vec<String>,
    pub seconds: u64,
    /// Each fidelity scenario's stdout and stderr in the guest.
    scenarios: Vec<(String, Vec<u8>, Vec<u8>)>,
    /// Scenarios compared, alike, and different for an accepted reason.
    pub compared: u64,
    pub identical: u64,
    pub explained: u64,
}

/// The accepted differences: (layout or `*`, scenario, reason).
fn accepted() -> Result<Vec<(String, String, String)>> {
    let path = super::root().join(ACCEPTED);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {ACCEPTED}"))?;
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = line.split_once(':').and_then(|(head, reason)| {
            let mut words = head.split_whitespace();
            let (layout, scenario) = (words.next()?, words.next()?);
            let known = layout == "*" || LAYOUTS.contains(&layout);
            (known && words.next().is_none() && !reason.trim().is_empty()).then(|| {
                (
                    layout.to_string(),
                    scenario.to_string(),
                    reason.trim().to_string(),
                )
            })
        });
        match parsed {
            Some(entry) => entries.push(entry),
            None => bail!(
                "{ACCEPTED}:{}: write `LAYOUT SCENARIO: the kernel's reason` (LAYOUT is v2, v1, hybrid or *), not {line:?}",
                n + 1
            ),
        }
    }
    Ok(entries)
}

/// The fidelity scenarios: `tests/scenarios/*.sh`, in order; while a
/// simulator change is worked on, `XTASK_SCENARIOS=PREFIX,...` keeps only
/// those whose names start so (the full suite runs without it).
fn scenarios() -> Result<Vec<PathBuf>> {
    let dir = super::root().join("tests/scenarios");
    let only = std::env::var("XTASK_SCENARIOS").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|p| name.starts_with(p));
    let mut all: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .filter(|p| p.file_stem().and_then(|n| n.to_str()).is_some_and(wanted))
        .collect();
    all.sort();
    Ok(all)
}

/// Output with container ids (64 hex digits, or their 12-digit short
/// form, as ids and default hostnames show) replaced by `ID`.
fn normalize(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() == 64 || run.len() == 12 {
            out.push_str("ID");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || ('a'..='f').contains(&c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Decodes the guest's base64 (standard alphabet, padded).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let digits: Vec<u32> = chunk.iter().filter_map(|c| value(*c)).collect();
        let mut n = 0u32;
        for (i, d) in digits.iter().enumerate() {
            n |= d << (18 - 6 * i as u32);
        }
        for i in 0..digits.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i as u32)) as u8);
        }
    }
    out
}

/// Runs each scenario through `anchorage sim` here and compares it with
/// what the guest's real containers printed: a pass per match, a failure
/// per difference (its first differing line). Both are kept in
/// `target/vm/LAYOUT/scenarios/NAME.{real,sim}`.
fn compare(binary: &Path, outcome: &mut Outcome) -> Result<()> {
    // Both sides are kept, to read in full where they differ.
    let kept = super::target_dir()
        .join("vm")
        .join(outcome.layout)
        .join("scenarios");
    let _ = fs::remove_dir_all(&kept);
    fs::create_dir_all(&kept)?;
    let accepted = accepted()?;
    let all = scenarios()?;
    for (layout, name, _) in &accepted {
        let known = all
            .iter()
            .any(|s| s.file_stem().and_then(|n| n.to_str()) == Some(name.as_str()));
        if !known && (layout == "*" || layout == outcome.layout) {
            outcome.failed.push(format!(
                "fidelity: {ACCEPTED} names {name}, which is not a scenario"
            ));
        }
    }
    for scenario in all {
        let name = scenario
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let Some((_, out, err)) = outcome.scenarios.iter().find(|(n, ..)| *n == name) else {
            outcome
                .failed
                .push(format!("fidelity {name}: the guest did not run it"));
            continue;
        };
        outcome.compared += 1;
        let sim = Command::new(binary)
            .arg("sim")
            .args(["--cgroups", outcome.layout])
            .arg(&scenario)
            .env_remove("ANCHORAGE_DATA_DIR")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running anchorage sim {}", scenario.display()))?;
        let real = format!("{}--- stderr\n{}", normalize(out), normalize(err));
        let simulated = format!(
            "{}--- stderr\n{}",
            normalize(&sim.stdout),
            normalize(&sim.stderr)
        );
        fs::write(kept.join(format!("{name}.real")), &real)?;
        fs::write(kept.join(format!("{name}.sim")), &simulated)?;
        let reason = accepted
            .iter()
            .find(|(layout, n, _)| (layout == "*" || layout == outcome.layout) && *n == name)
            .map(|(.., reason)| reason.as_str());
        if real == simulated {
            if reason.is_some() {
                // An accepted difference that is gone must leave the file.
                outcome.failed.push(format!(
                    "fidelity {name}: identical now; remove its line from {ACCEPTED}"
                ));
                continue;
            }
            outcome.passed += 1;
            outcome.identical += 1;
            println!("  [{}] fidelity ok {name}", outcome.layout);
            continue;
        }
        let (mut sim_lines, mut real_lines) = (simulated.lines(), real.lines());
        let mut line = 1;
        let difference = loop {
            match (sim_lines.next(), real_lines.next()) {
                (Some(a), Some(b)) if a == b => line += 1,
                (a, b) => {
                    break format!(
                        "line {line}: the simulator says {:?}, the kernel {:?}",
                        a.unwrap_or("(nothing)"),
                        b.unwrap_or("(nothing)")
                    );
                }
            }
        };
        if let Some(reason) = reason {
            outcome.passed += 1;
            outcome.explained += 1;
            println!(
                "  [{}] fidelity explained {name}: {reason} ({difference})",
                outcome.layout
            );
            continue;
        }
        println!("  [{}] fidelity FAIL {name}: {difference}", outcome.layout);
        outcome
            .failed
            .push(format!("fidelity {name}: {difference}"));
    }
    Ok(())
}

/// Why this machine cannot boot the guests, if it cannot.
pub fn unavailable() -> Option<String> {
    if std::env::consts::ARCH != "x86_64" {
        return Some(format!(
            "the guests are x86_64 and this machine is {}",
            std::env::consts::ARCH
        ));
    }
    for (package, path) in PACKAGES {
        if !Path::new(path).exists() {
            return Some(format!("{path} is missing (Debian's {package})"));
        }
    }
    for (tool, package) in [("strip", "binutils"), ("ldd", "libc-bin")] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            return Some(format!("`{tool}` is missing (Debian's {package})"));
        }
    }
    kernel().err().map(|e| format!("{e:#}"))
}

/// The newest kernel in /boot whose modules hold overlayfs: the kernel
/// and `overlay.ko`.
fn kernel() -> Result<(PathBuf, PathBuf)> {
    let mut versions: Vec<String> = fs::read_dir("/boot")
        .context("cannot read /boot")?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("vmlinuz-")
                .map(str::to_string)
        })
        .collect();
    // Newest first, numbers compared as numbers (6.1.0-48 after 6.1.0-9).
    let key = |v: &String| -> Vec<u64> {
        v.split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    versions.sort_by_key(key);
    for version in versions.iter().rev() {
        let module = Path::new("/lib/modules")
            .join(version)
            .join("kernel/fs/overlayfs/overlay.ko");
        let image = Path::new("/boot").join(format!("vmlinuz-{version}"));
        if module.exists() && fs::File::open(&image).is_ok() {
            return Ok((image, module));
        }
    }
    bail!(
        "no readable /boot/vmlinuz-VERSION with /lib/modules/VERSION/kernel/fs/overlayfs/overlay.ko (install Debian's linux-image-amd64)"
    )
}

fn write_script(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Copies a file to the same path under `root`.
fn copy_into(root: &Path, file: &Path) -> Result<()> {
    let to = root.join(file.strip_prefix("/").unwrap_or(file));
    fs::create_dir_all(to.parent().expect("a parent"))?;
    fs::copy(file, &to).with_context(|| format!("copying {}", file.display()))?;
    Ok(())
}

/// The initramfs: busybox, the binary (debug info stripped) and the
/// libraries `ldd` names, `overlay.ko`, and the scripts.
fn initramfs(binary: &Path, module: &Path, work: &Path) -> Result<PathBuf> {
    let root = work.join("root");
    let _ = fs::remove_dir_all(&root);
    for dir in [
        "bin",
        "usr/local/bin",
        "lib/modules",
        "etc",
        "var/lib",
        "root",
    ] {
        fs::create_dir_all(root.join(dir))?;
    }
    fs::copy("/bin/busybox", root.join("bin/busybox"))?;
    let here = super::root().join("xtask/vm");
    for script in ["init", "stage2", "checks"] {
        let text = fs::read_to_string(here.join(script))
            .with_context(|| format!("reading xtask/vm/{script}"))?;
        write_script(&root.join(script), &text)?;
    }
    let guest_binary = root.join("usr/local/bin/anchorage");
    super::run(
        Command::new("strip")
            .arg("--strip-debug")
            .arg("-o")
            .arg(&guest_binary)
            .arg(binary),
    )?;
    let ldd = Command::new("ldd")
        .arg(binary)
        .output()
        .context("could not run ldd")?;
    for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
        if word.starts_with('/') && Path::new(word).exists() {
            copy_into(&root, Path::new(word))?;
        }
    }
    fs::copy(module, root.join("lib/modules/overlay.ko"))?;
    fs::create_dir_all(root.join("scenarios"))?;
    for scenario in scenarios()? {
        fs::copy(
            &scenario,
            root.join("scenarios")
                .join(scenario.file_name().expect("a name")),
        )?;
    }
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    fs::write(root.join("etc/group"), "root:x:0:\n")?;
    let image = work.join("initramfs.cpio");
    let out = fs::File::create(&image)?;
    let status = Command::new("sh")
        .arg("-c")
        .arg("find . | cpio --quiet -o -H newc -R 0:0")
        .current_dir(&root)
        .stdout(out)
        .status()
        .context("could not run cpio")?;
    if !status.success() {
        bail!("cpio failed ({status})");
    }
    let _ = fs::remove_dir_all(&root);
    Ok(image)
}

/// Boots each layout's guest with `binary` and gathers what its checks
/// said.
pub fn run(binary: &Path, layouts: &[&'static str]) -> Result<Vec<Outcome>> {
    if let Some(why) = unavailable() {
        bail!("cannot boot the guests: {why}");
    }
    let (kernel, module) = kernel()?;
    let work = super::target_dir().join("vm");
    fs::create_dir_all(&work)?;
    let initrd = initramfs(binary, &module, &work)?;
    let mut outcomes = Vec::new();
    for layout in layouts {
        super::step(&format!(
            "the real-container checks on a {layout} host (qemu, {})",
            kernel.display()
        ));
        let mut outcome = boot(&kernel, &initrd, layout)?;
        if SCENARIO_LAYOUTS.contains(layout) {
            compare(binary, &mut outcome)?;
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

fn boot(kernel: &Path, initrd: &Path, layout: &'static str) -> Result<Outcome> {
    // psi=0: the simulated kernel does not model pressure stall
    // information, so its hosts boot without it (no `*.pressure` files).
    let mut append =
        format!("console=ttyS0 panic=-1 quiet loglevel=3 psi=0 anchorage.layout={layout}");
    if layout == "v2" {
        append.push_str(" cgroup_no_v1=all");
    }
    let started = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "4096"])
        .args([
            "-nodefaults",
            "-no-reboot",
            "-display",
            "none",
            "-serial",
            "stdio",
        ])
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        .arg(&append)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("could not start qemu-system-x86_64")?;
    let pid = child.id();
    // A guest that hangs is killed at the limit.
    let (finished, watch) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if watch.recv_timeout(GUEST_TIMEOUT).is_err() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut outcome = Outcome {
        layout,
        passed: 0,
        failed: Vec::new(),
        seconds: 0,
        scenarios: Vec::new(),
        compared: 0,
        identical: 0,
        explained: 0,
    };
    let mut done = false;
    let mut last = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("piped")).split(b'\n') {
        let line = String::from_utf8_lossy(&line?).trim_end().to_string();
        if let Some(rest) = line.strip_prefix("vm-scenario ") {
            let mut fields = rest.split(' ');
            let name = fields.next().unwrap_or("").to_string();
            let out = base64(fields.next().unwrap_or(""));
            let err = base64(fields.next().unwrap_or(""));
            outcome.scenarios.push((name, out, err));
            continue;
        }
        println!("  [{layout}] {line}");
        if let Some(rest) = line.strip_prefix("vm-check ok ") {
            let _ = rest;
            outcome.passed += 1;
        } else if let Some(rest) = line.strip_prefix("vm-check FAIL ") {
            outcome.failed.push(rest.to_string());
        } else if line == "vm-checks done" {
            done = true;
        }
        last.push(line);
        if last.len() > 20 {
            last.remove(0);
        }
    }
    let status = child.wait()?;
    let _ = finished.send(());
    let _ = watchdog.join();
    let errors = errors.join().unwrap_or_default();
    outcome.seconds = started.elapsed().as_secs();
    if !done {
        outcome.failed.push(format!(
            "the guest ended before its checks did (qemu: {status}{}{})",
            if errors.trim().is_empty() { "" } else { ", " },
            errors.trim()
        ));
    }
    Ok(outcome)
}

/// `cargo xtask vm [LAYOUT...]`: every layout unless some are named.
pub fn task(args: &[String], binary: &Path) -> Result<()> {
    let layouts: Vec<&'static str> = if args.is_empty() {
        LAYOUTS.to_vec()
    } else {
        args.iter()
            .map(|a| {
                LAYOUTS
                    .iter()
                    .find(|l| **l == a.as_str())
                    .copied()
                    .with_context(|| format!("unknown layout `{a}`: give v2, v1 or hybrid"))
            })
            .collect::<Result<_>>()?
    };
    let outcomes = run(binary, &layouts)?;
    let failed = report(&outcomes);
    if failed > 0 {
        bail!("{failed} check(s) failed in the guests");
    }
    Ok(())
}

/// Prints each layout's tally and the failures: how many failed.
pub fn report(outcomes: &[Outcome]) -> u64 {
    let mut failed = 0;
    println!();
    for o in outcomes {
        println!(
            "vm {}: {} passed, {} failed ({} s)",
            o.layout,
            o.passed,
            o.failed.len(),
            o.seconds
        );
        for f in &o.failed {
            println!("  failed: {f}");
        }
        failed += o.failed.len() as u64;
    }
    let sum = |f: fn(&Outcome) -> u64| outcomes.iter().map(f).sum::<u64>();
    println!(
        "fidelity: {} of {} identical, {} explained ({ACCEPTED})",
        sum(|o| o.identical),
        sum(|o| o.compared),
        sum(|o| o.explained)
    );
    failed
}
