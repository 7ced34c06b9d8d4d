//! The `anchorage` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use anchorage::server::{ServeOptions, Server};
use anchorage::{assets, images, site};
use anchorage_shared::Engine;
use anchorage_shared::cgroup::CpuMax;
use anchorage_shared::cli::Verb;
use anchorage_shared::sim::SimEngine;

/// Anchorage: see what a container really is.
///
/// Containers are processes born from tarballs, anchored to namespaces,
/// controlled by cgroups. Anchorage shows each of those, live, in a browser.
#[derive(Debug, Parser)]
#[command(name = "anchorage", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Serve the web UI and stream the host's containers to it live.
    ///
    /// Prints the address to open. The page shows every container with its
    /// image, processes, namespaces and cgroup, and takes commands (run,
    /// stop, kill, remove) over a websocket at /ws.
    Serve {
        /// The address and port to listen on. Keep it on loopback unless
        /// you mean to share the host's containers with your network.
        #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR:PORT")]
        listen: SocketAddr,
        /// How often the engine's state is sampled and pushed, per second.
        #[arg(long, default_value_t = 4.0, value_name = "HZ", value_parser = parse_rate)]
        rate: f64,
        /// The token pages and clients must present (random unless given).
        /// Required with a --listen address other than loopback.
        #[arg(
            long,
            env = "ANCHORAGE_TOKEN",
            value_name = "TOKEN",
            hide_env_values = true
        )]
        token: Option<String>,
        /// Which engine to serve: real containers on this host, the
        /// simulated kernel, or (auto) real where this host can run them.
        #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
        engine: EngineChoice,
        /// The most containers the server holds, running or not.
        #[arg(long, default_value_t = 64, value_name = "N")]
        max_containers: usize,
        /// The memory limit of every real container that asks for none
        /// (`max`: none).
        #[arg(long, default_value = "512m", value_name = "SIZE", value_parser = parse_default_memory)]
        default_memory: DefaultLimit<u64>,
        /// The pids limit of every real container that asks for none.
        #[arg(long, default_value = "512", value_name = "N", value_parser = parse_default_pids)]
        default_pids_limit: DefaultLimit<u64>,
        /// The CPUs of every real container that asks for no limit.
        #[arg(long, default_value = "1", value_name = "CPUS", value_parser = parse_default_cpus)]
        default_cpus: DefaultLimit<CpuMax>,
        /// The most memory any real container may ask for (`max`: no cap)
        /// [default: half the host's memory].
        #[arg(long, value_name = "SIZE", value_parser = parse_default_memory)]
        max_memory: Option<DefaultLimit<u64>>,
        /// The most processes any real container may ask for (`max`: no cap).
        #[arg(long, default_value = "4096", value_name = "N", value_parser = parse_default_pids)]
        max_pids: DefaultLimit<u64>,
        /// The most CPUs any real container may ask for (`max`: no cap)
        /// [default: half the host's CPUs, at least 1].
        #[arg(long, value_name = "CPUS", value_parser = parse_default_cpus)]
        max_cpus: Option<DefaultLimit<CpuMax>>,
        /// The most console log a container may keep, all its files
        /// together (`--log-opt max-size` times `max-file`).
        #[arg(long, default_value = "100m", value_name = "SIZE", value_parser = parse_upload_size)]
        max_log_size: u64,
        /// The most connections one client address may hold open at once
        /// (every page's viewer is one).
        #[arg(long, default_value_t = 512, value_name = "N")]
        max_connections_per_client: usize,
        /// Let clients mount host paths into containers (by default, only
        /// named volumes: a host path lets a page read and write the host).
        #[arg(long)]
        allow_host_volumes: bool,
        /// Let clients run containers with `seccomp=unconfined` (by
        /// default every container gets Docker's default profile).
        #[arg(long)]
        allow_unconfined: bool,
        /// The largest image archive the page may upload (POST
        /// /api/images).
        #[arg(long, default_value = "4g", value_name = "SIZE", value_parser = parse_upload_size)]
        max_upload: u64,
        #[command(flatten)]
        image_limits: ImageLimits,
    },
    /// "Should we use containers in prod?": the talk's closing question,
    /// for your platform and team.
    ///
    /// Asks about the workload, the ecosystem, the team, the motivation and
    /// the plan (or reads them from --answers), then prints a verdict (go,
    /// not yet, no-go, or blog post) with its reasons, the gaps and what to
    /// do about each, and a fit per workload, each tied to the talk's lesson
    /// and to a workshop exercise that shows it.
    Assess {
        /// Answers in a JSON file (`-` for stdin) instead of questions;
        /// `--save FILE` once gives one to edit.
        #[arg(long, value_name = "FILE")]
        answers: Option<PathBuf>,
        /// How to print the report.
        #[arg(long, value_enum, default_value_t = anchorage::assess::Format::Text)]
        format: anchorage::assess::Format,
        /// Keep the answers in FILE, as JSON.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
    },
    /// Write the browser-only site into DIR, for any static web host or for
    /// opening DIR/index.html straight from disk. The page runs the
    /// simulated kernel: no server, no install, works offline.
    ExportSite {
        /// A new or empty folder (a folder of an earlier export is fine too).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// A simulated Linux host on the terminal: no root, nothing touched.
    ///
    /// Type command lines at its prompt, or pipe a script in. `anchorage`
    /// verbs (run, ps, exec, logs, top, kill, stop, rm, update, inspect,
    /// images) manage containers of the built-in `workshop` image; other
    /// lines run as root on the simulated host (ps, cat /sys/fs/cgroup/...,
    /// ls /proc, ip addr...). A script runs as fast as the simulation goes
    /// and prints the same every time; at a prompt, time runs as on a
    /// clock. The exit status is the last command's.
    Sim {
        /// Read the script from FILE instead of stdin.
        #[arg(value_name = "FILE")]
        script: Option<PathBuf>,
        /// Print each line before running it, as `sh -x` does.
        #[arg(short = 'x', long)]
        trace: bool,
        /// The simulated host's name.
        #[arg(long, default_value = "workshop-host")]
        hostname: String,
        /// In a script, the most simulated time one line may wait (an
        /// attached run, a sleep) before it is interrupted as Ctrl-C
        /// would: 60s, 10m, 0.5s or infinity. At a prompt, Ctrl-C does
        /// that.
        #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_line_timeout)]
        line_timeout: LineTimeout,
        /// How the simulated host mounts its cgroups: v2 (one cgroup2
        /// hierarchy), v1 (a hierarchy per controller) or hybrid (v1
        /// controllers with cgroup2 at /sys/fs/cgroup/unified).
        #[arg(long, value_name = "LAYOUT", default_value = "v2")]
        cgroups: anchorage_shared::host::CgroupLayout,
    },
    #[command(flatten)]
    Container(Verb),
    /// A container's supervisor (started by `anchorage run`, not by hand).
    #[command(name = "__shim", hide = true)]
    Shim {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Manage the images real containers start from: import them from
    /// files, list, inspect and remove them.
    Image {
        #[command(subcommand)]
        command: ImageCommand,
        /// Where images are kept [default: /var/lib/anchorage as root,
        /// else $XDG_DATA_HOME/anchorage, i.e. ~/.local/share/anchorage]
        #[arg(long, env = "ANCHORAGE_DATA_DIR", value_name = "DIR", global = true)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ImageCommand {
    /// Import images from FILE: a root file system tarball (.tar, .tar.gz,
    /// .tar.zst), a `docker save` archive (legacy or OCI), or an OCI image
    /// layout (a directory, or a tar of one). Every digest the archive
    /// states is checked; a refused or interrupted import leaves nothing.
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The name to give it, such as `myapp:1.2` (a root file system
        /// tarball is otherwise named after its file).
        #[arg(long, value_name = "NAME[:TAG]")]
        name: Option<String>,
        /// No progress bar.
        #[arg(short, long)]
        quiet: bool,
        #[command(flatten)]
        image_limits: ImageLimits,
    },
    /// List the images, a row per name.
    #[command(visible_alias = "list")]
    Ls {
        /// Only the short IDs.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Remove a name, or a whole image given its ID or its last name.
    #[command(visible_alias = "remove")]
    Rm {
        #[arg(value_name = "IMAGE", required = true)]
        images: Vec<String>,
    },
    /// Show images as JSON: config, layers, digests, where the root is.
    Inspect {
        #[arg(value_name = "IMAGE", required = true)]
        images: Vec<String>,
    },
}

/// How large an image may be, unpacked: a small compressed archive can
/// hold a very large one.
#[derive(Clone, Copy, Debug, clap::Args)]
struct ImageLimits {
    /// The most an image may hold in files, unpacked.
    #[arg(long, default_value = "4g", value_name = "SIZE", value_parser = parse_upload_size)]
    max_image_size: u64,
    /// The most entries (files, directories, links) an image may hold.
    #[arg(long, default_value_t = images::Limits::DEFAULT_ENTRIES, value_name = "N")]
    max_image_entries: u64,
}

impl ImageLimits {
    fn limits(self) -> images::Limits {
        images::Limits {
            max_bytes: self.max_image_size,
            max_entries: self.max_image_entries,
        }
    }
}

/// A default limit for `serve`, or `max` for none.
#[derive(Clone, Copy, Debug)]
struct DefaultLimit<T>(Option<T>);

fn parse_default_memory(text: &str) -> Result<DefaultLimit<u64>, String> {
    if text == "max" {
        return Ok(DefaultLimit(None));
    }
    let bytes = anchorage_shared::cgroup::parse_size(text).map_err(|e| e.to_string())?;
    if bytes < anchorage_shared::container::MIN_MEMORY_BYTES {
        return Err(format!(
            "`{text}` is below the smallest memory limit, 6m: give a larger size, or `max` for none"
        ));
    }
    Ok(DefaultLimit(Some(bytes)))
}

fn parse_default_pids(text: &str) -> Result<DefaultLimit<u64>, String> {
    anchorage_shared::cgroup::parse_pids_limit(text)
        .map(DefaultLimit)
        .map_err(|e| e.to_string())
}

fn parse_default_cpus(text: &str) -> Result<DefaultLimit<CpuMax>, String> {
    if text == "max" {
        return Ok(DefaultLimit(None));
    }
    let cpus: f64 = text.parse().map_err(|_| {
        format!("`{text}` is not a CPU count: write a number such as 0.5 or 2, or `max` for none")
    })?;
    CpuMax::from_cpus(cpus)
        .map(|quota| DefaultLimit(Some(quota)))
        .map_err(|e| e.to_string())
}

/// The host's memory, from `/proc/meminfo` (1 GiB when it cannot tell).
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(1 << 30, |kb| kb * 1024)
}

/// Half the host's CPUs, at least one.
fn host_cpus_half() -> f64 {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus as f64 / 2.0).max(1.0)
}

fn parse_upload_size(text: &str) -> Result<u64, String> {
    anchorage_shared::cgroup::parse_size(text).map_err(|e| e.to_string())
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(hz) if (0.5..=60.0).contains(&hz) => Ok(hz),
        _ => Err(format!(
            "`{text}` is not a sampling rate: give a number of updates per second from 0.5 to 60, such as 4"
        )),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ANCHORAGE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Serve {
            listen,
            rate,
            token,
            engine,
            max_containers,
            default_memory,
            default_pids_limit,
            default_cpus,
            max_memory,
            max_pids,
            max_cpus,
            max_log_size,
            allow_host_volumes,
            allow_unconfined,
            max_connections_per_client,
            max_upload,
            image_limits,
        } => serve(
            listen,
            rate,
            token,
            engine,
            anchorage::server::hub::Policy {
                max_containers,
                default_memory: default_memory.0,
                default_pids: default_pids_limit.0,
                default_cpu: default_cpus.0.unwrap_or_default(),
                max_memory: max_memory.map_or(Some(host_memory() / 2), |m| m.0),
                max_pids: max_pids.0,
                max_cpus: max_cpus.map_or(Some(host_cpus_half()), |c| c.0.and_then(|c| c.cpus())),
                max_log_bytes: max_log_size,
                host_volumes: allow_host_volumes,
                unconfined: allow_unconfined,
            },
            Intake {
                max_upload,
                image_limits: image_limits.limits(),
                max_connections_per_client,
            },
        ),
        Commands::ExportSite { dir } => export_site(dir),
        Commands::Assess {
            answers,
            format,
            save,
        } => anchorage::assess::run(answers.as_deref(), format, save.as_deref()),
        Commands::Sim {
            script,
            trace,
            hostname,
            line_timeout,
            cgroups,
        } => {
            match anchorage::sim::run(&hostname, script.as_deref(), trace, line_timeout.0, cgroups)
            {
                Ok(status) => return ExitCode::from(status.clamp(0, 255) as u8),
                Err(err) => Err(err),
            }
        }
        Commands::Shim { dir } => {
            return ExitCode::from(anchorage::process::shim::main(&dir).clamp(0, 255) as u8);
        }
        Commands::Container(verb) => {
            let data_dir = std::env::var_os("ANCHORAGE_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(images::default_data_dir);
            match anchorage::cli::run(verb, &data_dir) {
                Ok(status) => return ExitCode::from(status.clamp(0, 255) as u8),
                Err(err) => Err(err),
            }
        }
        Commands::Image { command, data_dir } => {
            let data_dir = data_dir.unwrap_or_else(images::default_data_dir);
            match command {
                ImageCommand::Import {
                    file,
                    name,
                    quiet,
                    image_limits,
                } => images::import(
                    &data_dir,
                    &file,
                    name.as_deref(),
                    quiet,
                    image_limits.limits(),
                ),
                ImageCommand::Ls { quiet } => images::list(&data_dir, quiet),
                ImageCommand::Rm { images: refs } => images::remove(&data_dir, &refs),
                ImageCommand::Inspect { images: refs } => images::inspect(&data_dir, &refs),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("anchorage: {}", report(&err));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, each said once: a cause whose words the
/// message already holds (as most errors here quote their source) is not
/// repeated.
fn report(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum EngineChoice {
    Auto,
    Real,
    Simulated,
}

/// Whether this host lets this user make user namespaces (every real
/// container has one).
fn user_namespaces_allowed() -> bool {
    let read = |path: &str| std::fs::read_to_string(path).map(|s| s.trim().to_string());
    let max = read("/proc/sys/user/max_user_namespaces")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    let unprivileged =
        read("/proc/sys/kernel/unprivileged_userns_clone").map_or(true, |v| v != "0");
    max > 0 && (nix::unistd::geteuid().is_root() || unprivileged)
}

/// The engine to serve: real containers where this host can run them,
/// else the simulated kernel (and every client is told which).
/// With a real engine, its data directory too (where uploads go).
fn choose_engine(
    choice: EngineChoice,
) -> anyhow::Result<(Box<dyn Engine + Send>, Option<PathBuf>)> {
    let real = || -> Result<(anchorage::engine::RealEngine, PathBuf), String> {
        if !user_namespaces_allowed() {
            return Err("this host does not let this user make user namespaces".into());
        }
        let data_dir = std::env::var_os("ANCHORAGE_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(images::default_data_dir);
        let binary = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut engine = anchorage::engine::RealEngine::open(&data_dir, binary)?;
        // The server's timer paces it; it must never wait itself.
        engine.set_waiting(false);
        engine.set_host_view(true);
        // Pages see output at the pace they can show it; the log keeps all.
        engine.set_console_rate(Some(anchorage::server::hub::VIEWER_OUTPUT_RATE));
        Ok((engine, data_dir))
    };
    let simulated = || -> (Box<dyn Engine + Send>, Option<PathBuf>) {
        (Box::new(SimEngine::new(&host_name())), None)
    };
    Ok(match choice {
        EngineChoice::Simulated => simulated(),
        EngineChoice::Real => {
            let (engine, dir) = real()
                .map_err(|e| anyhow::anyhow!("real containers are not possible here: {e}"))?;
            (Box::new(engine), Some(dir))
        }
        EngineChoice::Auto => match real() {
            Ok((engine, dir)) => (Box::new(engine), Some(dir)),
            Err(reason) => {
                eprintln!(
                    "Real containers are not possible here ({reason}): serving the simulated kernel."
                );
                simulated()
            }
        },
    })
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// What `serve` takes in from clients: uploads, and connections.
struct Intake {
    max_upload: u64,
    image_limits: images::Limits,
    max_connections_per_client: usize,
}

fn serve(
    listen: SocketAddr,
    rate: f64,
    token: Option<String>,
    choice: EngineChoice,
    policy: anchorage::server::hub::Policy,
    intake: Intake,
) -> anyhow::Result<()> {
    policy.check().map_err(|e| anyhow::anyhow!(e))?;
    if !listen.ip().is_loopback() && token.is_none() {
        anyhow::bail!(
            "{listen} is reachable from other machines: give a --token (or set ANCHORAGE_TOKEN) that they must present, or listen on loopback (127.0.0.1)"
        );
    }
    if let Some(token) = &token
        && (token.len() < 16
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
    {
        anyhow::bail!(
            "the token must be at least 16 letters, digits, `-`, `_` or `.` (it goes in a URL)"
        );
    }
    let token = match token {
        Some(token) => token,
        None => anchorage::server::random_token()
            .map_err(|e| anyhow::anyhow!("cannot make a token: {e}"))?,
    };
    let (engine, data_dir) = choose_engine(choice)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let options = ServeOptions {
            listen,
            tick: Duration::from_secs_f64(1.0 / rate),
            token,
            policy,
            data_dir,
            max_upload: intake.max_upload,
            image_limits: intake.image_limits,
            max_connections_per_client: intake.max_connections_per_client,
        };
        let info = engine.info();
        let server = Server::bind(&options, engine).await?;
        let addr = server.local_addr();
        println!("Anchorage is serving {}", options.url(addr));
        println!(
            "Engine: {:?} on {} ({})",
            info.kind, info.hostname, info.note
        );
        if info.capabilities.real_kernel && info.capabilities.limits {
            let memory = policy
                .default_memory
                .map_or("no".into(), anchorage_shared::cgroup::format_size);
            let pids = policy.default_pids.map_or("no".into(), |n| n.to_string());
            let cpus = policy
                .default_cpu
                .cpus()
                .map_or("no".into(), |c| c.to_string());
            println!(
                "Containers that ask for no limits get {memory} memory, {pids} pids and {cpus} CPU at most; the server holds up to {} containers.",
                policy.max_containers
            );
            let cap = |v: Option<String>| v.unwrap_or_else(|| "no cap".into());
            println!(
                "No container may have more than {} memory, {} pids or {}.",
                cap(policy.max_memory.map(anchorage_shared::cgroup::format_size)),
                cap(policy.max_pids.map(|n| n.to_string())),
                cap(policy.max_cpus.map(|c| format!(
                    "{c} CPU{}",
                    if c == 1.0 { "" } else { "s" }
                )))
            );
        }
        if !assets::has_ui() {
            println!("Warning: {}", assets::NO_UI_MESSAGE.trim_end());
        }
        println!("Press Ctrl-C to stop.");
        server
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}

fn export_site(dir: PathBuf) -> anyhow::Result<()> {
    let written = site::export(&dir)?;
    println!(
        "Wrote {} files to {}. Open {} in a browser, or put the folder on any static web host.",
        written.len(),
        dir.display(),
        dir.join("index.html").display()
    );
    Ok(())
}

/// `--line-timeout`: milliseconds, or none for `infinity`.
#[derive(Clone, Copy, Debug)]
struct LineTimeout(Option<u64>);

fn parse_line_timeout(text: &str) -> Result<LineTimeout, String> {
    match anchorage_shared::userland::parse_duration_ms(text) {
        Ok(Some(0)) => Err("a line needs some time: give more than 0, or infinity".into()),
        Ok(ms) => Ok(LineTimeout(ms)),
        Err(_) => Err(format!(
            "{text:?} is not a duration: give one as 60s, 10m, 0.5s or infinity"
        )),
    }
}
