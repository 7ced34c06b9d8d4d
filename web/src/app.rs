//! The root component: picks a backend, keeps the latest snapshot and a log
//! of events, and routes the user's commands to the backend.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use anchorage_shared::engine::TerminalSize;
use anchorage_shared::host::CgroupLayout;
use anchorage_shared::lessons::Lesson;
use anchorage_shared::protocol::ServerMessage;
use anchorage_shared::{Command, Event, HostSnapshot};
use gloo::timers::callback::Interval;
use yew::{Component, Context, Html, html};

use crate::backend::{self, Live, LiveSignal, Simulated};
use crate::{assess, lessons, pty, view};
use anchorage_shared::readiness::Answers;

/// How often the in-page simulation advances, in milliseconds.
const SIM_TICK_MS: u32 = 250;
/// How many log lines the page keeps.
const LOG_LINES: usize = 200;

/// Where the state on screen comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Connecting,
    Live,
    Simulated { why: String },
}

enum Backend {
    None,
    Live(Live),
    /// The timer drives the simulation; dropping it stops the clock.
    Simulated {
        sim: Box<Simulated>,
        _timer: Interval,
    },
}

pub enum Msg {
    /// A signal from the live connection of this generation.
    Live(u32, LiveSignal),
    Tick,
    Command(Command),
    Reconnect,
    DismissError,
    /// A line typed at the simulated host's terminal.
    TerminalLine(String),
    /// Keys typed on a container's terminal (live).
    PtyKeys(u64, String),
    PtyResize(u64, TerminalSize),
    /// Hang up a terminal, or dismiss one that ended.
    PtyClose(u64),
    /// Upload an image archive to the server, with a name or none.
    Upload(web_sys::File, String),
    /// The server's answer to an upload.
    Uploaded(Result<String, String>),
    /// The page's address changed (its `#hash`).
    Route,
    /// A question answered on the assessment page: its key, the answer.
    Answer(&'static str, String),
    /// A fresh simulated host, its cgroups mounted as this layout says.
    Cgroups(CgroupLayout),
}

/// Which page shows.
#[derive(Clone, Debug, PartialEq)]
enum Page {
    /// The host and its containers.
    Host,
    /// "Should we use containers in prod?", with the app's answers.
    Assess,
    /// The workshop's lessons, at this one.
    Lessons(Lesson),
}

/// The page the address asks for, the answers it carries, and an error for
/// what it garbled.
fn page_of_address() -> (Page, Option<Answers>, Option<String>) {
    let hash = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default();
    if let Some(lesson) = lessons::lesson_in(&hash) {
        return match lesson {
            Ok(lesson) => (Page::Lessons(lesson), None, None),
            Err(err) => (Page::Lessons(Lesson::Strengths), None, Some(err)),
        };
    }
    match assess::address(&hash) {
        assess::Address::Elsewhere => (Page::Host, None, None),
        assess::Address::Bare => (Page::Assess, None, None),
        assess::Address::Answers(answers, errors) => {
            let error = (!errors.is_empty()).then(|| {
                format!(
                    "some of the link's answers could not be read, and are left unanswered: {}",
                    errors.join("; ")
                )
            });
            (Page::Assess, Some(answers), error)
        }
    }
}

/// Puts the answers in the page's address (`#assess?...`), without a
/// history entry for every choice.
fn address_answers(answers: &Answers) {
    let url = format!("{}?{}", assess::HASH, answers.to_query());
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// How many terminal lines the page keeps.
const TERMINAL_LINES: usize = 2000;

pub struct App {
    mode: Mode,
    backend: Backend,
    /// A reconnection under way while the simulation keeps running: it
    /// takes over only once the server has answered.
    pending: Option<Live>,
    /// Which connection's signals count; older ones are ignored.
    generation: u32,
    snapshot: Option<Rc<HostSnapshot>>,
    /// The number of the server's snapshot that `snapshot` is (live only):
    /// deltas apply onto it.
    seq: u64,
    log: VecDeque<String>,
    error: Option<String>,
    /// The simulated host's terminal: what it printed, oldest first.
    terminal: VecDeque<view::TermLine>,
    /// Terminals into containers (live), oldest first.
    ptys: Vec<pty::LiveTerminal>,
    /// `open_terminal` commands awaiting their answer: their size.
    opening: HashMap<u64, TerminalSize>,
    /// An image upload under way.
    upload: Option<view::UploadState>,
    page: Page,
    /// The assessment's answers: from the link the page was opened with,
    /// then as they are given; kept while other pages show.
    answers: Answers,
    /// Follows the address's `#hash` (the back button, a pasted link).
    _hash_listener: Option<gloo::events::EventListener>,
    /// How the simulated host mounts its cgroups: v2 unless the learner
    /// picks their own host's layout.
    layout: CgroupLayout,
}

impl App {
    /// Shows the page the address asks for. A bare `#assess` shows the
    /// answers given so far, and puts them back in the address.
    fn route(&mut self) {
        let (page, answers, error) = page_of_address();
        if let Some(answers) = answers {
            self.answers = answers;
        } else if page == Page::Assess && self.answers != Answers::default() {
            address_answers(&self.answers);
        }
        if error.is_some() {
            self.error = error;
        }
        self.page = page;
    }

    fn connect(&mut self, ctx: &Context<Self>) {
        let Some(url) = backend::socket_url() else {
            self.simulate(ctx, "this page has no server address".into());
            return;
        };
        self.generation += 1;
        let generation = self.generation;
        let on_signal = ctx
            .link()
            .callback(move |signal| Msg::Live(generation, signal));
        match Live::connect(&url, on_signal) {
            Ok(live) if matches!(self.backend, Backend::Simulated { .. }) => {
                self.pending = Some(live);
            }
            Ok(live) => {
                self.mode = Mode::Connecting;
                self.backend = Backend::Live(live);
            }
            Err(err) if matches!(self.backend, Backend::Simulated { .. }) => {
                self.error = Some(format!("could not reach the server: {err}"));
            }
            Err(err) => self.simulate(ctx, format!("could not reach the server: {err}")),
        }
    }

    fn simulate(&mut self, ctx: &Context<Self>, why: String) {
        let sim = Simulated::boot(self.layout);
        self.snapshot = Some(sim.snapshot());
        let link = ctx.link().clone();
        let timer = Interval::new(SIM_TICK_MS, move || link.send_message(Msg::Tick));
        self.backend = Backend::Simulated {
            sim: Box::new(sim),
            _timer: timer,
        };
        self.mode = Mode::Simulated { why };
    }

    /// Logs events; a terminal's go to its screen instead.
    fn record(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::TerminalOutput { terminal, data } => {
                    if let Some(pty) = self.ptys.iter_mut().find(|p| p.id == *terminal) {
                        pty.write(data.as_bytes());
                    }
                }
                Event::TerminalExited { terminal, status } => {
                    if let Some(pty) = self.ptys.iter_mut().find(|p| p.id == *terminal) {
                        pty.ended = Some(*status);
                    }
                }
                // Progress shows beside the upload form, not in the log.
                Event::ImageImport {
                    file,
                    unpacking,
                    done,
                    total,
                } => {
                    if let Some(upload) = &mut self.upload
                        && upload.file == *file
                    {
                        upload.unpacking = *unpacking;
                        upload.done = *done;
                        upload.total = *total;
                    }
                }
                _ => self.log.push_front(event.to_string()),
            }
        }
        self.log.truncate(LOG_LINES);
    }

    /// A terminal the server opened for this page.
    fn opened(&mut self, events: &[Event], size: TerminalSize) {
        for event in events {
            if let Event::TerminalOpened {
                terminal,
                container,
                ..
            } = event
            {
                let name = self
                    .snapshot
                    .as_ref()
                    .and_then(|s| s.container(container))
                    .map_or_else(
                        || container[..12.min(container.len())].to_string(),
                        |c| c.name.clone(),
                    );
                self.ptys
                    .push(pty::LiveTerminal::new(*terminal, name, size));
            }
        }
    }
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let mut app = App {
            mode: Mode::Connecting,
            backend: Backend::None,
            pending: None,
            generation: 0,
            snapshot: None,
            seq: 0,
            log: VecDeque::new(),
            error: None,
            terminal: VecDeque::new(),
            ptys: Vec::new(),
            opening: HashMap::new(),
            upload: None,
            page: Page::Host,
            answers: Answers::default(),
            _hash_listener: None,
            layout: CgroupLayout::Unified,
        };
        app.route();
        if let Some(window) = web_sys::window() {
            let link = ctx.link().clone();
            app._hash_listener = Some(gloo::events::EventListener::new(
                &window,
                "hashchange",
                move |_| link.send_message(Msg::Route),
            ));
        }
        if backend::served_live() {
            app.connect(ctx);
        } else {
            app.simulate(
                ctx,
                "opened as a static site: the simulated kernel runs in this page".into(),
            );
        }
        app
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Self::Message) -> bool {
        match msg {
            Msg::Live(generation, signal) => {
                if generation != self.generation {
                    return false;
                }
                // The server answered a reconnection: it takes over.
                if matches!(signal, LiveSignal::Message(_))
                    && let Some(live) = self.pending.take()
                {
                    self.backend = Backend::Live(live);
                    self.error = None;
                }
                if !matches!(self.backend, Backend::Live(_)) {
                    if let LiveSignal::Closed(reason) = signal {
                        // A failed reconnection: the simulation carries on.
                        self.pending = None;
                        self.error = Some(format!(
                            "the server is still unreachable ({reason}); the simulation carries on in this page"
                        ));
                        return true;
                    }
                    return false;
                }
                match signal {
                    LiveSignal::Message(message) => match message {
                        ServerMessage::Hello { .. } => self.mode = Mode::Live,
                        ServerMessage::Snapshot { seq, snapshot } => {
                            self.mode = Mode::Live;
                            self.seq = seq;
                            self.snapshot = Some(Rc::from(snapshot));
                        }
                        ServerMessage::Delta { from, to, delta } => match &self.snapshot {
                            Some(current) if from == self.seq => {
                                let mut next = HostSnapshot::clone(current);
                                delta.apply_to(&mut next);
                                self.seq = to;
                                self.snapshot = Some(Rc::new(next));
                            }
                            _ if to <= self.seq => return false,
                            _ => {
                                self.error = Some(format!(
                                    "the server sent changes to snapshot {from}, but this page has snapshot {}: reload the page",
                                    self.seq
                                ));
                            }
                        },
                        ServerMessage::Events { events } => self.record(&events),
                        ServerMessage::Done { id, events } => {
                            if let Some(size) = self.opening.remove(&id) {
                                self.opened(&events, size);
                            }
                        }
                        ServerMessage::Error { id, message, .. } => {
                            if let Some(id) = id {
                                self.opening.remove(&id);
                            }
                            self.error = Some(message);
                        }
                    },
                    LiveSignal::Garbled(err) => {
                        self.error = Some(format!(
                            "the server sent a message this page cannot read ({err}): reload the page"
                        ));
                    }
                    LiveSignal::Closed(reason) => {
                        let why = if self.mode == Mode::Live {
                            format!(
                                "the server went away ({reason}); the simulated kernel took over in this page"
                            )
                        } else {
                            format!(
                                "could not reach the server ({reason}); the simulated kernel runs in this page"
                            )
                        };
                        self.simulate(ctx, why);
                    }
                }
                true
            }
            Msg::Tick => {
                if let Backend::Simulated { sim, .. } = &mut self.backend {
                    let events = sim.advance(u64::from(SIM_TICK_MS));
                    let snapshot = sim.snapshot();
                    self.record(&events);
                    self.snapshot = Some(snapshot);
                    true
                } else {
                    false
                }
            }
            Msg::Command(command) => {
                self.error = None;
                match &mut self.backend {
                    Backend::Live(live) => {
                        let size = match &command {
                            Command::OpenTerminal { size, .. } => Some(*size),
                            _ => None,
                        };
                        let id = live.command(command);
                        if let Some(size) = size {
                            self.opening.insert(id, size);
                        }
                    }
                    Backend::Simulated { sim, .. } => match sim.command(command) {
                        Ok(events) => {
                            let snapshot = sim.snapshot();
                            self.record(&events);
                            self.snapshot = Some(snapshot);
                        }
                        Err(err) => self.error = Some(err.to_string()),
                    },
                    Backend::None => {}
                }
                true
            }
            Msg::Reconnect => {
                self.connect(ctx);
                true
            }
            Msg::DismissError => {
                self.error = None;
                true
            }
            Msg::PtyKeys(terminal, data) => {
                if let Backend::Live(live) = &mut self.backend {
                    live.command(Command::TerminalInput { terminal, data });
                }
                false
            }
            Msg::PtyResize(terminal, size) => {
                if let Some(pty) = self.ptys.iter_mut().find(|p| p.id == terminal) {
                    pty.resize(size);
                }
                if let Backend::Live(live) = &mut self.backend {
                    live.command(Command::ResizeTerminal { terminal, size });
                }
                true
            }
            Msg::PtyClose(terminal) => {
                let ended = self
                    .ptys
                    .iter()
                    .find(|p| p.id == terminal)
                    .is_none_or(|p| p.ended.is_some());
                if ended {
                    self.ptys.retain(|p| p.id != terminal);
                } else if let Backend::Live(live) = &mut self.backend {
                    live.command(Command::CloseTerminal { terminal });
                }
                true
            }
            Msg::Upload(file, name) => {
                self.error = None;
                self.upload = Some(view::UploadState {
                    file: file.name(),
                    unpacking: false,
                    done: 0,
                    total: Some(file.size() as u64),
                });
                let done = ctx.link().callback(Msg::Uploaded);
                wasm_bindgen_futures::spawn_local(async move {
                    done.emit(backend::upload_image(file, Some(name)).await);
                });
                true
            }
            Msg::Uploaded(result) => {
                self.upload = None;
                if let Err(reason) = result {
                    self.error = Some(reason);
                }
                true
            }
            Msg::Route => {
                self.route();
                true
            }
            Msg::Answer(key, value) => {
                // The page offers only answers it takes; a number it cannot
                // read leaves the question unanswered.
                if self.answers.set(key, &value).is_err() {
                    let _ = self.answers.set(key, "");
                }
                address_answers(&self.answers);
                true
            }
            Msg::Cgroups(layout) => {
                let Backend::Simulated { .. } = &self.backend else {
                    return false;
                };
                let Mode::Simulated { why } = self.mode.clone() else {
                    return false;
                };
                self.layout = layout;
                self.terminal.clear();
                self.log.clear();
                self.error = None;
                self.simulate(ctx, why);
                self.log.push_front(format!(
                    "a fresh simulated host, its cgroups mounted as on a {} host",
                    layout.describe()
                ));
                true
            }
            Msg::TerminalLine(line) => {
                let Backend::Simulated { sim, .. } = &mut self.backend else {
                    return false;
                };
                let prompt = sim.prompt();
                let (output, events) = sim.run_line(&line);
                let snapshot = sim.snapshot();
                self.terminal
                    .push_back(view::TermLine::Input(format!("{prompt}{line}")));
                for (stream, text) in output {
                    self.terminal
                        .push_back(view::TermLine::Output(stream, text));
                }
                while self.terminal.len() > TERMINAL_LINES {
                    self.terminal.pop_front();
                }
                self.record(&events);
                self.snapshot = Some(snapshot);
                true
            }
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let on_command = ctx.link().callback(Msg::Command);
        let can_reconnect = backend::served_live()
            && matches!(self.mode, Mode::Simulated { .. })
            && self.pending.is_none();
        html! {
            <>
                <view::Header
                    mode={self.mode.clone()}
                    on_reconnect={can_reconnect.then(|| ctx.link().callback(|_| Msg::Reconnect))}
                />
                if let Some(error) = &self.error {
                    <p class="error" role="alert">
                        { error }
                        <button class="dismiss" onclick={ctx.link().callback(|_| Msg::DismissError)}>{ "Dismiss" }</button>
                    </p>
                }
                if self.page == Page::Assess {
                    <assess::AssessPage
                        answers={self.answers.clone()}
                        on_answer={ctx.link().callback(|(key, value)| Msg::Answer(key, value))}
                    />
                } else if let Page::Lessons(lesson) = &self.page {
                    <lessons::LessonsPage lesson={*lesson} />
                } else {
                <main>
                    {
                        match &self.snapshot {
                            Some(snapshot) => html! {
                                <view::HostView
                                    snapshot={snapshot.clone()}
                                    on_command={on_command}
                                    on_upload={(matches!(self.backend, Backend::Live(_))
                                        && snapshot.engine.capabilities.uploads)
                                        .then(|| ctx.link().callback(|(file, name)| Msg::Upload(file, name)))}
                                    upload={self.upload.clone()}
                                    on_cgroups={matches!(self.backend, Backend::Simulated { .. })
                                        .then(|| ctx.link().callback(Msg::Cgroups))}
                                />
                            },
                            None => html! { <p class="waiting">{ "Connecting to the server…" }</p> },
                        }
                    }
                    if let Backend::Simulated { sim, .. } = &self.backend {
                        <view::Terminal
                            prompt={sim.prompt()}
                            lines={self.terminal.iter().cloned().collect::<Vec<_>>()}
                            on_line={ctx.link().callback(Msg::TerminalLine)}
                        />
                    }
                    { for self.ptys.iter().map(|p| html! {
                        <pty::PtyView
                            key={p.id.to_string()}
                            id={p.id}
                            title={format!("Terminal {} in {}", p.id, p.container)}
                            frame={p.frame()}
                            size={p.size}
                            ended={p.ended}
                            on_keys={ctx.link().callback(|(id, keys)| Msg::PtyKeys(id, keys))}
                            on_resize={ctx.link().callback(|(id, size)| Msg::PtyResize(id, size))}
                            on_close={ctx.link().callback(Msg::PtyClose)}
                        />
                    }) }
                    <view::EventLog lines={self.log.iter().cloned().collect::<Vec<_>>()} />
                </main>
                }
            </>
        }
    }
}
