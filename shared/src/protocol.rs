//! The wire protocol between `anchorage serve` and the web UI: JSON text
//! frames over a websocket at `/ws`.
//!
//! A session goes: the client sends [`ClientMessage::Hello`]; the server
//! answers [`ServerMessage::Hello`] and a full [`ServerMessage::Snapshot`];
//! then the server pushes [`ServerMessage::Events`] as things happen (exits
//! and OOM kills at once) and a [`ServerMessage::Delta`] for each sample
//! that changed something, and answers each [`ClientMessage::Command`] with
//! [`ServerMessage::Done`] or [`ServerMessage::Error`] carrying its `id`.
//!
//! Snapshots and deltas are numbered: a delta goes `from` one snapshot
//! number `to` the next. A client applies a delta only onto the snapshot it
//! starts from; a client that fell behind is sent a fresh snapshot instead.
//!
//! The protocol is versioned: a client whose version the server does not
//! speak gets an error naming both versions, and the connection closes.

use serde::{Deserialize, Serialize};

use crate::delta::SnapshotDelta;
use crate::engine::{Command, EngineError, Event};
use crate::host::{EngineInfo, HostSnapshot};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 3;

/// The largest message either side accepts, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// What the browser sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Hello { protocol: u32 },
    Command { id: u64, command: Box<Command> },
}

/// Why the server refused a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The message was not valid protocol JSON.
    Malformed,
    /// The message was larger than [`MAX_MESSAGE_BYTES`].
    TooLarge,
    /// The client speaks another protocol version.
    Version,
    /// The engine could not carry out the command.
    Engine,
}

/// What the server sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Hello {
        protocol: u32,
        engine: EngineInfo,
    },
    /// The whole host, as snapshot number `seq`.
    Snapshot {
        seq: u64,
        snapshot: Box<HostSnapshot>,
    },
    /// What turns snapshot number `from` into number `to`.
    Delta {
        from: u64,
        to: u64,
        delta: Box<SnapshotDelta>,
    },
    Events {
        events: Vec<Event>,
    },
    /// A command succeeded, with the events it caused.
    Done {
        id: u64,
        events: Vec<Event>,
    },
    Error {
        /// The command's id, when the error answers one.
        id: Option<u64>,
        code: ErrorCode,
        message: String,
        /// The engine's error, when `code` is `engine`.
        engine_error: Option<EngineError>,
    },
}

impl ServerMessage {
    pub fn error(id: Option<u64>, code: ErrorCode, message: impl Into<String>) -> ServerMessage {
        ServerMessage::Error {
            id,
            code,
            message: message.into(),
            engine_error: None,
        }
    }

    pub fn engine_error(id: u64, err: EngineError) -> ServerMessage {
        ServerMessage::Error {
            id: Some(id),
            code: ErrorCode::Engine,
            message: err.to_string(),
            engine_error: Some(err),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always encode")
    }
}

/// A message that could not be decoded, as the error to send back.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("message of {0} bytes is larger than the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl DecodeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::TooLarge(_) => ErrorCode::TooLarge,
            DecodeError::Malformed(_) => ErrorCode::Malformed,
        }
    }
}

impl ClientMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client messages always encode")
    }

    /// Decodes a text frame, refusing oversized ones before parsing.
    pub fn decode(text: &str) -> Result<ClientMessage, DecodeError> {
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(DecodeError::TooLarge(text.len()));
        }
        serde_json::from_str(text).map_err(|err| DecodeError::Malformed(err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::ContainerSpec;
    use crate::process::Signal;

    #[test]
    fn client_messages_round_trip() {
        let messages = [
            ClientMessage::Hello {
                protocol: PROTOCOL_VERSION,
            },
            ClientMessage::Command {
                id: 7,
                command: Box::new(Command::Run {
                    spec: ContainerSpec::new("workshop"),
                }),
            },
            ClientMessage::Command {
                id: 8,
                command: Box::new(Command::Kill {
                    container: "web".into(),
                    signal: Signal::Term,
                }),
            },
        ];
        for message in messages {
            let text = message.to_json();
            assert_eq!(ClientMessage::decode(&text).unwrap(), message);
        }
    }

    #[test]
    fn the_wire_form_is_tagged_json() {
        let text = ClientMessage::Command {
            id: 1,
            command: Box::new(Command::Kill {
                container: "web".into(),
                signal: Signal::Kill,
            }),
        }
        .to_json();
        assert_eq!(
            text,
            r#"{"type":"command","id":1,"command":{"command":"kill","container":"web","signal":"KILL"}}"#
        );
    }

    #[test]
    fn bad_frames_are_refused_with_a_reason() {
        let err = ClientMessage::decode("{\"type\":\"launch\"}").unwrap_err();
        assert_eq!(err.code(), ErrorCode::Malformed);
        assert!(err.to_string().contains("launch"), "{err}");
        let huge = "x".repeat(MAX_MESSAGE_BYTES + 1);
        assert_eq!(
            ClientMessage::decode(&huge).unwrap_err().code(),
            ErrorCode::TooLarge
        );
    }

    use proptest::prelude::*;

    fn valid_frames() -> Vec<String> {
        let mut spec = ContainerSpec::new("workshop");
        spec.name = Some("web".into());
        spec.limits.memory_max = Some(64 << 20);
        [
            ClientMessage::Hello {
                protocol: PROTOCOL_VERSION,
            },
            ClientMessage::Command {
                id: 1,
                command: Box::new(Command::Run { spec }),
            },
            ClientMessage::Command {
                id: 2,
                command: Box::new(Command::Exec {
                    container: "web".into(),
                    argv: vec!["ps".into()],
                }),
            },
        ]
        .iter()
        .map(ClientMessage::to_json)
        .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any text decodes to a message or to an error with a code; no
        /// input panics the decoder.
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = ClientMessage::decode(&text);
        }

        /// Valid frames with bytes changed, cut or spliced: a message that
        /// encodes back to itself, or an error naming what is wrong.
        #[test]
        fn mutated_frames_decode_or_say_why(
            which in 0usize..3,
            cut in 0usize..400,
            at in 0usize..400,
            insert in "[\\\"{}\\[\\],:0-9a-z\\x00-\\x1f\\u{80}-\\u{10ffff}]{0,8}",
        ) {
            let frame = &valid_frames()[which];
            let mut chars: Vec<char> = frame.chars().collect();
            let at = at.min(chars.len());
            let cut = cut.min(chars.len() - at).min(6);
            chars.splice(at..at + cut, insert.chars());
            let text: String = chars.into_iter().collect();
            match ClientMessage::decode(&text) {
                Ok(message) => {
                    let again = ClientMessage::decode(&message.to_json()).unwrap();
                    prop_assert_eq!(again, message);
                }
                Err(err) => {
                    prop_assert_eq!(err.code(), ErrorCode::Malformed);
                    prop_assert!(!err.to_string().is_empty());
                }
            }
        }

        /// Deeply nested JSON is refused, not a stack overflow.
        #[test]
        fn deep_nesting_is_refused(depth in 100usize..5000) {
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            prop_assert!(ClientMessage::decode(&text).is_err());
        }
    }

    #[test]
    fn engine_errors_travel_with_their_message() {
        let msg = ServerMessage::engine_error(3, EngineError::NoSuchContainer("db".into()));
        let back: ServerMessage = serde_json::from_str(&msg.to_json()).unwrap();
        assert_eq!(back, msg);
        assert!(msg.to_json().contains("no such container `db`"));
    }
}
