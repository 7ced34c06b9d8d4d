//! The hub: the one thread that owns the engine.
//!
//! It runs on its own OS thread, not a tokio task, because the engine's
//! calls block (a container start waits on its supervisor; sampling reads
//! /proc and cgroupfs): on the runtime they would stall every connection.
//!
//! The thread applies commands from every client in arrival order, samples
//! the engine at the configured rate, and publishes each change once,
//! already encoded: events as they happen (a real engine wakes it when a
//! container's init ends, so exits and OOM kills go out at once), and a
//! numbered delta for each sample that changed something. The latest full
//! snapshot is kept for new clients and for `/metrics`, encoded on demand.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc as mpsc_async;
use tokio::sync::{broadcast, oneshot};

use anchorage_shared::cgroup::CpuMax;
use anchorage_shared::delta::SnapshotDelta;
use anchorage_shared::protocol::{PROTOCOL_VERSION, ServerMessage};
use anchorage_shared::{Command, Engine, EngineError, EngineInfo, EngineKind, Event, HostSnapshot};

/// How many published messages a slow client may fall behind before it is
/// resynchronised with a fresh snapshot.
const UPDATE_BUFFER: usize = 256;

/// The longest a command waits for the engine thread to notice it while the
/// engine waits on its containers.
const COMMAND_LATENCY: Duration = Duration::from_millis(10);

/// The least time between two snapshots taken for changes (the timer's
/// samples come every tick regardless).
const SAMPLE_GAP: Duration = Duration::from_millis(50);

/// What a server allows its clients, whatever they ask.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    /// The most containers (running or not) the engine may hold.
    pub max_containers: usize,
    /// Limits every container of a real engine gets where it asks for
    /// none (`None` here: no default for that one), so no client can
    /// starve the host by accident. The simulation keeps
    /// what it is given: it has no real host to protect, and its lessons
    /// show what an unlimited container does.
    pub default_memory: Option<u64>,
    pub default_pids: Option<u64>,
    pub default_cpu: CpuMax,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_containers: 64,
            default_memory: Some(512 << 20),
            default_pids: Some(512),
            default_cpu: CpuMax::from_cpus(1.0).expect("1 CPU is a quota"),
        }
    }
}

impl Policy {
    /// Checks a command against the policy and fills in default limits.
    fn admit(
        &self,
        command: &mut Command,
        engine: &EngineInfo,
        containers: usize,
    ) -> Result<(), EngineError> {
        let limits = match command {
            Command::Run { spec } | Command::Create { spec } => {
                if containers >= self.max_containers {
                    return Err(EngineError::Refused(format!(
                        "this server holds at most {} containers and has {containers}: remove some first (`anchorage rm`), or restart it with a larger --max-containers",
                        self.max_containers,
                    )));
                }
                &mut spec.limits
            }
            Command::SetLimits { limits, .. } => limits,
            _ => return Ok(()),
        };
        // Rootless, the kernel gives no cgroups (v1: root only), so there
        // is nothing to hold a default.
        if engine.kind == EngineKind::Real && !engine.rootless {
            limits.memory_max = limits.memory_max.or(self.default_memory);
            limits.pids_max = limits.pids_max.or(self.default_pids);
            if limits.cpu_max.quota_usec.is_none() {
                limits.cpu_max = self.default_cpu;
            }
        }
        Ok(())
    }
}

struct Request {
    command: Command,
    reply: oneshot::Sender<Result<Vec<Event>, EngineError>>,
    /// Where a terminal this command opens sends its events.
    terminal_sink: Option<TerminalSink>,
}

/// A connection's channel for its terminals' events, encoded.
pub type TerminalSink = mpsc_async::Sender<TerminalMessage>;

/// One message of a terminal, for the connection that opened it.
#[derive(Clone, Debug)]
pub struct TerminalMessage {
    pub terminal: u64,
    /// Whether it is the terminal's end.
    pub ended: bool,
    pub json: Arc<str>,
}

/// How many messages a connection's terminals may have waiting for it
/// (each at most 64 KiB of output): past that the terminal is held.
pub const TERMINAL_BUFFER: usize = 16;

/// One published message.
#[derive(Clone, Debug)]
pub enum Update {
    /// Events, encoded.
    Events(Arc<str>),
    /// A delta from snapshot number `from` to `to`, encoded.
    Delta { from: u64, to: u64, json: Arc<str> },
}

/// The newest snapshot, and its encoding once someone asked for it.
struct Latest {
    seq: u64,
    snapshot: Arc<HostSnapshot>,
    json: Option<Arc<str>>,
}

/// A handle on the engine thread; cheap to clone, one per connection.
#[derive(Clone)]
pub struct Hub {
    requests: mpsc::Sender<Request>,
    updates: broadcast::Sender<Update>,
    latest: Arc<Mutex<Latest>>,
    hello: Arc<str>,
}

impl Hub {
    /// Starts the engine's thread; it samples every `tick` and ends when
    /// the last handle is dropped.
    pub fn start(engine: Box<dyn Engine + Send>, tick: Duration, policy: Policy) -> Hub {
        let info: EngineInfo = engine.info();
        let hello: Arc<str> = ServerMessage::Hello {
            protocol: PROTOCOL_VERSION,
            engine: info,
        }
        .to_json()
        .into();
        let (requests, inbox) = mpsc::channel::<Request>();
        let (updates, _) = broadcast::channel(UPDATE_BUFFER);
        let latest = Arc::new(Mutex::new(Latest {
            seq: 0,
            snapshot: Arc::new(engine.snapshot()),
            json: None,
        }));
        let publisher = Publisher {
            updates: updates.clone(),
            latest: latest.clone(),
            policy,
            terminals: Mutex::default(),
            held: Mutex::default(),
        };
        std::thread::Builder::new()
            .name("anchorage-engine".into())
            .spawn(move || run(engine, inbox, publisher, tick))
            .expect("the engine thread starts");
        Hub {
            requests,
            updates,
            latest,
            hello,
        }
    }

    /// Carries out a command on the engine.
    pub async fn apply(&self, command: Command) -> Result<Vec<Event>, EngineError> {
        self.apply_with(command, None).await
    }

    /// Carries out a command; a terminal it opens sends its events to
    /// `terminal_sink` (and only there).
    pub async fn apply_with(
        &self,
        command: Command,
        terminal_sink: Option<TerminalSink>,
    ) -> Result<Vec<Event>, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request {
                command,
                reply,
                terminal_sink,
            })
            .map_err(|_| EngineError::Refused("the server is shutting down".into()))?;
        answer
            .await
            .map_err(|_| EngineError::Refused("the server is shutting down".into()))?
    }

    /// Tells every connection of events that happened outside the engine
    /// (an image upload's progress).
    pub fn announce(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let json: Arc<str> = ServerMessage::Events { events }.to_json().into();
        let _ = self.updates.send(Update::Events(json));
    }

    /// The `hello` message, encoded.
    pub fn hello_json(&self) -> Arc<str> {
        self.hello.clone()
    }

    /// The latest `snapshot` message, encoded, and its number.
    pub fn snapshot_message(&self) -> (u64, Arc<str>) {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = latest.seq;
        let json = match &latest.json {
            Some(json) => json.clone(),
            None => {
                let json: Arc<str> = ServerMessage::Snapshot {
                    seq,
                    snapshot: Box::new((*latest.snapshot).clone()),
                }
                .to_json()
                .into();
                latest.json = Some(json.clone());
                json
            }
        };
        (seq, json)
    }

    /// The latest snapshot itself.
    pub fn snapshot(&self) -> Arc<HostSnapshot> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshot
            .clone()
    }

    /// Every message published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.updates.subscribe()
    }
}

/// The engine thread's loop.
fn run(
    mut engine: Box<dyn Engine + Send>,
    inbox: mpsc::Receiver<Request>,
    publisher: Publisher,
    tick: Duration,
) {
    let mut last_advance = Instant::now();
    let mut carried = Duration::ZERO;
    let mut last_sample = Instant::now();
    let mut next_sample = last_sample + tick;
    let mut advance = |engine: &mut Box<dyn Engine + Send>| {
        let now = Instant::now();
        carried += now - last_advance;
        last_advance = now;
        let ms = carried.as_millis() as u64;
        carried -= Duration::from_millis(ms);
        engine.advance(ms)
    };
    // A change (a command carried out, a container ending) is sampled
    // soon, but at most once per SAMPLE_GAP: a burst of commands from many
    // clients costs one snapshot, not one each.
    let soon = |next: Instant, last: Instant| next.min(last + SAMPLE_GAP);
    loop {
        publisher.flow(engine.as_mut());
        // Commands first, in arrival order.
        loop {
            match inbox.try_recv() {
                Ok(request) => {
                    if apply(engine.as_mut(), request, &publisher) {
                        next_sample = soon(next_sample, last_sample);
                    }
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        }
        let now = Instant::now();
        if now >= next_sample {
            let events = advance(&mut engine);
            publisher.publish(engine.as_ref(), &events, true);
            last_sample = now;
            next_sample = now + tick;
            continue;
        }
        let wait = (next_sample - now).min(COMMAND_LATENCY);
        match engine.wait_for_activity(wait.as_millis() as u64) {
            // An init ended, or output came: its events out at once.
            Some(true) => {
                let events = advance(&mut engine);
                publisher.publish(engine.as_ref(), &events, false);
                // Output alone changes nothing a snapshot shows: no need
                // to sample for each keystroke's echo.
                if events
                    .iter()
                    .any(|e| !matches!(e, Event::Output { .. } | Event::TerminalOutput { .. }))
                {
                    next_sample = soon(next_sample, last_sample);
                }
            }
            Some(false) => {}
            // The engine keeps no real time: wait for a command or the tick.
            None => match inbox.recv_timeout(next_sample - now) {
                Ok(request) => {
                    if apply(engine.as_mut(), request, &publisher) {
                        next_sample = soon(next_sample, last_sample);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            },
        }
    }
}

/// Carries out a command and publishes its events: whether it succeeded.
fn apply(
    engine: &mut (dyn Engine + Send),
    Request {
        mut command,
        reply,
        terminal_sink,
    }: Request,
    out: &Publisher,
) -> bool {
    let info = engine.info();
    // The count of containers now, not as of the last sample: a burst of
    // runs must not slip past the cap.
    let count = match &command {
        Command::Run { .. } | Command::Create { .. } => engine.snapshot().containers.len(),
        _ => 0,
    };
    let result = out
        .policy
        .admit(&mut command, &info, count)
        .and_then(|()| engine.apply(command));
    let ok = match &result {
        Ok(events) => {
            // Registered before the engine reads the terminal (on this
            // thread, at a later advance): none of its output is lost.
            if let Some(sink) = terminal_sink {
                let mut routes = out.terminals.lock().unwrap_or_else(PoisonError::into_inner);
                for event in events {
                    if let Event::TerminalOpened { terminal, .. } = event {
                        routes.insert(*terminal, sink.clone());
                    }
                }
            }
            out.publish(engine, events, false);
            true
        }
        Err(_) => false,
    };
    let _ = reply.send(result);
    ok
}

struct Publisher {
    updates: broadcast::Sender<Update>,
    latest: Arc<Mutex<Latest>>,
    policy: Policy,
    /// Each open terminal's connection.
    terminals: Mutex<std::collections::HashMap<u64, TerminalSink>>,
    /// Terminal messages their connection had no room for, oldest first.
    held: Mutex<Vec<TerminalMessage>>,
}

impl Publisher {
    /// Flow control for terminals: sends what waited for a connection that
    /// now has room; a terminal with messages still waiting is not read
    /// (its program blocks once the terminal's buffer is full, as on a
    /// slow terminal), and is read again once they have gone.
    fn flow(&self, engine: &mut (dyn Engine + Send)) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.is_empty() {
            return;
        }
        let routes = self
            .terminals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let waiting: std::collections::BTreeSet<u64> = held.iter().map(|m| m.terminal).collect();
        let mut still: Vec<TerminalMessage> = Vec::new();
        for message in held.drain(..) {
            let behind = still.iter().any(|m| m.terminal == message.terminal);
            match routes.get(&message.terminal) {
                // Its connection went: nothing to wait for.
                None => {}
                Some(_) if behind => still.push(message),
                Some(sink) => match sink.try_send(message) {
                    Ok(()) | Err(mpsc_async::error::TrySendError::Closed(_)) => {}
                    Err(mpsc_async::error::TrySendError::Full(message)) => still.push(message),
                },
            }
        }
        drop(routes);
        for id in waiting {
            engine.hold_terminal(id, still.iter().any(|m| m.terminal == id));
        }
        *held = still;
    }

    /// Sends the events, then (when `sample`) a delta if the snapshot
    /// changed. A terminal's events go apart, to its connection only (not
    /// through the broadcast: a flood of output on one terminal must not
    /// put every viewer behind); its opening is in the answer to the
    /// command that opened it.
    fn publish(&self, engine: &(dyn Engine + Send), events: &[Event], sample: bool) {
        let (terminal, shared): (Vec<&Event>, Vec<&Event>) =
            events.iter().partition(|e| e.terminal().is_some());
        if !shared.is_empty() {
            let message: Arc<str> = ServerMessage::Events {
                events: shared.into_iter().cloned().collect(),
            }
            .to_json()
            .into();
            let _ = self.updates.send(Update::Events(message));
        }
        for event in terminal {
            if let (Some(id), false) = (
                event.terminal(),
                matches!(event, Event::TerminalOpened { .. }),
            ) {
                let ended = matches!(event, Event::TerminalExited { .. });
                let json: Arc<str> = ServerMessage::Events {
                    events: vec![event.clone()],
                }
                .to_json()
                .into();
                let message = TerminalMessage {
                    terminal: id,
                    ended,
                    json,
                };
                let mut routes = self
                    .terminals
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
                let gone = match routes.get(&id) {
                    // Behind older messages still waiting: after them.
                    Some(_) if held.iter().any(|m| m.terminal == id) => {
                        held.push(message);
                        false
                    }
                    Some(sink) => match sink.try_send(message) {
                        Ok(()) => false,
                        // Its connection has no room: the message waits,
                        // and the terminal is not read until it has gone
                        // (see `flow`), so nothing is lost.
                        Err(mpsc_async::error::TrySendError::Full(message)) => {
                            held.push(message);
                            false
                        }
                        Err(mpsc_async::error::TrySendError::Closed(_)) => true,
                    },
                    None => false,
                };
                if ended || gone {
                    routes.remove(&id);
                }
            }
        }
        if !sample {
            return;
        }
        let fresh = Arc::new(engine.snapshot());
        let previous = self
            .latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshot
            .clone();
        let delta = SnapshotDelta::between(&previous, &fresh);
        if delta.is_empty() {
            return;
        }
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        let from = latest.seq;
        let to = from + 1;
        *latest = Latest {
            seq: to,
            snapshot: fresh,
            json: None,
        };
        drop(latest);
        let json: Arc<str> = ServerMessage::Delta {
            from,
            to,
            delta: Box::new(delta),
        }
        .to_json()
        .into();
        let _ = self.updates.send(Update::Delta { from, to, json });
    }
}
