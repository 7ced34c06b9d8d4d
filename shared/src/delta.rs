//! What changed between two snapshots.
//!
//! A live server sends each client one full [`HostSnapshot`], then only
//! deltas: the entities that are new or changed (whole, so applying a delta
//! needs no field-level merging) and the keys of those that went. With 50
//! containers sampled four times a second, most entities do not change
//! between two samples, and a delta is a small fraction of a snapshot.
//!
//! [`SnapshotDelta::between`] and [`SnapshotDelta::apply_to`] are exact
//! inverses: applying the delta from `a` to `b` onto `a` gives `b`, order
//! included (a property test checks it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cgroup::Cgroup;
use crate::container::Container;
use crate::host::{HostSnapshot, HostView};
use crate::namespace::{Namespace, NamespaceId};
use crate::process::{Pid, Process};
use crate::tarball::{Digest, ImageInfo};

/// An entity a snapshot lists, and the key that names it there.
pub trait Keyed {
    type Key: Clone + Ord + Serialize + DeserializeOwned;
    fn key(&self) -> Self::Key;
}

impl Keyed for Process {
    type Key = Pid;
    fn key(&self) -> Pid {
        self.pid
    }
}

impl Keyed for Namespace {
    type Key = NamespaceId;
    fn key(&self) -> NamespaceId {
        self.id
    }
}

impl Keyed for Cgroup {
    type Key = String;
    fn key(&self) -> String {
        self.path.clone()
    }
}

impl Keyed for Container {
    type Key = String;
    fn key(&self) -> String {
        self.id.clone()
    }
}

impl Keyed for ImageInfo {
    type Key = Digest;
    fn key(&self) -> Digest {
        self.id.clone()
    }
}

/// How one list of a snapshot changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "T: Serialize, T::Key: Serialize",
    deserialize = "T: Deserialize<'de>, T::Key: DeserializeOwned"
))]
pub struct Changes<T: Keyed> {
    /// New entities, and changed ones whole, in the new list's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<Arc<T>>,
    /// The keys of entities that went.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<T::Key>,
    /// The whole list's order, only when applying `changed` and `removed`
    /// (changed in place, new ones at the end) would not give it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<T::Key>>,
}

impl<T: Keyed> Default for Changes<T> {
    fn default() -> Self {
        Changes {
            changed: Vec::new(),
            removed: Vec::new(),
            order: None,
        }
    }
}

impl<T: Keyed + PartialEq> Changes<T> {
    /// What turns `old` into `new`.
    pub fn between(old: &[Arc<T>], new: &[Arc<T>]) -> Changes<T> {
        let before: BTreeMap<T::Key, &Arc<T>> = old.iter().map(|e| (e.key(), e)).collect();
        let after: BTreeSet<T::Key> = new.iter().map(|e| e.key()).collect();
        let changed: Vec<Arc<T>> = new
            .iter()
            .filter(|e| {
                before
                    .get(&e.key())
                    .is_none_or(|was| !Arc::ptr_eq(was, e) && ***was != ***e)
            })
            .cloned()
            .collect();
        let removed: Vec<T::Key> = old
            .iter()
            .map(|e| e.key())
            .filter(|k| !after.contains(k))
            .collect();
        // The order `apply` gives: survivors where they were, then the new.
        let mut expected: Vec<T::Key> = old
            .iter()
            .map(|e| e.key())
            .filter(|k| after.contains(k))
            .collect();
        expected.extend(
            new.iter()
                .map(|e| e.key())
                .filter(|k| !before.contains_key(k)),
        );
        let actual: Vec<T::Key> = new.iter().map(|e| e.key()).collect();
        Changes {
            changed,
            removed,
            order: (expected != actual).then_some(actual),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.removed.is_empty() && self.order.is_none()
    }

    /// Applies the changes to a list.
    pub fn apply_to(&self, list: &mut Vec<Arc<T>>) {
        if !self.removed.is_empty() {
            let gone: BTreeSet<&T::Key> = self.removed.iter().collect();
            list.retain(|e| !gone.contains(&e.key()));
        }
        if !self.changed.is_empty() {
            let mut index: BTreeMap<T::Key, usize> =
                list.iter().enumerate().map(|(i, e)| (e.key(), i)).collect();
            for entity in &self.changed {
                match index.get(&entity.key()) {
                    Some(&i) => list[i] = entity.clone(),
                    None => {
                        index.insert(entity.key(), list.len());
                        list.push(entity.clone());
                    }
                }
            }
        }
        if let Some(order) = &self.order {
            let mut by_key: BTreeMap<T::Key, Arc<T>> =
                list.drain(..).map(|e| (e.key(), e)).collect();
            list.extend(order.iter().filter_map(|k| by_key.remove(k)));
        }
    }
}

/// What changed on the host between two snapshots of one engine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotDelta {
    /// The new snapshot's clock.
    pub clock_ms: u64,
    #[serde(default, skip_serializing_if = "Changes::is_empty")]
    pub processes: Changes<Process>,
    #[serde(default, skip_serializing_if = "Changes::is_empty")]
    pub namespaces: Changes<Namespace>,
    /// Cgroups with their usage: every sample that moved a number.
    #[serde(default, skip_serializing_if = "Changes::is_empty")]
    pub cgroups: Changes<Cgroup>,
    #[serde(default, skip_serializing_if = "Changes::is_empty")]
    pub containers: Changes<Container>,
    #[serde(default, skip_serializing_if = "Changes::is_empty")]
    pub images: Changes<ImageInfo>,
    /// The host view, whole, when it changed (it is sampled less often).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Arc<HostView>>,
}

impl SnapshotDelta {
    /// What turns `old` into `new` (the engine is the same).
    pub fn between(old: &HostSnapshot, new: &HostSnapshot) -> SnapshotDelta {
        SnapshotDelta {
            clock_ms: new.clock_ms,
            processes: Changes::between(&old.processes, &new.processes),
            namespaces: Changes::between(&old.namespaces, &new.namespaces),
            cgroups: Changes::between(&old.cgroups, &new.cgroups),
            containers: Changes::between(&old.containers, &new.containers),
            images: Changes::between(&old.images, &new.images),
            host: (old.host != new.host).then(|| new.host.clone()).flatten(),
        }
    }

    /// Whether nothing but the clock moved.
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty()
            && self.namespaces.is_empty()
            && self.cgroups.is_empty()
            && self.containers.is_empty()
            && self.images.is_empty()
            && self.host.is_none()
    }

    /// Brings a snapshot up to date.
    pub fn apply_to(&self, snapshot: &mut HostSnapshot) {
        snapshot.clock_ms = self.clock_ms;
        self.processes.apply_to(&mut snapshot.processes);
        self.namespaces.apply_to(&mut snapshot.namespaces);
        self.cgroups.apply_to(&mut snapshot.cgroups);
        self.containers.apply_to(&mut snapshot.containers);
        self.images.apply_to(&mut snapshot.images);
        if let Some(host) = &self.host {
            snapshot.host = Some(host.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Command, Engine};
    use crate::sim::SimEngine;
    use proptest::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Item {
        key: u8,
        value: u8,
    }

    impl Keyed for Item {
        type Key = u8;
        fn key(&self) -> u8 {
            self.key
        }
    }

    fn list(pairs: &[(u8, u8)]) -> Vec<Arc<Item>> {
        // Keys are unique within a list, as in a snapshot.
        let mut seen = BTreeSet::new();
        pairs
            .iter()
            .filter(|(k, _)| seen.insert(*k))
            .map(|&(key, value)| Arc::new(Item { key, value }))
            .collect()
    }

    proptest! {
        #[test]
        fn applying_the_changes_gives_the_new_list(
            old in proptest::collection::vec((0u8..20, 0u8..3), 0..15),
            new in proptest::collection::vec((0u8..20, 0u8..3), 0..15),
        ) {
            let (old, new) = (list(&old), list(&new));
            let changes = Changes::between(&old, &new);
            let mut patched = old.clone();
            changes.apply_to(&mut patched);
            prop_assert_eq!(&patched, &new);
            // Unchanged entities are not sent again.
            for entity in &changes.changed {
                prop_assert!(!old.contains(entity));
            }
            // Applying twice is harmless (a client may see a delta it
            // already has in its snapshot).
            changes.apply_to(&mut patched);
            prop_assert_eq!(&patched, &new);
        }
    }

    #[test]
    fn a_quiet_tick_is_an_empty_delta_and_a_busy_one_is_small() {
        let mut sim = SimEngine::new("host");
        for name in ["a", "b", "c", "d"] {
            let mut spec = crate::container::ContainerSpec::new("workshop");
            spec.name = Some(name.into());
            spec.command = vec!["sleep".into(), "1000".into()];
            sim.apply(Command::Run { spec }).unwrap();
        }
        sim.advance(1000);
        let before = sim.snapshot();
        sim.advance(250);
        let quiet = SnapshotDelta::between(&before, &sim.snapshot());
        assert!(quiet.is_empty(), "{quiet:?}");

        let mut spec = crate::container::ContainerSpec::new("workshop");
        spec.name = Some("burn".into());
        spec.command = vec!["cpuburn".into()];
        sim.apply(Command::Run { spec }).unwrap();
        sim.advance(1000);
        let before = sim.snapshot();
        sim.advance(250);
        let after = sim.snapshot();
        let busy = SnapshotDelta::between(&before, &after);
        assert!(!busy.is_empty());
        let mut patched = before.clone();
        busy.apply_to(&mut patched);
        assert_eq!(patched, after);
        let delta_bytes = serde_json::to_string(&busy).unwrap().len();
        let snapshot_bytes = serde_json::to_string(&after).unwrap().len();
        assert!(
            delta_bytes * 4 < snapshot_bytes,
            "a delta of {delta_bytes} bytes for a snapshot of {snapshot_bytes}"
        );
    }

    #[test]
    fn a_container_run_and_removed_round_trips_on_the_wire() {
        let mut sim = SimEngine::new("host");
        let empty = sim.snapshot();
        let mut spec = crate::container::ContainerSpec::new("workshop");
        spec.name = Some("web".into());
        spec.command = vec!["sleep".into(), "100".into()];
        sim.apply(Command::Run { spec }).unwrap();
        sim.advance(100);
        let running = sim.snapshot();
        sim.apply(Command::Remove {
            container: "web".into(),
            force: true,
        })
        .unwrap();
        sim.advance(100);
        let gone = sim.snapshot();
        let mut client = empty.clone();
        for (from, to) in [(&empty, &running), (&running, &gone)] {
            let wire = serde_json::to_string(&SnapshotDelta::between(from, to)).unwrap();
            let delta: SnapshotDelta = serde_json::from_str(&wire).unwrap();
            delta.apply_to(&mut client);
            assert_eq!(&client, to);
        }
    }
}
