//! How `ip` prints what the kernel answers, as BusyBox prints it: a
//! link's flags and queue, an address with its scope, label and
//! lifetimes, a route with its type, table, scope, source and metric.

use std::fmt::Write as _;

use super::Family;
use crate::net::*;

pub(super) fn scope_name(scope: u8) -> String {
    match scope {
        SCOPE_UNIVERSE => "global".into(),
        SCOPE_SITE => "site".into(),
        SCOPE_LINK => "link".into(),
        SCOPE_HOST => "host".into(),
        SCOPE_NOWHERE => "nowhere".into(),
        n => n.to_string(),
    }
}

pub(super) const ROUTE_TYPES: &[(u8, &str)] = &[
    (RTN_UNICAST, "unicast"),
    (RTN_LOCAL, "local"),
    (RTN_BROADCAST, "broadcast"),
    (RTN_ANYCAST, "anycast"),
    (RTN_MULTICAST, "multicast"),
    (RTN_BLACKHOLE, "blackhole"),
    (RTN_UNREACHABLE, "unreachable"),
    (RTN_PROHIBIT, "prohibit"),
];

pub(super) fn table_name(table: u32) -> String {
    match table {
        TABLE_MAIN => "main".into(),
        TABLE_LOCAL => "local".into(),
        253 => "default".into(),
        n => n.to_string(),
    }
}

pub(super) fn mac(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub(super) fn link_flags(flags: u32) -> String {
    let mut out = String::new();
    if flags & IFF_UP != 0 && flags & IFF_RUNNING == 0 {
        out.push_str("NO-CARRIER,");
    }
    let mut rest = flags & !IFF_RUNNING;
    let mut names = Vec::new();
    for (bit, name) in [
        (IFF_LOOPBACK, "LOOPBACK"),
        (IFF_BROADCAST, "BROADCAST"),
        (IFF_POINTOPOINT, "POINTOPOINT"),
        (IFF_MULTICAST, "MULTICAST"),
        (IFF_NOARP, "NOARP"),
        (IFF_UP, "UP"),
        (IFF_LOWER_UP, "LOWER_UP"),
    ] {
        if rest & bit != 0 {
            names.push(name);
            rest &= !bit;
        }
    }
    out.push_str(&names.join(","));
    // What has no name shows in hex, as BusyBox leaves it.
    if rest != 0 {
        let _ = write!(out, "{rest:x}");
    }
    out
}

pub(super) fn link_line(link: &Link, oneline: bool, family: Family) -> String {
    let sep = if oneline { '\\' } else { '\n' };
    let mut out = format!(
        "{}: {}: <{}> mtu {} ",
        link.index,
        link.name,
        link_flags(link.flags),
        link.mtu
    );
    // BusyBox asks for IPv6's link dump, which has no qdisc, with -6.
    if family != Family::Inet6
        && let Some(q) = &link.qdisc
    {
        let _ = write!(out, "qdisc {q} ");
    }
    if link.txqlen != 0 {
        let _ = write!(out, "qlen {}", link.txqlen);
    }
    if matches!(family, Family::Any | Family::Link) {
        let kind = match link.link_type {
            ARPHRD_LOOPBACK => "loopback".to_string(),
            ARPHRD_ETHER => "ether".to_string(),
            n => format!("[{n}]"),
        };
        let _ = write!(out, "{sep}    link/{kind} {}", mac(&link.address));
        if !link.broadcast.is_empty() {
            let word = if link.flags & IFF_POINTOPOINT != 0 {
                "peer"
            } else {
                "brd"
            };
            let _ = write!(out, " {word} {}", mac(&link.broadcast));
        }
    }
    out.push('\n');
    out
}

pub(super) fn addr_line(a: &Address, dev: &str, oneline: bool) -> String {
    let sep = if oneline { '\\' } else { '\n' };
    let mut out = String::new();
    if oneline {
        let _ = write!(out, "{}: {dev}", a.index);
    }
    let family = if a.local.is_ipv4() { "inet" } else { "inet6" };
    let _ = write!(out, "    {family} {}/{} ", a.local, a.prefix);
    if let Some(b) = a.broadcast {
        let _ = write!(out, "brd {b} ");
    }
    let _ = write!(out, "scope {} ", scope_name(a.scope));
    let mut flags = a.flags;
    if flags & IFA_F_SECONDARY != 0 {
        flags &= !IFA_F_SECONDARY;
        out.push_str("secondary ");
    }
    for (bit, word) in [(0x40, "tentative "), (0x20, "deprecated ")] {
        if flags & bit != 0 {
            flags &= !bit;
            out.push_str(word);
        }
    }
    if flags & IFA_F_PERMANENT == 0 {
        out.push_str("dynamic ");
    } else {
        flags &= !IFA_F_PERMANENT;
    }
    if flags != 0 {
        let _ = write!(out, "flags {flags:02x} ");
    }
    if let Some(label) = &a.label {
        out.push_str(label);
    }
    let _ = writeln!(out, "{sep}       valid_lft forever preferred_lft forever");
    out
}

/// Which table a listing shows: `Some(id)`, or `None` for all.
pub(super) fn route_shown(r: &Route, table: Option<u32>) -> bool {
    if r.dst.is_ipv6() {
        match table {
            None => true,
            Some(TABLE_LOCAL) => r.kind == RTN_LOCAL,
            Some(TABLE_MAIN) => r.kind != RTN_LOCAL,
            Some(_) => false,
        }
    } else {
        table.is_none_or(|t| t == r.table)
    }
}

pub(super) fn route_line(
    r: &Route,
    links: &[Link],
    table: Option<u32>,
    show_scope: bool,
) -> String {
    let mut out = String::new();
    if r.kind != RTN_UNICAST {
        let name = ROUTE_TYPES
            .iter()
            .find(|(k, _)| *k == r.kind)
            .map_or_else(|| r.kind.to_string(), |(_, n)| n.to_string());
        let _ = write!(out, "{name} ");
    }
    let host = if r.dst.is_ipv4() { 32 } else { 128 };
    if r.dst_len == 0 {
        out.push_str("default ");
    } else if r.dst_len == host {
        let _ = write!(out, "{} ", r.dst);
    } else {
        let _ = write!(out, "{}/{} ", r.dst, r.dst_len);
    }
    if let Some(gw) = r.gateway {
        let _ = write!(out, "via {gw} ");
    }
    if let Some(dev) = r.dev {
        let name = links
            .iter()
            .find(|l| l.index == dev)
            .map_or_else(|| format!("if{dev}"), |l| l.name.clone());
        let _ = write!(out, "dev {name} ");
    }
    if table.is_none() && r.table != TABLE_MAIN {
        let _ = write!(out, "table {} ", table_name(r.table));
    }
    if r.scope != SCOPE_UNIVERSE && show_scope {
        let _ = write!(out, "scope {} ", scope_name(r.scope));
    }
    if let Some(src) = r.prefsrc {
        let _ = write!(out, " src {src} ");
    }
    if let Some(m) = r.metric {
        let _ = write!(out, " metric {m} ");
    }
    out.push('\n');
    out
}
