//! The changes `ip` asks of the kernel, read and sent as BusyBox reads
//! and sends them: `link set`, `addr add|del|flush`, `route
//! add|del|replace|append|change`.

use std::net::IpAddr;

use super::show::ROUTE_TYPES;
use super::{
    Die, Done, Family, Ip, Words, family_of, kernel, parse_addr, parse_prefix, parse_scope,
    parse_table, pick,
};
use crate::net::*;
use crate::shell::os::Os;

impl<O: Os> Ip<'_, '_, O> {
    pub(super) async fn link_set(&mut self, words: &[String]) -> Done {
        let mut w = Words {
            words,
            at: 0,
            status: 2,
        };
        let mut dev: Option<&str> = None;
        let (mut set, mut clear) = (0u32, 0u32);
        let mut name = None;
        let mut mtu = None;
        let mut qlen = None;
        let mut address = None;
        let keywords = [
            "up",
            "down",
            "name",
            "mtu",
            "qlen",
            "multicast",
            "arp",
            "promisc",
            "address",
            "netns",
            "master",
            "nomaster",
            "dev",
        ];
        while let Some(word) = w.next() {
            let on_off = |w: &mut Words, of: &str| -> Result<bool, Die> {
                match w.value()? {
                    "on" => Ok(true),
                    "off" => Ok(false),
                    _ => Err(Die(
                        format!("argument of \"{of}\" must be \"on\" or \"off\""),
                        2,
                    )),
                }
            };
            let mut flag = |bit: u32, on: bool| {
                if on {
                    set |= bit;
                    clear &= !bit;
                } else {
                    clear |= bit;
                    set &= !bit;
                }
            };
            match pick(word, &keywords) {
                Some("up") => flag(IFF_UP, true),
                Some("down") => flag(IFF_UP, false),
                Some("name") => name = Some(w.value()?.to_string()),
                Some("mtu") => mtu = Some(w.number("mtu")?),
                Some("qlen") => qlen = Some(w.number("qlen")?),
                Some("multicast") => {
                    let on = on_off(&mut w, "multicast")?;
                    flag(IFF_MULTICAST, on);
                }
                Some("arp") => {
                    let on = on_off(&mut w, "arp")?;
                    flag(IFF_NOARP, !on);
                }
                Some("promisc") => {
                    let on = on_off(&mut w, "promisc")?;
                    flag(IFF_PROMISC, on);
                }
                Some("address") => address = Some(w.value()?.to_string()),
                Some(k @ ("netns" | "master" | "nomaster")) => {
                    return Err(Die(
                        format!("link set {k}: moving devices is not supported here"),
                        2,
                    ));
                }
                Some("dev") | None => {
                    let name = if word == "dev" { w.value()? } else { word };
                    if dev.is_some() {
                        return Err(Die(
                            format!("either \"dev\" is duplicate, or \"{name}\" is garbage"),
                            2,
                        ));
                    }
                    dev = Some(name);
                }
                Some(_) => unreachable!("every keyword has its arm"),
            }
        }
        let Some(dev) = dev else {
            return Err(Die("\"dev\" requires an argument".into(), 2));
        };
        let Some(link) = self.links().await?.into_iter().find(|l| l.name == dev) else {
            return Err(Die("SIOCGIFFLAGS: No such device".into(), 2));
        };
        let mut changes = Vec::new();
        if let Some(text) = address {
            let mut bytes = Vec::new();
            for part in text.split(':') {
                match u8::from_str_radix(part, 16) {
                    Ok(b) if part.len() <= 2 => bytes.push(b),
                    _ => return Err(Die(format!("\"{part}\" is invalid lladdr"), 1)),
                }
            }
            if bytes.len() != link.address.len() {
                // BusyBox names the first byte only.
                let first = text.split(':').next().unwrap_or_default();
                return Err(Die(
                    format!(
                        "wrong address ({first}) length: expected {} bytes",
                        link.address.len()
                    ),
                    2,
                ));
            }
            changes.push(LinkChange::Address(bytes));
        }
        // BusyBox copies a new name into the ioctl's 16 bytes: at most
        // 15 characters survive.
        if let Some(n) = name
            .map(|n| n.chars().take(15).collect::<String>())
            .filter(|n| n != dev)
        {
            changes.push(LinkChange::Name(n));
        }
        if let Some(q) = qlen {
            changes.push(LinkChange::TxQueueLen(q));
        }
        if let Some(m) = mtu {
            changes.push(LinkChange::Mtu(m));
        }
        if set | clear != 0 {
            changes.push(LinkChange::Flags { set, clear });
        }
        for change in changes {
            let ioctl = change.ioctl();
            self.io
                .os
                .net_change(NetRequest::SetLink {
                    index: link.index,
                    change,
                })
                .await
                .map_err(|e| Die(format!("{ioctl}: {e}"), 2))?;
        }
        Ok(String::new())
    }

    pub(super) async fn addr_modify(&mut self, words: &[String], delete: bool) -> Done {
        let mut w = Words {
            words,
            at: 0,
            status: 1,
        };
        let mut family = self.family;
        let mut local = None;
        let mut dev = None;
        let mut label = None;
        let mut scope = None;
        let mut brd: Option<Result<IpAddr, bool>> = None;
        while let Some(word) = w.next() {
            match word {
                "peer" | "remote" | "anycast" => {
                    return Err(Die(
                        format!(
                            "addr {word}: point-to-point and anycast addresses are not supported here"
                        ),
                        1,
                    ));
                }
                "broadcast" | "brd" => {
                    let v = w.value()?;
                    brd = Some(match v {
                        "+" => Err(true),
                        "-" => Err(false),
                        _ => Ok(parse_addr(v, family)?),
                    });
                }
                "scope" => {
                    let v = w.value()?;
                    scope = Some(parse_scope(v).ok_or_else(|| w.invalid(v, "scope"))?);
                }
                "dev" => dev = Some(w.value()?.to_string()),
                "label" => label = Some(w.value()?.to_string()),
                other => {
                    let other = if other == "local" { w.value()? } else { other };
                    if local.is_some() {
                        return Err(Die(
                            format!("either \"local\" is duplicate, or \"{other}\" is garbage"),
                            1,
                        ));
                    }
                    let (addr, len) = parse_prefix(other, family)?;
                    family = family_of(addr);
                    local = Some((addr, len));
                }
            }
        }
        let Some(dev) = dev else {
            return Err(Die("need \"dev IFACE\"".into(), 1));
        };
        if let Some(l) = &label
            && !l.starts_with(&dev)
        {
            return Err(Die(
                format!("\"dev\" ({dev}) must match \"label\" ({l})"),
                1,
            ));
        }
        let Some((addr, len)) = local else {
            // BusyBox sends the request without an address, and the
            // kernel answers this.
            return Err(kernel("Operation not supported".into()));
        };
        let broadcast = match brd {
            Some(Ok(IpAddr::V4(b))) => Some(b),
            Some(Ok(IpAddr::V6(_))) | Some(Err(_)) if family == Family::Inet6 && !delete => {
                return Err(Die(
                    "broadcast can be set only for IPv4 addresses".into(),
                    1,
                ));
            }
            Some(Err(ones)) if !delete && len <= 30 => match addr {
                IpAddr::V4(a) if ones => Some(subnet_broadcast(a, len)),
                IpAddr::V4(a) => match network(IpAddr::V4(a), len) {
                    IpAddr::V4(n) => Some(n),
                    IpAddr::V6(_) => None,
                },
                IpAddr::V6(_) => None,
            },
            _ => None,
        };
        let scope = scope.unwrap_or(match addr {
            IpAddr::V4(a) if a.octets()[0] == 127 => SCOPE_HOST,
            _ => SCOPE_UNIVERSE,
        });
        let index = self.index_of(&dev, 1).await?;
        let address = Address {
            index,
            local: addr,
            prefix: len,
            broadcast,
            scope,
            label,
            flags: 0,
        };
        if delete {
            self.change(NetRequest::DelAddress(address)).await?;
        } else {
            self.change(NetRequest::AddAddress(address)).await?;
        }
        Ok(String::new())
    }

    pub(super) async fn addr_flush(&mut self, words: &[String]) -> Done {
        if words.is_empty() {
            return Err(Die("flush requires an argument".into(), 1));
        }
        let mut w = Words {
            words,
            at: 0,
            status: 1,
        };
        let mut dev = None;
        let mut scope = None;
        let mut label = None;
        let mut to = None;
        while let Some(word) = w.next() {
            match word {
                "scope" => {
                    let v = w.value()?;
                    scope = Some(parse_scope(v).ok_or_else(|| w.invalid(v, "scope"))?);
                }
                "label" => label = Some(w.value()?.to_string()),
                "to" => to = Some(parse_prefix(w.value()?, self.family)?),
                "dev" => dev = Some(w.value()?.to_string()),
                other => dev = Some(other.to_string()),
            }
        }
        let index = match &dev {
            Some(d) => Some(self.index_of(d, 1).await?),
            None => None,
        };
        let addresses = self.io.os.net_addresses().await.map_err(kernel)?;
        for a in addresses {
            let family_ok = match self.family {
                Family::Inet => a.local.is_ipv4(),
                Family::Inet6 => a.local.is_ipv6(),
                _ => true,
            };
            if family_ok
                && index.is_none_or(|i| i == a.index)
                && scope.is_none_or(|s| s == a.scope)
                && label.as_ref().is_none_or(|l| a.label.as_ref() == Some(l))
                && to.is_none_or(|(net, len)| covers(net, len, a.local))
            {
                // A secondary may have gone with its primary.
                let _ = self.io.os.net_change(NetRequest::DelAddress(a)).await;
            }
        }
        Ok(String::new())
    }

    pub(super) async fn route_modify(&mut self, words: &[String], how: Option<RouteHow>) -> Done {
        let mut w = Words {
            words,
            at: 0,
            status: 1,
        };
        let delete = how.is_none();
        let mut family = self.family;
        let mut r = Route {
            table: TABLE_MAIN,
            kind: if delete { RTN_UNSPEC } else { RTN_UNICAST },
            dst: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            dst_len: 0,
            gateway: None,
            dev: None,
            scope: if delete {
                SCOPE_NOWHERE
            } else {
                SCOPE_UNIVERSE
            },
            protocol: if delete { PROTO_UNSPEC } else { PROTO_BOOT },
            prefsrc: None,
            metric: None,
        };
        let mut dev = None;
        let mut scope_given = false;
        let mut dst_given = false;
        let keywords = [
            "src", "via", "mtu", "advmss", "scope", "protocol", "table", "dev", "oif", "to",
            "metric", "onlink",
        ];
        while let Some(word) = w.next() {
            match pick(word, &keywords) {
                Some("src") => {
                    let a = parse_addr(w.value()?, family)?;
                    family = family_of(a);
                    r.prefsrc = Some(a);
                }
                Some("via") => {
                    let a = parse_addr(w.value()?, family)?;
                    family = family_of(a);
                    r.gateway = Some(a);
                }
                Some(k @ ("mtu" | "advmss" | "onlink")) => {
                    return Err(Die(
                        format!(
                            "route {k}: route metrics and on-link gateways are not supported here"
                        ),
                        1,
                    ));
                }
                Some("scope") => {
                    let v = w.value()?;
                    r.scope = parse_scope(v).ok_or_else(|| w.invalid(v, "scope"))?;
                    scope_given = true;
                }
                Some("protocol") => {
                    let v = w.value()?;
                    r.protocol = match v {
                        "kernel" => PROTO_KERNEL,
                        "boot" => PROTO_BOOT,
                        "static" => 4,
                        n => n.parse().map_err(|_| w.invalid(v, "protocol"))?,
                    };
                }
                Some("table") => {
                    let v = w.value()?;
                    r.table = parse_table(v).ok_or_else(|| w.invalid(v, "table"))?;
                }
                Some("dev" | "oif") => dev = Some(w.value()?.to_string()),
                Some("metric") => r.metric = Some(w.number("metric")?),
                _ => {
                    let mut word = if word == "to" { w.value()? } else { word };
                    if !word.starts_with(|c: char| c.is_ascii_digit())
                        && let Some((kind, _)) = ROUTE_TYPES.iter().find(|(_, n)| *n == word)
                    {
                        r.kind = *kind;
                        word = w.value()?;
                    }
                    if dst_given {
                        return Err(Die(
                            format!("either \"to\" is duplicate, or \"{word}\" is garbage"),
                            1,
                        ));
                    }
                    let (addr, len) = parse_prefix(word, family)?;
                    family = family_of(addr);
                    r.dst = addr;
                    r.dst_len = len;
                    dst_given = true;
                }
            }
        }
        if family == Family::Inet6 && r.dst.is_ipv4() {
            r.dst = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);
        }
        if let Some(d) = &dev {
            r.dev = Some(self.index_of(d, 1).await?);
        }
        if !scope_given {
            r.scope = match r.kind {
                RTN_LOCAL => SCOPE_HOST,
                RTN_BROADCAST | RTN_MULTICAST | RTN_ANYCAST => SCOPE_LINK,
                RTN_UNICAST | RTN_UNSPEC if delete => SCOPE_NOWHERE,
                RTN_UNICAST | RTN_UNSPEC if r.gateway.is_none() => SCOPE_LINK,
                _ => SCOPE_UNIVERSE,
            };
        }
        match how {
            Some(how) => self.change(NetRequest::AddRoute(r, how)).await?,
            None => self.change(NetRequest::DelRoute(r)).await?,
        }
        Ok(String::new())
    }
}
