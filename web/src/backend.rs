//! The two backends behind the UI: the server's websocket, and the
//! simulated kernel in the page.

use std::cell::RefCell;
use std::rc::Rc;

use anchorage_shared::cli::{LINE_TIMEOUT_MS, LineResult, SimTerminal, SimulatedTime, Transcript};
use anchorage_shared::engine::Stream;
use anchorage_shared::host::CgroupLayout;
use anchorage_shared::protocol::{ClientMessage, PROTOCOL_VERSION, ServerMessage};
use anchorage_shared::sim::SimEngine;
use anchorage_shared::{Command, Engine, EngineError, Event, HostSnapshot};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use gloo::net::websocket::{Message, futures::WebSocket};
use wasm_bindgen_futures::spawn_local;
use yew::Callback;

/// How the page was served: by `anchorage serve` (live) or as a static site.
pub fn served_live() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| {
            d.query_selector(r#"meta[name="anchorage-mode"]"#)
                .ok()
                .flatten()
        })
        .and_then(|meta| meta.get_attribute("content"))
        .is_some_and(|mode| mode == "live")
}

/// The server's token, from this page's address (`?token=...`).
fn page_token() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|query| {
            query
                .trim_start_matches('?')
                .split('&')
                .find_map(|pair| pair.strip_prefix("token=").map(str::to_string))
        })
        .unwrap_or_default()
}

/// Uploads an image archive to the server that served this page: the
/// server's answer, or why it refused (its own words).
pub async fn upload_image(file: web_sys::File, name: Option<String>) -> Result<String, String> {
    let encode = |text: &str| String::from(js_sys::encode_uri_component(text));
    let mut url = format!(
        "/api/images?file={}&token={}",
        encode(&file.name()),
        encode(&page_token())
    );
    if let Some(name) = name.filter(|n| !n.trim().is_empty()) {
        url.push_str(&format!("&name={}", encode(name.trim())));
    }
    let response = gloo::net::http::Request::post(&url)
        .body(wasm_bindgen::JsValue::from(file))
        .map_err(|e| e.to_string())?
        .send()
        .await
        .map_err(|e| format!("the upload did not reach the server: {e}"))?;
    let text = response.text().await.unwrap_or_default();
    if response.ok() {
        Ok(text)
    } else {
        Err(text.trim_end().to_string())
    }
}

/// The websocket address of the server that served this page.
pub fn socket_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    // The server's token came in this page's address (`?token=...`).
    let token = location
        .search()
        .ok()
        .and_then(|query| {
            query
                .trim_start_matches('?')
                .split('&')
                .find_map(|pair| pair.strip_prefix("token=").map(str::to_string))
        })
        .unwrap_or_default();
    Some(format!(
        "{scheme}://{}/ws?token={token}",
        location.host().ok()?
    ))
}

/// What a live connection reports to the app.
pub enum LiveSignal {
    Message(ServerMessage),
    Garbled(String),
    Closed(String),
}

/// A live connection to `anchorage serve`.
pub struct Live {
    outbox: mpsc::UnboundedSender<String>,
    next_id: u64,
}

impl Live {
    /// Connects and says hello; every message and the close are passed to
    /// `on_signal`.
    pub fn connect(url: &str, on_signal: Callback<LiveSignal>) -> Result<Live, String> {
        let socket = WebSocket::open(url).map_err(|err| err.to_string())?;
        let (mut sink, mut stream) = socket.split();
        let (outbox, mut pending) = mpsc::unbounded::<String>();
        spawn_local(async move {
            while let Some(text) = pending.next().await {
                if sink.send(Message::Text(text)).await.is_err() {
                    break;
                }
            }
        });
        spawn_local(async move {
            let reason = loop {
                match stream.next().await {
                    Some(Ok(Message::Text(text))) => {
                        match serde_json::from_str::<ServerMessage>(&text) {
                            Ok(message) => on_signal.emit(LiveSignal::Message(message)),
                            Err(err) => on_signal.emit(LiveSignal::Garbled(err.to_string())),
                        }
                    }
                    Some(Ok(Message::Bytes(_))) => {}
                    Some(Err(err)) => break err.to_string(),
                    None => break "the server closed the connection".to_string(),
                }
            };
            on_signal.emit(LiveSignal::Closed(reason));
        });
        let live = Live { outbox, next_id: 1 };
        live.send(&ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
        });
        Ok(live)
    }

    fn send(&self, message: &ClientMessage) {
        let _ = self.outbox.unbounded_send(message.to_json());
    }

    /// Sends a command; the answer arrives as a `done` or `error` message
    /// with the id returned.
    pub fn command(&mut self, command: Command) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&ClientMessage::Command {
            id,
            command: Box::new(command),
        });
        id
    }
}

/// The simulated kernel, running in the page, with a terminal on its host.
pub struct Simulated {
    terminal: SimTerminal,
    seen: Rc<RefCell<Vec<Event>>>,
}

impl Simulated {
    /// A fresh simulated host whose cgroups are mounted as `layout` says.
    pub fn boot(layout: CgroupLayout) -> Simulated {
        // Waits fast-forward the simulated clock, up to a minute a line.
        let mut terminal = SimTerminal::new(
            SimEngine::with_cgroups("workshop-host", layout),
            Box::new(SimulatedTime::new(Some(LINE_TIMEOUT_MS))),
        );
        let seen: Rc<RefCell<Vec<Event>>> = Rc::default();
        let sink = seen.clone();
        terminal
            .session_mut()
            .observe(move |event| sink.borrow_mut().push(event.clone()));
        Simulated { terminal, seen }
    }

    pub fn command(&mut self, command: Command) -> Result<Vec<Event>, EngineError> {
        self.terminal.session_mut().engine.apply(command)
    }

    pub fn advance(&mut self, elapsed_ms: u64) -> Vec<Event> {
        self.terminal.session_mut().engine.advance(elapsed_ms)
    }

    pub fn snapshot(&self) -> Rc<HostSnapshot> {
        Rc::new(self.terminal.engine().snapshot())
    }

    /// The terminal's prompt.
    pub fn prompt(&self) -> String {
        self.terminal.prompt()
    }

    /// Runs a line at the terminal: what it printed, and what happened.
    pub fn run_line(&mut self, line: &str) -> (Vec<(Stream, String)>, Vec<Event>) {
        let mut transcript = Transcript::default();
        if let LineResult::Exit(_) = self.terminal.run_line(line, &mut transcript) {
            transcript.lines.push((
                Stream::Stderr,
                "this terminal stays open: it is the simulated host's console\n".into(),
            ));
        }
        (transcript.lines, self.seen.take())
    }
}
