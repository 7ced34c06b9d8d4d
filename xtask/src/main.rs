//! `cargo xtask`: Anchorage's build automation, so the README needs only two
//! commands.
//!
//! - `cargo xtask serve [ARGS]`: build the web UI, embed it in the
//!   `anchorage` binary (release) and run `anchorage serve ARGS`.
//! - `cargo xtask test`: install what the tests need when it is missing,
//!   then run every check: fmt, clippy, unit tests, the wasm build and the
//!   browser tests.
//! - `cargo xtask dist`: only build the web UI into `target/web-dist`.
//! - `cargo xtask vm [v2|v1|hybrid]...`: the real-container checks in a
//!   guest on each cgroup layout (see `vm.rs`); `test` runs all three.
//! - `cargo xtask bench`: the benchmarks whose figures BENCHMARKS.md
//!   records (criterion natively; the same workload as wasm in node; real
//!   containers against runc and GNU tar, as root).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

mod containers_bench;
mod vm;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The target the wasm benchmark builds for: WASI, so it runs in node.
const WASI_TARGET: &str = "wasm32-wasip1";
const WEB_PROFILE: &str = "wasm-release";
/// Debian packages the tests use: the browser, its driver, a static
/// busybox for real-container tests, umoci, skopeo, podman and mmdebstrap,
/// which write the image formats the image store must read, runc (another
/// runtime's containers on the host view) and zstd.
const TEST_PACKAGES: &[(&str, &str)] = &[
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("busybox-static", "/bin/busybox"),
    ("umoci", "/usr/bin/umoci"),
    ("skopeo", "/usr/bin/skopeo"),
    ("runc", "/usr/sbin/runc"),
    ("zstd", "/usr/bin/zstd"),
    // Root file systems as people make them, and podman's saves of them.
    ("mmdebstrap", "/usr/bin/mmdebstrap"),
    ("podman", "/usr/bin/podman"),
];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("test") => test(),
        Some("dist") => dist().map(|dir| println!("web UI built in {}", dir.display())),
        Some("bench") => bench(args.get(1).map(String::as_str)),
        Some("vm") => vm_task(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            println!("{}", USAGE);
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!(
            "unknown task `{other}`: run `cargo xtask help` to list the tasks"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "cargo xtask TASK

Tasks:
  serve [ARGS]  build the web UI and the anchorage binary (release), then run `anchorage serve ARGS`
  test          install what the tests need when missing, then run every check
  dist          build the web UI into target/web-dist
  vm [v2|v1|hybrid]...
                boot Debian's kernel under qemu on each cgroup layout (all three
                unless named) and run the real-container checks in the guest
  bench [containers|live|output]
                run the benchmarks (natively with criterion, and as wasm in node;
                real containers against runc and GNU tar; the live server; output floods)";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

fn step(title: &str) {
    println!("\n==> {title}");
}

fn run(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// Cargo's target folder: `$CARGO_TARGET_DIR`, else `target/` here.
fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

fn web_dist() -> PathBuf {
    target_dir().join("web-dist")
}

/// Where the workshop image's static userland is put for embedding.
fn toolbox_path() -> PathBuf {
    target_dir().join("workshop-dist").join("toolbox")
}

/// This machine's target triple, as rustc names it.
fn host_triple() -> Result<String> {
    let output = Command::new(env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-vV")
        .output()
        .context("could not run rustc -vV")?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .context("rustc -vV named no host")
}

/// Builds `toolbox`, the workshop image's userland, as one static binary
/// (glibc linked in with `crt-static`), in a target folder of its own so
/// its flags never invalidate the main build.
fn build_toolbox() -> Result<PathBuf> {
    step("building the workshop image's static userland (toolbox)");
    let host = host_triple()?;
    let build_dir = target_dir().join("workshop-build");
    run(cargo()
        .args([
            "build",
            "--package",
            "anchorage-workshop",
            "--profile",
            "workshop",
            "--target",
            &host,
            "--target-dir",
        ])
        .arg(&build_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+crt-static")
        .env_remove("RUSTFLAGS"))?;
    let built = build_dir.join(&host).join("workshop").join("toolbox");
    let out = toolbox_path();
    fs::create_dir_all(out.parent().expect("a parent"))?;
    let staging = out.with_extension("partial");
    fs::copy(&built, &staging).with_context(|| format!("copying {}", built.display()))?;
    fs::rename(&staging, &out)?;
    Ok(out)
}

/// Makes sure rustup has the wasm target (this machine's rustup does not
/// install targets by itself).
fn ensure_wasm_target() -> Result<()> {
    ensure_target(WASM_TARGET)
}

fn ensure_target(target: &str) -> Result<()> {
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match output {
        Ok(out)
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l == target) =>
        {
            Ok(())
        }
        Ok(_) => {
            step(&format!("installing the Rust target {target}"));
            run(Command::new("rustup").args(["target", "add", target]))
        }
        Err(err) => bail!(
            "rustup is needed to add the {target} target and could not run ({err}): install Rust with rustup"
        ),
    }
}

/// Builds the web crate to wasm, generates its JavaScript glue and gathers
/// the page's files in `target/web-dist`.
fn dist() -> Result<PathBuf> {
    ensure_wasm_target()?;
    step("building the web UI (WebAssembly)");
    run(cargo().args([
        "build",
        "--package",
        "anchorage-web",
        "--target",
        WASM_TARGET,
        "--profile",
        WEB_PROFILE,
    ]))?;
    let wasm = target_dir()
        .join(WASM_TARGET)
        .join(WEB_PROFILE)
        .join("anchorage_web.wasm");
    let out = web_dist();
    let staging = target_dir().join("web-dist.partial");
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    fs::create_dir_all(&staging)?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .out_name("anchorage_web")
        .no_modules(true)?
        .typescript(false)
        .generate(&staging)
        .with_context(|| format!("generating the JavaScript glue for {}", wasm.display()))?;
    for entry in fs::read_dir(root().join("static"))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs::copy(entry.path(), staging.join(entry.file_name()))?;
        }
    }
    // Swap in the new folder whole, so a failed build never leaves a mix.
    if out.exists() {
        fs::remove_dir_all(&out)?;
    }
    fs::rename(&staging, &out)?;
    let size = fs::metadata(out.join("anchorage_web_bg.wasm"))?.len();
    println!("web UI: {} ({} KiB of wasm)", out.display(), size / 1024);
    let toolbox = build_toolbox()?;
    let size = fs::metadata(&toolbox)?.len();
    println!(
        "workshop userland: {} ({} KiB)",
        toolbox.display(),
        size / 1024
    );
    Ok(out)
}

fn serve(args: &[String]) -> Result<()> {
    let dist = dist()?;
    step("building anchorage (release) with the web UI embedded");
    run(cargo()
        .args(["build", "--release", "--package", "anchorage"])
        .env("ANCHORAGE_WEB_DIST", &dist)
        .env("ANCHORAGE_TOOLBOX", toolbox_path()))?;
    let binary = target_dir().join("release").join("anchorage");
    step("starting anchorage serve");
    let mut command = Command::new(binary);
    command.arg("serve").args(args);
    run(&mut command)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Installs the Debian packages the tests need, when any is missing (and,
/// as root, what the guests on each cgroup layout need).
fn ensure_test_packages() -> Result<()> {
    ensure_packages(TEST_PACKAGES)?;
    if is_root() {
        ensure_packages(vm::PACKAGES)?;
    }
    Ok(())
}

/// Builds `anchorage` with the web UI and the workshop userland embedded,
/// in the debug profile the tests use: its path.
fn build_test_binary(dist: &Path) -> Result<PathBuf> {
    run(cargo()
        .args(["build", "--package", "anchorage"])
        .env("ANCHORAGE_WEB_DIST", dist)
        .env("ANCHORAGE_TOOLBOX", toolbox_path()))?;
    Ok(target_dir().join("debug").join("anchorage"))
}

/// `cargo xtask vm`: the guests' checks with a freshly built binary.
fn vm_task(args: &[String]) -> Result<()> {
    ensure_packages(vm::PACKAGES)?;
    ensure_wasm_target()?;
    let dist = dist()?;
    step("building anchorage with the web UI embedded");
    let binary = build_test_binary(&dist)?;
    vm::task(args, &binary)
}

/// Installs Debian packages, given with a file each installs, when any is
/// missing.
fn ensure_packages(packages: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(_, path)| !Path::new(path).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!("installing {}", missing.join(", ")));
    let apt = |args: &[&str]| -> Command {
        let mut command = if is_root() {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    let result = run(&mut apt(&["update", "-qq"])).and_then(|()| {
        let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
        install.args(&missing);
        run(&mut install)
    });
    result.with_context(|| {
        format!(
            "the tests need the Debian packages {}: install them (apt-get install {}) as root, or run this as root",
            missing.join(", "),
            missing.join(" ")
        )
    })
}

/// Runs the benchmarks of BENCHMARKS.md.
/// `cargo xtask bench [containers|live]`: all the benchmarks, or only the
/// real engine's, or only the live server's.
fn bench(only: Option<&str>) -> Result<()> {
    match only {
        None => {}
        Some("containers") => return bench_containers(),
        Some("live") => return bench_live(),
        Some("output") => return bench_output(),
        Some(other) => bail!(
            "no benchmark `{other}`: run `cargo xtask bench`, `cargo xtask bench containers`, `cargo xtask bench live` or `cargo xtask bench output`"
        ),
    }
    step("criterion: the simulated kernel, natively");
    run(cargo().args(["bench", "--package", "anchorage-shared", "--bench", "tick"]))?;

    step("the same workload, natively, without criterion");
    run(cargo().args([
        "run",
        "--quiet",
        "--release",
        "--package",
        "anchorage-shared",
        "--example",
        "tick",
    ]))?;

    ensure_target(WASI_TARGET)?;
    ensure_packages(&[("nodejs", "/usr/bin/node")])?;
    step("the same workload as wasm, in node's V8 (the JavaScript engine of Chromium)");
    run(cargo().args([
        "build",
        "--quiet",
        "--release",
        "--package",
        "anchorage-shared",
        "--example",
        "tick",
        "--target",
        WASI_TARGET,
    ]))?;
    let wasm = target_dir()
        .join(WASI_TARGET)
        .join("release/examples/tick.wasm");
    let runner = target_dir().join("run-wasi.mjs");
    fs::write(&runner, WASI_RUNNER)
        .with_context(|| format!("cannot write {}", runner.display()))?;
    run(Command::new("node")
        .arg("--no-warnings")
        .arg(&runner)
        .arg(&wasm))?;
    bench_containers()?;
    bench_live()?;
    bench_output()
}

/// Output floods through every path, for 30 s each (as root).
fn bench_output() -> Result<()> {
    step("output floods: cat /dev/zero and yes through every path, against a plain pipe");
    if !is_root() {
        println!("skipped: real containers need root");
        return Ok(());
    }
    ensure_packages(&[("busybox-static", "/bin/busybox")])?;
    let dist = dist()?;
    run(cargo()
        .args(["build", "--quiet", "--release", "--package", "anchorage"])
        .env("ANCHORAGE_WEB_DIST", &dist)
        .env("ANCHORAGE_TOOLBOX", toolbox_path()))?;
    run(cargo()
        .args(["bench", "--package", "anchorage-tests", "--bench", "output"])
        .env(
            "ANCHORAGE_BIN",
            target_dir().join("release").join("anchorage"),
        ))
}

/// The live server under load: 200 viewers, 50 containers at 4 Hz.
fn bench_live() -> Result<()> {
    step("the live server: 200 viewers watching 50 containers at 4 Hz");
    let dist = dist()?;
    run(cargo()
        .args(["build", "--quiet", "--release", "--package", "anchorage"])
        .env("ANCHORAGE_WEB_DIST", &dist)
        .env("ANCHORAGE_TOOLBOX", toolbox_path()))?;
    run(cargo()
        .args(["bench", "--package", "anchorage-tests", "--bench", "live"])
        .env(
            "ANCHORAGE_BIN",
            target_dir().join("release").join("anchorage"),
        ))
}

fn bench_containers() -> Result<()> {
    step("real containers: anchorage against runc and GNU tar");
    if !is_root() {
        println!("skipped: real containers with cgroups, and runc, need root");
        return Ok(());
    }
    ensure_packages(&[("runc", "/usr/sbin/runc")])?;
    let dist = dist()?;
    run(cargo()
        .args(["build", "--quiet", "--release", "--package", "anchorage"])
        .env("ANCHORAGE_WEB_DIST", &dist)
        .env("ANCHORAGE_TOOLBOX", toolbox_path()))?;
    containers_bench::run(
        &target_dir().join("release").join("anchorage"),
        &target_dir().join("bench-containers"),
    )
}

/// Runs a WASI program in node.
const WASI_RUNNER: &str = "import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
const wasi = new WASI({ version: 'preview1', args: ['tick'], env: {} });
const module = await WebAssembly.compile(await readFile(process.argv[2]));
wasi.start(await WebAssembly.instantiate(module, wasi.getImportObject()));
";

fn test() -> Result<()> {
    ensure_wasm_target()?;
    ensure_test_packages()?;

    step("cargo fmt --check");
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;

    let dist = dist()?;

    step("building anchorage with the web UI embedded");
    build_test_binary(&dist)?;

    step("cargo clippy (host, every target)");
    run(cargo()
        .args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
        .env("ANCHORAGE_WEB_DIST", &dist)
        .env("ANCHORAGE_TOOLBOX", toolbox_path()))?;

    step("cargo clippy (web UI, wasm32)");
    run(cargo().args([
        "clippy",
        "--package",
        "anchorage-web",
        "--package",
        "anchorage-shared",
        "--target",
        WASM_TARGET,
        "--",
        "-D",
        "warnings",
    ]))?;

    step("cargo test (unit, server and browser tests)");
    let binary = target_dir().join("debug").join("anchorage");
    // Tests that cannot run here say so in this file; they are counted
    // apart, never as passed.
    let skips = target_dir().join("test-skips.txt");
    let _ = fs::remove_file(&skips);
    let result = run_tests(
        cargo()
            // Every test binary runs, so one run names every failure.
            .args(["test", "--workspace", "--no-fail-fast"])
            .env("ANCHORAGE_WEB_DIST", &dist)
            .env("ANCHORAGE_TOOLBOX", toolbox_path())
            .env("ANCHORAGE_BIN", &binary)
            .env("ANCHORAGE_SKIPS", &skips),
    );
    let skipped: Vec<String> = fs::read_to_string(&skips)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let (mut passed, mut failed) = match result {
        Ok(counts) => counts,
        Err(err) => {
            report_skips(&skipped);
            return Err(err);
        }
    };
    if is_root() {
        step("the real engine's unit tests again, rootless (as the unprivileged user nobody)");
        let (p, f) = rootless_tests(&dist)?;
        passed += p;
        failed += f;
    }
    // A skipped test ran to its early return: it is not a pass.
    passed = passed.saturating_sub(skipped.len() as u64);
    // The real-container checks on every cgroup layout, in guests.
    let mut skipped = skipped;
    let mut vm_failed = 0;
    match vm::unavailable() {
        Some(why) => {
            for layout in vm::LAYOUTS {
                skipped.push(format!(
                    "vm {layout}\tqemu cannot boot the guests here: {why}"
                ));
            }
        }
        None => {
            let outcomes = vm::run(&binary, &vm::LAYOUTS)?;
            vm_failed = vm::report(&outcomes);
            passed += outcomes.iter().map(|o| o.passed).sum::<u64>();
            failed += vm_failed;
        }
    }
    report_skips(&skipped);
    if vm_failed > 0 {
        println!(
            "tests: {passed} passed, {failed} failed, {} skipped",
            skipped.len()
        );
        bail!("{vm_failed} check(s) failed in the guests");
    }
    println!("\nall checks passed");
    println!(
        "tests: {passed} passed, {failed} failed, {} skipped",
        skipped.len()
    );
    if is_root() && !skipped.is_empty() {
        bail!("as root no test may be skipped, and {} were", skipped.len());
    }
    Ok(())
}

/// Names the tests that could not run here, and why.
fn report_skips(skipped: &[String]) {
    if skipped.is_empty() {
        return;
    }
    println!("\nskipped (not run here, not counted as passed):");
    for line in skipped {
        let (test, reason) = line.split_once('\t').unwrap_or((line, ""));
        println!("  {test}: {reason}");
    }
}

/// Runs the `anchorage` library's unit tests as `nobody`: the rootless
/// paths (unpacking without root, cgroup errors) get exercised for real.
/// The test binary is copied where that user can reach it.
fn rootless_tests(dist: &Path) -> Result<(u64, u64)> {
    let output = cargo()
        .args([
            "test",
            "--package",
            "anchorage",
            "--lib",
            "--no-run",
            "--message-format=json",
        ])
        .env("ANCHORAGE_WEB_DIST", dist)
        .env("ANCHORAGE_TOOLBOX", toolbox_path())
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("could not build the anchorage unit tests")?;
    let executable = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find_map(|message| {
            let is_lib = message["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "lib"));
            (message["reason"] == "compiler-artifact" && is_lib)
                .then(|| message["executable"].as_str().map(PathBuf::from))
                .flatten()
        })
        .context("cargo did not report the anchorage unit-test binary")?;
    let scratch = env::temp_dir().join(format!("anchorage-rootless-{}", std::process::id()));
    fs::create_dir_all(&scratch)?;
    let copy = scratch.join("anchorage-unit-tests");
    fs::copy(&executable, &copy)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&scratch, fs::Permissions::from_mode(0o755))?;
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755))?;
    let result = run_tests(
        Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(&copy)
            .current_dir(&scratch),
    );
    let _ = fs::remove_dir_all(&scratch);
    result
}

/// Runs `cargo test`, echoing its output, and adds up its `test result:`
/// lines, so the run ends on one total for every test binary.
fn run_tests(command: &mut Command) -> Result<(u64, u64)> {
    use std::io::{BufRead, BufReader};
    let shown = format!("{command:?}");
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start {shown}"))?;
    let (mut passed, mut failed) = (0, 0);
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line?;
        println!("{line}");
        if let Some(result) = line.strip_prefix("test result: ") {
            let count = |word: &str| -> u64 {
                result
                    .split(';')
                    .find_map(|part| part.trim().strip_suffix(word))
                    .and_then(|n| n.trim().rsplit(' ').next()?.parse().ok())
                    .unwrap_or(0)
            };
            passed += count(" passed");
            failed += count(" failed");
        }
    }
    let status = child.wait()?;
    if !status.success() {
        println!("tests: {passed} passed, {failed} failed");
        bail!("{shown} failed ({status})");
    }
    if passed == 0 {
        bail!("cargo test ran no test at all");
    }
    Ok((passed, failed))
}
