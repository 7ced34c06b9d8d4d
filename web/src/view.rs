//! What the page draws: the header with the mode, the host, the run form,
//! one card per container (its processes, tarball, namespaces and cgroup)
//! and the event log.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use anchorage_shared::cgroup::{
    Cgroup, CgroupLimits, CpuMax, format_size, parse_pids_limit, parse_size,
};
use anchorage_shared::container::{Container, ContainerSpec, ContainerState};
use anchorage_shared::engine::Stream;
use anchorage_shared::host::CgroupLayout;
use anchorage_shared::namespace::NamespaceId;
use anchorage_shared::process::{Process, Signal, parse_command_line};
use anchorage_shared::tarball::ImageInfo;
use anchorage_shared::{Command, HostSnapshot};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::app::Mode;

/// The default command of the run form: a shell as PID 1 with two children.
const DEFAULT_COMMAND: &str = "sh -c 'sleep 600 & sleep 600'";

#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    pub mode: Mode,
    pub on_reconnect: Option<Callback<MouseEvent>>,
}

#[function_component]
pub fn Header(props: &HeaderProps) -> Html {
    let (class, data, label, detail) = match &props.mode {
        Mode::Connecting => (
            "mode connecting",
            "connecting",
            "Connecting…",
            "reaching anchorage serve".to_string(),
        ),
        Mode::Live => (
            "mode live",
            "live",
            "Live",
            "connected to anchorage serve".to_string(),
        ),
        Mode::Simulated { why } => ("mode simulated", "simulated", "Simulation", why.clone()),
    };
    html! {
        <header class="top">
            <div class="brand">
                <img src="icon.svg" alt="" width="40" height="40" />
                <h1>{ "Anchorage" }</h1>
            </div>
            <p class="tagline">
                { "Containers are " }<span class="noun process">{ "processes" }</span>
                { " born from " }<span class="noun tarball">{ "tarballs" }</span>
                { " anchored to " }<span class="noun namespace">{ "namespaces" }</span>
                { " controlled by " }<span class="noun cgroup">{ "cgroups" }</span>
            </p>
            <nav class="pages">
                <a href="#" id="nav-host">{ "Host" }</a>
                <a href={crate::lessons::HASH} id="nav-lessons">{ "Lessons" }</a>
                <a href={crate::assess::HASH} id="nav-assess">{ "Should we use containers in prod?" }</a>
            </nav>
            <div id="mode" class={class} data-mode={data} title={detail.clone()}>
                <strong>{ label }</strong>
                <span class="why">{ detail }</span>
                if let Some(on_reconnect) = &props.on_reconnect {
                    <button onclick={on_reconnect.clone()}>{ "Reconnect" }</button>
                }
            </div>
        </header>
    }
}

#[derive(Properties, PartialEq)]
pub struct HostProps {
    pub snapshot: Rc<HostSnapshot>,
    pub on_command: Callback<Command>,
    /// Image uploads, where the server takes them (real containers).
    #[prop_or_default]
    pub on_upload: Option<Callback<(web_sys::File, String)>>,
    /// The upload under way: what the server last said of it.
    #[prop_or_default]
    pub upload: Option<UploadState>,
    /// A fresh host with another cgroup layout, where the host is
    /// simulated in the page.
    #[prop_or_default]
    pub on_cgroups: Option<Callback<CgroupLayout>>,
}

/// An image upload under way, as the server reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct UploadState {
    pub file: String,
    pub unpacking: bool,
    pub done: u64,
    pub total: Option<u64>,
}

#[function_component]
pub fn HostView(props: &HostProps) -> Html {
    let snap = &props.snapshot;
    let engine = &snap.engine;
    let kind = if engine.capabilities.real_kernel {
        "real Linux kernel"
    } else {
        "simulated kernel"
    };
    // Each card gets only its own entities. They are the snapshot's `Arc`s,
    // which the engine keeps while they do not change, so Yew skips the
    // cards of containers that did not change (pointer comparisons).
    let mut by_container: BTreeMap<&str, Vec<Arc<Process>>> = BTreeMap::new();
    for p in &snap.processes {
        if let Some(id) = &p.container {
            by_container.entry(id.as_str()).or_default().push(p.clone());
        }
    }
    // The host's namespaces are its init's.
    // (A real host's are in its host view: its processes are not listed.)
    let host_namespaces: Rc<Vec<NamespaceId>> = Rc::new(
        snap.process(1)
            .map(|init| init.namespaces.clone())
            .or_else(|| snap.host.as_ref().map(|h| h.own_namespaces.clone()))
            .unwrap_or_default(),
    );
    html! {
        <>
            <section class="host" id="host">
                <h2>{ format!("Host {}", engine.hostname) }</h2>
                <dl class="facts">
                    // Each term stays with its value when the line wraps.
                    <div><dt>{ "Engine" }</dt><dd id="engine-kind">{ kind }</dd></div>
                    <div><dt>{ "Kernel" }</dt><dd>{ &engine.kernel }</dd></div>
                    <div><dt>{ "Cgroups" }</dt><dd id="cgroup-layout">
                        <CgroupChoice layout={engine.cgroup_layout} on_choose={props.on_cgroups.clone()} />
                    </dd></div>
                    <div><dt>{ "Processes" }</dt><dd>{ snap.processes.len() }</dd></div>
                    <div><dt>{ "Clock" }</dt><dd>{ format!("{:.1} s", snap.clock_ms as f64 / 1000.0) }</dd></div>
                </dl>
                <p class="note">{ &engine.note }</p>
                <RunForm on_command={props.on_command.clone()} images={snap.images.iter().flat_map(|i| i.names.clone()).collect::<Vec<_>>()} />
                if let Some(on_upload) = &props.on_upload {
                    <UploadForm on_upload={on_upload.clone()} state={props.upload.clone()} />
                }
            </section>
            if let Some(host) = &snap.host {
                <HostRest host={host.clone()} />
            }
            <section class="containers" id="containers">
                if snap.containers.is_empty() {
                    <p class="empty">{ "No containers yet. Run one above: it starts as a process in new namespaces, under a cgroup of its own." }</p>
                }
                { for snap.containers.iter().map(|c| html! {
                    <ContainerCard
                        key={c.id.clone()}
                        container={c.clone()}
                        processes={by_container.get(c.id.as_str()).cloned().unwrap_or_default()}
                        cgroup={snap.cgroups.iter().find(|g| g.path == c.cgroup).cloned()}
                        image={snap.images.iter().find(|i| i.id.0 == c.image_id).cloned()}
                        host_namespaces={host_namespaces.clone()}
                        terminals={engine.capabilities.terminals}
                        on_command={props.on_command.clone()}
                    />
                }) }
            </section>
        </>
    }
}

#[derive(Properties, PartialEq)]
struct CgroupChoiceProps {
    layout: CgroupLayout,
    /// Where the host can be rebooted with another layout.
    on_choose: Option<Callback<CgroupLayout>>,
}

/// The host's cgroup layout; on a simulated host, a choice of the three, so
/// a learner can see what their own host mounts.
#[function_component]
fn CgroupChoice(props: &CgroupChoiceProps) -> Html {
    let Some(on_choose) = &props.on_choose else {
        return html! { { props.layout.describe() } };
    };
    let onchange = {
        let on_choose = on_choose.clone();
        Callback::from(move |event: Event| {
            let chosen = event
                .target_dyn_into::<HtmlSelectElement>()
                .and_then(|select| select.value().parse::<CgroupLayout>().ok());
            if let Some(layout) = chosen {
                on_choose.emit(layout);
            }
        })
    };
    html! {
        <select id="cgroup-choice" {onchange} aria-label="cgroup layout of the simulated host"
            title="Reboots the simulated host with its cgroups mounted this way">
            { for CgroupLayout::ALL.iter().map(|layout| html! {
                <option value={layout.short_name()} selected={*layout == props.layout}>
                    { layout.describe() }
                </option>
            }) }
        </select>
    }
}

#[derive(Properties, PartialEq)]
pub struct UploadFormProps {
    pub on_upload: Callback<(web_sys::File, String)>,
    pub state: Option<UploadState>,
}

/// Import an image into the server's store: a root file system tarball, a
/// `docker save` archive or an OCI layout in a tar (plain, gzip or zstd).
#[function_component]
fn UploadForm(props: &UploadFormProps) -> Html {
    let file = use_node_ref();
    let name = use_node_ref();
    let onsubmit = {
        let (file, name) = (file.clone(), name.clone());
        let on_upload = props.on_upload.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let chosen = file
                .cast::<HtmlInputElement>()
                .and_then(|input| input.files())
                .and_then(|files| files.get(0));
            let name = name
                .cast::<HtmlInputElement>()
                .map(|input| input.value())
                .unwrap_or_default();
            if let Some(chosen) = chosen {
                on_upload.emit((chosen, name));
            }
        })
    };
    let busy = props.state.is_some();
    html! {
        <form class="upload" id="upload-form" {onsubmit}>
            <label>{ "Image archive " }<input ref={file} type="file" name="file" required=true accept=".tar,.gz,.tgz,.zst,.tzst" /></label>
            <label>{ "Name " }<input ref={name} name="name" placeholder="optional, such as web:1" /></label>
            <button type="submit" id="upload" disabled={busy}>{ "Import" }</button>
            if let Some(state) = &props.state {
                <span class="progress" id="upload-progress">
                    { format!(
                        "{} {}: {}",
                        if state.unpacking { "Unpacking" } else { "Sending" },
                        state.file,
                        match state.total {
                            Some(total) if total > 0 => format!("{}%", (state.done.saturating_mul(100) / total).min(100)),
                            _ => format_size(state.done),
                        }
                    ) }
                </span>
            }
        </form>
    }
}

#[derive(Properties, PartialEq)]
pub struct HostRestProps {
    pub host: Arc<anchorage_shared::host::HostView>,
}

/// The rest of a real host, read-only: other runtimes' containers, the
/// top-level cgroups, and every namespace (as `lsns` lists them).
#[function_component]
fn HostRest(props: &HostRestProps) -> Html {
    let host = &props.host;
    let memory = |bytes: Option<u64>| bytes.map_or("–".to_string(), format_size);
    html! {
        <section class="host-rest" id="host-rest">
            <h2>{ "The rest of this host" }</h2>
            <p class="quiet">{ format!(
                "Read from /proc and cgroupfs, never changed: {} processes in {} namespaces.",
                host.processes,
                host.namespaces.len()
            ) }</p>
            <h3>{ "Other runtimes' containers" }</h3>
            if host.others.is_empty() {
                <p class="empty">{ "None: no Docker, Podman, containerd, runc, LXC or systemd-nspawn container runs here now." }</p>
            } else {
                <table class="others">
                    <thead><tr><th>{ "Runtime" }</th><th>{ "ID" }</th><th>{ "Init (host pid)" }</th><th>{ "Processes" }</th><th>{ "Memory" }</th><th>{ "pid namespace" }</th><th>{ "Cgroup" }</th></tr></thead>
                    <tbody>
                        { for host.others.iter().map(|c| {
                            let pid_ns = c.namespaces.iter().find(|n| n.kind == anchorage_shared::namespace::NamespaceKind::Pid).map_or("–".into(), |n| n.to_string());
                            html! {
                                <tr class="other" data-runtime={c.runtime.clone()} data-id={c.id.clone()}>
                                    <td>{ &c.runtime }</td>
                                    <td><code title={c.id.clone()}>{ c.id.chars().take(12).collect::<String>() }</code></td>
                                    <td>{ c.init_pid.map_or("–".into(), |p| p.to_string()) }</td>
                                    <td>{ c.pids.len() }</td>
                                    <td>{ memory(c.usage.map(|u| u.memory_current)) }</td>
                                    <td><code>{ pid_ns }</code></td>
                                    <td><code>{ &c.cgroup }</code></td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            }
            <details>
                <summary>{ format!("Top-level cgroups ({})", host.cgroups.len()) }</summary>
                <table class="host-cgroups">
                    <thead><tr><th>{ "Cgroup" }</th><th>{ "Processes" }</th><th>{ "Memory" }</th></tr></thead>
                    <tbody>
                        { for host.cgroups.iter().map(|g| html! {
                            <tr><td><code>{ &g.path }</code></td><td>{ g.processes }</td><td>{ memory(g.memory_bytes) }</td></tr>
                        }) }
                    </tbody>
                </table>
            </details>
            <details>
                <summary>{ format!("Every namespace ({}), as lsns lists them", host.namespaces.len()) }</summary>
                <table class="host-namespaces">
                    <thead><tr><th>{ "Namespace" }</th><th>{ "Processes" }</th><th>{ "First pid" }</th><th>{ "Command" }</th></tr></thead>
                    <tbody>
                        { for host.namespaces.iter().map(|n| html! {
                            <tr><td><code>{ n.id.to_string() }</code></td><td>{ n.processes }</td><td>{ n.pid }</td><td>{ &n.command }</td></tr>
                        }) }
                    </tbody>
                </table>
            </details>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct RunFormProps {
    pub on_command: Callback<Command>,
    pub images: Vec<String>,
}

#[function_component]
pub fn RunForm(props: &RunFormProps) -> Html {
    let name = use_node_ref();
    let image = use_node_ref();
    let command = use_node_ref();
    let memory = use_node_ref();
    let pids = use_node_ref();
    let cpus = use_node_ref();
    let problem = use_state(|| None::<String>);
    let onsubmit = {
        let (name, image, command, memory, pids, cpus) = (
            name.clone(),
            image.clone(),
            command.clone(),
            memory.clone(),
            pids.clone(),
            cpus.clone(),
        );
        let (on_command, problem) = (props.on_command.clone(), problem.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let value = |node: &NodeRef| {
                node.cast::<HtmlInputElement>()
                    .map(|input| input.value().trim().to_string())
                    .unwrap_or_default()
            };
            match build_spec(
                &value(&name),
                &value(&image),
                &value(&command),
                &value(&memory),
                &value(&pids),
                &value(&cpus),
            ) {
                Ok(spec) => {
                    problem.set(None);
                    on_command.emit(Command::Run { spec });
                }
                Err(err) => problem.set(Some(err)),
            }
        })
    };
    html! {
        <form class="run" id="run-form" {onsubmit}>
            <h3>{ "Run a container" }</h3>
            <label>{ "Name" }<input ref={name} name="name" placeholder="optional" /></label>
            <label>{ "Image" }<input ref={image} name="image" value={props.images.first().cloned().unwrap_or_default()} list="images" /></label>
            <datalist id="images">{ for props.images.iter().map(|i| html! { <option value={i.clone()} /> }) }</datalist>
            <label class="wide">{ "Command" }<input ref={command} name="command" value={DEFAULT_COMMAND} /></label>
            <label>{ "Memory" }<input ref={memory} name="memory" placeholder="e.g. 64m" /></label>
            <label>{ "Pids limit" }<input ref={pids} name="pids" placeholder="e.g. 10" /></label>
            <label>{ "CPUs" }<input ref={cpus} name="cpus" placeholder="e.g. 0.5" /></label>
            <button type="submit" id="run">{ "Run" }</button>
            if let Some(problem) = &*problem {
                <p class="problem" role="alert">{ problem }</p>
            }
        </form>
    }
}

/// Turns the form's fields into a spec, or says which field is wrong.
fn build_spec(
    name: &str,
    image: &str,
    command: &str,
    memory: &str,
    pids: &str,
    cpus: &str,
) -> Result<ContainerSpec, String> {
    let mut spec = ContainerSpec::new(image);
    if !name.is_empty() {
        spec.name = Some(name.to_string());
    }
    if !command.is_empty() {
        spec.command = parse_command_line(command).map_err(|e| format!("Command: {e}"))?;
    }
    let mut limits = CgroupLimits::default();
    if !memory.is_empty() {
        limits.memory_max = Some(parse_size(memory).map_err(|e| format!("Memory: {e}"))?);
    }
    if !pids.is_empty() {
        limits.pids_max = parse_pids_limit(pids).map_err(|e| format!("Pids limit: {e}"))?;
    }
    if !cpus.is_empty() {
        let count: f64 = cpus
            .parse()
            .map_err(|_| format!("CPUs: `{cpus}` is not a number: write e.g. 0.5"))?;
        limits.cpu_max = CpuMax::from_cpus(count).map_err(|e| format!("CPUs: {e}"))?;
    }
    spec.limits = limits;
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
}

#[derive(Properties, PartialEq)]
pub struct CardProps {
    pub container: Arc<Container>,
    pub processes: Vec<Arc<Process>>,
    pub cgroup: Option<Arc<Cgroup>>,
    pub image: Option<Arc<ImageInfo>>,
    pub host_namespaces: Rc<Vec<NamespaceId>>,
    /// Whether terminals can be opened into it (real containers).
    pub terminals: bool,
    pub on_command: Callback<Command>,
}

#[function_component]
pub fn ContainerCard(props: &CardProps) -> Html {
    let c = &props.container;
    let state = match c.state {
        ContainerState::Exited { status, oom_killed } => {
            format!("exited: {status}{}", if oom_killed { " (OOM)" } else { "" })
        }
        other => other.label().to_string(),
    };
    let button = |label: &'static str, class: &'static str, command: Command| {
        let on_command = props.on_command.clone();
        html! {
            <button class={class} onclick={Callback::from(move |_| on_command.emit(command.clone()))}>{ label }</button>
        }
    };
    let running = c.state == ContainerState::Running;
    html! {
        <article class="container" data-name={c.name.clone()} data-state={c.state.label()}>
            <header>
                <h2>{ &c.name }</h2>
                <code class="id" title={c.id.clone()}>{ c.short_id() }</code>
                <span class={classes!("state", c.state.label())}>{ state }</span>
                <code class="cmd">{ c.command.join(" ") }</code>
                <span class="actions">
                    if running && props.terminals {
                        { button("Terminal", "open-terminal", Command::OpenTerminal {
                            container: c.id.clone(),
                            argv: Vec::new(),
                            size: crate::pty::SIZES[0],
                        }) }
                    }
                    if running {
                        { button("Stop", "stop", Command::Stop { container: c.id.clone(), timeout_ms: 10_000 }) }
                        { button("Kill", "kill", Command::Kill { container: c.id.clone(), signal: Signal::Kill }) }
                    }
                    { button("Remove", "remove", Command::Remove { container: c.id.clone(), force: true }) }
                </span>
            </header>
            <div class="panels">
                <Processes processes={props.processes.clone()} />
                <Tarball container={c.clone()} image={props.image.clone()} />
                <Namespaces container={c.clone()} host={props.host_namespaces.clone()} />
                <CgroupPanel cgroup={props.cgroup.clone()} />
            </div>
        </article>
    }
}

#[derive(Properties, PartialEq)]
pub struct ProcessesProps {
    pub processes: Vec<Arc<Process>>,
}

#[function_component]
fn Processes(props: &ProcessesProps) -> Html {
    let rows: Vec<Html> = props
        .processes
        .iter()
        .map(|p| {
            html! {
                <tr class="proc">
                    <td class="inner-pid">{ p.inner_pid() }</td>
                    <td class="host-pid">{ p.pid }</td>
                    <td>{ p.uid }</td>
                    <td>{ p.state.code() }</td>
                    <td>{ format_size(p.memory_bytes) }</td>
                    <td class="argv"><code>{ p.command_line() }</code></td>
                </tr>
            }
        })
        .collect();
    html! {
        <section class="panel process">
            <h3>{ "Processes" }</h3>
            if rows.is_empty() {
                <p class="quiet">{ "No processes: the container is not running." }</p>
            } else {
                <table>
                    <thead><tr>
                        <th title="as the container sees it">{ "PID inside" }</th>
                        <th title="as the host sees it">{ "PID on host" }</th>
                        <th title="as the host sees it">{ "UID on host" }</th>
                        <th>{ "S" }</th><th>{ "RSS" }</th><th>{ "Command" }</th>
                    </tr></thead>
                    <tbody>{ for rows }</tbody>
                </table>
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct TarballProps {
    pub container: Arc<Container>,
    pub image: Option<Arc<ImageInfo>>,
}

#[function_component]
fn Tarball(props: &TarballProps) -> Html {
    let c = &props.container;
    let image = props.image.as_deref();
    html! {
        <section class="panel tarball">
            <h3>{ "Tarball" }</h3>
            <p><strong class="image-name">{ &c.image }</strong>{ " " }<code>{ &c.image_id[..c.image_id.len().min(19)] }</code></p>
            {
                match image {
                    Some(image) => html! {
                        <ol class="layers">
                            { for image.layers.iter().map(|l| html! {
                                <li><code>{ l.digest.short() }</code>{ format!(" {} entries, {}", l.entries, format_size(l.size)) }</li>
                            }) }
                            <li class="upper">{ format!("writable upper layer (this container's own): {} entries, {}", c.writable_entries, format_size(c.writable_bytes)) }</li>
                        </ol>
                    },
                    None => html! { <p class="quiet">{ "The image has been removed." }</p> },
                }
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct NamespacesProps {
    pub container: Arc<Container>,
    /// The host's namespaces, to compare with.
    pub host: Rc<Vec<NamespaceId>>,
}

#[function_component]
fn Namespaces(props: &NamespacesProps) -> Html {
    let host = &props.host;
    html! {
        <section class="panel namespace">
            <h3>{ "Namespaces" }</h3>
            <table>
                <thead><tr><th>{ "Kind" }</th><th>{ "Container" }</th><th>{ "Host" }</th></tr></thead>
                <tbody>
                    { for props.container.namespaces.iter().map(|ns| {
                        let host_inode = host.iter().find(|h| h.kind == ns.kind).map(|h| h.inode);
                        let shared = host_inode == Some(ns.inode);
                        html! {
                            <tr class={classes!("ns", shared.then_some("shared"))} title={ns.kind.isolates()}>
                                <td>{ ns.kind.proc_name() }</td>
                                <td><code>{ ns.inode }</code></td>
                                <td>{ if shared { "shared with host".to_string() } else { host_inode.map(|i| i.to_string()).unwrap_or_default() } }</td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct CgroupProps {
    pub cgroup: Option<Arc<Cgroup>>,
}

#[function_component]
fn CgroupPanel(props: &CgroupProps) -> Html {
    let Some(cg) = props.cgroup.as_deref() else {
        return html! { <section class="panel cgroup"><h3>{ "Cgroup" }</h3><p class="quiet">{ "Removed." }</p></section> };
    };
    let usage = cg.usage;
    let limits = cg.limits;
    let meter = |current: u64, max: Option<u64>| {
        let percent = max.map(|m| (current as f64 / m.max(1) as f64 * 100.0).min(100.0));
        html! {
            <div class="meter" role="meter" aria-valuenow={current.to_string()}>
                <div class="fill" style={format!("width: {}%", percent.unwrap_or(0.0))}></div>
            </div>
        }
    };
    html! {
        <section class="panel cgroup">
            <h3>{ "Cgroup" }</h3>
            <p><code class="path">{ &cg.path }</code></p>
            <dl>
                <dt>{ "memory.current / memory.max" }</dt>
                <dd class="memory">{ format!("{} / {}", format_size(usage.memory_current), limits.memory_max.map_or("max".into(), format_size)) }</dd>
                <dd>{ meter(usage.memory_current, limits.memory_max) }</dd>
                <dt>{ "pids.current / pids.max" }</dt>
                <dd class="pids">{ format!("{} / {}", usage.pids_current, limits.pids_max.map_or("max".into(), |n| n.to_string())) }</dd>
                <dd>{ meter(usage.pids_current, limits.pids_max) }</dd>
                <dt>{ "cpu.max" }</dt><dd>{ limits.cpu_max.to_string() }</dd>
                <dt>{ "cpu.stat usage / throttled" }</dt>
                <dd>{ format!("{:.3} s / {} times", usage.cpu_usage_usec as f64 / 1e6, usage.nr_throttled) }</dd>
                <dt>{ "memory.events oom_kill" }</dt><dd>{ usage.oom_kill }</dd>
            </dl>
        </section>
    }
}

/// A line of the terminal: what was typed (with its prompt), or output.
#[derive(Clone, Debug, PartialEq)]
pub enum TermLine {
    Input(String),
    Output(Stream, String),
}

#[derive(Properties, PartialEq)]
pub struct TerminalProps {
    pub prompt: String,
    pub lines: Vec<TermLine>,
    pub on_line: Callback<String>,
}

/// A shell on the simulated host: `anchorage` verbs and the workshop
/// commands, as `anchorage sim` gives on a real terminal.
#[function_component]
pub fn Terminal(props: &TerminalProps) -> Html {
    let input = use_node_ref();
    let output = use_node_ref();
    {
        // Keep the latest output in view.
        let output = output.clone();
        use_effect_with(props.lines.len(), move |_| {
            if let Some(element) = output.cast::<web_sys::Element>() {
                element.set_scroll_top(element.scroll_height());
            }
        });
    }
    let onsubmit = {
        let input = input.clone();
        let on_line = props.on_line.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if let Some(field) = input.cast::<HtmlInputElement>() {
                let line = field.value();
                field.set_value("");
                on_line.emit(line);
            }
        })
    };
    html! {
        <section class="terminal" id="terminal" aria-label="Terminal on the simulated host">
            <h2>{ "Terminal" }</h2>
            <p class="quiet">{ "A shell on the simulated host. Try " }
                <code>{ "anchorage run --memory 64m workshop memhog 100m" }</code>{ ", " }
                <code>{ "anchorage exec NAME ps" }</code>{ ", " }<code>{ "ps" }</code>{ " or " }<code>{ "help" }</code>{ "." }</p>
            <pre class="screen" ref={output}>
                { for props.lines.iter().map(|line| match line {
                    TermLine::Input(text) => html! { <span class="typed">{ format!("{text}\n") }</span> },
                    TermLine::Output(Stream::Stderr, text) => html! { <span class="stderr">{ text }</span> },
                    TermLine::Output(Stream::Stdout, text) => html! { <span>{ text }</span> },
                }) }
            </pre>
            <form class="prompt" {onsubmit}>
                <label for="terminal-input">{ &props.prompt }</label>
                <input id="terminal-input" ref={input} autocomplete="off" spellcheck="false" aria-label="Command line" />
            </form>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct LogProps {
    pub lines: Vec<String>,
}

#[function_component]
pub fn EventLog(props: &LogProps) -> Html {
    html! {
        <section class="log" id="log">
            <h2>{ "Events" }</h2>
            if props.lines.is_empty() {
                <p class="quiet">{ "Nothing has happened yet." }</p>
            }
            <ol>{ for props.lines.iter().map(|line| html! { <li>{ line }</li> }) }</ol>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_builds_a_spec_or_names_the_bad_field() {
        let spec = build_spec("web", "workshop", DEFAULT_COMMAND, "64m", "10", "0.5").unwrap();
        assert_eq!(spec.command, ["sh", "-c", "sleep 600 & sleep 600"]);
        assert_eq!(spec.limits.memory_max, Some(64 << 20));
        assert_eq!(spec.limits.pids_max, Some(10));
        assert_eq!(spec.limits.cpu_max.quota_usec, Some(50_000));
        let err = build_spec("", "workshop", "sleep 1", "lots", "", "").unwrap_err();
        assert!(err.starts_with("Memory:"), "{err}");
        let err = build_spec("-bad", "workshop", "sleep 1", "", "", "").unwrap_err();
        assert!(err.contains("-bad"), "{err}");
    }
}
