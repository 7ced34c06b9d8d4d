//! `/metrics`: the containers' cgroup figures in Prometheus' text format,
//! under cAdvisor's metric names, so dashboards and queries learned here
//! work on any cluster that runs cAdvisor (or the kubelet, which embeds it).

use std::fmt::Write as _;

use anchorage_shared::host::HostSnapshot;

/// One metric: its name, kind, help, and a value per container.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// Escapes a label value as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The snapshot's containers as Prometheus metrics.
pub fn render(snapshot: &HostSnapshot) -> String {
    let mut families = vec![
        Family {
            name: "container_memory_usage_bytes",
            kind: "gauge",
            help: "Current memory usage in bytes (memory.current).",
            samples: Vec::new(),
        },
        Family {
            name: "container_memory_max_usage_bytes",
            kind: "gauge",
            help: "Maximum memory usage recorded in bytes (memory.peak).",
            samples: Vec::new(),
        },
        Family {
            name: "container_spec_memory_limit_bytes",
            kind: "gauge",
            help: "Memory limit for the container (memory.max); 0 when unlimited.",
            samples: Vec::new(),
        },
        Family {
            name: "container_oom_events_total",
            kind: "counter",
            help: "Count of out of memory kills in the container (memory.events oom_kill).",
            samples: Vec::new(),
        },
        Family {
            name: "container_cpu_usage_seconds_total",
            kind: "counter",
            help: "Cumulative cpu time consumed in seconds.",
            samples: Vec::new(),
        },
        Family {
            name: "container_cpu_cfs_periods_total",
            kind: "counter",
            help: "Number of elapsed enforcement period intervals.",
            samples: Vec::new(),
        },
        Family {
            name: "container_cpu_cfs_throttled_periods_total",
            kind: "counter",
            help: "Number of throttled period intervals.",
            samples: Vec::new(),
        },
        Family {
            name: "container_cpu_cfs_throttled_seconds_total",
            kind: "counter",
            help: "Total time duration the container has been throttled.",
            samples: Vec::new(),
        },
        Family {
            name: "container_spec_cpu_quota",
            kind: "gauge",
            help: "CPU quota of the container in microseconds per period; absent when unlimited.",
            samples: Vec::new(),
        },
        Family {
            name: "container_spec_cpu_period",
            kind: "gauge",
            help: "CPU period of the container in microseconds.",
            samples: Vec::new(),
        },
        Family {
            name: "container_processes",
            kind: "gauge",
            help: "Number of processes running inside the container.",
            samples: Vec::new(),
        },
        Family {
            name: "container_start_time_seconds",
            kind: "gauge",
            help: "Start time of the container since unix epoch in seconds.",
            samples: Vec::new(),
        },
        Family {
            name: "anchorage_container_pids_current",
            kind: "gauge",
            help: "Tasks in the container's cgroup (pids.current).",
            samples: Vec::new(),
        },
        Family {
            name: "anchorage_container_pids_limit",
            kind: "gauge",
            help: "The container's pids.max; absent when unlimited.",
            samples: Vec::new(),
        },
        Family {
            name: "anchorage_container_forks_refused_total",
            kind: "counter",
            help: "Forks refused at pids.max (pids.events max).",
            samples: Vec::new(),
        },
    ];
    for container in &snapshot.containers {
        let Some(cgroup) = snapshot.cgroups.iter().find(|c| c.path == container.cgroup) else {
            continue;
        };
        let labels = format!(
            "id=\"{}\",name=\"{}\",image=\"{}\"",
            label(&container.cgroup),
            label(&container.name),
            label(&container.image)
        );
        let usage = &cgroup.usage;
        let limits = &container.limits;
        let processes = snapshot
            .processes
            .iter()
            .filter(|p| p.container.as_deref() == Some(container.id.as_str()))
            .count();
        let mut values: Vec<Option<f64>> = vec![
            Some(usage.memory_current as f64),
            Some(usage.memory_peak as f64),
            Some(limits.memory_max.unwrap_or(0) as f64),
            Some(usage.oom_kill as f64),
            Some(usage.cpu_usage_usec as f64 / 1e6),
            Some(usage.nr_periods as f64),
            Some(usage.nr_throttled as f64),
            Some(usage.throttled_usec as f64 / 1e6),
            limits.cpu_max.quota_usec.map(|q| q as f64),
            Some(limits.cpu_max.period_usec as f64),
            Some(processes as f64),
            container.started_ms.map(|ms| ms as f64 / 1000.0),
            Some(usage.pids_current as f64),
            limits.pids_max.map(|n| n as f64),
            Some(usage.pids_events_max as f64),
        ];
        for (family, value) in families.iter_mut().zip(values.drain(..)) {
            if let Some(value) = value {
                family.samples.push((labels.clone(), value));
            }
        }
    }
    let mut out = String::new();
    for family in &families {
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
        for (labels, value) in &family.samples {
            let _ = writeln!(out, "{}{{{labels}}} {value}", family.name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use anchorage_shared::Engine;
    use anchorage_shared::cgroup::CpuMax;
    use anchorage_shared::container::ContainerSpec;
    use anchorage_shared::engine::Command;
    use anchorage_shared::sim::SimEngine;

    #[test]
    fn containers_appear_under_cadvisors_names() {
        let mut engine = SimEngine::new("host");
        let mut hog = ContainerSpec::new("workshop");
        hog.name = Some("hog".into());
        hog.command = vec!["memhog".into(), "100m".into()];
        hog.limits.memory_max = Some(64 << 20);
        engine.apply(Command::Run { spec: hog }).unwrap();
        let mut burn = ContainerSpec::new("workshop");
        burn.name = Some("burn".into());
        burn.command = vec!["cpuburn".into()];
        burn.limits.cpu_max = CpuMax {
            quota_usec: Some(50_000),
            period_usec: 100_000,
        };
        burn.limits.pids_max = Some(10);
        engine.apply(Command::Run { spec: burn }).unwrap();
        engine.advance(2_000);
        let text = render(&engine.snapshot());
        let hog = text
            .lines()
            .find(|l| l.starts_with("container_oom_events_total{") && l.contains("name=\"hog\""))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(hog.ends_with(" 1"), "{hog}");
        assert!(text.contains("# TYPE container_cpu_usage_seconds_total counter"));
        let limit = text
            .lines()
            .find(|l| l.starts_with("container_spec_memory_limit_bytes{") && l.contains("hog"))
            .unwrap();
        assert!(limit.ends_with(&format!(" {}", 64u64 << 20)), "{limit}");
        let quota = text
            .lines()
            .find(|l| l.starts_with("container_spec_cpu_quota{") && l.contains("name=\"burn\""))
            .unwrap();
        assert!(quota.ends_with(" 50000"), "{quota}");
        let throttled = text
            .lines()
            .find(|l| {
                l.starts_with("container_cpu_cfs_throttled_periods_total{") && l.contains("burn")
            })
            .unwrap();
        let value: f64 = throttled.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(value > 0.0, "the quota throttles: {throttled}");
        assert!(text.contains("anchorage_container_pids_limit{"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
