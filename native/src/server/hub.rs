//! The hub: the one task that owns the engine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use anchorage_shared::protocol::{PROTOCOL_VERSION, ServerMessage};
use anchorage_shared::{Command, Engine, EngineError, EngineInfo, Event};

/// How many published messages a slow client may fall behind before it is
/// resynchronised with a fresh snapshot.
const UPDATE_BUFFER: usize = 256;

struct Request {
    command: Command,
    reply: oneshot::Sender<Result<Vec<Event>, EngineError>>,
}

/// A handle on the engine task; cheap to clone, one per connection.
#[derive(Clone)]
pub struct Hub {
    requests: mpsc::Sender<Request>,
    updates: broadcast::Sender<Arc<str>>,
    snapshot: watch::Receiver<Arc<str>>,
    hello: Arc<str>,
}

impl Hub {
    /// Starts the engine's task on the current tokio runtime.
    pub fn start(mut engine: Box<dyn Engine + Send>, tick: Duration) -> Hub {
        let info: EngineInfo = engine.info();
        let hello: Arc<str> = ServerMessage::Hello {
            protocol: PROTOCOL_VERSION,
            engine: info,
        }
        .to_json()
        .into();
        let (requests, mut inbox) = mpsc::channel::<Request>(64);
        let (updates, _) = broadcast::channel(UPDATE_BUFFER);
        let (snapshot_tx, snapshot) = watch::channel(snapshot_json(engine.as_ref()));
        let publisher = Publisher {
            updates: updates.clone(),
            snapshot: snapshot_tx,
        };
        tokio::spawn(async move {
            let mut timer = tokio::time::interval(tick);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last = Instant::now();
            let mut carried = Duration::ZERO;
            loop {
                tokio::select! {
                    _ = timer.tick() => {
                        let now = Instant::now();
                        carried += now - last;
                        last = now;
                        let ms = carried.as_millis() as u64;
                        carried -= Duration::from_millis(ms);
                        let events = engine.advance(ms);
                        publisher.publish(engine.as_ref(), &events);
                    }
                    request = inbox.recv() => {
                        let Some(Request { command, reply }) = request else { break };
                        let result = engine.apply(command);
                        if let Ok(events) = &result {
                            publisher.publish(engine.as_ref(), events);
                        }
                        let _ = reply.send(result);
                    }
                }
            }
        });
        Hub {
            requests,
            updates,
            snapshot,
            hello,
        }
    }

    /// Carries out a command on the engine.
    pub async fn apply(&self, command: Command) -> Result<Vec<Event>, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request { command, reply })
            .await
            .map_err(|_| EngineError::Refused("the server is shutting down".into()))?;
        answer
            .await
            .map_err(|_| EngineError::Refused("the server is shutting down".into()))?
    }

    /// The `hello` message, encoded.
    pub fn hello_json(&self) -> Arc<str> {
        self.hello.clone()
    }

    /// The latest `snapshot` message, encoded.
    pub fn snapshot_message(&self) -> Arc<str> {
        self.snapshot.borrow().clone()
    }

    /// Every message published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.updates.subscribe()
    }
}

struct Publisher {
    updates: broadcast::Sender<Arc<str>>,
    snapshot: watch::Sender<Arc<str>>,
}

impl Publisher {
    /// Sends the events, then the snapshot if it changed.
    fn publish(&self, engine: &dyn Engine, events: &[Event]) {
        if !events.is_empty() {
            let message: Arc<str> = ServerMessage::Events {
                events: events.to_vec(),
            }
            .to_json()
            .into();
            let _ = self.updates.send(message);
        }
        let fresh = snapshot_json(engine);
        if *self.snapshot.borrow() != fresh {
            self.snapshot.send_replace(fresh.clone());
            let _ = self.updates.send(fresh);
        }
    }
}

fn snapshot_json(engine: &dyn Engine) -> Arc<str> {
    ServerMessage::Snapshot {
        snapshot: Box::new(engine.snapshot()),
    }
    .to_json()
    .into()
}
