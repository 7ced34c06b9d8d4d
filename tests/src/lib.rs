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

    /// Stops the server and waits until it is gone.
    pub async fn stop(mut self) -> Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn is_root() -> bool {
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

    /// Ends the session and chromedriver.
    pub async fn close(mut self) -> Result<()> {
        let result = self.client.clone().close().await;
        let _ = self.driver.kill().await;
        result.context("closing the browser session")
    }
}
