//! The server over its websocket, as any client sees it.

use anchorage_shared::container::ContainerSpec;
use anchorage_shared::protocol::{ClientMessage, ErrorCode, PROTOCOL_VERSION, ServerMessage};
use anchorage_shared::{Command, EngineError, EngineKind, Event};
use anchorage_tests::Server;
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
    let ServerMessage::Snapshot { snapshot } = next_message(&mut socket).await else {
        panic!("the second message is a snapshot");
    };
    assert!(snapshot.containers.is_empty());
    assert!(
        snapshot
            .images
            .iter()
            .any(|i| i.names.contains(&"workshop".to_string()))
    );

    let mut spec = ContainerSpec::new("workshop");
    spec.name = Some("web".into());
    spec.command = vec!["sleep".into(), "600".into()];
    send(
        &mut socket,
        &ClientMessage::Command {
            id: 1,
            command: Box::new(Command::Run { spec }),
        },
    )
    .await;
    let done = wait_for(&mut socket, |m| {
        matches!(m, ServerMessage::Done { id: 1, .. })
    })
    .await;
    let ServerMessage::Done { events, .. } = done else {
        unreachable!()
    };
    assert!(matches!(&events[0], Event::ContainerCreated { name, .. } if name == "web"));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::ContainerStarted { .. }))
    );

    let snapshot = wait_for(&mut socket, |m| {
        matches!(m, ServerMessage::Snapshot { snapshot } if snapshot.container("web").is_some())
    })
    .await;
    let ServerMessage::Snapshot { snapshot } = snapshot else {
        unreachable!()
    };
    let web = snapshot.container("web").unwrap();
    let init = snapshot.process(web.init_pid.unwrap()).unwrap();
    assert_eq!(init.inner_pid(), 1);
    assert_ne!(init.pid, 1);

    // A second client sees the same host.
    let (mut other, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    next_message(&mut other).await;
    let ServerMessage::Snapshot { snapshot } = next_message(&mut other).await else {
        panic!("snapshot");
    };
    assert!(snapshot.container("web").is_some());
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
    if !nix_is_root() {
        eprintln!("skipped: real containers need root here");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Server::start_with_env(
        &["--listen", "127.0.0.1:0", "--engine", "real"],
        &[("ANCHORAGE_DATA_DIR", data.path())],
    )
    .await
    .unwrap();
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    let ServerMessage::Hello { engine, .. } = next_message(&mut socket).await else {
        panic!("hello first");
    };
    assert_eq!(engine.kind, EngineKind::Real);
    let mut spec = ContainerSpec::new("workshop");
    spec.name = Some("live".into());
    spec.command = vec!["sleep".into(), "100".into()];
    send(
        &mut socket,
        &ClientMessage::Command {
            id: 1,
            command: Box::new(Command::Run { spec }),
        },
    )
    .await;
    let snapshot = wait_for(&mut socket, |m| {
        matches!(m, ServerMessage::Snapshot { snapshot } if snapshot.container("live").is_some_and(|c| c.init_pid.is_some()))
    })
    .await;
    let ServerMessage::Snapshot { snapshot } = snapshot else {
        unreachable!()
    };
    let live = snapshot.container("live").unwrap();
    let init = snapshot.process(live.init_pid.unwrap()).unwrap();
    assert_eq!(init.ns_pids.last(), Some(&1), "PID 1 inside");
    assert!(live.namespaces.len() >= 7);
    send(
        &mut socket,
        &ClientMessage::Command {
            id: 2,
            command: Box::new(Command::Remove {
                container: "live".into(),
                force: true,
            }),
        },
    )
    .await;
    wait_for(&mut socket, |m| {
        matches!(m, ServerMessage::Events { events } if events.iter().any(|e| matches!(e, Event::ContainerRemoved { .. })))
    })
    .await;
    server.stop().await.unwrap();
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|ids| ids.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
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
