//! One websocket connection: hello and a snapshot on connect, then every
//! published update, and the client's commands answered in order. A
//! command waiting for the engine never holds back the connection's
//! updates: its answer is awaited beside them.

use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesOrdered, SplitSink};
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use anchorage_shared::protocol::{
    ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, ServerMessage,
};
use anchorage_shared::{Command, EngineError, Event};

use super::AppState;
use super::hub::{Hub, OutputSink, ROUTED_BUFFER, RoutedMessage, Update};
use anchorage_shared::engine::OutputSource;

/// Upgrades `/ws`, refusing pages of other origins (cross-site websocket
/// hijacking: a page elsewhere must not drive this host's containers).
pub(super) async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    ws: WebSocketUpgrade,
) -> Response {
    if !state.authorized(&headers, uri.query()) {
        return super::unauthorized();
    }
    if let Err(reason) = check_origin(&state, &headers) {
        return (StatusCode::FORBIDDEN, reason).into_response();
    }
    // Frames up to 16 times the protocol's limit are read, so that an
    // oversized message gets a `too_large` reply; beyond that the
    // connection closes before the server holds it in memory.
    ws.max_message_size(MAX_MESSAGE_BYTES * 16)
        .max_frame_size(MAX_MESSAGE_BYTES * 16)
        // Clients send small commands; a large read buffer would be
        // zeroed on every poll of every connection (measured: a tenth of
        // the server's CPU with 200 viewers at the default 128 KiB).
        .read_buffer_size(4096)
        .on_upgrade(move |socket| session(socket, state.hub))
}

/// Browsers send `Origin` on websocket requests; it must name this server.
/// Clients that are not browsers send none and are let through.
fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), String> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin = origin.to_str().unwrap_or("");
    if state.names.origin_ok(origin, host) {
        Ok(())
    } else {
        Err(format!(
            "websocket refused: the page's origin {origin:?} is not this server ({}); open the UI from this server's own address\n",
            state.names
        ))
    }
}

/// How long a client may take to accept one message before it is dropped:
/// a stuck client must not keep its connection (and its memory) forever.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

async fn session(socket: WebSocket, hub: Hub) {
    let (mut sink, mut stream) = socket.split();
    let mut updates = hub.subscribe();
    // The terminals this client opened: only it sees and types on them.
    // Their events, and the output of what it exec'd, come on a channel
    // of its own.
    let mut terminals: HashSet<u64> = HashSet::new();
    let (own, mut routed) = tokio::sync::mpsc::channel::<RoutedMessage>(ROUTED_BUFFER);
    let (mut seq, snapshot) = hub.snapshot_message();
    for message in [hub.hello_json(), snapshot] {
        if !send(&mut sink, &message).await {
            return;
        }
    }
    // Commands sent to the engine, their answers awaited in order.
    let mut answers: FuturesOrdered<BoxFuture<'static, Answer>> = FuturesOrdered::new();
    loop {
        tokio::select! {
            Some(answer) = answers.next(), if !answers.is_empty() => {
                let reply = reply(answer, &mut terminals);
                if !send(&mut sink, &reply.to_json()).await {
                    break;
                }
            }
            update = updates.recv() => {
                let message = match update {
                    Ok(Update::Events(json)) => json,
                    // Already in the snapshot this client has.
                    Ok(Update::Delta { to, .. }) if to <= seq => continue,
                    Ok(Update::Delta { from, to, json }) if from == seq => {
                        seq = to;
                        json
                    }
                    // Too slow to keep up (or a gap): skip to the present,
                    // coalescing everything missed into one snapshot.
                    Ok(Update::Delta { .. }) | Err(RecvError::Lagged(_)) => {
                        let (now, snapshot) = hub.snapshot_message();
                        seq = now;
                        snapshot
                    }
                    Err(RecvError::Closed) => break,
                };
                // The hub answers a command before it publishes what the
                // command caused: an answer ready now goes out first.
                if !send_ready(&mut answers, &mut sink, &mut terminals).await
                    || !send(&mut sink, &message).await
                {
                    break;
                }
            }
            Some(message) = routed.recv() => {
                // A terminal's output after the answer that opened it.
                if !send_ready(&mut answers, &mut sink, &mut terminals).await {
                    break;
                }
                if let (true, OutputSource::Terminal(id)) = (message.ended, message.source) {
                    terminals.remove(&id);
                }
                if !send(&mut sink, &message.json).await {
                    break;
                }
            }
            // A client with many commands in flight is read no further
            // until they are answered.
            incoming = stream.next(), if answers.len() < MAX_IN_FLIGHT => {
                let answer = match incoming {
                    Some(Ok(Message::Text(frame))) => {
                        handle(&hub, frame.as_str(), &terminals, &own)
                    }
                    Some(Ok(Message::Binary(_))) => Some(Answer::Now(ServerMessage::error(
                        None,
                        ErrorCode::Malformed,
                        "binary frames are not part of the protocol: send JSON text frames",
                    )).boxed()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                };
                if let Some(answer) = answer {
                    answers.push_back(answer);
                }
            }
        }
    }
    // A client gone hangs up its terminals, those whose opening was still
    // on its way too.
    while let Ok(Some(answer)) = tokio::time::timeout(SEND_TIMEOUT, answers.next()).await {
        let _ = reply(answer, &mut terminals);
    }
    for terminal in terminals {
        let _ = hub.apply(Command::CloseTerminal { terminal }).await;
    }
}

/// The message answering a command, noting the terminals it opened.
fn reply(answer: Answer, terminals: &mut HashSet<u64>) -> ServerMessage {
    match answer {
        Answer::Now(reply) => reply,
        Answer::Done { id, result } => match result {
            Ok(events) => {
                for event in &events {
                    if let Event::TerminalOpened { terminal, .. } = event {
                        terminals.insert(*terminal);
                    }
                }
                ServerMessage::Done { id, events }
            }
            Err(err) => ServerMessage::engine_error(id, err),
        },
    }
}

/// Sends the answers that are ready now, in order: false when the client
/// is gone or stuck.
async fn send_ready(
    answers: &mut FuturesOrdered<BoxFuture<'static, Answer>>,
    sink: &mut SplitSink<WebSocket, Message>,
    terminals: &mut HashSet<u64>,
) -> bool {
    while let Some(Some(answer)) = answers.next().now_or_never() {
        if !send(sink, &reply(answer, terminals).to_json()).await {
            return false;
        }
    }
    true
}

/// Sends one message; false when the client is gone or stuck.
async fn send(sink: &mut SplitSink<WebSocket, Message>, message: &str) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, sink.send(text(message))).await,
        Ok(Ok(()))
    )
}

/// Commands one connection may have waiting for the engine at once.
const MAX_IN_FLIGHT: usize = 64;

/// The answer to one client frame.
enum Answer {
    /// Known without the engine (a refusal).
    Now(ServerMessage),
    /// The engine's, to command `id`.
    Done {
        id: u64,
        result: Result<Vec<Event>, EngineError>,
    },
}

impl Answer {
    fn boxed(self) -> BoxFuture<'static, Answer> {
        std::future::ready(self).boxed()
    }
}

/// Takes one client frame: a command goes to the engine now (in the
/// order frames came), and its answer is awaited with the others.
fn handle(
    hub: &Hub,
    frame: &str,
    terminals: &HashSet<u64>,
    sink: &OutputSink,
) -> Option<BoxFuture<'static, Answer>> {
    let now = |message: ServerMessage| Some(Answer::Now(message).boxed());
    match ClientMessage::decode(frame) {
        Err(err) => now(ServerMessage::error(None, err.code(), err.to_string())),
        Ok(ClientMessage::Hello { protocol }) if protocol != PROTOCOL_VERSION => {
            now(ServerMessage::error(
                None,
                ErrorCode::Version,
                format!(
                    "this server speaks protocol version {PROTOCOL_VERSION}, the client {protocol}: reload the page to get the matching UI"
                ),
            ))
        }
        Ok(ClientMessage::Hello { .. }) => None,
        Ok(ClientMessage::Command { id, command }) => {
            if let Command::TerminalInput { terminal, .. }
            | Command::ResizeTerminal { terminal, .. }
            | Command::CloseTerminal { terminal } = &*command
                && !terminals.contains(terminal)
            {
                return now(ServerMessage::engine_error(
                    id,
                    EngineError::Refused(format!(
                        "terminal {terminal} is not open on this connection: open one with `open_terminal`"
                    )),
                ));
            }
            let sink = matches!(
                *command,
                Command::OpenTerminal { .. } | Command::Exec { .. }
            )
            .then(|| sink.clone());
            let answer = hub.submit(*command, sink);
            Some(
                async move {
                    Answer::Done {
                        id,
                        result: answer.await,
                    }
                }
                .boxed(),
            )
        }
    }
}

fn text(message: &str) -> Message {
    Message::Text(Utf8Bytes::from(message))
}
