//! `ip link|address|route`, as BusyBox's `ip` reads its words and prints
//! the kernel's answers: links with their flags and queue, addresses with
//! scope, label and lifetimes, routes table by table, `-o` on one line,
//! `-4`/`-6`/`-f` by family; and the changes (`link set`, `addr add|del|
//! flush`, `route add|del|replace|append|change|flush`) sent as BusyBox
//! sends them, each error worded as BusyBox words it (`RTNETLINK answers:
//! File exists`, `SIOCSIFFLAGS: Operation not permitted`). The namespace
//! is the process's own, real or simulated (`crate::net`).

use std::net::IpAddr;

mod change;
mod show;

use show::*;

use super::io::Io;
use super::text::Status;
use crate::net::*;
use crate::shell::os::Os;

const USAGE: &str = "Usage: ip [OPTIONS] address|route|link [ARGS]

OPTIONS := -f[amily] inet|inet6|link | -o[neline] | -4 | -6

ip addr add|del IFADDR dev IFACE | show|flush [dev IFACE] [to PREFIX]
ip route list|flush|add|del|change|append|replace ROUTE
ip link set IFACE [up|down] [arp on|off] [multicast on|off]
\t[promisc on|off] [mtu NUM] [name NAME] [qlen NUM] [address MAC]";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Any,
    Inet,
    Inet6,
    Link,
}

/// Why `ip` stops: its message and status.
struct Die(String, i32);

type Done = Result<String, Die>;

/// BusyBox's keyword match: `word` starts `keyword` (`a` is `address`).
fn matches(word: &str, keyword: &str) -> bool {
    !word.is_empty() && keyword.starts_with(word)
}

fn pick<'a>(word: &str, keywords: &[&'a str]) -> Option<&'a str> {
    keywords.iter().copied().find(|k| matches(word, k))
}

/// The words after a keyword, one at a time, with BusyBox's complaint
/// when one is missing.
struct Words<'a> {
    words: &'a [String],
    at: usize,
    status: i32,
}

impl<'a> Words<'a> {
    fn next(&mut self) -> Option<&'a str> {
        let w = self.words.get(self.at)?;
        self.at += 1;
        Some(w)
    }

    fn value(&mut self) -> Result<&'a str, Die> {
        self.next().ok_or_else(|| {
            Die(
                "command line is not complete, try \"help\"".into(),
                self.status,
            )
        })
    }

    fn invalid(&self, word: &str, of: &str) -> Die {
        Die(format!("invalid argument '{word}' to '{of}'"), self.status)
    }

    fn number(&mut self, of: &str) -> Result<u32, Die> {
        let v = self.value()?;
        v.parse().map_err(|_| self.invalid(v, of))
    }
}

fn parse_scope(word: &str) -> Option<u8> {
    match word {
        "global" | "universe" => Some(SCOPE_UNIVERSE),
        "site" => Some(SCOPE_SITE),
        "link" => Some(SCOPE_LINK),
        "host" => Some(SCOPE_HOST),
        "nowhere" => Some(SCOPE_NOWHERE),
        n => n.parse().ok(),
    }
}

fn parse_table(word: &str) -> Option<u32> {
    match word {
        "main" => Some(TABLE_MAIN),
        "local" => Some(TABLE_LOCAL),
        "default" => Some(253),
        n => n.parse().ok(),
    }
}

/// `ADDR[/LEN]`, `default`, `all` or `any`, as a network and its length.
fn parse_prefix(word: &str, family: Family) -> Result<(IpAddr, u8), Die> {
    let bad = || {
        Die(
            format!("an inet prefix is expected rather than \"{word}\""),
            1,
        )
    };
    if matches!(word, "default" | "all" | "any") {
        let any = if family == Family::Inet6 {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        };
        return Ok((any, 0));
    }
    let (addr, len) = match word.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (word, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    if (family == Family::Inet && addr.is_ipv6()) || (family == Family::Inet6 && addr.is_ipv4()) {
        return Err(bad());
    }
    let host = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= host)
            .ok_or_else(bad)?,
        None => host,
    };
    Ok((addr, len))
}

fn parse_addr(word: &str, family: Family) -> Result<IpAddr, Die> {
    let addr: IpAddr = word.parse().map_err(|_| {
        Die(
            format!("an inet address is expected rather than \"{word}\""),
            1,
        )
    })?;
    if (family == Family::Inet && addr.is_ipv6()) || (family == Family::Inet6 && addr.is_ipv4()) {
        return Err(Die(
            format!("an inet address is expected rather than \"{word}\""),
            1,
        ));
    }
    Ok(addr)
}

fn family_of(addr: IpAddr) -> Family {
    if addr.is_ipv4() {
        Family::Inet
    } else {
        Family::Inet6
    }
}

fn kernel(err: String) -> Die {
    Die(format!("RTNETLINK answers: {err}"), 2)
}

// ---- the objects ----

struct Ip<'x, 'a, O: Os> {
    io: &'x mut Io<'a, O>,
    family: Family,
    oneline: bool,
}

impl<O: Os> Ip<'_, '_, O> {
    async fn links(&mut self) -> Result<Vec<Link>, Die> {
        self.io.os.net_links().await.map_err(kernel)
    }

    async fn index_of(&mut self, name: &str, status: i32) -> Result<u32, Die> {
        self.links()
            .await?
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.index)
            .ok_or_else(|| Die(format!("can't find device '{name}'"), status))
    }

    async fn change(&mut self, request: NetRequest) -> Result<(), Die> {
        self.io.os.net_change(request).await.map_err(kernel)
    }

    /// `ip addr show` and `ip link show`.
    async fn list(&mut self, words: &[String], status: i32) -> Done {
        let mut w = Words {
            words,
            at: 0,
            status,
        };
        let mut dev = None;
        let mut up = false;
        let mut label = None;
        let mut scope = None;
        let mut to = None;
        while let Some(word) = w.next() {
            match word {
                "up" => up = true,
                "label" => label = Some(w.value()?.to_string()),
                "scope" => {
                    let v = w.value()?;
                    scope = match v {
                        "all" => None,
                        _ => Some(parse_scope(v).ok_or_else(|| w.invalid(v, "scope"))?),
                    };
                }
                "to" => to = Some(parse_prefix(w.value()?, self.family)?),
                "dev" => dev = Some(w.value()?.to_string()),
                other => dev = Some(other.to_string()),
            }
        }
        let links = self.links().await?;
        let index = match &dev {
            Some(name) => Some(self.index_of(name, status).await?),
            None => None,
        };
        let addresses = if self.family == Family::Link {
            Vec::new()
        } else {
            self.io.os.net_addresses().await.map_err(kernel)?
        };
        // `to PREFIX` picks its family, as -4 or -6 would.
        let family = match (self.family, to) {
            (Family::Any, Some((net, _))) => family_of(net),
            (f, _) => f,
        };
        // A label is a pattern (`lo:*`), matched against an address's
        // label or, where it has none (IPv6), its device's name.
        let pattern = label.as_deref().map(crate::shell::pattern::active);
        let label_matches = |text: &str| {
            pattern
                .as_ref()
                .is_none_or(|p| crate::shell::pattern::matches(p, text))
        };
        let mut out = String::new();
        for link in &links {
            if index.is_some_and(|i| i != link.index) {
                continue;
            }
            let mine: Vec<&Address> = addresses
                .iter()
                .filter(|a| {
                    a.index == link.index
                        && match family {
                            Family::Inet => a.local.is_ipv4(),
                            Family::Inet6 => a.local.is_ipv6(),
                            _ => true,
                        }
                        && scope.is_none_or(|s| a.scope == s)
                        && label_matches(a.label.as_deref().unwrap_or(&link.name))
                        && to.is_none_or(|(net, len)| covers(net, len, a.local))
                })
                .collect();
            // With a family, a device without such an address is left
            // out whole.
            if matches!(family, Family::Inet | Family::Inet6) && mine.is_empty() {
                continue;
            }
            // BusyBox leaves the device's own line out when it is down
            // and `up` was asked, or its name does not match the label
            // (its addresses still follow).
            let shown = !(up && link.flags & IFF_UP == 0)
                && (label.is_none()
                    || matches!(family, Family::Inet | Family::Inet6)
                    || label_matches(&link.name));
            if shown && (!self.oneline || family == Family::Link) {
                out.push_str(&link_line(link, self.oneline, family));
            }
            for a in mine {
                out.push_str(&addr_line(a, &link.name, self.oneline));
            }
        }
        Ok(out)
    }

    async fn link(&mut self, words: &[String]) -> Done {
        let Some(first) = words.first() else {
            self.family = Family::Link;
            return self.list(words, 2).await;
        };
        match pick(first, &["add", "delete", "set", "show", "lst", "list"]) {
            Some("set") => self.link_set(&words[1..]).await,
            Some("show" | "lst" | "list") => {
                self.family = Family::Link;
                self.list(&words[1..], 2).await
            }
            Some(verb) => Err(Die(
                format!(
                    "link {verb}: making or removing devices is not supported here; set, show and list are"
                ),
                2,
            )),
            None => Err(Die(format!("invalid argument '{first}' to 'ip'"), 2)),
        }
    }

    async fn addr(&mut self, words: &[String]) -> Done {
        let Some(first) = words.first() else {
            return self.list(words, 1).await;
        };
        let verbs = [
            "add", "change", "chg", "replace", "delete", "list", "show", "lst", "flush",
        ];
        match pick(first, &verbs) {
            Some("add" | "change" | "chg" | "replace") => {
                self.addr_modify(&words[1..], false).await
            }
            Some("delete") => self.addr_modify(&words[1..], true).await,
            Some("list" | "show" | "lst") => self.list(&words[1..], 1).await,
            Some(_) => self.addr_flush(&words[1..]).await,
            None => Err(Die(format!("invalid argument '{first}' to 'ip'"), 1)),
        }
    }

    async fn route(&mut self, words: &[String]) -> Done {
        let Some(first) = words.first() else {
            return self.route_list(words, false).await;
        };
        let verbs = [
            "add", "append", "change", "chg", "delete", "get", "list", "show", "lst", "flush",
            "replace", "test",
        ];
        match pick(first, &verbs) {
            Some("add") => self.route_modify(&words[1..], Some(RouteHow::Create)).await,
            Some("append") => self.route_modify(&words[1..], Some(RouteHow::Append)).await,
            Some("change" | "chg") => self.route_modify(&words[1..], Some(RouteHow::Change)).await,
            Some("replace") => {
                self.route_modify(&words[1..], Some(RouteHow::Replace))
                    .await
            }
            Some("delete") => self.route_modify(&words[1..], None).await,
            Some("list" | "show" | "lst") => self.route_list(&words[1..], false).await,
            Some("flush") => self.route_list(&words[1..], true).await,
            Some(verb) => Err(Die(
                format!(
                    "route {verb}: looking a route up is not supported here; list it with ip route"
                ),
                1,
            )),
            None => Err(Die(format!("invalid argument '{first}' to 'ip'"), 1)),
        }
    }

    async fn route_list(&mut self, words: &[String], flush: bool) -> Done {
        if flush && words.is_empty() {
            return Err(Die("\"ip route flush\" requires an argument".into(), 1));
        }
        let mut w = Words {
            words,
            at: 0,
            status: 1,
        };
        let mut table = Some(TABLE_MAIN);
        let mut dev = None;
        let mut scope = None;
        while let Some(word) = w.next() {
            match word {
                "table" => {
                    let v = w.value()?;
                    table = match v {
                        "all" => None,
                        _ => Some(parse_table(v).ok_or_else(|| w.invalid(v, "table"))?),
                    };
                }
                "dev" | "oif" => dev = Some(w.value()?.to_string()),
                "scope" => {
                    let v = w.value()?;
                    scope = Some(parse_scope(v).ok_or_else(|| w.invalid(v, "scope"))?);
                }
                other => return Err(w.invalid(other, "ip route list")),
            }
        }
        let links = self.links().await?;
        let index = match &dev {
            Some(d) => Some(self.index_of(d, 1).await?),
            None => None,
        };
        // Every table, and no family asked: both families.
        let families: &[bool] = match (self.family, table) {
            (Family::Inet6, _) => &[true],
            (Family::Any, None) => &[false, true],
            _ => &[false],
        };
        let mut routes = Vec::new();
        for &v6 in families {
            routes.extend(self.io.os.net_routes(v6).await.map_err(kernel)?);
        }
        let mut out = String::new();
        for r in routes {
            if !route_shown(&r, table)
                || index.is_some_and(|i| r.dev != Some(i))
                || scope.is_some_and(|s| r.scope != s)
            {
                continue;
            }
            if flush {
                self.change(NetRequest::DelRoute(r)).await?;
            } else {
                out.push_str(&route_line(&r, &links, table, scope.is_none()));
            }
        }
        Ok(out)
    }
}

/// BusyBox's usage text, on standard error, and status 1.
async fn usage<O: Os>(io: &mut Io<'_, O>) -> Status {
    io.flush().await?;
    let _ = io.os.write(2, format!("{USAGE}\n").as_bytes()).await;
    Ok(1)
}

pub async fn ip<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let mut family = Family::Any;
    let mut oneline = false;
    let mut at = 0;
    while let Some(arg) = args.get(at).filter(|a| a.starts_with('-') && a.len() > 1) {
        at += 1;
        let opt = arg.trim_start_matches('-');
        if matches(opt, "family") {
            let Some(name) = args.get(at) else {
                return usage(io).await;
            };
            at += 1;
            family = match name.as_str() {
                "inet" => Family::Inet,
                "inet6" => Family::Inet6,
                "link" => Family::Link,
                other => {
                    io.say(&format!("invalid argument '{other}' to 'family'"))
                        .await;
                    return Ok(1);
                }
            };
        } else if opt == "4" {
            family = Family::Inet;
        } else if opt == "6" {
            family = Family::Inet6;
        } else if opt == "0" {
            family = Family::Link;
        } else if matches(opt, "oneline") {
            oneline = true;
        } else {
            return usage(io).await;
        }
    }
    let Some(object) = args.get(at) else {
        return usage(io).await;
    };
    let words = &args[at + 1..];
    let objects = [
        "address",
        "route",
        "link",
        "tunnel",
        "tunl",
        "neigh",
        "neighbor",
        "neighbour",
        "rule",
    ];
    let mut ip = Ip {
        io,
        family,
        oneline,
    };
    let result = match pick(object, &objects) {
        Some("address") => ip.addr(words).await,
        Some("route") => ip.route(words).await,
        Some("link") => ip.link(words).await,
        Some(other) => Err(Die(
            format!("{other}: not supported here; address, route and link are"),
            1,
        )),
        None => return usage(ip.io).await,
    };
    match result {
        Ok(out) => {
            ip.io.put_str(&out).await?;
            ip.io.flush().await?;
            Ok(0)
        }
        Err(Die(message, status)) => {
            ip.io.say(&message).await;
            Ok(status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lo(flags: u32) -> Link {
        Link {
            index: 1,
            name: "lo".into(),
            flags,
            mtu: 65536,
            qdisc: Some("noqueue".into()),
            txqlen: 1000,
            link_type: ARPHRD_LOOPBACK,
            address: vec![0; 6],
            broadcast: vec![0; 6],
        }
    }

    #[test]
    fn links_print_as_busybox_prints_them() {
        let up = IFF_LOOPBACK | IFF_UP | IFF_RUNNING | IFF_LOWER_UP;
        assert_eq!(
            link_line(&lo(up), false, Family::Any),
            "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"
        );
        assert_eq!(
            link_line(&lo(up), true, Family::Inet6),
            "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qlen 1000\n"
        );
        // PROMISC has no name in BusyBox: it shows as hex.
        assert_eq!(link_flags(up | IFF_PROMISC), "LOOPBACK,UP,LOWER_UP100");
        assert_eq!(
            link_flags(IFF_UP | IFF_BROADCAST),
            "NO-CARRIER,BROADCAST,UP"
        );
    }

    #[test]
    fn addresses_and_routes_print_as_busybox_prints_them() {
        let a = Address {
            index: 1,
            local: "10.9.0.1".parse().unwrap(),
            prefix: 16,
            broadcast: Some("10.9.255.255".parse().unwrap()),
            scope: SCOPE_UNIVERSE,
            label: Some("lo".into()),
            flags: IFA_F_PERMANENT,
        };
        assert_eq!(
            addr_line(&a, "lo", true),
            "1: lo    inet 10.9.0.1/16 brd 10.9.255.255 scope global lo\\       valid_lft forever preferred_lft forever\n"
        );
        let r = Route {
            table: TABLE_LOCAL,
            kind: RTN_BROADCAST,
            dst: "10.9.255.255".parse().unwrap(),
            dst_len: 32,
            gateway: None,
            dev: Some(1),
            scope: SCOPE_LINK,
            protocol: PROTO_KERNEL,
            prefsrc: Some("10.9.0.1".parse().unwrap()),
            metric: None,
        };
        let links = [lo(IFF_UP)];
        assert_eq!(
            route_line(&r, &links, Some(TABLE_LOCAL), true),
            "broadcast 10.9.255.255 dev lo scope link  src 10.9.0.1 \n"
        );
        assert_eq!(
            route_line(&r, &links, None, true),
            "broadcast 10.9.255.255 dev lo table local scope link  src 10.9.0.1 \n"
        );
        assert!(matches("a", "address") && !matches("", "address"));
        assert_eq!(pick("r", &["route", "rule"]), Some("route"));
    }
}
