//! The engine's reading of what supervisors leave, without root: records,
//! states and consoles written by hand.

use std::fs;

use anchorage_shared::container::{Container, ContainerState, LogOptions};
use anchorage_shared::engine::{Event, Stream};
use anchorage_shared::process::ExitStatus;

use super::{Follow, RealEngine};
use crate::process::console::LogWriter;
use crate::process::shim::{self, RunState};

fn record(id: &str) -> Container {
    Container {
        id: id.into(),
        name: "quick".into(),
        image: "workshop".into(),
        image_id: String::new(),
        command: vec!["id".into()],
        hostname: String::new(),
        env: Vec::new(),
        volumes: Vec::new(),
        state: ContainerState::Created,
        init_pid: None,
        cgroup: format!("/anchorage/{id}"),
        namespaces: Vec::new(),
        limits: Default::default(),
        created_ms: 0,
        started_ms: None,
        finished_ms: None,
        auto_remove: true,
        writable_entries: 0,
        writable_bytes: 0,
        log: LogOptions::default(),
        security: Default::default(),
        reason: None,
    }
}

/// An `--rm` container retiring between the engine's listing and its
/// read: its output is not taken from the old place without the state
/// that says whose it is, and comes whole, as the init's, from the new.
#[test]
fn output_read_while_a_container_retires_keeps_its_pid() {
    let data = tempfile::tempdir().unwrap();
    let containers = data.path().join("containers");
    let id = "ab".repeat(32);
    let dir = containers.join(&id);
    fs::create_dir_all(&dir).unwrap();
    let container = record(&id);
    fs::write(
        dir.join("container.json"),
        serde_json::to_vec(&container).unwrap(),
    )
    .unwrap();
    let state = RunState {
        shim_pid: 1,
        init_pid: Some(4242),
        ..RunState::default()
    };
    shim::write_state(&dir, &state).unwrap();
    let mut log = LogWriter::open(&dir, LogOptions::default()).unwrap();
    let mut follow = Follow::default();
    // A first look holds the console open, with nothing in it yet.
    assert!(RealEngine::collect_from(&mut follow, &dir, &container, None).is_empty());
    log.write(1, Stream::Stdout, b"uid=0(root)\n");
    log.finish(2);
    shim::write_state(
        &dir,
        &RunState {
            exit: Some(ExitStatus::Code(0)),
            ..state
        },
    )
    .unwrap();
    // It moves, and the engine still looks where it was.
    let retired = shim::retired_dir(&containers).join(&id);
    fs::create_dir_all(retired.parent().unwrap()).unwrap();
    fs::rename(&dir, &retired).unwrap();
    assert!(RealEngine::collect_from(&mut follow, &dir, &container, None).is_empty());
    follow.console.as_mut().unwrap().moved_to(&retired);
    let events = RealEngine::collect_from(&mut follow, &retired, &container, None);
    let output: Vec<(u32, String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Output { pid, data, .. } => Some((*pid, data.text().into_owned())),
            _ => None,
        })
        .collect();
    assert_eq!(output, vec![(4242, "uid=0(root)\n".to_string())]);
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::ContainerExited {
                status: ExitStatus::Code(0),
                ..
            }
        )),
        "{events:?}"
    );
}
