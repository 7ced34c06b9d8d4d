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

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc as mpsc_async;
use tokio::sync::{broadcast, oneshot};

use anchorage_shared::cgroup::{CpuMax, format_size};
use anchorage_shared::container::LogOptions;
use anchorage_shared::delta::SnapshotDelta;
use anchorage_shared::engine::OutputSource;
use anchorage_shared::protocol::{PROTOCOL_VERSION, ServerMessage};
use anchorage_shared::{Command, Engine, EngineError, EngineInfo, Event, HostSnapshot};

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
    /// The most any container of a real engine may have, whatever it
    /// asks (`None`: no cap), so no client can starve the host on
    /// purpose either.
    pub max_memory: Option<u64>,
    pub max_pids: Option<u64>,
    pub max_cpus: Option<f64>,
    /// The most console log a container may keep, all its files together.
    pub max_log_bytes: u64,
    /// Whether clients may mount host paths (else named volumes only).
    pub host_volumes: bool,
    /// Whether clients may run containers without the seccomp profile.
    pub unconfined: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_containers: 64,
            default_memory: Some(512 << 20),
            default_pids: Some(512),
            default_cpu: CpuMax::from_cpus(1.0).expect("1 CPU is a quota"),
            max_memory: Some(4 << 30),
            max_pids: Some(4096),
            max_cpus: Some(1.0),
            max_log_bytes: LogOptions::default().total(),
            host_volumes: false,
            unconfined: false,
        }
    }
}

impl Policy {
    /// Whether the defaults are within the caps: the error names both.
    pub fn check(&self) -> Result<(), String> {
        if let (Some(default), Some(max)) = (self.default_memory, self.max_memory)
            && default > max
        {
            return Err(format!(
                "--default-memory {} is more than --max-memory {}: lower the one or raise the other",
                format_size(default),
                format_size(max)
            ));
        }
        if let (Some(default), Some(max)) = (self.default_pids, self.max_pids)
            && default > max
        {
            return Err(format!(
                "--default-pids-limit {default} is more than --max-pids {max}: lower the one or raise the other"
            ));
        }
        if let (Some(default), Some(max)) = (self.default_cpu.cpus(), self.max_cpus)
            && default > max
        {
            return Err(format!(
                "--default-cpus {default} is more than --max-cpus {max}: lower the one or raise the other"
            ));
        }
        for (default, cap, flags) in [
            (
                self.default_memory,
                self.max_memory,
                "--default-memory max with --max-memory",
            ),
            (
                self.default_pids,
                self.max_pids,
                "--default-pids-limit max with --max-pids",
            ),
        ] {
            if default.is_none() && cap.is_some() {
                return Err(format!(
                    "{flags}: a container that asks for no limit could not run; give a default within the cap"
                ));
            }
        }
        if self.default_cpu.cpus().is_none() && self.max_cpus.is_some() {
            return Err("--default-cpus max with --max-cpus: a container that asks for no limit could not run; give a default within the cap".into());
        }
        Ok(())
    }

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
                if engine.capabilities.real_kernel
                    && !self.host_volumes
                    && let Some(volume) = spec.volumes.iter().find(|v| v.is_host_path())
                {
                    return Err(EngineError::Refused(format!(
                        "this server mounts named volumes only, not the host path {} (a host path lets a page read and write the host): use a volume name, or restart the server with --allow-host-volumes",
                        volume.source
                    )));
                }
                if engine.capabilities.real_kernel
                    && !self.unconfined
                    && spec.security.seccomp == anchorage_shared::container::Seccomp::Unconfined
                {
                    return Err(EngineError::Refused(
                        "this server runs every container under the default seccomp profile (without it, a container reaches much more of the host's kernel): restart the server with --allow-unconfined to allow seccomp=unconfined".into(),
                    ));
                }
                if spec.log.total() > self.max_log_bytes {
                    return Err(EngineError::Refused(format!(
                        "a log of {} files of {} is more than this server keeps for a container ({} in all, --max-log-size): ask for less",
                        spec.log.max_file,
                        format_size(spec.log.max_size),
                        format_size(self.max_log_bytes)
                    )));
                }
                &mut spec.limits
            }
            Command::SetLimits { limits, .. } => limits,
            _ => return Ok(()),
        };
        // A simulated host has no real host to protect, and rootless the
        // kernel gives no cgroups (v1: root only): nothing holds a default
        // or a cap.
        if !(engine.capabilities.real_kernel && engine.capabilities.limits) {
            return Ok(());
        }
        limits.memory_max = limits.memory_max.or(self.default_memory);
        limits.pids_max = limits.pids_max.or(self.default_pids);
        if limits.cpu_max.quota_usec.is_none() {
            limits.cpu_max = self.default_cpu;
        }
        limits
            .validate()
            .map_err(|e| EngineError::InvalidSpec(e.to_string()))?;
        if let Some(max) = self.max_memory
            && limits.memory_max.is_none_or(|m| m > max)
        {
            return Err(EngineError::Refused(format!(
                "this server gives a container at most {} of memory (--max-memory): ask for {} or less",
                format_size(max),
                format_size(max)
            )));
        }
        if let Some(max) = self.max_pids
            && limits.pids_max.is_none_or(|p| p > max)
        {
            return Err(EngineError::Refused(format!(
                "this server gives a container at most {max} processes (--max-pids): ask for a pids limit of {max} or less"
            )));
        }
        if let Some(max) = self.max_cpus
            && limits.cpu_max.cpus().is_none_or(|c| c > max)
        {
            return Err(EngineError::Refused(format!(
                "this server gives a container at most {max} CPUs (--max-cpus): ask for {max} or less"
            )));
        }
        Ok(())
    }
}

struct Request {
    command: Command,
    reply: oneshot::Sender<Result<Vec<Event>, EngineError>>,
    /// Where the output of a terminal or an exec this command starts goes.
    sink: Option<OutputSink>,
}

/// A connection's channel for the output of its terminals and execs,
/// encoded.
pub type OutputSink = mpsc_async::Sender<RoutedMessage>;

/// One message of a terminal or an exec'd process, for the connection
/// that started it.
#[derive(Clone, Debug)]
pub struct RoutedMessage {
    pub source: OutputSource,
    /// Whether it is the source's end (the terminal closed, the process
    /// exited).
    pub ended: bool,
    pub json: Arc<str>,
}

/// How many messages a connection's terminals and execs may have waiting
/// for it (each at most 80 KiB of output): past that their output is held.
pub const ROUTED_BUFFER: usize = 16;

/// How much output a second the viewers get of each container (or of a
/// process outside any), and the burst allowed: a page shows output as
/// lines of an event log, and a flood must not fill every viewer's queue.
/// The rest is passed over with an `output_skipped` event (a container's
/// console keeps all of it: `anchorage logs`).
pub const VIEWER_OUTPUT_RATE: u64 = 32 << 10;
const VIEWER_OUTPUT_BURST: f64 = 2.0 * VIEWER_OUTPUT_RATE as f64;

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
            routes: Mutex::default(),
            held: Mutex::default(),
            allowances: Mutex::default(),
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

    /// Carries out a command; the output of a terminal or a process it
    /// starts goes to `sink` (and only there), in order, ending with the
    /// terminal's or the process's end.
    pub async fn apply_with(
        &self,
        command: Command,
        sink: Option<OutputSink>,
    ) -> Result<Vec<Event>, EngineError> {
        self.submit(command, sink).await
    }

    /// Queues a command for the engine thread now (commands are carried
    /// out in the order submitted), returning its answer to await.
    pub fn submit(
        &self,
        command: Command,
        sink: Option<OutputSink>,
    ) -> impl std::future::Future<Output = Result<Vec<Event>, EngineError>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let sent = self.requests.send(Request {
            command,
            reply,
            sink,
        });
        async move {
            sent.map_err(|_| EngineError::Refused("the server is shutting down".into()))?;
            answer
                .await
                .map_err(|_| EngineError::Refused("the server is shutting down".into()))?
        }
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
        sink,
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
            // Registered before the engine reads the terminal or the
            // pipes (on this thread, at a later advance): none of their
            // output is lost.
            if let Some(sink) = sink {
                let mut routes = out.routes.lock().unwrap_or_else(PoisonError::into_inner);
                let terminal = events.iter().find_map(|e| match e {
                    Event::TerminalOpened { terminal, .. } => Some(*terminal),
                    _ => None,
                });
                match terminal {
                    Some(id) => {
                        routes.insert(OutputSource::Terminal(id), sink);
                    }
                    None => {
                        for event in events {
                            if let Event::ProcessStarted { pid, .. } = event {
                                routes.insert(OutputSource::Process(*pid), sink.clone());
                            }
                        }
                    }
                }
            }
            true
        }
        Err(_) => false,
    };
    // The answer first, then the events for everyone: a connection (which
    // looks at its answers before its updates) sends its client the answer
    // before the events it caused.
    let events = match &result {
        Ok(events) => events.clone(),
        Err(_) => Vec::new(),
    };
    let _ = reply.send(result);
    if ok {
        out.publish(engine, &events, false);
    }
    ok
}

struct Publisher {
    updates: broadcast::Sender<Update>,
    latest: Arc<Mutex<Latest>>,
    policy: Policy,
    /// The connection each terminal's and exec'd process's output goes to.
    routes: Mutex<HashMap<OutputSource, OutputSink>>,
    /// Routed messages their connection had no room for, oldest first.
    held: Mutex<Vec<RoutedMessage>>,
    /// What output viewers may still get now, per container (or process),
    /// and when it was topped up.
    allowances: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Publisher {
    /// Flow control for routed output: sends what waited for a connection
    /// that now has room; a source with messages still waiting is not read
    /// (its program blocks once its terminal or pipe is full, as on a slow
    /// terminal), and is read again once they have gone.
    fn flow(&self, engine: &mut (dyn Engine + Send)) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.is_empty() {
            return;
        }
        let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let waiting: std::collections::BTreeSet<OutputSource> =
            held.iter().map(|m| m.source).collect();
        let mut still: Vec<RoutedMessage> = Vec::new();
        for message in held.drain(..) {
            let behind = still.iter().any(|m| m.source == message.source);
            match routes.get(&message.source) {
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
        for source in waiting {
            engine.hold_output(source, still.iter().any(|m| m.source == source));
        }
        *held = still;
    }

    /// Where an event goes when it is not for every viewer: a terminal's
    /// events, and the output and end of a process a connection exec'd.
    fn route_of(event: &Event, routes: &HashMap<OutputSource, OutputSink>) -> Option<OutputSource> {
        if let Some(id) = event.terminal() {
            return Some(OutputSource::Terminal(id));
        }
        match event {
            Event::Output { pid, .. } | Event::ProcessExited { pid, .. }
                if routes.contains_key(&OutputSource::Process(*pid)) =>
            {
                Some(OutputSource::Process(*pid))
            }
            _ => None,
        }
    }

    /// Sends one routed event to its connection, or keeps it for later
    /// when the connection has no room.
    fn route(&self, source: OutputSource, event: &Event) {
        let ended = matches!(
            (source, event),
            (OutputSource::Terminal(_), Event::TerminalExited { .. })
                | (OutputSource::Process(_), Event::ProcessExited { .. })
        );
        let json: Arc<str> = ServerMessage::Events {
            events: vec![event.clone()],
        }
        .to_json()
        .into();
        let message = RoutedMessage {
            source,
            ended,
            json,
        };
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let gone = match routes.get(&source) {
            // Behind older messages still waiting: after them.
            Some(_) if held.iter().any(|m| m.source == source) => {
                held.push(message);
                false
            }
            Some(sink) => match sink.try_send(message) {
                Ok(()) => false,
                // Its connection has no room: the message waits, and the
                // source is not read until it has gone (see `flow`), so
                // nothing is lost.
                Err(mpsc_async::error::TrySendError::Full(message)) => {
                    held.push(message);
                    false
                }
                Err(mpsc_async::error::TrySendError::Closed(_)) => true,
            },
            None => false,
        };
        if ended || gone {
            routes.remove(&source);
        }
    }

    /// Keeps the viewers' share of output within its pace: output over it
    /// is dropped, and one `output_skipped` per source says how much.
    fn pace_output<'a>(&self, events: Vec<&'a Event>) -> Vec<std::borrow::Cow<'a, Event>> {
        use std::borrow::Cow;
        let mut allowances = self
            .allowances
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let mut skipped: Vec<(String, Option<String>, u32, u64)> = Vec::new();
        let mut kept = Vec::with_capacity(events.len());
        for event in events {
            let Event::Output {
                container,
                pid,
                data,
                ..
            } = event
            else {
                kept.push(Cow::Borrowed(event));
                continue;
            };
            let key = container.clone().unwrap_or_else(|| format!("pid {pid}"));
            let (left, since) = allowances
                .entry(key.clone())
                .or_insert((VIEWER_OUTPUT_BURST, now));
            *left = (*left + since.elapsed().as_secs_f64() * VIEWER_OUTPUT_RATE as f64)
                .min(VIEWER_OUTPUT_BURST);
            *since = now;
            if *left >= data.len() as f64 {
                *left -= data.len() as f64;
                kept.push(Cow::Borrowed(event));
            } else {
                match skipped.iter_mut().find(|(k, ..)| *k == key) {
                    Some(entry) => entry.3 += data.len() as u64,
                    None => skipped.push((key, container.clone(), *pid, data.len() as u64)),
                }
            }
        }
        if allowances.len() > 4096 {
            // Sources long quiet are full again anyway.
            allowances.retain(|_, (_, since)| since.elapsed().as_secs() < 10);
        }
        kept.extend(skipped.into_iter().map(|(_, container, pid, bytes)| {
            Cow::Owned(Event::OutputSkipped {
                container,
                pid,
                bytes,
                rotated: false,
            })
        }));
        kept
    }

    /// Sends the events, then (when `sample`) a delta if the snapshot
    /// changed. A terminal's events and an exec'd process's output go
    /// apart, to their connection only (not through the broadcast: a flood
    /// of output on one terminal must not put every viewer behind); a
    /// terminal's opening is in the answer to the command that opened it.
    fn publish(&self, engine: &(dyn Engine + Send), events: &[Event], sample: bool) {
        let mut shared = Vec::new();
        for event in events {
            let route = {
                let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
                Self::route_of(event, &routes)
            };
            match route {
                Some(_) if matches!(event, Event::TerminalOpened { .. }) => {}
                Some(source) => self.route(source, event),
                None => shared.push(event),
            }
        }
        let shared = self.pace_output(shared);
        if !shared.is_empty() {
            let message: Arc<str> = ServerMessage::Events {
                events: shared.into_iter().map(|e| e.into_owned()).collect(),
            }
            .to_json()
            .into();
            let _ = self.updates.send(Update::Events(message));
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
