//! Scenario tests of the simulated kernel, through the engine interface.

use super::*;
use crate::container::ContainerSpec;

fn spec(name: &str, command: &[&str]) -> ContainerSpec {
    let mut spec = ContainerSpec::new("workshop");
    spec.name = Some(name.into());
    spec.command = command.iter().map(|s| s.to_string()).collect();
    spec
}

fn run(engine: &mut SimEngine, name: &str, command: &[&str]) -> Vec<Event> {
    engine
        .apply(Command::Run {
            spec: spec(name, command),
        })
        .expect("run succeeds")
}

fn exit_of(engine: &SimEngine, name: &str) -> Option<ExitStatus> {
    match engine.snapshot().container(name)?.state {
        ContainerState::Exited { status, .. } => Some(status),
        _ => None,
    }
}

#[test]
fn a_containers_first_process_is_pid_1_inside_and_another_pid_outside() {
    let mut engine = SimEngine::default();
    run(&mut engine, "web", &["sleep", "60"]);
    let snap = engine.snapshot();
    let c = snap.container("web").unwrap();
    let init = snap.process(c.init_pid.unwrap()).unwrap();
    assert_eq!(init.inner_pid(), 1);
    assert!(init.pid > 1);
    assert_eq!(init.ns_pids, vec![init.pid, 1]);
    assert_eq!(init.argv, ["sleep", "60"]);
    // Root inside is an unprivileged uid outside.
    assert_eq!(init.uid, SUBID_BASE);
}

#[test]
fn a_container_gets_its_own_namespaces_but_shares_the_time_namespace() {
    let mut engine = SimEngine::default();
    run(&mut engine, "web", &["sleep", "60"]);
    let snap = engine.snapshot();
    let host = snap.process(1).unwrap();
    let c = snap.container("web").unwrap();
    let init = snap.process(c.init_pid.unwrap()).unwrap();
    for (mine, hosts) in init.namespaces.iter().zip(&host.namespaces) {
        assert_eq!(mine.kind, hosts.kind);
        if mine.kind == NamespaceKind::Time {
            assert_eq!(mine, hosts);
        } else {
            assert_ne!(mine.inode, hosts.inode, "{}", mine.kind);
        }
    }
    let uts = snap
        .namespaces
        .iter()
        .find(|n| n.id.kind == NamespaceKind::Uts && init.namespaces.contains(&n.id))
        .unwrap();
    assert_eq!(
        uts.detail,
        NamespaceDetail::Uts {
            hostname: c.short_id().to_string()
        }
    );
}

#[test]
fn a_container_exits_when_its_init_does_and_its_namespaces_go() {
    let mut engine = SimEngine::default();
    run(&mut engine, "nap", &["sleep", "2"]);
    let namespaces_running = engine.snapshot().namespaces.len();
    let events = engine.advance(1_990);
    assert!(events.is_empty(), "{events:?}");
    let events = engine.advance(20);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ContainerExited {
            status: ExitStatus::Code(0),
            ..
        }
    )));
    assert_eq!(exit_of(&engine, "nap"), Some(ExitStatus::Code(0)));
    let snap = engine.snapshot();
    assert_eq!(
        snap.processes.len(),
        2,
        "only the host's init and engine remain"
    );
    assert_eq!(snap.namespaces.len(), namespaces_running - 7);
}

#[test]
fn stop_escalates_to_sigkill_because_pid_1_ignores_sigterm() {
    let mut engine = SimEngine::default();
    run(&mut engine, "stubborn", &["sleep", "600"]);
    engine
        .apply(Command::Stop {
            container: "stubborn".into(),
            timeout_ms: 10_000,
        })
        .unwrap();
    engine.advance(5_000);
    assert_eq!(exit_of(&engine, "stubborn"), None, "SIGTERM was ignored");
    engine.advance(5_000);
    let status = exit_of(&engine, "stubborn").unwrap();
    assert_eq!(status, ExitStatus::Signaled(Signal::Kill));
    assert_eq!(status.shell_code(), 137);
}

#[test]
fn when_init_dies_the_rest_of_the_pid_namespace_is_killed() {
    let mut engine = SimEngine::default();
    run(
        &mut engine,
        "family",
        &["sh", "-c", "sleep 600 & sleep 600 & sleep 1"],
    );
    engine.advance(100);
    let snap = engine.snapshot();
    let c = snap.container("family").unwrap();
    let inner: Vec<Pid> = snap.processes_of(&c.id).map(|p| p.inner_pid()).collect();
    // `sh -c` runs its last command in place, as PID 1.
    assert_eq!(inner, [1, 2, 3]);
    let events = engine.advance(1_000);
    let killed = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::ProcessExited {
                    status: ExitStatus::Signaled(Signal::Kill),
                    ..
                }
            )
        })
        .count();
    assert_eq!(killed, 2, "{events:?}");
    assert_eq!(exit_of(&engine, "family"), Some(ExitStatus::Code(0)));
    assert_eq!(engine.snapshot().processes_of(&c.id).count(), 0);
}

#[test]
fn output_and_exit_codes_come_from_the_userland() {
    let mut engine = SimEngine::default();
    run(
        &mut engine,
        "talk",
        &["sh", "-c", "hostname; echo 'hi there'; false"],
    );
    let events = engine.advance(1_000);
    let output: String = events
        .iter()
        .filter_map(|e| match e {
            Event::Output { data, .. } => Some(data.text().into_owned()),
            _ => None,
        })
        .collect();
    let id = engine.snapshot().container("talk").unwrap().id.clone();
    assert_eq!(output, format!("{}\nhi there\n", &id[..12]));
    assert_eq!(exit_of(&engine, "talk"), Some(ExitStatus::Code(1)));
}

#[test]
fn a_missing_command_exits_127_as_the_runtime_says() {
    let mut engine = SimEngine::default();
    run(&mut engine, "typo", &["bash"]);
    let events = engine.advance(100);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Output { stream: Stream::Stderr, data, .. }
            if data.text() == "exec: \"bash\": executable file not found in $PATH\n"
    )));
    assert_eq!(exit_of(&engine, "typo"), Some(ExitStatus::Code(127)));
}

#[test]
fn pids_max_refuses_forks_at_the_limit() {
    let mut engine = SimEngine::default();
    let mut spec = spec(
        "capped",
        &["sh", "-c", "sleep 60 & sleep 60 & sleep 60 & sleep 60"],
    );
    spec.limits.pids_max = Some(3);
    engine.apply(Command::Run { spec }).unwrap();
    let events = engine.advance(100);
    // The shell and two sleeps: the third fork fails.
    let started = events
        .iter()
        .filter(|e| matches!(e, Event::ProcessStarted { .. }))
        .count();
    assert_eq!(started, 2, "pids.current never passes pids.max");
    assert!(events.iter().any(|e| matches!(e, Event::ForkFailed { .. })));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Output { data, .. } if data.text().contains("can't fork")
    )));
    // The shell treats a failed fork as fatal, so the container ends.
    assert_eq!(exit_of(&engine, "capped"), Some(ExitStatus::Code(2)));
}

#[test]
fn exec_joins_the_containers_namespaces_and_cgroup() {
    let mut engine = SimEngine::default();
    run(&mut engine, "box", &["sleep", "60"]);
    let events = engine
        .apply(Command::Exec {
            container: "box".into(),
            argv: vec!["sleep".into(), "30".into()],
        })
        .unwrap();
    let Event::ProcessStarted { pid, ns_pids, .. } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(ns_pids[1], 2);
    let snap = engine.snapshot();
    let c = snap.container("box").unwrap();
    let init = snap.process(c.init_pid.unwrap()).unwrap();
    let exec = snap.process(*pid).unwrap();
    assert_eq!(exec.namespaces, init.namespaces);
    assert_eq!(exec.cgroup, c.cgroup);
}

#[test]
fn auto_remove_removes_the_container_and_its_cgroup_on_exit() {
    let mut engine = SimEngine::default();
    let mut spec = spec("once", &["true"]);
    spec.auto_remove = true;
    engine.apply(Command::Run { spec }).unwrap();
    let cgroup = engine.snapshot().container("once").unwrap().cgroup.clone();
    let events = engine.advance(100);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::ContainerRemoved { .. }))
    );
    let snap = engine.snapshot();
    assert!(snap.container("once").is_none());
    assert!(snap.cgroup(&cgroup).is_none());
}

#[test]
fn errors_name_what_is_wrong() {
    let mut engine = SimEngine::default();
    run(&mut engine, "web", &["sleep", "60"]);
    let err = engine
        .apply(Command::Run {
            spec: spec("web", &["true"]),
        })
        .unwrap_err();
    assert_eq!(err, EngineError::NameInUse("web".into()));
    let mut missing = spec("other", &[]);
    missing.image = "postgres".into();
    let err = engine.apply(Command::Run { spec: missing }).unwrap_err();
    assert!(err.to_string().contains("postgres"), "{err}");
    let err = engine
        .apply(Command::Remove {
            container: "web".into(),
            force: false,
        })
        .unwrap_err();
    assert_eq!(err, EngineError::StillRunning("web".into()));
    engine
        .apply(Command::Remove {
            container: "web".into(),
            force: true,
        })
        .unwrap();
    assert!(engine.snapshot().containers.is_empty());
    assert_eq!(engine.snapshot().processes.len(), 2);
}

#[test]
fn the_same_commands_give_the_same_events() {
    let script = |engine: &mut SimEngine| {
        let mut all = run(engine, "a", &["sh", "-c", "sleep 1 & echo x; sleep 2"]);
        all.extend(engine.advance(500));
        all.extend(run(engine, "b", &["sleep", "1"]));
        all.extend(engine.advance(5_000));
        (all, engine.snapshot())
    };
    let first = script(&mut SimEngine::default());
    let second = script(&mut SimEngine::default());
    assert_eq!(first, second);
}

fn output_of(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Output { data, .. } => Some(data.text().into_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_portable_applets_run_as_processes_in_pipelines() {
    let mut engine = SimEngine::default();
    run(
        &mut engine,
        "text",
        &[
            "sh",
            "-c",
            "sleep 30 & ps -o comm | grep -c sleep; yes | head -n 2; seq 5 | sort -rn | tr '\\n' ' '; \
             grep -q root /etc/passwd && echo found; seq 3 | xargs echo n | sed 's/n/N/'",
        ],
    );
    let output = output_of(&engine.advance(5_000));
    assert_eq!(output, "1\ny\ny\n5 4 3 2 1 found\nN 1 2 3\n");
}

#[test]
fn what_sort_holds_counts_against_the_memory_cgroup() {
    let mut engine = SimEngine::default();
    let mut limited = spec("hog", &["sh", "-c", "yes abcdefgh | sort | wc -l"]);
    limited.limits.memory_max = Some(32 << 20);
    engine.apply(Command::Run { spec: limited }).unwrap();
    let events = engine.advance(60_000);
    assert!(
        events.iter().any(|e| matches!(e, Event::OomKill { .. })),
        "sort is OOM-killed"
    );
    // `wc` counts what reached it: nothing, as sort died before writing.
    assert_eq!(output_of(&events), "0\n");
    assert_eq!(exit_of(&engine, "hog"), Some(ExitStatus::Code(0)));
}

#[test]
fn top_sleeps_between_its_samples_while_the_clock_goes_on() {
    let mut engine = SimEngine::default();
    let started = engine.clock_ms();
    run(
        &mut engine,
        "t",
        &[
            "sh",
            "-c",
            "cpuburn & top -b -n 2 -d 1 | grep -c ' cpuburn$'; cut -d ' ' -f 22,23 /proc/$!/stat",
        ],
    );
    // 100 ms to the first screen, then a second to the next: nothing is
    // done before 1.1 s.
    assert_eq!(output_of(&engine.advance(1_050)), "");
    let output = output_of(&engine.advance(4_000));
    // Two screens, each with the spinner, which started (in ticks of
    // 10 ms) as the container did, with the toolbox's address space.
    let (screens, stat) = output.split_once('\n').unwrap();
    assert_eq!(screens, "2");
    let (start, vsize) = stat.trim().split_once(' ').unwrap();
    let start: u64 = start.parse().unwrap();
    assert!(
        (started / 10..started / 10 + 10).contains(&start),
        "{start}"
    );
    assert_eq!(vsize, (super::process::vsz::TOOLBOX * 1024).to_string());
}
