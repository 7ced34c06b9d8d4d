//! The server over its websocket, as any client sees it.

use anchorage_shared::container::ContainerSpec;
use anchorage_shared::protocol::{ClientMessage, ErrorCode, PROTOCOL_VERSION, ServerMessage};
use anchorage_shared::{Command, EngineError, EngineKind, Event};
use anchorage_tests::http_post;
use anchorage_tests::{DataDir, LiveClient, Server};

const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_message(socket: &mut Socket) -> ServerMessage {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("the server answers within 10 s")
            .expect("the connection stays open")
            .expect("frames are valid");
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).expect("server messages decode");
        }
    }
}

/// Reads until a message matches, skipping pushed snapshots and events.
async fn wait_for(
    socket: &mut Socket,
    mut pick: impl FnMut(&ServerMessage) -> bool,
) -> ServerMessage {
    for _ in 0..200 {
        let message = next_message(socket).await;
        if pick(&message) {
            return message;
        }
    }
    panic!("the expected message never came");
}

async fn send(socket: &mut Socket, message: &ClientMessage) {
    socket
        .send(Message::text(message.to_json()))
        .await
        .expect("send");
}

#[tokio::test]
async fn a_client_gets_hello_and_a_snapshot_then_runs_a_container() {
    let server = Server::start().await.unwrap();
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    let ServerMessage::Hello { protocol, engine } = next_message(&mut socket).await else {
        panic!("the first message is hello");
    };
    assert_eq!(protocol, PROTOCOL_VERSION);
    assert_eq!(engine.kind, EngineKind::Simulated);
    let ServerMessage::Snapshot { snapshot, .. } = next_message(&mut socket).await else {
        panic!("the second message is a snapshot");
    };
    assert!(snapshot.containers.is_empty());
    assert!(
        snapshot
            .images
            .iter()
            .any(|i| i.names.contains(&"workshop".to_string()))
    );
    drop(socket);

    let mut client = LiveClient::connect(&server).await.unwrap();
    let mut spec = ContainerSpec::new("workshop");
    spec.name = Some("web".into());
    spec.command = vec!["sleep".into(), "600".into()];
    let events = client
        .command(Command::Run { spec })
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(&events[0], Event::ContainerCreated { name, .. } if name == "web"));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::ContainerStarted { .. }))
    );

    // The container arrives as a delta onto the first snapshot.
    let state = client
        .wait_state(TIMEOUT, |s| s.container("web").is_some())
        .await
        .unwrap();
    let web = state.container("web").unwrap();
    let init = state.process(web.init_pid.unwrap()).unwrap();
    assert_eq!(init.inner_pid(), 1);
    assert_ne!(init.pid, 1);
    assert!(state.cgroup(&web.cgroup).is_some());

    // A second client sees the same host, and both agree sample by sample.
    let mut other = LiveClient::connect(&server).await.unwrap();
    assert!(other.state.container("web").is_some());
    let events = client
        .command(Command::Exec {
            container: "web".into(),
            argv: vec!["sleep".into(), "300".into()],
        })
        .await
        .unwrap()
        .unwrap();
    let Some(Event::ProcessStarted { pid, .. }) = events.first().cloned() else {
        panic!("{events:?}")
    };
    let seen = other
        .wait_state(TIMEOUT, |s| s.process(pid).is_some())
        .await
        .unwrap()
        .clone();
    let mine = client
        .wait_state(TIMEOUT, |s| s.process(pid).is_some())
        .await
        .unwrap();
    assert_eq!(seen.process(pid), mine.process(pid));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn deltas_carry_only_what_changed() {
    let server = Server::start().await.unwrap();
    let mut client = LiveClient::connect(&server).await.unwrap();
    for name in ["idle-1", "idle-2", "idle-3"] {
        let mut spec = ContainerSpec::new("workshop");
        spec.name = Some(name.into());
        spec.command = vec!["sleep".into(), "6000".into()];
        client
            .command(Command::Run { spec })
            .await
            .unwrap()
            .unwrap();
    }
    let mut spec = ContainerSpec::new("workshop");
    spec.name = Some("busy".into());
    spec.command = vec!["cpuburn".into()];
    client
        .command(Command::Run { spec })
        .await
        .unwrap()
        .unwrap();
    client
        .wait_state(TIMEOUT, |s| s.containers.len() == 4)
        .await
        .unwrap();
    let busy_id = client.state.container("busy").unwrap().id.clone();
    // A few samples later: each delta names the busy container's process
    // and cgroup, never the idle ones.
    let mut deltas = 0;
    while deltas < 4 {
        if let ServerMessage::Delta { delta, .. } = client.next().await.unwrap() {
            deltas += 1;
            for process in &delta.processes.changed {
                assert_eq!(process.container.as_deref(), Some(busy_id.as_str()));
            }
            assert!(delta.containers.is_empty() || deltas == 1, "{delta:?}");
        }
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_server_holds_at_most_its_cap_of_containers() {
    let server = Server::start_with(&[
        "--listen",
        "127.0.0.1:0",
        "--engine",
        "simulated",
        "--token",
        anchorage_tests::TEST_TOKEN,
        "--max-containers",
        "2",
    ])
    .await
    .unwrap();
    let mut client = LiveClient::connect(&server).await.unwrap();
    let run = |name: &str| {
        let mut spec = ContainerSpec::new("workshop");
        spec.name = Some(name.into());
        spec.command = vec!["sleep".into(), "600".into()];
        Command::Run { spec }
    };
    client.command(run("one")).await.unwrap().unwrap();
    client.command(run("two")).await.unwrap().unwrap();
    let refused = client.command(run("three")).await.unwrap().unwrap_err();
    let EngineError::Refused(reason) = refused else {
        panic!("{refused:?}")
    };
    assert!(reason.contains("at most 2 containers"), "{reason}");
    assert!(reason.contains("--max-containers"), "{reason}");
    // Room again once one is gone.
    client
        .command(Command::Remove {
            container: "one".into(),
            force: true,
        })
        .await
        .unwrap()
        .unwrap();
    client.command(run("three")).await.unwrap().unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bad_messages_get_errors_and_the_connection_lives_on() {
    let server = Server::start().await.unwrap();
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    next_message(&mut socket).await;
    next_message(&mut socket).await;

    socket.send(Message::text("{not json")).await.unwrap();
    let error = wait_for(&mut socket, |m| matches!(m, ServerMessage::Error { .. })).await;
    assert!(matches!(
        error,
        ServerMessage::Error {
            code: ErrorCode::Malformed,
            id: None,
            ..
        }
    ));

    send(
        &mut socket,
        &ClientMessage::Hello {
            protocol: PROTOCOL_VERSION + 1,
        },
    )
    .await;
    let error = wait_for(&mut socket, |m| matches!(m, ServerMessage::Error { .. })).await;
    let ServerMessage::Error { code, message, .. } = error else {
        unreachable!()
    };
    assert_eq!(code, ErrorCode::Version);
    assert!(message.contains("reload"), "{message}");

    send(
        &mut socket,
        &ClientMessage::Command {
            id: 9,
            command: Box::new(Command::Kill {
                container: "ghost".into(),
                signal: anchorage_shared::process::Signal::Term,
            }),
        },
    )
    .await;
    let error = wait_for(&mut socket, |m| {
        matches!(m, ServerMessage::Error { id: Some(9), .. })
    })
    .await;
    let ServerMessage::Error { engine_error, .. } = error else {
        unreachable!()
    };
    assert_eq!(
        engine_error,
        Some(EngineError::NoSuchContainer("ghost".into()))
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn garbage_frames_never_take_the_server_down() {
    let server = Server::start().await.unwrap();
    let mut client = LiveClient::connect(&server).await.unwrap();
    let valid = ClientMessage::Command {
        id: 1,
        command: Box::new(Command::Kill {
            container: "nobody".into(),
            signal: anchorage_shared::process::Signal::Term,
        }),
    }
    .to_json();
    // Deterministic mutations of a valid frame: bytes replaced, cut and
    // repeated, plus an oversized frame and deep nesting.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut frames = Vec::new();
    for _ in 0..300 {
        let mut bytes = valid.clone().into_bytes();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = b"{}[]\",:0a\\"[(next() % 10) as usize],
                1 => {
                    bytes.truncate(at.max(1));
                }
                _ => {
                    let piece = bytes[at..].to_vec();
                    bytes.extend_from_slice(&piece);
                }
            }
        }
        frames.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    frames.push("x".repeat(anchorage_shared::protocol::MAX_MESSAGE_BYTES - 10));
    frames.push(format!(
        "{{\"type\":\"hello\",\"pad\":\"{}\"}}",
        "x".repeat(2 * anchorage_shared::protocol::MAX_MESSAGE_BYTES)
    ));
    frames.push(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)));
    for frame in &frames {
        client.send_text(frame).await.unwrap();
    }
    // Every frame is answered (an error, or the engine's answer to a
    // frame that still made sense), in order, and the server lives on.
    let mut answers = 0;
    let mut too_large = 0;
    while answers < frames.len() {
        match client.next().await.unwrap() {
            ServerMessage::Error { code, .. } => {
                answers += 1;
                too_large += usize::from(code == ErrorCode::TooLarge);
            }
            ServerMessage::Done { .. } => answers += 1,
            _ => {}
        }
    }
    assert_eq!(too_large, 1, "the oversized frame is refused as such");
    let mut spec = ContainerSpec::new("workshop");
    spec.name = Some("after".into());
    spec.command = vec!["sleep".into(), "5".into()];
    client
        .command(Command::Run { spec })
        .await
        .unwrap()
        .unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn pages_of_other_origins_cannot_open_the_socket() {
    let server = Server::start().await.unwrap();
    let mut request = server.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", HeaderValue::from_static("http://evil.example"));
    let err = tokio_tungstenite::connect_async(request).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");

    let mut request = server.ws_url().into_client_request().unwrap();
    let own = format!("http://{}", server.addr);
    request
        .headers_mut()
        .insert("Origin", HeaderValue::from_str(&own).unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_socket_and_the_state_need_the_token() {
    let server = Server::start().await.unwrap();
    // No token, a wrong one: refused (401).
    for url in [
        format!("ws://{}/ws", server.addr),
        format!("ws://{}/ws?token=guess-guess-guess-guess", server.addr),
    ] {
        let err = tokio_tungstenite::connect_async(url).await.unwrap_err();
        assert!(err.to_string().contains("401"), "{err}");
    }
    // The token in a header does as well as in the address.
    let mut request = format!("ws://{}/ws", server.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {}", server.token)).unwrap(),
    );
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());

    let (status, body) = http_get(server.addr, "/api/snapshot", None).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("?token="),
        "it says where the token is: {body}"
    );
    let (status, body) = http_get(
        server.addr,
        &format!("/api/snapshot?token={}", server.token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The page itself holds no state: it loads without the token.
    assert_eq!(http_get(server.addr, "/", None).await.0, 200);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn other_host_names_are_refused() {
    let server = Server::start().await.unwrap();
    // DNS rebinding: a name of another site, pointed at 127.0.0.1.
    let (status, body) = http_get(server.addr, "/", Some("evil.example:80")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not to the host name"), "{body}");
    let port = server.addr.port();
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        assert_eq!(
            http_get(server.addr, "/", Some(&host)).await.0,
            200,
            "{host}"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn listening_beyond_loopback_needs_a_chosen_token() {
    let output = tokio::process::Command::new(anchorage_tests::anchorage_bin())
        .args(["serve", "--listen", "0.0.0.0:0", "--engine", "simulated"])
        .env_remove("ANCHORAGE_TOKEN")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("give a --token"), "{stderr}");
    let output = tokio::process::Command::new(anchorage_tests::anchorage_bin())
        .args(["serve", "--token", "short", "--engine", "simulated"])
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("at least 16"));
}

#[tokio::test]
async fn as_root_the_server_runs_real_containers() {
    if !anchorage_tests::runnable(&[anchorage_tests::Need::Root]) {
        return;
    }
    let data = DataDir::new().unwrap();
    let server = Server::start_with_env(
        &["--listen", "127.0.0.1:0", "--engine", "real"],
        &[("ANCHORAGE_DATA_DIR", data.path())],
    )
    .await
    .unwrap();
    let mut client = LiveClient::connect(&server).await.unwrap();
    assert_eq!(client.engine.kind, EngineKind::Real);
    let mut spec = ContainerSpec::new("workshop");
    spec.name = Some("live".into());
    spec.command = vec!["sleep".into(), "100".into()];
    client
        .command(Command::Run { spec })
        .await
        .unwrap()
        .unwrap();
    let state = client
        .wait_state(TIMEOUT, |s| {
            s.container("live")
                .and_then(|c| c.init_pid)
                .is_some_and(|pid| s.process(pid).is_some())
        })
        .await
        .unwrap();
    let live = state.container("live").unwrap();
    let init = state.process(live.init_pid.unwrap()).unwrap();
    assert_eq!(init.ns_pids.last(), Some(&1), "PID 1 inside");
    assert!(live.namespaces.len() >= 7);
    // It asked for no limits: the server's defaults hold it.
    assert_eq!(live.limits.memory_max, Some(512 << 20));
    assert_eq!(live.limits.pids_max, Some(512));
    assert_eq!(live.limits.cpu_max.cpus(), Some(1.0));
    client
        .command(Command::Remove {
            container: "live".into(),
            force: true,
        })
        .await
        .unwrap()
        .unwrap();
    client
        .wait_state(TIMEOUT, |s| s.container("live").is_none())
        .await
        .unwrap();

    // A process inside that the OOM killer kills arrives as an event at
    // once, and the cgroup's counters say so in the next sample.
    let mut spec = ContainerSpec::new("workshop");
    spec.name = Some("tight".into());
    spec.command = vec!["sleep".into(), "100".into()];
    spec.limits.memory_max = Some(32 << 20);
    client
        .command(Command::Run { spec })
        .await
        .unwrap()
        .unwrap();
    let events = client
        .command(Command::Exec {
            container: "tight".into(),
            argv: vec!["memhog".into(), "200m".into()],
        })
        .await
        .unwrap()
        .unwrap();
    let Some(Event::ProcessStarted { pid: hog, .. }) = events.first().cloned() else {
        panic!("{events:?}")
    };
    let oom = client
        .wait_event(TIMEOUT, |e| matches!(e, Event::OomKill { .. }))
        .await
        .unwrap();
    let Event::OomKill { pid, container, .. } = oom else {
        unreachable!()
    };
    assert_eq!(pid, hog, "the exec'd memhog is the one killed");
    let tight = client
        .wait_state(TIMEOUT, |s| {
            s.container("tight")
                .and_then(|c| s.cgroup(&c.cgroup))
                .is_some_and(|g| g.usage.oom_kill >= 1)
        })
        .await
        .unwrap()
        .container("tight")
        .unwrap();
    assert_eq!(Some(&tight.id), container.as_ref());
    assert!(tight.init_pid.is_some(), "the init lives on");
    client
        .command(Command::Remove {
            container: "tight".into(),
            force: true,
        })
        .await
        .unwrap()
        .unwrap();
    server.stop().await.unwrap();
}

/// A plain HTTP/1.1 GET over loopback: status and body.
async fn http_get(addr: std::net::SocketAddr, path: &str, host: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let host = host.map_or(addr.to_string(), str::to_string);
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
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

#[tokio::test]
async fn prometheus_reads_the_containers_under_cadvisors_names() {
    let server = Server::start().await.unwrap();
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    let mut spec = ContainerSpec::new("workshop");
    spec.name = Some("capped".into());
    spec.command = vec!["sleep".into(), "600".into()];
    spec.limits.memory_max = Some(64 << 20);
    send(
        &mut socket,
        &ClientMessage::Command {
            id: 1,
            command: Box::new(Command::Run { spec }),
        },
    )
    .await;
    wait_for(&mut socket, |m| {
        matches!(m, ServerMessage::Done { id: 1, .. })
    })
    .await;
    assert_eq!(http_get(server.addr, "/metrics", None).await.0, 401);
    // The published snapshot follows the command within a tick.
    let mut body = String::new();
    for _ in 0..50 {
        let (status, text) = http_get(
            server.addr,
            &format!("/metrics?token={}", server.token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{text}");
        body = text;
        if body.contains("name=\"capped\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        body.contains("# TYPE container_memory_usage_bytes gauge"),
        "{body}"
    );
    let limit = body
        .lines()
        .find(|l| {
            l.starts_with("container_spec_memory_limit_bytes{") && l.contains("name=\"capped\"")
        })
        .unwrap_or_else(|| panic!("{body}"));
    assert!(limit.ends_with(&format!(" {}", 64u64 << 20)), "{limit}");
    assert!(limit.contains("image=\"workshop\""), "{limit}");
    server.stop().await.unwrap();
}

/// A terminal's output as it comes, read up to what a test waits for.
struct Screen {
    terminal: u64,
    pending: String,
}

impl Screen {
    /// The output up to and including the first `want`, waiting at most
    /// 15 s for it; what follows stays for the next read.
    async fn read_until(&mut self, client: &mut LiveClient, want: &str) -> String {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        while !self.pending.contains(want) {
            let message = tokio::time::timeout_at(deadline, client.next())
                .await
                .unwrap_or_else(|_| {
                    panic!("no {want:?} on the terminal; it showed {:?}", self.pending)
                })
                .unwrap();
            if let ServerMessage::Events { events } = message {
                for event in events {
                    match event {
                        Event::TerminalOutput { terminal, data } if terminal == self.terminal => {
                            self.pending.push_str(&data.text())
                        }
                        Event::TerminalExited { terminal, status } if terminal == self.terminal => {
                            panic!(
                                "the terminal closed ({status}); it showed {:?}",
                                self.pending
                            )
                        }
                        _ => {}
                    }
                }
            }
        }
        let end = self.pending.find(want).unwrap() + want.len();
        self.pending.drain(..end).collect()
    }
}

#[tokio::test]
async fn as_root_a_terminal_into_a_container() {
    if !anchorage_tests::runnable(&[anchorage_tests::Need::Root]) {
        return;
    }
    use anchorage_shared::engine::TerminalSize;
    let data = DataDir::new().unwrap();
    let server = Server::start_with_env(
        &["--listen", "127.0.0.1:0", "--engine", "real"],
        &[("ANCHORAGE_DATA_DIR", data.path())],
    )
    .await
    .unwrap();
    let mut client = LiveClient::connect(&server).await.unwrap();
    let mut spec = ContainerSpec::new("workshop");
    spec.name = Some("box".into());
    spec.command = vec!["sleep".into(), "1000".into()];
    client
        .command(Command::Run { spec })
        .await
        .unwrap()
        .unwrap();
    let events = client
        .command(Command::OpenTerminal {
            container: "box".into(),
            argv: Vec::new(),
            size: TerminalSize { cols: 80, rows: 24 },
        })
        .await
        .unwrap()
        .unwrap();
    let Some(Event::TerminalOpened { terminal, pid, .. }) = events
        .iter()
        .find(|e| matches!(e, Event::TerminalOpened { .. }))
        .cloned()
    else {
        panic!("{events:?}")
    };
    let mut screen = Screen {
        terminal,
        pending: String::new(),
    };
    // The shell's prompt, as container root.
    screen.read_until(&mut client, "/ # ").await;

    // What is typed is echoed by the terminal and run by the shell.
    let input = |data: &str| Command::TerminalInput {
        terminal,
        data: data.into(),
    };
    client.command(input("echo $$\r")).await.unwrap().unwrap();
    let shown = screen.read_until(&mut client, "/ # ").await;
    assert!(shown.contains("echo $$\r\n"), "{shown:?}");
    // The shell's pid inside is not 1 (that is the container's init), and
    // the host sees the same process under its own pid.
    let inner: u32 = shown
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("{shown:?}"));
    assert_ne!(inner, 1);
    let state = client
        .wait_state(TIMEOUT, |s| s.process(pid).is_some())
        .await
        .unwrap();
    assert_eq!(state.process(pid).unwrap().inner_pid(), inner);

    // A resize reaches the terminal's programs.
    client
        .command(Command::ResizeTerminal {
            terminal,
            size: TerminalSize {
                cols: 132,
                rows: 43,
            },
        })
        .await
        .unwrap()
        .unwrap();
    client.command(input("stty size\r")).await.unwrap().unwrap();
    let shown = screen.read_until(&mut client, "43 132").await;
    assert!(shown.contains("43 132"), "{shown:?}");
    screen.read_until(&mut client, "/ # ").await;

    // Ctrl-C interrupts the command, not the shell.
    client.command(input("sleep 300\r")).await.unwrap().unwrap();
    screen.read_until(&mut client, "sleep 300\r\n").await;
    client.command(input("\u{3}")).await.unwrap().unwrap();
    screen.read_until(&mut client, "/ # ").await;
    client
        .command(input("echo still here\r"))
        .await
        .unwrap()
        .unwrap();
    screen.read_until(&mut client, "still here\r\n").await;

    // A flood of output on the terminal reaches it whole, and puts no
    // other viewer behind: it does not go through their channel.
    let mut viewer = LiveClient::connect(&server).await.unwrap();
    client
        .command(input(
            "cat /bin/toolbox /bin/toolbox /bin/toolbox /bin/toolbox; echo \"flood\"-done\r",
        ))
        .await
        .unwrap()
        .unwrap();
    let flood = screen.read_until(&mut client, "flood-done\r\n").await;
    let magic_in_four = flood.matches("\u{7f}ELF").count();
    assert!(magic_in_four >= 4, "{magic_in_four}");
    screen.read_until(&mut client, "/ # ").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while let Ok(message) = tokio::time::timeout_at(deadline, viewer.next()).await {
        match message.unwrap() {
            ServerMessage::Snapshot { .. } => panic!("a viewer was resynchronised"),
            ServerMessage::Events { events } => assert!(
                events.iter().all(|e| e.terminal().is_none()),
                "another connection's terminal output reached a viewer"
            ),
            _ => {}
        }
    }

    // A client that does not read for a while loses nothing: the terminal
    // is held (its program blocks) until the client has room again.
    client
        .command(input(
            "cat /bin/toolbox /bin/toolbox /bin/toolbox /bin/toolbox /bin/toolbox /bin/toolbox; echo \"held\"-done\r",
        ))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let shown = screen.read_until(&mut client, "held-done\r\n").await;
    assert_eq!(
        shown.matches("\u{7f}ELF").count(),
        magic_in_four / 4 * 6,
        "every copy of the binary came through"
    );
    screen.read_until(&mut client, "/ # ").await;

    // Another connection can neither see nor type on it.
    let mut other = LiveClient::connect(&server).await.unwrap();
    let refused = other.command(input("exit\r")).await.unwrap().unwrap_err();
    assert!(
        matches!(&refused, EngineError::Refused(r) if r.contains("not open on this connection")),
        "{refused:?}"
    );

    // `exit` ends the shell and the terminal.
    client.command(input("exit 3\r")).await.unwrap().unwrap();
    let exited = client
        .wait_event(TIMEOUT, |e| matches!(e, Event::TerminalExited { .. }))
        .await
        .unwrap();
    assert!(
        matches!(exited, Event::TerminalExited { terminal: t, status: anchorage_shared::process::ExitStatus::Code(3) } if t == terminal),
        "{exited:?}"
    );
    // Gone: typing on it is refused.
    assert!(client.command(input("x")).await.unwrap().is_err());

    // A client that leaves hangs up its terminals.
    let events = other
        .command(Command::OpenTerminal {
            container: "box".into(),
            argv: vec!["sleep".into(), "500".into()],
            size: TerminalSize::default(),
        })
        .await
        .unwrap()
        .unwrap();
    let Some(Event::ProcessStarted { pid: sleeper, .. }) = events.first().cloned() else {
        panic!("{events:?}")
    };
    drop(other);
    client
        .wait_state(TIMEOUT, |s| s.process(sleeper).is_none())
        .await
        .unwrap();
    server.stop().await.unwrap();
}

/// A runc container of its own, removed when dropped.
struct RuncContainer {
    id: String,
    _bundle: tempfile::TempDir,
}

impl RuncContainer {
    fn start() -> Option<RuncContainer> {
        let busybox = std::path::Path::new("/bin/busybox");
        if !busybox.exists() || !std::path::Path::new("/usr/sbin/runc").exists() {
            return None;
        }
        let bundle = tempfile::tempdir().unwrap();
        let root = bundle.path().join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        for dir in ["proc", "dev", "sys", "tmp"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
        let spec = std::process::Command::new("runc")
            .arg("spec")
            .current_dir(bundle.path())
            .status()
            .unwrap();
        assert!(spec.success());
        let path = bundle.path().join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        config["process"]["terminal"] = false.into();
        config["process"]["args"] = serde_json::json!(["/bin/busybox", "sleep", "1000"]);
        std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
        let id = format!("anchorage-test-{}", std::process::id());
        let run = std::process::Command::new("runc")
            .args(["run", "-d", "--bundle"])
            .arg(bundle.path())
            .arg(&id)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .status()
            .unwrap();
        assert!(run.success(), "runc run failed");
        Some(RuncContainer {
            id,
            _bundle: bundle,
        })
    }

    fn init_pid(&self) -> u32 {
        let state = std::process::Command::new("runc")
            .args(["state", &self.id])
            .output()
            .unwrap();
        let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
        state["pid"].as_u64().unwrap() as u32
    }
}

impl Drop for RuncContainer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("runc")
            .args(["delete", "-f", &self.id])
            .status();
    }
}

#[tokio::test]
async fn as_root_the_host_view_shows_other_runtimes_containers() {
    use anchorage_tests::Need::{Root, Tool};
    if !anchorage_tests::runnable(&[Root, Tool("/usr/sbin/runc"), Tool("/bin/busybox")]) {
        return;
    }
    let Some(runc) = RuncContainer::start() else {
        panic!("runc could not start a container");
    };
    let init = runc.init_pid();
    let data = DataDir::new().unwrap();
    let server = Server::start_with_env(
        &["--listen", "127.0.0.1:0", "--engine", "real"],
        &[("ANCHORAGE_DATA_DIR", data.path())],
    )
    .await
    .unwrap();
    let mut client = LiveClient::connect(&server).await.unwrap();
    let state = client
        .wait_state(TIMEOUT, |s| {
            s.host
                .as_ref()
                .is_some_and(|h| h.others.iter().any(|c| c.id == runc.id))
        })
        .await
        .unwrap();
    let host = state.host.as_ref().unwrap();
    let theirs = host.others.iter().find(|c| c.id == runc.id).unwrap();
    assert_eq!(theirs.runtime, "runc");
    assert_eq!(theirs.init_pid, Some(init));
    assert!(theirs.pids.contains(&init));
    // Its namespaces are its own, not the host's, and the host view lists
    // them among every namespace on the host.
    let own: u64 = std::fs::read_link("/proc/self/ns/pid")
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("pid:[")
        .trim_end_matches(']')
        .parse()
        .unwrap();
    let host_pid_ns = host
        .namespaces
        .iter()
        .find(|n| n.id.inode == own)
        .map(|n| n.id)
        .expect("the host's own pid namespace is listed");
    let their_pid_ns = theirs
        .namespaces
        .iter()
        .find(|n| n.kind == anchorage_shared::namespace::NamespaceKind::Pid)
        .copied()
        .unwrap();
    assert_ne!(their_pid_ns, host_pid_ns);
    assert!(host.own_namespaces.contains(&host_pid_ns));
    let listed = host
        .namespaces
        .iter()
        .find(|n| n.id == their_pid_ns)
        .unwrap();
    assert_eq!(listed.pid, init);
    assert!(theirs.usage.is_some_and(|u| u.memory_current > 0));
    assert!(host.processes > 10);
    assert!(host.cgroups.iter().any(|g| g.processes > 0));
    // Read-only: the engine does not know it as one of its own.
    let refused = client
        .command(Command::Kill {
            container: runc.id.clone(),
            signal: anchorage_shared::process::Signal::Kill,
        })
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(refused, EngineError::NoSuchContainer(_)),
        "{refused:?}"
    );
    // Gone from the view once runc removes it.
    let id = runc.id.clone();
    drop(runc);
    client
        .wait_state(TIMEOUT, |s| {
            s.host
                .as_ref()
                .is_some_and(|h| !h.others.iter().any(|c| c.id == id))
        })
        .await
        .unwrap();
    server.stop().await.unwrap();
}

/// A plain HTTP/1.1 POST over loopback: status and body.
#[tokio::test]
async fn the_simulated_kernel_takes_no_uploads() {
    let server = Server::start().await.unwrap();
    let path = format!("/api/images?file=x.tar&token={}", server.token);
    let (status, body) = http_post(server.addr, &path, b"anything").await;
    assert_eq!(status, 501, "{body}");
    assert!(body.contains("--engine real"), "{body}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn as_root_an_uploaded_image_runs_a_container() {
    use anchorage_tests::Need::{Root, Tool};
    if !anchorage_tests::runnable(&[Root, Tool("/bin/busybox")]) {
        return;
    }
    let data = DataDir::new().unwrap();
    let server = Server::start_with_env(
        &["--listen", "127.0.0.1:0", "--engine", "real"],
        &[("ANCHORAGE_DATA_DIR", data.path())],
    )
    .await
    .unwrap();
    let mut client = LiveClient::connect(&server).await.unwrap();
    let images_before = client.state.images.len();

    // Without the token: refused, whatever the body.
    let (status, _) = http_post(server.addr, "/api/images?file=bb.tar", b"x").await;
    assert_eq!(status, 401);

    // Not an image: refused with the reason, on the socket too, and
    // nothing kept.
    let token = &server.token;
    let (status, body) = http_post(
        server.addr,
        &format!("/api/images?file=junk.tar&token={token}"),
        b"this is not a tarball at all",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("junk.tar"), "{body}");
    assert!(!body.contains("uploads/"), "no server paths: {body}");
    let failed = client
        .wait_event(TIMEOUT, |e| matches!(e, Event::ImageImportFailed { .. }))
        .await
        .unwrap();
    assert!(matches!(failed, Event::ImageImportFailed { file, .. } if file == "junk.tar"));
    let leftovers = std::fs::read_dir(data.path().join("uploads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0, "the refused upload left files");

    // A root file system tarball: busybox.
    let work = tempfile::tempdir().unwrap();
    let tarball = anchorage_tests::busybox_tarball(work.path());
    let bytes = std::fs::read(&tarball).unwrap();
    let (status, body) = http_post(
        server.addr,
        &format!("/api/images?file=bb.tar&name=bb%3A1&token={token}"),
        &bytes,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer[0]["names"][0], "bb:1", "{body}");
    let imported = client
        .wait_event(TIMEOUT, |e| matches!(e, Event::ImageImported { .. }))
        .await
        .unwrap();
    assert!(
        matches!(&imported, Event::ImageImported { names, .. } if names.contains(&"bb:1".to_string())),
        "{imported:?}"
    );
    client
        .wait_state(TIMEOUT, |s| s.images.len() == images_before + 1)
        .await
        .unwrap();

    // And a container runs from it.
    let mut spec = ContainerSpec::new("bb:1");
    spec.name = Some("from-upload".into());
    spec.command = vec!["/bin/busybox".into(), "echo".into(), "uploaded".into()];
    client
        .command(Command::Run { spec })
        .await
        .unwrap()
        .unwrap();
    let output = client
        .wait_event(
            TIMEOUT,
            |e| matches!(e, Event::Output { data, .. } if data.text().contains("uploaded")),
        )
        .await;
    assert!(output.is_ok(), "{output:?}");
    server.stop().await.unwrap();
}
