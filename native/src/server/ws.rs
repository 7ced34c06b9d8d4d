//! One websocket connection: hello and a snapshot on connect, then every
//! published update, and the client's commands answered in order.

use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use anchorage_shared::protocol::{
    ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, ServerMessage,
};

use super::AppState;
use super::hub::Hub;

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
    if let Err(reason) = check_origin(&headers) {
        return (StatusCode::FORBIDDEN, reason).into_response();
    }
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| session(socket, state.hub))
}

/// Browsers send `Origin` on websocket requests; it must name this server.
/// Clients that are not browsers send none and are let through.
fn check_origin(headers: &HeaderMap) -> Result<(), String> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin = origin.to_str().unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(format!(
            "websocket refused: the page's origin {origin:?} is not this server ({host}); open the UI from this server's own address\n"
        ))
    }
}

async fn session(socket: WebSocket, hub: Hub) {
    let (mut sink, mut stream) = socket.split();
    let mut updates = hub.subscribe();
    for message in [hub.hello_json(), hub.snapshot_message()] {
        if sink.send(text(&message)).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            update = updates.recv() => {
                let message = match update {
                    Ok(message) => message,
                    // Too slow to keep up: skip to the present.
                    Err(RecvError::Lagged(_)) => hub.snapshot_message(),
                    Err(RecvError::Closed) => break,
                };
                if sink.send(text(&message)).await.is_err() {
                    break;
                }
            }
            incoming = stream.next() => {
                let reply = match incoming {
                    Some(Ok(Message::Text(frame))) => handle(&hub, frame.as_str()).await,
                    Some(Ok(Message::Binary(_))) => Some(ServerMessage::error(
                        None,
                        ErrorCode::Malformed,
                        "binary frames are not part of the protocol: send JSON text frames",
                    )),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                };
                if let Some(reply) = reply
                    && sink.send(text(&reply.to_json())).await.is_err()
                {
                    break;
                }
            }
        }
    }
}

/// Answers one client frame.
async fn handle(hub: &Hub, frame: &str) -> Option<ServerMessage> {
    match ClientMessage::decode(frame) {
        Err(err) => Some(ServerMessage::error(None, err.code(), err.to_string())),
        Ok(ClientMessage::Hello { protocol }) if protocol != PROTOCOL_VERSION => {
            Some(ServerMessage::error(
                None,
                ErrorCode::Version,
                format!(
                    "this server speaks protocol version {PROTOCOL_VERSION}, the client {protocol}: reload the page to get the matching UI"
                ),
            ))
        }
        Ok(ClientMessage::Hello { .. }) => None,
        Ok(ClientMessage::Command { id, command }) => Some(match hub.apply(*command).await {
            Ok(events) => ServerMessage::Done { id, events },
            Err(err) => ServerMessage::engine_error(id, err),
        }),
    }
}

fn text(message: &str) -> Message {
    Message::Text(Utf8Bytes::from(message))
}
