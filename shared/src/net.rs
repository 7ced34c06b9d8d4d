//! A network namespace's objects as rtnetlink describes them: links
//! (devices), addresses and routes, and the changes `ip` asks of the
//! kernel. The real system answers them over a netlink socket, the
//! simulated kernel from its model of each net namespace
//! (`sim/net.rs`); `ip` (`userland/ip.rs`) prints them as BusyBox does.
//!
//! The numbers are the kernel's own (`IFF_*`, `RT_SCOPE_*`, `RTN_*`,
//! `RT_TABLE_*`), so both sides speak the same language as `ip`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const IFF_UP: u32 = 0x1;
pub const IFF_BROADCAST: u32 = 0x2;
pub const IFF_LOOPBACK: u32 = 0x8;
pub const IFF_POINTOPOINT: u32 = 0x10;
pub const IFF_RUNNING: u32 = 0x40;
pub const IFF_NOARP: u32 = 0x80;
pub const IFF_PROMISC: u32 = 0x100;
pub const IFF_MULTICAST: u32 = 0x1000;
pub const IFF_LOWER_UP: u32 = 0x10000;

pub const ARPHRD_ETHER: u16 = 1;
pub const ARPHRD_LOOPBACK: u16 = 772;

pub const SCOPE_UNIVERSE: u8 = 0;
pub const SCOPE_SITE: u8 = 200;
pub const SCOPE_LINK: u8 = 253;
pub const SCOPE_HOST: u8 = 254;
pub const SCOPE_NOWHERE: u8 = 255;

pub const TABLE_UNSPEC: u32 = 0;
pub const TABLE_MAIN: u32 = 254;
pub const TABLE_LOCAL: u32 = 255;

pub const RTN_UNSPEC: u8 = 0;
pub const RTN_UNICAST: u8 = 1;
pub const RTN_LOCAL: u8 = 2;
pub const RTN_BROADCAST: u8 = 3;
pub const RTN_ANYCAST: u8 = 4;
pub const RTN_MULTICAST: u8 = 5;
pub const RTN_BLACKHOLE: u8 = 6;
pub const RTN_UNREACHABLE: u8 = 7;
pub const RTN_PROHIBIT: u8 = 8;

pub const PROTO_UNSPEC: u8 = 0;
pub const PROTO_KERNEL: u8 = 2;
pub const PROTO_BOOT: u8 = 3;

pub const IFA_F_SECONDARY: u32 = 0x01;
pub const IFA_F_PERMANENT: u32 = 0x80;

/// A network device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `IFF_*`, with `IFF_LOWER_UP` when its carrier is on.
    pub flags: u32,
    pub mtu: u32,
    /// Its queueing discipline (`noop` until it was first up).
    pub qdisc: Option<String>,
    pub txqlen: u32,
    /// `ARPHRD_*`.
    pub link_type: u16,
    pub address: Vec<u8>,
    pub broadcast: Vec<u8>,
}

/// An address on a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub index: u32,
    pub local: IpAddr,
    pub prefix: u8,
    pub broadcast: Option<Ipv4Addr>,
    pub scope: u8,
    /// IPv4's label (the device's name unless given, `eth0:1`...).
    pub label: Option<String>,
    /// `IFA_F_*`.
    pub flags: u32,
}

/// A route in one of a namespace's tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub table: u32,
    /// `RTN_*`; `RTN_UNSPEC` in a deletion matches any.
    pub kind: u8,
    /// The destination's network address (`0.0.0.0` or `::` for default).
    pub dst: IpAddr,
    pub dst_len: u8,
    pub gateway: Option<IpAddr>,
    pub dev: Option<u32>,
    /// `SCOPE_*`; `SCOPE_NOWHERE` in a deletion matches any.
    pub scope: u8,
    pub protocol: u8,
    pub prefsrc: Option<IpAddr>,
    /// Its priority; an IPv4 route without one has 0 and shows none.
    pub metric: Option<u32>,
}

/// How `ip route` adds: `add` (it must be new), `replace` (or add),
/// `append` (beside one alike) or `change` (it must exist).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteHow {
    Create,
    Replace,
    Append,
    Change,
}

/// One change to a device, as one of BusyBox's `ioctl`s makes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkChange {
    /// `SIOCSIFFLAGS`: flags to set and to clear (`up`, `arp off`...).
    Flags { set: u32, clear: u32 },
    /// `SIOCSIFMTU`
    Mtu(u32),
    /// `SIOCSIFNAME`
    Name(String),
    /// `SIOCSIFTXQLEN`
    TxQueueLen(u32),
    /// `SIOCSIFHWADDR`
    Address(Vec<u8>),
}

impl LinkChange {
    /// The `ioctl` BusyBox makes it with, which its errors name.
    pub fn ioctl(&self) -> &'static str {
        match self {
            LinkChange::Flags { .. } => "SIOCSIFFLAGS",
            LinkChange::Mtu(_) => "SIOCSIFMTU",
            LinkChange::Name(_) => "SIOCSIFNAME",
            LinkChange::TxQueueLen(_) => "SIOCSIFTXQLEN",
            LinkChange::Address(_) => "SIOCSIFHWADDR",
        }
    }
}

/// What `ip` asks the kernel to change. Each needs CAP_NET_ADMIN in the
/// user namespace that owns the net namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetRequest {
    SetLink {
        index: u32,
        change: LinkChange,
    },
    AddAddress(Address),
    /// Matches by device and local address (and label, when given).
    DelAddress(Address),
    AddRoute(Route, RouteHow),
    DelRoute(Route),
}

/// The network address of `addr` with a prefix of `len` bits.
pub fn network(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

/// Whether `addr` is inside `net`/`len`.
pub fn covers(net: IpAddr, len: u8, addr: IpAddr) -> bool {
    net.is_ipv4() == addr.is_ipv4() && network(addr, len) == network(net, len)
}

/// The all-ones broadcast of an IPv4 subnet.
pub fn subnet_broadcast(addr: Ipv4Addr, len: u8) -> Ipv4Addr {
    let host = u32::MAX.checked_shr(u32::from(len.min(32))).unwrap_or(0);
    Ipv4Addr::from(u32::from(addr) | host)
}

/// An IPv6 link-local address from a MAC address (modified EUI-64).
pub fn link_local(mac: &[u8]) -> Ipv6Addr {
    let m = |i: usize| u16::from(mac.get(i).copied().unwrap_or(0));
    Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        ((m(0) ^ 0x02) << 8) | m(1),
        (m(2) << 8) | 0xff,
        0xfe00 | m(3),
        (m(4) << 8) | m(5),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_cover_their_addresses() {
        let a: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(network(a, 24), "10.1.2.0".parse::<IpAddr>().unwrap());
        assert_eq!(network(a, 0), "0.0.0.0".parse::<IpAddr>().unwrap());
        assert!(covers("10.0.0.0".parse().unwrap(), 8, a));
        assert!(!covers("10.2.0.0".parse().unwrap(), 16, a));
        assert_eq!(
            subnet_broadcast("10.1.2.3".parse().unwrap(), 24),
            "10.1.2.255".parse::<Ipv4Addr>().unwrap()
        );
        assert_eq!(
            network("2001:db8::1".parse().unwrap(), 64),
            "2001:db8::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            link_local(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            "fe80::5054:ff:fe12:3456".parse::<Ipv6Addr>().unwrap()
        );
    }
}
