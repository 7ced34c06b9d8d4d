//! Helpers for Anchorage's cross-crate tests: the `anchorage` binary, a
//! server started on a free loopback port, and headless Chromium driven
//! through chromedriver. Each helper cleans up after itself when dropped.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a page may take to reach a state the test waits for.
pub const UI_TIMEOUT: Duration = Duration::from_secs(30);

/// The `anchorage` binary under test: `$ANCHORAGE_BIN`, else the workspace's
/// debug build (which `cargo xtask test` builds with the UI embedded).
pub fn anchorage_bin() -> PathBuf {
    let path = std::env::var_os("ANCHORAGE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/anchorage"));
    assert!(
        path.exists(),
        "no anchorage binary at {}: run `cargo xtask test`, or `cargo xtask dist && cargo build -p anchorage` first",
        path.display()
    );
    path
}

/// Runs `anchorage ARGS...` with `stdin` as its input, to the end.
pub fn run_anchorage(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(anchorage_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("anchorage runs");
    // A program that exits without reading all of it is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// `anchorage serve` on a free loopback port, killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// The token it requires (`?token=` or `Authorization: Bearer`).
    pub token: String,
}

/// The token the test servers are given, so a restarted server takes the
/// same one (as a page reconnecting to it would expect).
pub const TEST_TOKEN: &str = "anchorage-test-token-0123456789";

impl Server {
    pub async fn start() -> Result<Server> {
        Server::start_at("127.0.0.1:0").await
    }

    /// Starts on a given address, such as an earlier server's, serving
    /// the simulated kernel (deterministic, whoever runs the tests).
    pub async fn start_at(listen: &str) -> Result<Server> {
        Server::start_with(&[
            "--listen",
            listen,
            "--engine",
            "simulated",
            "--token",
            TEST_TOKEN,
        ])
        .await
    }

    /// Starts `anchorage serve` with these arguments.
    pub async fn start_with(args: &[&str]) -> Result<Server> {
        Server::start_with_env(args, &[]).await
    }

    /// Starts `anchorage serve` with these arguments and environment.
    pub async fn start_with_env(args: &[&str], env: &[(&str, &Path)]) -> Result<Server> {
        let mut child = Command::new(anchorage_bin())
            .arg("serve")
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting anchorage serve")?;
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .context("anchorage serve printed nothing in 20 s")??
            .context("anchorage serve exited before printing its address")?;
        let (addr, token) = first
            .strip_prefix("Anchorage is serving http://")
            .and_then(|rest| rest.split_once("/?token="))
            .with_context(|| format!("unexpected first line: {first}"))?;
        let (addr, token) = (addr.parse()?, token.to_string());
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server { child, addr, token })
    }

    /// The page, with the token, as `anchorage serve` prints it.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.addr, self.token)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws?token={}", self.addr, self.token)
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the server and waits until it is gone.
    pub async fn stop(mut self) -> Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// What a test may need that a machine may lack.
#[derive(Clone, Copy, Debug)]
pub enum Need {
    /// Root: real containers with cgroups, chroot.
    Root,
    /// A program or file, such as `/bin/busybox` (`cargo xtask test`
    /// installs every one it names).
    Tool(&'static str),
}

/// Whether the running test can run here. When it cannot, it is recorded
/// as skipped, with why (in `$ANCHORAGE_SKIPS`, which `cargo xtask test`
/// counts and names at the end), never counted as passed. As root nothing
/// may be missing: `cargo xtask test` installs every tool, so a missing
/// one fails the test.
pub fn runnable(needs: &[Need]) -> bool {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let root = is_root();
    for need in needs {
        let missing = match need {
            Need::Root if !root => Some("it needs root (CI runs it as root)".to_string()),
            Need::Tool(path) if !Path::new(path).exists() => {
                if root {
                    panic!(
                        "{test} needs {path}, and runs as root, where nothing may be skipped: `cargo xtask test` installs it"
                    );
                }
                Some(format!(
                    "it needs {path} (`cargo xtask test` installs it as root)"
                ))
            }
            _ => None,
        };
        if let Some(reason) = missing {
            skip(&reason);
            return false;
        }
    }
    true
}

/// Records the running test as skipped, with why (see [`runnable`]).
pub fn skip(reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    eprintln!("skipped: {test}: {reason}");
    if let Some(log) = std::env::var_os("ANCHORAGE_SKIPS") {
        use std::io::Write;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(file, "{test}\t{reason}");
        }
    }
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// Headless Chromium through chromedriver. Call [`Browser::close`] at the
/// end; dropping it kills chromedriver (and its browser) regardless.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Result<Browser> {
        for needed in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            if !Path::new(needed).exists() {
                bail!(
                    "{needed} is missing: `cargo xtask test` installs Debian's chromium and chromium-driver"
                );
            }
        }
        let port = free_port()?;
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting chromedriver")?;
        let profile = tempfile::tempdir()?;
        let mut args = vec![
            "--headless=new".to_string(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--window-size=1400,1000".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if is_root() {
            // Chromium's sandbox cannot run as root.
            args.push("--no-sandbox".into());
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last_err = None;
        for _ in 0..100 {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Ok(Browser {
                        client,
                        driver,
                        _profile: profile,
                    });
                }
                Err(err) => {
                    last_err = Some(err);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        bail!("could not start a Chromium session through chromedriver: {last_err:?}")
    }

    /// Waits for a CSS selector to match, or fails with what the page shows.
    pub async fn wait_for(&self, css: &str) -> Result<fantoccini::elements::Element> {
        match self
            .client
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => Ok(element),
            Err(err) => {
                let body = self.body_text().await.unwrap_or_default();
                bail!("`{css}` never appeared ({err}); the page shows:\n{body}")
            }
        }
    }

    pub async fn body_text(&self) -> Result<String> {
        Ok(self.client.find(Locator::Css("body")).await?.text().await?)
    }

    /// Ends a test: the browser and the server go, and a failure panics
    /// with what the page showed when it happened.
    pub async fn finish(self, server: Server, result: Result<()>) {
        let body = self.body_text().await.unwrap_or_default();
        self.close().await.unwrap();
        server.stop().await.unwrap();
        result
            .with_context(|| format!("the page showed:\n{body}"))
            .unwrap();
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) -> Result<()> {
        let result = self.client.clone().close().await;
        let _ = self.driver.kill().await;
        result.context("closing the browser session")
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A websocket client of `anchorage serve`, as the web UI is one: it keeps
/// the host's state from the snapshot and the deltas that follow it.
pub struct LiveClient {
    socket: Socket,
    /// The server's hello.
    pub engine: anchorage_shared::EngineInfo,
    /// The state as of the last message read.
    pub state: anchorage_shared::HostSnapshot,
    /// Its number.
    pub seq: u64,
    next_id: u64,
}

impl LiveClient {
    /// Connects and reads the hello and the first snapshot.
    pub async fn connect(server: &Server) -> Result<LiveClient> {
        use anchorage_shared::protocol::ServerMessage;
        let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url()).await?;
        let Some(ServerMessage::Hello { engine, .. }) = read(&mut socket).await? else {
            bail!("the first message was not hello");
        };
        let Some(ServerMessage::Snapshot { seq, snapshot }) = read(&mut socket).await? else {
            bail!("the second message was not a snapshot");
        };
        Ok(LiveClient {
            socket,
            engine,
            state: *snapshot,
            seq,
            next_id: 1,
        })
    }

    /// The next message, with the state brought up to date by it. A delta
    /// that does not start from this client's snapshot is an error.
    pub async fn next(&mut self) -> Result<anchorage_shared::protocol::ServerMessage> {
        use anchorage_shared::protocol::ServerMessage;
        loop {
            let Some(message) = read(&mut self.socket).await? else {
                continue;
            };
            match &message {
                ServerMessage::Snapshot { seq, snapshot } => {
                    self.seq = *seq;
                    self.state = (**snapshot).clone();
                }
                ServerMessage::Delta { from, to, delta } => {
                    if *from != self.seq {
                        bail!(
                            "a delta from {from} to {to} came to a client at {}",
                            self.seq
                        );
                    }
                    delta.apply_to(&mut self.state);
                    self.seq = *to;
                }
                _ => {}
            }
            return Ok(message);
        }
    }

    /// Reads until the state satisfies `pick`, for at most `timeout`.
    pub async fn wait_state(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&anchorage_shared::HostSnapshot) -> bool,
    ) -> Result<&anchorage_shared::HostSnapshot> {
        let deadline = tokio::time::Instant::now() + timeout;
        while !pick(&self.state) {
            tokio::time::timeout_at(deadline, self.next())
                .await
                .context("the state never came")??;
        }
        Ok(&self.state)
    }

    /// Reads until an event satisfies `pick`, for at most `timeout`.
    pub async fn wait_event(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&anchorage_shared::Event) -> bool,
    ) -> Result<anchorage_shared::Event> {
        use anchorage_shared::protocol::ServerMessage;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let message = tokio::time::timeout_at(deadline, self.next())
                .await
                .context("the event never came")??;
            if let ServerMessage::Events { events } | ServerMessage::Done { events, .. } = message
                && let Some(event) = events.into_iter().find(&mut pick)
            {
                return Ok(event);
            }
        }
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        use futures_util::SinkExt;
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::text(text))
            .await?;
        Ok(())
    }

    /// Carries out a command: its events, or the engine's error.
    pub async fn command(
        &mut self,
        command: anchorage_shared::Command,
    ) -> Result<Result<Vec<anchorage_shared::Event>, anchorage_shared::EngineError>> {
        use anchorage_shared::protocol::{ClientMessage, ServerMessage};
        let id = self.next_id;
        self.next_id += 1;
        let frame = ClientMessage::Command {
            id,
            command: Box::new(command),
        }
        .to_json();
        self.send_text(&frame).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let message = tokio::time::timeout_at(deadline, self.next())
                .await
                .context("the command was never answered")??;
            match message {
                ServerMessage::Done { id: done, events } if done == id => return Ok(Ok(events)),
                ServerMessage::Error {
                    id: Some(failed),
                    engine_error,
                    message,
                    ..
                } if failed == id => {
                    return Ok(Err(
                        engine_error.unwrap_or(anchorage_shared::EngineError::Refused(message))
                    ));
                }
                _ => {}
            }
        }
    }
}

/// One message from the socket; `None` for frames that are not text.
async fn read(socket: &mut Socket) -> Result<Option<anchorage_shared::protocol::ServerMessage>> {
    use futures_util::StreamExt;
    let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
        .await
        .context("the server said nothing for 30 s")?
        .context("the server closed the connection")??;
    Ok(match frame {
        tokio_tungstenite::tungstenite::Message::Text(text) => Some(
            serde_json::from_str(&text)
                .with_context(|| format!("a message that does not decode: {text}"))?,
        ),
        _ => None,
    })
}

/// A data directory of its own; every container in it is removed (and
/// checked gone) when the scene ends.
pub struct Scene {
    dir: tempfile::TempDir,
}

impl Default for Scene {
    fn default() -> Self {
        Scene::new()
    }
}

impl Scene {
    pub fn new() -> Scene {
        Scene {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A scratch directory of its own, beside the data directory.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Its data directory (under a private directory: nothing on the
    /// way needs to be open to containers).
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(anchorage_bin());
        command
            .args(args)
            .env("ANCHORAGE_DATA_DIR", self.data())
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read as it comes (a full pipe would stall the command).
        let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                bytes
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("piped")));
        let stderr = drain(Box::new(child.stderr.take().expect("piped")));
        // No test command takes long; a hang fails instead of blocking.
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("anchorage {args:?} did not finish in 60 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        std::process::Output {
            status,
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        }
    }

    /// Stdout of a command that must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "anchorage {args:?} failed ({:?}): {}{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    pub fn inspect(&self, container: &str) -> serde_json::Value {
        let json: serde_json::Value =
            serde_json::from_str(&self.ok(&["inspect", container])).unwrap();
        json[0].clone()
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let ids = self.run(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.run(&["rm", "-f", id]);
        }
    }
}

/// `POST path` with `body` to a server: the status and the body.
pub async fn http_post(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// A root file system tarball of Debian's static busybox (`bin/busybox`,
/// and `bin/sh` linked to it), made in `dir`.
pub fn busybox_tarball(dir: &Path) -> PathBuf {
    let root = dir.join("busybox-root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    let _ = std::os::unix::fs::symlink("busybox", root.join("bin/sh"));
    let tarball = dir.join("busybox.tar");
    tar_dir(&root, &tarball);
    tarball
}

/// Packs the tree under `root` into the tarball `to` with GNU tar.
pub fn tar_dir(root: &Path, to: &Path) {
    let tar = std::process::Command::new("tar")
        .arg("-C")
        .arg(root)
        .arg("-cf")
        .arg(to)
        .arg(".")
        .status()
        .unwrap();
    assert!(tar.success(), "tar made no tarball of {}", root.display());
}

/// Whether a process has ended: gone, or a zombie (of whoever reaps
/// orphans here).
pub fn process_ended(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// A data directory for real containers that removes every container
/// made in it when dropped, even when a test fails half-way: no cgroup,
/// mount or process outlives the test.
pub struct DataDir {
    dir: tempfile::TempDir,
}

impl DataDir {
    pub fn new() -> Result<DataDir> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        // Supervisors and rootless users read it.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        Ok(DataDir { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let run = |args: &[&str]| {
            std::process::Command::new(anchorage_bin())
                .args(args)
                .env("ANCHORAGE_DATA_DIR", self.dir.path())
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
        };
        if let Ok(ids) = run(&["ps", "-aq"]) {
            for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
                let _ = run(&["rm", "-f", id]);
            }
        }
    }
}
