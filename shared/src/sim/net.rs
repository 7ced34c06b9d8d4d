//! A net namespace's devices, addresses and routes, with the rules Linux
//! 6.1 applies when they change:
//!
//! - A device's first `up` gives it its queueing discipline (`noqueue`
//!   for loopback, which keeps it when down again); loopback coming up
//!   gets `127.0.0.1/8` and `::1/128` back.
//! - An address on a device that is up brings its routes: a local route
//!   for itself (table local), its prefix (table main, or local on
//!   loopback) unless it is a secondary, and the subnet's broadcast.
//!   Deleting it takes them away, and its secondaries with it.
//! - A device going down takes every route through it and its IPv6
//!   addresses (`keep_addr_on_down` is 0).
//! - A route's gateway must be reachable through a route of link or host
//!   scope; a device must be up to take a route.
//! - IPv4 addresses are kept host scope first, then link, then global,
//!   each in the order added; IPv6's global first.
//!
//! Nothing is sent or received: no traffic, so no counters, neighbours
//! or duplicate-address detection (a new address is valid at once).

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::net::*;

/// Linux's smallest MTU for a device that carries IPv4.
const MIN_MTU: u32 = 68;
/// The largest MTU of the simulated host's virtio-net device.
const ETHER_MAX_MTU: u32 = 65_535;
/// `IFNAMSIZ` less its NUL.
const MAX_NAME: usize = 15;

#[derive(Clone, Debug)]
struct Device {
    link: Link,
    /// The discipline it gets when first up.
    default_qdisc: &'static str,
    ever_up: bool,
}

/// One net namespace's network stack.
#[derive(Clone, Debug)]
pub(crate) struct NetStack {
    devices: Vec<Device>,
    addresses: Vec<Address>,
    routes: Vec<Route>,
    next_index: u32,
}

fn loopback() -> Device {
    Device {
        link: Link {
            index: 1,
            name: "lo".into(),
            flags: IFF_LOOPBACK,
            mtu: 65_536,
            qdisc: Some("noop".into()),
            txqlen: 1000,
            link_type: ARPHRD_LOOPBACK,
            address: vec![0; 6],
            broadcast: vec![0; 6],
        },
        default_qdisc: "noqueue",
        ever_up: false,
    }
}

/// The simulated host's network card: its MAC is QEMU's first, its
/// address the one QEMU's user network hands out.
const HOST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const HOST_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
const HOST_GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

impl NetStack {
    /// A new net namespace: loopback only, down, with no address.
    pub fn fresh() -> NetStack {
        NetStack {
            devices: vec![loopback()],
            addresses: Vec::new(),
            routes: Vec::new(),
            next_index: 2,
        }
    }

    /// A container's: its runtime brought loopback up.
    pub fn loopback_up() -> NetStack {
        let mut stack = NetStack::fresh();
        stack.set_flags(1, IFF_UP, 0);
        stack
    }

    /// The host's: loopback and `eth0` up, an address and a default
    /// route from DHCP.
    pub fn host() -> NetStack {
        let mut stack = NetStack::loopback_up();
        stack.devices.push(Device {
            link: Link {
                index: 2,
                name: "eth0".into(),
                flags: IFF_BROADCAST | IFF_MULTICAST,
                mtu: 1500,
                qdisc: Some("noop".into()),
                txqlen: 1000,
                link_type: ARPHRD_ETHER,
                address: HOST_MAC.to_vec(),
                broadcast: vec![0xff; 6],
            },
            default_qdisc: "fq_codel",
            ever_up: false,
        });
        stack.next_index = 3;
        stack.set_flags(2, IFF_UP, 0);
        let address = Address {
            index: 2,
            local: IpAddr::V4(HOST_ADDRESS),
            prefix: 24,
            broadcast: Some(subnet_broadcast(HOST_ADDRESS, 24)),
            scope: SCOPE_UNIVERSE,
            label: Some("eth0".into()),
            flags: IFA_F_PERMANENT,
        };
        let _ = stack.add_address(address);
        let _ = stack.add_route(
            Route {
                table: TABLE_MAIN,
                kind: RTN_UNICAST,
                dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                dst_len: 0,
                gateway: Some(IpAddr::V4(HOST_GATEWAY)),
                dev: Some(2),
                scope: SCOPE_UNIVERSE,
                protocol: PROTO_BOOT,
                prefsrc: None,
                metric: None,
            },
            RouteHow::Create,
        );
        stack
    }

    /// The devices' names, by index.
    pub fn names(&self) -> Vec<String> {
        self.devices.iter().map(|d| d.link.name.clone()).collect()
    }

    pub fn links(&self) -> Vec<Link> {
        self.devices.iter().map(|d| d.link.clone()).collect()
    }

    /// Addresses as the kernel dumps them: IPv4's, then IPv6's, each by
    /// device.
    pub fn addresses(&self) -> Vec<Address> {
        let mut out = Vec::new();
        for v6 in [false, true] {
            for d in &self.devices {
                out.extend(
                    self.addresses
                        .iter()
                        .filter(|a| a.index == d.link.index && a.local.is_ipv6() == v6)
                        .cloned(),
                );
            }
        }
        out
    }

    /// One family's routes in dump order: table main, then local; IPv4's
    /// by destination then longest prefix then metric (the FIB trie's
    /// order), IPv6's in its radix tree's walk (a more specific route
    /// before the one that covers it).
    pub fn routes(&self, v6: bool) -> Vec<Route> {
        let mut out: Vec<Route> = self
            .routes
            .iter()
            .filter(|r| r.dst.is_ipv6() == v6)
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            let table = |t: u32| if t == TABLE_LOCAL { 1 } else { 0 };
            table(a.table)
                .cmp(&table(b.table))
                .then_with(|| {
                    if v6 {
                        tree_order(a, b)
                    } else {
                        a.dst.cmp(&b.dst).then(b.dst_len.cmp(&a.dst_len))
                    }
                })
                .then(a.metric.unwrap_or(0).cmp(&b.metric.unwrap_or(0)))
        });
        out
    }

    fn device(&self, index: u32) -> Option<&Device> {
        self.devices.iter().find(|d| d.link.index == index)
    }

    fn is_up(&self, index: u32) -> bool {
        self.device(index)
            .is_some_and(|d| d.link.flags & IFF_UP != 0)
    }

    /// Carries out a change; `admin` is whether the caller holds
    /// CAP_NET_ADMIN over this namespace. The error is `strerror`'s.
    pub fn apply(&mut self, request: NetRequest, admin: bool) -> Result<(), &'static str> {
        if !admin {
            return Err("Operation not permitted");
        }
        match request {
            NetRequest::SetLink { index, change } => self.set_link(index, change),
            NetRequest::AddAddress(a) => self.add_address(a),
            NetRequest::DelAddress(a) => self.del_address(&a),
            NetRequest::AddRoute(r, how) => self.add_route(r, how),
            NetRequest::DelRoute(r) => self.del_route(&r),
        }
    }

    fn set_link(&mut self, index: u32, change: LinkChange) -> Result<(), &'static str> {
        let Some(at) = self.devices.iter().position(|d| d.link.index == index) else {
            return Err("No such device");
        };
        match change {
            LinkChange::Flags { set, clear } => {
                self.set_flags(index, set, clear);
                Ok(())
            }
            LinkChange::Mtu(mtu) => {
                let d = &mut self.devices[at];
                // Loopback takes any MTU; the network card 68 to 65535.
                let (min, max) = if d.link.link_type == ARPHRD_LOOPBACK {
                    (0, u32::MAX)
                } else {
                    (MIN_MTU, ETHER_MAX_MTU)
                };
                if !(min..=max).contains(&mtu) {
                    return Err("Invalid argument");
                }
                d.link.mtu = mtu;
                // Too small a link for IPv4 (68) or IPv6 (1280): the
                // family's addresses and their routes go.
                for (v6, least) in [(false, MIN_MTU), (true, 1280)] {
                    if mtu < least {
                        let gone: Vec<IpAddr> = self
                            .addresses
                            .iter()
                            .filter(|a| a.index == index && a.local.is_ipv6() == v6)
                            .map(|a| a.local)
                            .collect();
                        self.addresses
                            .retain(|a| !(a.index == index && a.local.is_ipv6() == v6));
                        self.routes.retain(|r| {
                            !(r.dev == Some(index)
                                && r.dst.is_ipv6() == v6
                                && (r.protocol == PROTO_KERNEL
                                    || r.prefsrc.is_some_and(|s| gone.contains(&s))))
                        });
                    }
                }
                Ok(())
            }
            LinkChange::Name(name) => {
                if name.is_empty()
                    || name.len() > MAX_NAME
                    || name == "."
                    || name == ".."
                    || name.contains(['/', ':'])
                    || name.chars().any(char::is_whitespace)
                {
                    return Err("Invalid argument");
                }
                if self.devices[at].link.name == name {
                    return Ok(());
                }
                if self.devices.iter().any(|d| d.link.name == name) {
                    return Err("File exists");
                }
                // Linux 6.1 renames a device only while it is down.
                if self.devices[at].link.flags & IFF_UP != 0 {
                    return Err("Device or resource busy");
                }
                let old = std::mem::replace(&mut self.devices[at].link.name, name.clone());
                // IPv4 labels follow the name, keeping an alias's `:N`.
                for a in self.addresses.iter_mut().filter(|a| a.index == index) {
                    if let Some(label) = &mut a.label
                        && let Some(rest) = label.strip_prefix(&old)
                    {
                        *label = format!("{name}{rest}");
                    }
                }
                Ok(())
            }
            LinkChange::TxQueueLen(len) => {
                self.devices[at].link.txqlen = len;
                Ok(())
            }
            LinkChange::Address(mac) => {
                if mac.len() != self.devices[at].link.address.len() {
                    return Err("Invalid argument");
                }
                self.devices[at].link.address = mac;
                Ok(())
            }
        }
    }

    fn set_flags(&mut self, index: u32, set: u32, clear: u32) {
        let Some(d) = self.devices.iter_mut().find(|d| d.link.index == index) else {
            return;
        };
        let was_up = d.link.flags & IFF_UP != 0;
        let settable = !(IFF_LOOPBACK | IFF_LOWER_UP | IFF_RUNNING);
        d.link.flags = (d.link.flags & !(clear & settable)) | (set & settable);
        let up = d.link.flags & IFF_UP != 0;
        if up && !was_up {
            // Both devices always have a carrier.
            d.link.flags |= IFF_LOWER_UP | IFF_RUNNING;
            if !d.ever_up {
                d.ever_up = true;
                d.link.qdisc = Some(d.default_qdisc.into());
            }
            let is_loopback = d.link.link_type == ARPHRD_LOOPBACK;
            let mac = d.link.address.clone();
            let name = d.link.name.clone();
            self.came_up(index, is_loopback, &mac, &name);
        } else if was_up && !up {
            d.link.flags &= !(IFF_LOWER_UP | IFF_RUNNING);
            // Every route through it goes, but its addresses' local
            // routes, which stand for the host itself.
            self.routes.retain(|r| {
                r.dev != Some(index)
                    || (r.kind == RTN_LOCAL && r.protocol == PROTO_KERNEL && r.dst.is_ipv4())
            });
            self.addresses
                .retain(|a| !(a.index == index && a.local.is_ipv6()));
        }
    }

    fn came_up(&mut self, index: u32, is_loopback: bool, mac: &[u8], name: &str) {
        if is_loopback {
            let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
            if !self
                .addresses
                .iter()
                .any(|a| a.index == index && a.local == v4)
            {
                self.insert_address(Address {
                    index,
                    local: v4,
                    prefix: 8,
                    broadcast: None,
                    scope: SCOPE_HOST,
                    label: Some(name.into()),
                    flags: IFA_F_PERMANENT,
                });
            }
            let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
            if !self
                .addresses
                .iter()
                .any(|a| a.index == index && a.local == v6)
            {
                self.insert_address(Address {
                    index,
                    local: v6,
                    prefix: 128,
                    broadcast: None,
                    scope: SCOPE_HOST,
                    label: None,
                    flags: IFA_F_PERMANENT,
                });
            }
        } else {
            self.insert_address(Address {
                index,
                local: IpAddr::V6(link_local(mac)),
                prefix: 64,
                broadcast: None,
                scope: SCOPE_LINK,
                label: None,
                flags: IFA_F_PERMANENT,
            });
            self.routes.push(Route {
                table: TABLE_LOCAL,
                kind: RTN_MULTICAST,
                dst: IpAddr::V6("ff00::".parse().unwrap_or(Ipv6Addr::UNSPECIFIED)),
                dst_len: 8,
                gateway: None,
                dev: Some(index),
                scope: SCOPE_UNIVERSE,
                protocol: PROTO_KERNEL,
                prefsrc: None,
                metric: Some(256),
            });
        }
        let mine: Vec<Address> = self
            .addresses
            .iter()
            .filter(|a| a.index == index && a.local.is_ipv4())
            .cloned()
            .collect();
        for a in mine {
            self.add_kernel_routes(&a, is_loopback);
        }
        let mine6: Vec<Address> = self
            .addresses
            .iter()
            .filter(|a| a.index == index && a.local.is_ipv6())
            .cloned()
            .collect();
        for a in mine6 {
            self.add_kernel_routes(&a, is_loopback);
        }
    }

    /// Puts an address where the kernel keeps it (see the module's note),
    /// and its routes if its device is up.
    fn insert_address(&mut self, a: Address) {
        let same_device: Vec<usize> = (0..self.addresses.len())
            .filter(|&i| {
                self.addresses[i].index == a.index
                    && self.addresses[i].local.is_ipv6() == a.local.is_ipv6()
            })
            .collect();
        let at = if a.local.is_ipv4() {
            if a.flags & IFA_F_SECONDARY != 0 {
                same_device.last().map_or(self.addresses.len(), |&i| i + 1)
            } else {
                same_device
                    .iter()
                    .rev()
                    .find(|&&i| {
                        let b = &self.addresses[i];
                        b.flags & IFA_F_SECONDARY == 0 && a.scope <= b.scope
                    })
                    .map_or_else(
                        || same_device.first().copied().unwrap_or(self.addresses.len()),
                        |&i| i + 1,
                    )
            }
        } else {
            // Widest scope first: global, site, link, host.
            let rank = |s: u8| match s {
                SCOPE_UNIVERSE => 0,
                SCOPE_SITE => 1,
                SCOPE_LINK => 2,
                _ => 3,
            };
            same_device
                .iter()
                .find(|&&i| rank(self.addresses[i].scope) >= rank(a.scope))
                .copied()
                .unwrap_or_else(|| same_device.last().map_or(self.addresses.len(), |&i| i + 1))
        };
        let device_up = self.is_up(a.index);
        let is_loopback = self
            .device(a.index)
            .is_some_and(|d| d.link.link_type == ARPHRD_LOOPBACK);
        self.addresses.insert(at, a.clone());
        if device_up {
            self.add_kernel_routes(&a, is_loopback);
        } else if a.local.is_ipv4() {
            // An IPv4 address's local route comes at once, up or not.
            let local = self.kernel_route(TABLE_LOCAL, RTN_LOCAL, a.local, 32, &a);
            if !self
                .routes
                .iter()
                .any(|o| same_key(o, &local) && o.kind == RTN_LOCAL)
            {
                self.routes.push(local);
            }
        }
    }

    fn kernel_route(&self, table: u32, kind: u8, dst: IpAddr, len: u8, a: &Address) -> Route {
        let v6 = a.local.is_ipv6();
        Route {
            table,
            kind,
            dst,
            dst_len: len,
            gateway: None,
            dev: Some(a.index),
            scope: if v6 {
                SCOPE_UNIVERSE
            } else if kind == RTN_LOCAL {
                SCOPE_HOST
            } else {
                SCOPE_LINK
            },
            protocol: PROTO_KERNEL,
            prefsrc: (!v6).then_some(a.local),
            metric: v6.then_some(if kind == RTN_LOCAL { 0 } else { 256 }),
        }
    }

    fn add_kernel_routes(&mut self, a: &Address, is_loopback: bool) {
        let mut new = Vec::new();
        match a.local {
            IpAddr::V4(local) => {
                let full = IpAddr::V4(local);
                let mut own = self.kernel_route(TABLE_LOCAL, RTN_LOCAL, full, 32, a);
                if a.flags & IFA_F_SECONDARY != 0 {
                    // A secondary's source is its subnet's primary.
                    own.prefsrc = self
                        .addresses
                        .iter()
                        .find(|p| {
                            p.index == a.index
                                && p.local.is_ipv4()
                                && p.flags & IFA_F_SECONDARY == 0
                                && p.prefix == a.prefix
                                && covers(p.local, p.prefix, a.local)
                        })
                        .map(|p| p.local)
                        .or(own.prefsrc);
                }
                new.push(own);
                let net = network(full, a.prefix);
                if a.flags & IFA_F_SECONDARY == 0 && (net != full || a.prefix < 32) {
                    new.push(if is_loopback {
                        self.kernel_route(TABLE_LOCAL, RTN_LOCAL, net, a.prefix, a)
                    } else {
                        self.kernel_route(TABLE_MAIN, RTN_UNICAST, net, a.prefix, a)
                    });
                }
                if let Some(brd) = a.broadcast.filter(|b| *b != Ipv4Addr::BROADCAST) {
                    new.push(self.kernel_route(TABLE_LOCAL, RTN_BROADCAST, IpAddr::V4(brd), 32, a));
                }
                if a.flags & IFA_F_SECONDARY == 0 && a.prefix < 31 {
                    let brd = subnet_broadcast(local, a.prefix);
                    new.push(self.kernel_route(TABLE_LOCAL, RTN_BROADCAST, IpAddr::V4(brd), 32, a));
                }
            }
            IpAddr::V6(_) => {
                new.push(self.kernel_route(TABLE_LOCAL, RTN_LOCAL, a.local, 128, a));
                if a.prefix < 128 {
                    let net = network(a.local, a.prefix);
                    new.push(self.kernel_route(TABLE_MAIN, RTN_UNICAST, net, a.prefix, a));
                }
            }
        }
        for r in new {
            if !self
                .routes
                .iter()
                .any(|o| same_key(o, &r) && o.kind == r.kind)
            {
                self.routes.push(r);
            }
        }
    }

    fn add_address(&mut self, mut a: Address) -> Result<(), &'static str> {
        if self.device(a.index).is_none() {
            return Err("No such device");
        }
        if a.label.as_ref().is_some_and(|l| l.len() > MAX_NAME) {
            return Err("Numerical result out of range");
        }
        if a.local == IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
            return Err("Cannot assign requested address");
        }
        if a.local.is_ipv4() {
            if self
                .addresses
                .iter()
                .any(|b| b.index == a.index && b.local == a.local && b.prefix == a.prefix)
            {
                return Err("File exists");
            }
            let primary_alike = self.addresses.iter().any(|b| {
                b.index == a.index
                    && b.local.is_ipv4()
                    && b.flags & IFA_F_SECONDARY == 0
                    && b.prefix == a.prefix
                    && covers(b.local, b.prefix, a.local)
            });
            if primary_alike {
                a.flags |= IFA_F_SECONDARY;
            }
            if a.label.is_none() {
                a.label = self.device(a.index).map(|d| d.link.name.clone());
            }
        } else {
            if self
                .addresses
                .iter()
                .any(|b| b.index == a.index && b.local == a.local)
            {
                return Err("File exists");
            }
            a.label = None;
            a.broadcast = None;
            a.scope = match a.local {
                IpAddr::V6(v6) if v6.is_loopback() => SCOPE_HOST,
                IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => SCOPE_LINK,
                _ => SCOPE_UNIVERSE,
            };
        }
        a.flags |= IFA_F_PERMANENT;
        self.insert_address(a);
        Ok(())
    }

    fn del_address(&mut self, a: &Address) -> Result<(), &'static str> {
        let Some(at) = self.addresses.iter().position(|b| {
            b.index == a.index && b.local == a.local && (a.label.is_none() || a.label == b.label)
        }) else {
            return Err("Cannot assign requested address");
        };
        let gone = self.addresses.remove(at);
        let mut lost = vec![gone.clone()];
        if gone.local.is_ipv4() && gone.flags & IFA_F_SECONDARY == 0 {
            // Its secondaries go with it (`promote_secondaries` is 0).
            let (secondaries, kept): (Vec<Address>, Vec<Address>) =
                std::mem::take(&mut self.addresses)
                    .into_iter()
                    .partition(|b| {
                        b.index == gone.index
                            && b.local.is_ipv4()
                            && b.flags & IFA_F_SECONDARY != 0
                            && covers(gone.local, gone.prefix, b.local)
                    });
            self.addresses = kept;
            lost.extend(secondaries);
        }
        for l in &lost {
            self.routes.retain(|r| {
                !(r.protocol == PROTO_KERNEL
                    && r.dev == Some(l.index)
                    && (r.prefsrc == Some(l.local)
                        || (r.kind == RTN_LOCAL && r.dst == l.local)
                        || (l.local.is_ipv6()
                            && ((r.dst == l.local && r.dst_len == 128)
                                || (r.kind == RTN_UNICAST
                                    && r.dst == network(l.local, l.prefix)
                                    && r.dst_len == l.prefix)))))
            });
        }
        // An address that is no longer the host's takes every route
        // that had it as its source.
        for l in lost.iter().filter(|l| l.local.is_ipv4()) {
            let still_local = self
                .routes
                .iter()
                .any(|r| r.kind == RTN_LOCAL && covers(r.dst, r.dst_len, l.local));
            if !still_local {
                self.routes.retain(|r| r.prefsrc != Some(l.local));
            }
        }
        Ok(())
    }

    /// Whether a gateway is on a link: a route of link or host scope (a
    /// subnet's, a local address's) covers it, through `dev` if given.
    fn on_link(&self, gateway: IpAddr, dev: Option<u32>) -> Option<u32> {
        self.routes
            .iter()
            .filter(|r| {
                (r.kind == RTN_UNICAST || r.kind == RTN_LOCAL)
                    && r.scope >= SCOPE_LINK
                    && r.gateway.is_none()
                    && covers(r.dst, r.dst_len, gateway)
                    && dev.is_none_or(|d| r.dev == Some(d))
            })
            .max_by_key(|r| r.dst_len)
            .and_then(|r| r.dev)
    }

    fn add_route(&mut self, mut r: Route, how: RouteHow) -> Result<(), &'static str> {
        if r.dev.is_some_and(|d| self.device(d).is_none()) {
            return Err("No such device");
        }
        // IPv4 refuses a destination with host bits; IPv6 masks them.
        if r.dst.is_ipv4() && network(r.dst, r.dst_len) != r.dst {
            return Err("Invalid argument");
        }
        if r.table == TABLE_UNSPEC {
            r.table = TABLE_MAIN;
        }
        if r.dst.is_ipv6() {
            // IPv6 keeps no scope.
            r.scope = SCOPE_UNIVERSE;
        }
        if let Some(gw) = r.gateway {
            if gw.is_ipv4() != r.dst.is_ipv4() {
                return Err("Invalid argument");
            }
            match self.on_link(gw, r.dev) {
                Some(dev) => r.dev = Some(dev),
                None => return Err("Network is unreachable"),
            }
        } else if r.kind == RTN_UNICAST || r.kind == RTN_LOCAL || r.kind == RTN_BROADCAST {
            let Some(dev) = r.dev else {
                return Err("No such device");
            };
            if !self.is_up(dev) {
                return Err("Network is down");
            }
        }
        if let Some(src) = r.prefsrc {
            // It must be the host's own: a local route covers it.
            let local = self
                .routes
                .iter()
                .any(|l| l.kind == RTN_LOCAL && covers(l.dst, l.dst_len, src));
            if !local {
                return Err("Invalid argument");
            }
        }
        if r.dst.is_ipv6() && r.metric.is_none() {
            r.metric = Some(1024);
        }
        r.dst = network(r.dst, r.dst_len);
        let existing = self.routes.iter().position(|o| same_key(o, &r));
        let identical = self.routes.iter().any(|o| {
            same_key(o, &r)
                && o.kind == r.kind
                && o.gateway == r.gateway
                && o.dev == r.dev
                && o.prefsrc == r.prefsrc
                && o.scope == r.scope
        });
        match (how, existing) {
            (RouteHow::Create, Some(_)) => Err("File exists"),
            (RouteHow::Append, Some(_)) if identical => Err("File exists"),
            (RouteHow::Change, None) => Err("No such file or directory"),
            (RouteHow::Replace | RouteHow::Change, Some(i)) => {
                self.routes[i] = r;
                Ok(())
            }
            _ => {
                self.routes.push(r);
                Ok(())
            }
        }
    }

    fn del_route(&mut self, m: &Route) -> Result<(), &'static str> {
        if m.dst.is_ipv4() && network(m.dst, m.dst_len) != m.dst {
            return Err("Invalid argument");
        }
        let table = if m.table == TABLE_UNSPEC {
            TABLE_MAIN
        } else {
            m.table
        };
        let dst = network(m.dst, m.dst_len);
        let Some(at) = self.routes.iter().position(|r| {
            r.table == table
                && r.dst.is_ipv4() == m.dst.is_ipv4()
                && r.dst == dst
                && r.dst_len == m.dst_len
                && (m.kind == RTN_UNSPEC || r.kind == m.kind)
                && (m.scope == SCOPE_NOWHERE || r.scope == m.scope)
                && (m.protocol == PROTO_UNSPEC || r.protocol == m.protocol)
                && m.metric.is_none_or(|x| r.metric.unwrap_or(0) == x)
                && m.gateway.is_none_or(|g| r.gateway == Some(g))
                && m.dev.is_none_or(|d| r.dev == Some(d))
                && m.prefsrc.is_none_or(|s| r.prefsrc == Some(s))
        }) else {
            return Err("No such process");
        };
        self.routes.remove(at);
        Ok(())
    }
}

/// Two routes the kernel holds as one: the same table, destination,
/// prefix and priority.
fn same_key(a: &Route, b: &Route) -> bool {
    a.table == b.table
        && a.dst == b.dst
        && a.dst_len == b.dst_len
        && a.metric.unwrap_or(0) == b.metric.unwrap_or(0)
}

/// The order of IPv6's radix tree walk: where two prefixes differ, the
/// 0 branch first; a prefix after every one it covers.
fn tree_order(a: &Route, b: &Route) -> Ordering {
    let bits = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => u128::from(v6),
        IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
    };
    let (x, y) = (bits(a.dst), bits(b.dst));
    let common = u32::from(a.dst_len.min(b.dst_len));
    let diff = (x ^ y).leading_zeros();
    if diff < common {
        // The first bit that differs decides.
        let bit = 127 - diff;
        return ((x >> bit) & 1).cmp(&((y >> bit) & 1));
    }
    b.dst_len.cmp(&a.dst_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str, prefix: u8) -> Address {
        Address {
            index: 1,
            local: text.parse().unwrap(),
            prefix,
            broadcast: None,
            scope: SCOPE_UNIVERSE,
            label: None,
            flags: 0,
        }
    }

    #[test]
    fn loopback_up_brings_its_addresses_and_local_routes() {
        let mut s = NetStack::fresh();
        assert!(s.addresses().is_empty());
        assert_eq!(
            s.apply(
                NetRequest::SetLink {
                    index: 1,
                    change: LinkChange::Flags {
                        set: IFF_UP,
                        clear: 0
                    }
                },
                false
            ),
            Err("Operation not permitted")
        );
        s.set_flags(1, IFF_UP, 0);
        let locals: Vec<String> = s
            .routes(false)
            .iter()
            .map(|r| format!("{}/{} {}", r.dst, r.dst_len, r.kind))
            .collect();
        assert_eq!(
            locals,
            ["127.0.0.0/8 2", "127.0.0.1/32 2", "127.255.255.255/32 3"]
        );
        assert_eq!(s.addresses().len(), 2);
        assert_eq!(s.links()[0].qdisc.as_deref(), Some("noqueue"));
        // Down: only the local routes stay, IPv4 kept, the discipline
        // kept.
        s.set_flags(1, 0, IFF_UP);
        let kept: Vec<String> = s
            .routes(false)
            .iter()
            .map(|r| format!("{}/{}", r.dst, r.dst_len))
            .collect();
        assert_eq!(kept, ["127.0.0.0/8", "127.0.0.1/32"]);
        assert_eq!(s.addresses().len(), 1);
        assert_eq!(s.links()[0].qdisc.as_deref(), Some("noqueue"));
    }

    #[test]
    fn addresses_keep_the_kernels_order_and_secondaries() {
        let mut s = NetStack::loopback_up();
        s.add_address(addr("10.1.2.3", 24)).unwrap();
        assert_eq!(s.add_address(addr("10.1.2.3", 24)), Err("File exists"));
        let mut link = addr("10.0.0.1", 8);
        link.scope = SCOPE_LINK;
        s.add_address(link).unwrap();
        s.add_address(addr("10.1.2.4", 24)).unwrap();
        let order: Vec<String> = s
            .addresses()
            .iter()
            .filter(|a| a.local.is_ipv4())
            .map(|a| {
                format!(
                    "{}{}",
                    a.local,
                    if a.flags & IFA_F_SECONDARY != 0 {
                        "s"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        assert_eq!(order, ["127.0.0.1", "10.0.0.1", "10.1.2.3", "10.1.2.4s"]);
        // Deleting the primary takes its secondary and their routes.
        s.del_address(&addr("10.1.2.3", 24)).unwrap();
        assert!(
            !s.addresses()
                .iter()
                .any(|a| a.local.to_string().starts_with("10.1.2."))
        );
        assert!(
            !s.routes(false)
                .iter()
                .any(|r| r.dst.to_string().starts_with("10.1.2."))
        );
        assert_eq!(
            s.del_address(&addr("10.1.2.3", 24)),
            Err("Cannot assign requested address")
        );
    }

    #[test]
    fn routes_need_a_reachable_gateway_and_a_device_that_is_up() {
        let mut s = NetStack::host();
        let route = |dst: &str, len: u8, gw: Option<&str>, dev: Option<u32>| Route {
            table: TABLE_MAIN,
            kind: RTN_UNICAST,
            dst: dst.parse().unwrap(),
            dst_len: len,
            gateway: gw.map(|g| g.parse().unwrap()),
            dev,
            scope: if gw.is_some() {
                SCOPE_UNIVERSE
            } else {
                SCOPE_LINK
            },
            protocol: PROTO_BOOT,
            prefsrc: None,
            metric: None,
        };
        assert_eq!(
            s.add_route(
                route("10.5.0.0", 16, Some("10.99.0.1"), None),
                RouteHow::Create
            ),
            Err("Network is unreachable")
        );
        s.add_route(
            route("10.5.0.0", 16, Some("10.0.2.1"), None),
            RouteHow::Create,
        )
        .unwrap();
        assert_eq!(
            s.add_route(
                route("10.5.0.0", 16, Some("10.0.2.1"), None),
                RouteHow::Create
            ),
            Err("File exists")
        );
        let main: Vec<String> = s
            .routes(false)
            .iter()
            .filter(|r| r.table == TABLE_MAIN)
            .map(|r| format!("{}/{}", r.dst, r.dst_len))
            .collect();
        assert_eq!(main, ["0.0.0.0/0", "10.0.2.0/24", "10.5.0.0/16"]);
        s.set_flags(2, 0, IFF_UP);
        assert_eq!(
            s.add_route(route("10.6.0.0", 16, None, Some(2)), RouteHow::Create),
            Err("Network is down")
        );
        assert!(
            s.routes(false)
                .iter()
                .all(|r| r.dev != Some(2) || r.kind == RTN_LOCAL)
        );
        // Host bits in an IPv4 destination are refused.
        assert_eq!(
            s.add_route(route("10.70.1.2", 16, None, Some(1)), RouteHow::Create),
            Err("Invalid argument")
        );
        assert_eq!(
            s.del_route(&route("10.7.0.0", 16, None, None)),
            Err("No such process")
        );
    }

    #[test]
    fn ipv6_routes_walk_the_tree() {
        let s = NetStack::host();
        let main: Vec<String> = s
            .routes(true)
            .iter()
            .map(|r| format!("{}/{} {}", r.dst, r.dst_len, r.table))
            .collect();
        assert_eq!(
            main,
            [
                "fe80::/64 254",
                "::1/128 255",
                "fe80::5054:ff:fe12:3456/128 255",
                "ff00::/8 255"
            ]
        );
    }
}
