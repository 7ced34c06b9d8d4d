//! How the container verbs print: tables padded like `docker ps`, times
//! as "5 seconds ago", and `inspect`'s JSON.

use serde_json::{Value, json};

use crate::cgroup::format_size;
use crate::container::ContainerState;
use crate::host::HostSnapshot;
use crate::namespace::{NamespaceDetail, NamespaceKind};
use crate::tarball::ImageInfo;

/// Columns padded to their widest cell, three spaces apart.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 3;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A duration as people say it: "Less than a second", "5 seconds",
/// "About a minute", "3 hours".
pub fn human_duration(ms: u64) -> String {
    let secs = ms / 1000;
    let minutes = secs / 60;
    let hours = minutes / 60;
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs == 1 => "1 second".into(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ => format!("{} days", hours / 24),
    }
}

fn quoted_command(argv: &[String]) -> String {
    let line = argv
        .iter()
        .map(|a| {
            if a.is_empty() || a.contains([' ', '\'', '"', ';', '&', '$']) {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let shown: String = if line.chars().count() > 20 {
        format!("{}…", line.chars().take(19).collect::<String>())
    } else {
        line
    };
    format!("\"{shown}\"")
}

/// `anchorage ps`.
pub fn ps(snapshot: &HostSnapshot, all: bool, quiet: bool) -> String {
    let now = snapshot.clock_ms;
    // Newest first, as `docker ps` lists them.
    let shown = snapshot
        .containers
        .iter()
        .rev()
        .filter(|c| all || c.state == ContainerState::Running);
    if quiet {
        return shown.map(|c| format!("{}\n", c.short_id())).collect();
    }
    let mut rows = vec![
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "NAMES",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for c in shown {
        let status = match c.state {
            ContainerState::Created => "Created".to_string(),
            ContainerState::Running => format!(
                "Up {}",
                human_duration(now.saturating_sub(c.started_ms.unwrap_or(c.created_ms)))
            ),
            ContainerState::Exited { status, oom_killed } => format!(
                "Exited ({}){} {} ago",
                status.shell_code(),
                if oom_killed { " (OOM)" } else { "" },
                human_duration(now.saturating_sub(c.finished_ms.unwrap_or(now)))
            ),
        };
        rows.push(vec![
            c.short_id().to_string(),
            c.image.clone(),
            quoted_command(&c.command),
            format!("{} ago", human_duration(now.saturating_sub(c.created_ms))),
            status,
            c.name.clone(),
        ]);
    }
    table(&rows)
}

/// `anchorage images`.
pub fn images(snapshot: &HostSnapshot) -> String {
    image_table(snapshot.images.iter().map(|image| &**image))
}

/// The images table: a row per name, and `<none>` for an image without
/// one.
pub fn image_table<'a>(images: impl IntoIterator<Item = &'a ImageInfo>) -> String {
    let mut rows = vec![
        ["REPOSITORY", "TAG", "IMAGE ID", "LAYERS", "SIZE"]
            .map(String::from)
            .to_vec(),
    ];
    for image in images {
        let unnamed = ["<none>:<none>".to_string()];
        let names = if image.names.is_empty() {
            &unnamed[..]
        } else {
            &image.names[..]
        };
        for name in names {
            let (repository, tag) = name.rsplit_once(':').unwrap_or((name, "latest"));
            rows.push(vec![
                repository.to_string(),
                tag.to_string(),
                image.id.short().to_string(),
                image.layers.len().to_string(),
                format_size(image.size()),
            ]);
        }
    }
    table(&rows)
}

/// `anchorage top`: a container's processes, with the pid inside next to
/// the pid on the host and root inside next to the uid outside.
pub fn top(snapshot: &HostSnapshot, container_id: &str) -> String {
    let mut rows = vec![
        ["PID", "HOST PID", "HOST UID", "STAT", "COMMAND"]
            .map(String::from)
            .to_vec(),
    ];
    for p in snapshot.processes_of(container_id) {
        rows.push(vec![
            p.inner_pid().to_string(),
            p.pid.to_string(),
            p.uid.to_string(),
            p.state.code().to_string(),
            p.command_line(),
        ]);
    }
    table(&rows)
}

/// `anchorage inspect TARGET`: a container (with its init and user
/// namespace mapping) or an image, as JSON.
pub fn inspect(snapshot: &HostSnapshot, target: &str) -> Option<Value> {
    if let Some(c) = snapshot.container(target) {
        let mut value = serde_json::to_value(c).expect("containers always encode");
        let user_ns = c
            .namespaces
            .iter()
            .find(|n| n.kind == NamespaceKind::User)
            .and_then(|id| snapshot.namespaces.iter().find(|n| n.id == *id));
        if let Some(NamespaceDetail::User { uid_map, gid_map }) = user_ns.map(|n| &n.detail) {
            value["user_namespace"] = json!({
                "uid_map": uid_map,
                "gid_map": gid_map,
                "note": match uid_map.first() {
                    Some(m) if m.outside != 0 => format!(
                        "root in the container is uid {} on the host: unprivileged there",
                        m.outside
                    ),
                    _ => "root in the container is root on the host".to_string(),
                },
            });
        }
        if let Some(cgroup) = snapshot.cgroup(&c.cgroup) {
            value["cgroup_usage"] = serde_json::to_value(cgroup.usage).expect("usage encodes");
        }
        return Some(value);
    }
    snapshot
        .images
        .iter()
        .find(|i| i.names.iter().any(|n| n == target) || i.id.0 == target || i.id.short() == target)
        .map(|image| serde_json::to_value(image).expect("images always encode"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker_ps() {
        assert_eq!(human_duration(400), "Less than a second");
        assert_eq!(human_duration(5_000), "5 seconds");
        assert_eq!(human_duration(61_000), "About a minute");
        assert_eq!(human_duration(7_200_000), "2 hours");
    }

    #[test]
    fn long_commands_are_quoted_and_cut() {
        let argv: Vec<String> = ["sh", "-c", "sleep 60 & sleep 60"]
            .map(String::from)
            .to_vec();
        assert_eq!(quoted_command(&argv), "\"sh -c 'sleep 60 & s…\"");
        assert_eq!(
            quoted_command(&["sleep".into(), "60".into()]),
            "\"sleep 60\""
        );
    }

    #[test]
    fn tables_pad_columns_three_spaces_apart() {
        let rows = vec![
            vec!["A".to_string(), "BB".to_string()],
            vec!["CCC".to_string(), "D".to_string()],
        ];
        assert_eq!(table(&rows), "A     BB\nCCC   D\n");
    }
}
