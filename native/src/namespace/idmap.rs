//! Which host ids a container's root becomes.
//!
//! As root, Anchorage maps each container's ids 0..65536 to one range of
//! unprivileged host ids, the same for every container (as Docker's
//! `userns-remap` does), so root inside a container is nobody outside and
//! the image's files, unpacked shifted into that range, are owned by the
//! right ids inside. The range is chosen once and kept in the data
//! directory (`idmap.json`), as images on disk depend on it: the
//! `anchorage` entry of `/etc/subuid` if there is one, else the first
//! 65536 ids from 100000 up that no `/etc/subuid` or `/etc/subgid` entry
//! uses.
//!
//! Where the kernel and the file system take id-mapped mounts, that range
//! is the image store's own, and each container gets a range of its own
//! after it ([`container_range`], as podman's `--userns=auto`): its image
//! and named volumes are mounted shifted from the store's ids to its own,
//! so no container's root owns another's files, or the store's. Without
//! id-mapped mounts every container shares the store's range.
//!
//! Without root there is no choice: the user's own uid becomes root
//! inside, and it is the only id mapped.

use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// How many ids each container maps.
pub const RANGE_SIZE: u32 = 65536;

/// A range of host ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    /// The host id that root inside becomes.
    pub first: u32,
    pub count: u32,
}

impl IdRange {
    pub fn overlaps(&self, other: &IdRange) -> bool {
        let end = |r: &IdRange| u64::from(r.first) + u64::from(r.count);
        u64::from(self.first) < end(other) && u64::from(other.first) < end(self)
    }
}

/// The ranges a `/etc/subuid`-style file gives out, and the one it gives
/// `user`, if any.
pub fn parse_subid(text: &str, user: &str) -> (Vec<IdRange>, Option<IdRange>) {
    let mut all = Vec::new();
    let mut mine = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split(':');
        let (Some(name), Some(first), Some(count)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (Ok(first), Ok(count)) = (first.parse::<u32>(), count.parse::<u32>()) else {
            continue;
        };
        let range = IdRange { first, count };
        if name == user && mine.is_none() {
            mine = Some(range);
        }
        all.push(range);
    }
    (all, mine)
}

/// The range to use, given what `/etc/subuid` and `/etc/subgid` hold.
pub fn choose(subuid: &str, subgid: &str) -> IdRange {
    let (uids, mine) = parse_subid(subuid, "anchorage");
    if let Some(range) = mine.filter(|r| r.count >= RANGE_SIZE) {
        return IdRange {
            first: range.first,
            count: RANGE_SIZE,
        };
    }
    let (gids, _) = parse_subid(subgid, "anchorage");
    let mut first: u32 = 100_000;
    loop {
        let candidate = IdRange {
            first,
            count: RANGE_SIZE,
        };
        match uids.iter().chain(&gids).find(|r| r.overlaps(&candidate)) {
            None => return candidate,
            Some(taken) => {
                // Try just past the range in the way.
                let end = u64::from(taken.first) + u64::from(taken.count);
                match u32::try_from(end)
                    .ok()
                    .filter(|f| f.checked_add(RANGE_SIZE).is_some())
                {
                    Some(next) => first = next,
                    // No room above: share the default range rather than
                    // fail (the subordinate id files are only advice).
                    None => {
                        return IdRange {
                            first: 100_000,
                            count: RANGE_SIZE,
                        };
                    }
                }
            }
        }
    }
}

/// The range containers use with this data directory: read from
/// `idmap.json`, or chosen now and written there.
pub fn for_data_dir(data_dir: &Path) -> io::Result<IdRange> {
    let path = data_dir.join("idmap.json");
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is damaged ({err}): remove it only along with the images, which are owned by the range it names", path.display()),
            )
        }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            let read = |p: &str| fs::read_to_string(p).unwrap_or_default();
            let range = choose(&read("/etc/subuid"), &read("/etc/subgid"));
            fs::create_dir_all(data_dir)?;
            crate::tarball::store::write_atomically(
                &path,
                &serde_json::to_vec_pretty(&range).expect("ranges always encode"),
            )?;
            Ok(range)
        }
        Err(err) => Err(err),
    }
}

/// A range of its own for a new container, after the store's `store`
/// range: inside the `anchorage` entry of `/etc/subuid` when there is one
/// (it must hold more than the store's range), else anywhere above that no
/// other user's entry uses and that holds no user or group of the host's
/// (`accounts`, from `/etc/passwd` and `/etc/group`); never one in `used`
/// (by the data directory's containers). `None` when no range is left.
pub fn container_range(
    store: IdRange,
    subuid: &str,
    subgid: &str,
    accounts: &[u32],
    used: &[u32],
) -> Option<IdRange> {
    let (uids, mine) = parse_subid(subuid, "anchorage");
    let (gids, _) = parse_subid(subgid, "anchorage");
    let limit = match mine.filter(|r| r.first == store.first) {
        Some(mine) => u64::from(mine.first) + u64::from(mine.count),
        None => u64::from(u32::MAX),
    };
    let others: Vec<IdRange> = uids
        .into_iter()
        .chain(gids)
        .filter(|r| Some(*r) != mine)
        .collect();
    let mut first = u64::from(store.first) + u64::from(RANGE_SIZE);
    while first + u64::from(RANGE_SIZE) <= limit {
        let candidate = IdRange {
            first: first as u32,
            count: RANGE_SIZE,
        };
        let holds_account = accounts
            .iter()
            .any(|id| u64::from(*id) >= first && u64::from(*id) < first + u64::from(RANGE_SIZE));
        if !others.iter().any(|r| r.overlaps(&candidate))
            && !holds_account
            && !used.contains(&candidate.first)
        {
            return Some(candidate);
        }
        first += u64::from(RANGE_SIZE);
    }
    None
}

/// Whether the ids anchorage may use hold ranges for containers beside
/// the store's: an `anchorage` entry of `/etc/subuid` only 65536 wide holds
/// the store's alone, and its containers share it.
pub fn room_for_containers(store: IdRange, subuid: &str) -> bool {
    let (_, mine) = parse_subid(subuid, "anchorage");
    mine.filter(|r| r.first == store.first)
        .is_none_or(|r| u64::from(r.count) >= 2 * u64::from(RANGE_SIZE))
}

/// The ids of the host's users and groups (`/etc/passwd`, `/etc/group`):
/// no container's range may hold one.
pub fn accounts(passwd: &str, group: &str) -> Vec<u32> {
    passwd
        .lines()
        .chain(group.lines())
        .filter_map(|line| line.split(':').nth(2)?.parse().ok())
        .collect()
}

/// Whether containers of `data_dir` get id-mapped mounts: tried once per
/// kernel on the data directory's file system, and the answer kept in
/// `idmapped.json` (a probe costs a process).
pub fn idmapped_mounts(data_dir: &Path) -> bool {
    #[derive(Serialize, Deserialize)]
    struct Probe {
        kernel: String,
        works: bool,
    }
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = data_dir.join("idmapped.json");
    if let Ok(bytes) = fs::read(&path)
        && let Ok(probe) = serde_json::from_slice::<Probe>(&bytes)
        && probe.kernel == kernel
    {
        return probe.works;
    }
    let works = super::mounts::idmap_works(data_dir);
    let _ = crate::tarball::store::write_atomically(
        &path,
        &serde_json::to_vec_pretty(&Probe { kernel, works }).expect("probes encode"),
    );
    works
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anchorage_entry_is_used_as_is() {
        let subuid = "alice:100000:65536\nanchorage:300000:65536\n";
        assert_eq!(
            choose(subuid, ""),
            IdRange {
                first: 300_000,
                count: RANGE_SIZE
            }
        );
    }

    #[test]
    fn otherwise_the_first_free_range_from_100000() {
        assert_eq!(choose("", "").first, 100_000);
        let subuid = "alice:100000:65536\nbob:165536:65536\n";
        assert_eq!(choose(subuid, "").first, 231_072);
        // subgid counts too.
        assert_eq!(choose("", "carol:100000:1000\n").first, 101_000);
        // Comments and junk lines are skipped.
        assert_eq!(choose("# x\nbad line\n", "").first, 100_000);
    }

    #[test]
    fn containers_get_ranges_after_the_stores_that_nobody_else_uses() {
        let store = IdRange {
            first: 100_000,
            count: RANGE_SIZE,
        };
        let first = container_range(store, "", "", &[], &[]).unwrap();
        assert_eq!(first.first, 165_536);
        let second = container_range(store, "", "", &[], &[165_536]).unwrap();
        assert_eq!(second.first, 231_072);
        // Another user's entry is skipped, and a range holding an account.
        let subuid = "alice:165536:65536\n";
        assert_eq!(
            container_range(store, subuid, "", &[], &[]).unwrap().first,
            231_072
        );
        let ldap = accounts("bob:x:200000:200000::/home/bob:/bin/sh\n", "");
        assert_eq!(
            container_range(store, "", "", &ldap, &[]).unwrap().first,
            231_072
        );
        // Inside anchorage's own entry only, and None once it is full.
        let subuid = "anchorage:100000:196608\n";
        assert_eq!(
            container_range(store, subuid, "", &[], &[165_536])
                .unwrap()
                .first,
            231_072
        );
        assert_eq!(
            container_range(store, subuid, "", &[], &[165_536, 231_072]),
            None
        );
    }

    #[test]
    fn the_choice_is_kept_in_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let first = for_data_dir(dir.path()).unwrap();
        std::fs::write(
            dir.path().join("idmap.json"),
            r#"{"first": 500000, "count": 65536}"#,
        )
        .unwrap();
        let kept = for_data_dir(dir.path()).unwrap();
        assert_eq!(kept.first, 500_000);
        assert_eq!(first.count, RANGE_SIZE);
        std::fs::write(dir.path().join("idmap.json"), "{").unwrap();
        let err = for_data_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is damaged"), "{err}");
    }
}
