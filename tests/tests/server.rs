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
