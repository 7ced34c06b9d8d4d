//! The root component: picks a backend, keeps the latest snapshot and a log
//! of events, and routes the user's commands to the backend.

use std::collections::VecDeque;
use std::rc::Rc;

use anchorage_shared::protocol::ServerMessage;
use anchorage_shared::{Command, Event, HostSnapshot};
use gloo::timers::callback::Interval;
use yew::{Component, Context, Html, html};

use crate::backend::{self, Live, LiveSignal, Simulated};
use crate::view;

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
        sim: Simulated,
        _timer: Interval,
    },
}

pub enum Msg {
    Live(LiveSignal),
    Tick,
    Command(Command),
    Reconnect,
    DismissError,
}

pub struct App {
    mode: Mode,
    backend: Backend,
    snapshot: Option<Rc<HostSnapshot>>,
    log: VecDeque<String>,
    error: Option<String>,
}

impl App {
    fn connect(&mut self, ctx: &Context<Self>) {
        let Some(url) = backend::socket_url() else {
            self.simulate(ctx, "this page has no server address".into());
            return;
        };
        match Live::connect(&url, ctx.link().callback(Msg::Live)) {
            Ok(live) => {
                self.mode = Mode::Connecting;
                self.backend = Backend::Live(live);
            }
            Err(err) => self.simulate(ctx, format!("could not reach the server: {err}")),
        }
    }

    fn simulate(&mut self, ctx: &Context<Self>, why: String) {
        let sim = Simulated::boot();
        self.snapshot = Some(sim.snapshot());
        let link = ctx.link().clone();
        let timer = Interval::new(SIM_TICK_MS, move || link.send_message(Msg::Tick));
        self.backend = Backend::Simulated { sim, _timer: timer };
        self.mode = Mode::Simulated { why };
    }

    fn record(&mut self, events: &[Event]) {
        for event in events {
            self.log.push_front(event.to_string());
        }
        self.log.truncate(LOG_LINES);
    }
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let mut app = App {
            mode: Mode::Connecting,
            backend: Backend::None,
            snapshot: None,
            log: VecDeque::new(),
            error: None,
        };
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
            Msg::Live(signal) => {
                if !matches!(self.backend, Backend::Live(_)) {
                    return false;
                }
                match signal {
                    LiveSignal::Message(message) => match message {
                        ServerMessage::Hello { .. } => self.mode = Mode::Live,
                        ServerMessage::Snapshot { snapshot } => {
                            self.mode = Mode::Live;
                            self.snapshot = Some(Rc::from(snapshot));
                        }
                        ServerMessage::Events { events } => self.record(&events),
                        ServerMessage::Done { .. } => {}
                        ServerMessage::Error { message, .. } => self.error = Some(message),
                    },
                    LiveSignal::Garbled(err) => {
                        self.error = Some(format!(
                            "the server sent a message this page cannot read ({err}): reload the page"
                        ));
                    }
                    LiveSignal::Closed(reason) => {
                        let was_live = self.mode == Mode::Live;
                        let why = if was_live {
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
                    Backend::Live(live) => live.command(command),
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
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let on_command = ctx.link().callback(Msg::Command);
        let can_reconnect = backend::served_live() && matches!(self.mode, Mode::Simulated { .. });
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
                <main>
                    {
                        match &self.snapshot {
                            Some(snapshot) => html! {
                                <view::HostView snapshot={snapshot.clone()} on_command={on_command} />
                            },
                            None => html! { <p class="waiting">{ "Connecting to the server…" }</p> },
                        }
                    }
                    <view::EventLog lines={self.log.iter().cloned().collect::<Vec<_>>()} />
                </main>
            </>
        }
    }
}
