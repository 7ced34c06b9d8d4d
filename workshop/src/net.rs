//! The network namespace over rtnetlink: the dumps `ip` prints (links,
//! addresses, routes) and the changes it asks, as the `Os` seam's
//! `net_*` calls. Messages are built and read with `netlink-packet-route`
//! and sent on a `netlink-sys` socket; the kernel's answer is the answer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anchorage_shared::net::{Address, Link, LinkChange, NetRequest, Route, RouteHow, TABLE_UNSPEC};
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

fn strerror(code: i32) -> String {
    crate::files::strerror(nix::errno::Errno::from_raw(code))
}

fn io_error(e: std::io::Error) -> String {
    e.raw_os_error().map_or_else(|| e.to_string(), strerror)
}

/// Sends one request and gathers the kernel's messages until its dump
/// ends or it acknowledges; a negative acknowledgement is its error.
fn talk(message: RouteNetlinkMessage, flags: u16) -> Result<Vec<RouteNetlinkMessage>, String> {
    let mut socket = Socket::new(NETLINK_ROUTE).map_err(io_error)?;
    socket.bind_auto().map_err(io_error)?;
    socket.connect(&SocketAddr::new(0, 0)).map_err(io_error)?;
    let mut packet = NetlinkMessage::from(message);
    packet.header.flags = NLM_F_REQUEST | flags;
    packet.header.sequence_number = 1;
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    socket.send(&buf, 0).map_err(io_error)?;
    let mut out = Vec::new();
    loop {
        let (data, _) = socket.recv_from_full().map_err(io_error)?;
        let mut offset = 0;
        while offset < data.len() {
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                .map_err(|e| format!("a netlink reply could not be read: {e}"))?;
            let len = reply.header.length as usize;
            match reply.payload {
                NetlinkPayload::Done(_) => return Ok(out),
                NetlinkPayload::Error(e) => {
                    return match e.code {
                        Some(code) => Err(strerror(-code.get())),
                        None => Ok(out),
                    };
                }
                NetlinkPayload::InnerMessage(m) => out.push(m),
                _ => {}
            }
            if len == 0 {
                break;
            }
            offset += len;
        }
    }
}

fn ip_of(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

pub fn links() -> Result<Vec<Link>, String> {
    let replies = talk(
        RouteNetlinkMessage::GetLink(LinkMessage::default()),
        NLM_F_DUMP,
    )?;
    let mut links = Vec::new();
    for reply in replies {
        let RouteNetlinkMessage::NewLink(m) = reply else {
            continue;
        };
        let mut link = Link {
            index: m.header.index,
            name: String::new(),
            flags: m.header.flags.bits(),
            mtu: 0,
            qdisc: None,
            txqlen: 0,
            link_type: m.header.link_layer_type.into(),
            address: Vec::new(),
            broadcast: Vec::new(),
        };
        for attribute in m.attributes {
            match attribute {
                LinkAttribute::IfName(name) => link.name = name,
                LinkAttribute::Mtu(mtu) => link.mtu = mtu,
                LinkAttribute::Qdisc(q) => link.qdisc = Some(q),
                LinkAttribute::TxQueueLen(q) => link.txqlen = q,
                LinkAttribute::Address(a) => link.address = a,
                LinkAttribute::Broadcast(b) => link.broadcast = b,
                _ => {}
            }
        }
        links.push(link);
    }
    Ok(links)
}

pub fn addresses() -> Result<Vec<Address>, String> {
    let replies = talk(
        RouteNetlinkMessage::GetAddress(AddressMessage::default()),
        NLM_F_DUMP,
    )?;
    let mut out = Vec::new();
    for reply in replies {
        let RouteNetlinkMessage::NewAddress(m) = reply else {
            continue;
        };
        let (mut local, mut address) = (None, None);
        let mut a = Address {
            index: m.header.index,
            local: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            prefix: m.header.prefix_len,
            broadcast: None,
            scope: m.header.scope.into(),
            label: None,
            flags: u32::from(m.header.flags.bits()),
        };
        for attribute in m.attributes {
            match attribute {
                AddressAttribute::Local(ip) => local = Some(ip),
                AddressAttribute::Address(ip) => address = Some(ip),
                AddressAttribute::Broadcast(b) => a.broadcast = Some(b),
                AddressAttribute::Label(l) => a.label = Some(l),
                AddressAttribute::Flags(f) => a.flags = f.bits(),
                _ => {}
            }
        }
        let Some(ip) = local.or(address) else {
            continue;
        };
        a.local = ip;
        out.push(a);
    }
    Ok(out)
}

pub fn routes(v6: bool) -> Result<Vec<Route>, String> {
    let mut request = RouteMessage::default();
    request.header.address_family = if v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    let replies = talk(RouteNetlinkMessage::GetRoute(request), NLM_F_DUMP)?;
    let mut out = Vec::new();
    for reply in replies {
        let RouteNetlinkMessage::NewRoute(m) = reply else {
            continue;
        };
        let unspecified = if v6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        let mut r = Route {
            table: u32::from(m.header.table),
            kind: m.header.kind.into(),
            dst: unspecified,
            dst_len: m.header.destination_prefix_length,
            gateway: None,
            dev: None,
            scope: m.header.scope.into(),
            protocol: m.header.protocol.into(),
            prefsrc: None,
            metric: None,
        };
        for attribute in m.attributes {
            match attribute {
                RouteAttribute::Destination(d) => r.dst = ip_of(&d).unwrap_or(unspecified),
                RouteAttribute::Gateway(g) => r.gateway = ip_of(&g),
                RouteAttribute::PrefSource(s) => r.prefsrc = ip_of(&s),
                RouteAttribute::Oif(i) => r.dev = Some(i),
                RouteAttribute::Priority(p) => r.metric = Some(p),
                RouteAttribute::Table(t) => r.table = t,
                _ => {}
            }
        }
        out.push(r);
    }
    Ok(out)
}

fn family(ip: IpAddr) -> AddressFamily {
    if ip.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

fn address_message(a: &Address, delete: bool) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = family(a.local);
    m.header.prefix_len = a.prefix;
    m.header.index = a.index;
    if !delete {
        m.header.scope = a.scope.into();
    }
    m.attributes.push(AddressAttribute::Local(a.local));
    if !delete {
        m.attributes.push(AddressAttribute::Address(a.local));
    }
    if let Some(b) = a.broadcast {
        m.attributes.push(AddressAttribute::Broadcast(b));
    }
    if let Some(l) = &a.label {
        m.attributes.push(AddressAttribute::Label(l.clone()));
    }
    m
}

fn route_message(r: &Route) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = family(r.dst);
    m.header.destination_prefix_length = r.dst_len;
    m.header.scope = r.scope.into();
    m.header.protocol = r.protocol.into();
    m.header.kind = r.kind.into();
    match u8::try_from(r.table) {
        Ok(t) => m.header.table = t,
        Err(_) => {
            m.header.table = TABLE_UNSPEC as u8;
            m.attributes.push(RouteAttribute::Table(r.table));
        }
    }
    if r.dst_len > 0 {
        m.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(r.dst)));
    }
    if let Some(g) = r.gateway {
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(g)));
    }
    if let Some(d) = r.dev {
        m.attributes.push(RouteAttribute::Oif(d));
    }
    if let Some(s) = r.prefsrc {
        m.attributes
            .push(RouteAttribute::PrefSource(RouteAddress::from(s)));
    }
    if let Some(p) = r.metric {
        m.attributes.push(RouteAttribute::Priority(p));
    }
    m
}

pub fn change(request: NetRequest) -> Result<(), String> {
    let (message, flags) = match request {
        NetRequest::SetLink { index, change } => {
            let mut m = LinkMessage::default();
            m.header.index = index;
            match change {
                LinkChange::Flags { set, clear } => {
                    m.header.flags = LinkFlags::from_bits_retain(set);
                    m.header.change_mask = LinkFlags::from_bits_retain(set | clear);
                }
                LinkChange::Mtu(mtu) => m.attributes.push(LinkAttribute::Mtu(mtu)),
                LinkChange::Name(name) => m.attributes.push(LinkAttribute::IfName(name)),
                LinkChange::TxQueueLen(q) => m.attributes.push(LinkAttribute::TxQueueLen(q)),
                LinkChange::Address(a) => m.attributes.push(LinkAttribute::Address(a)),
            }
            (RouteNetlinkMessage::SetLink(m), 0)
        }
        NetRequest::AddAddress(a) => (
            RouteNetlinkMessage::NewAddress(address_message(&a, false)),
            NLM_F_CREATE | NLM_F_EXCL,
        ),
        NetRequest::DelAddress(a) => (
            RouteNetlinkMessage::DelAddress(address_message(&a, true)),
            0,
        ),
        NetRequest::AddRoute(r, how) => (
            RouteNetlinkMessage::NewRoute(route_message(&r)),
            match how {
                RouteHow::Create => NLM_F_CREATE | NLM_F_EXCL,
                RouteHow::Replace => NLM_F_CREATE | NLM_F_REPLACE,
                RouteHow::Append => NLM_F_CREATE | NLM_F_APPEND,
                RouteHow::Change => NLM_F_REPLACE,
            },
        ),
        NetRequest::DelRoute(r) => (RouteNetlinkMessage::DelRoute(route_message(&r)), 0),
    };
    talk(message, flags | NLM_F_ACK).map(|_| ())
}
