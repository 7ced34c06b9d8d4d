//! `ip addr|link|route`: the network namespace's interfaces, from
//! `/sys/class/net`, `getifaddrs` and `/proc/net/route`.

use std::fs;
use std::net::Ipv4Addr;

use crate::Failure;
use crate::files::write_stdout;

const IFF_UP: u32 = 0x1;
const IFF_BROADCAST: u32 = 0x2;
const IFF_LOOPBACK: u32 = 0x8;
const IFF_POINTOPOINT: u32 = 0x10;
const IFF_NOARP: u32 = 0x80;
const IFF_MULTICAST: u32 = 0x1000;
const IFF_LOWER_UP: u32 = 0x10000;

struct Link {
    index: u32,
    name: String,
    flags: u32,
    mtu: u32,
    qlen: u32,
    operstate: String,
    address: String,
    broadcast: String,
    loopback: bool,
}

fn read(name: &str, file: &str) -> String {
    fs::read_to_string(format!("/sys/class/net/{name}/{file}"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn links() -> Vec<Link> {
    let mut links: Vec<Link> = fs::read_dir("/sys/class/net")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .map(|name| {
                    let mut flags =
                        u32::from_str_radix(read(&name, "flags").trim_start_matches("0x"), 16)
                            .unwrap_or(0);
                    if read(&name, "carrier") == "1" && flags & IFF_UP != 0 {
                        flags |= IFF_LOWER_UP;
                    }
                    Link {
                        index: read(&name, "ifindex").parse().unwrap_or(0),
                        mtu: read(&name, "mtu").parse().unwrap_or(0),
                        qlen: read(&name, "tx_queue_len").parse().unwrap_or(0),
                        operstate: read(&name, "operstate").to_uppercase(),
                        address: read(&name, "address"),
                        broadcast: read(&name, "broadcast"),
                        loopback: flags & IFF_LOOPBACK != 0,
                        flags,
                        name,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    links.sort_by_key(|l| l.index);
    links
}

fn flag_names(flags: u32) -> String {
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
        if flags & bit != 0 {
            names.push(name);
        }
    }
    names.join(",")
}

/// IPv4 addresses per interface: (name, address, prefix, broadcast).
fn addresses() -> Vec<(String, Ipv4Addr, u32, Option<Ipv4Addr>)> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter_map(|a| {
            let ip = a.address.as_ref()?.as_sockaddr_in()?.ip();
            let prefix = a
                .netmask
                .as_ref()
                .and_then(|m| m.as_sockaddr_in())
                .map_or(32, |m| u32::from(m.ip()).count_ones());
            let brd = a
                .broadcast
                .as_ref()
                .and_then(|b| b.as_sockaddr_in())
                .map(|b| b.ip());
            Some((a.interface_name.clone(), ip, prefix, brd))
        })
        .collect()
}

pub fn ip(args: &[String]) -> Result<i32, Failure> {
    let object = args.first().map_or("", String::as_str);
    let dev = args
        .iter()
        .position(|a| a == "dev")
        .and_then(|i| args.get(i + 1));
    let links = links();
    if let Some(dev) = dev
        && !links.iter().any(|l| &l.name == dev)
    {
        return Err((format!("Device \"{dev}\" does not exist."), 1));
    }
    let show = |name: &String| dev.is_none_or(|d| d == name);
    let mut out = String::new();
    match object {
        "a" | "addr" | "address" | "l" | "link" => {
            let with_addresses = !matches!(object, "l" | "link");
            let addrs = if with_addresses {
                addresses()
            } else {
                Vec::new()
            };
            for link in links.iter().filter(|l| show(&l.name)) {
                // The kernel gives a link no queue discipline while it is
                // down, and loopback none at all when up.
                let qdisc = match (link.flags & IFF_UP != 0, link.loopback) {
                    (false, _) => " qdisc noop",
                    (true, true) => " qdisc noqueue",
                    (true, false) => "",
                };
                out.push_str(&format!(
                    "{}: {}: <{}> mtu {}{qdisc} state {} qlen {}\n",
                    link.index,
                    link.name,
                    flag_names(link.flags),
                    link.mtu,
                    link.operstate,
                    link.qlen
                ));
                let kind = if link.loopback { "loopback" } else { "ether" };
                out.push_str(&format!(
                    "    link/{kind} {} brd {}\n",
                    link.address, link.broadcast
                ));
                for (_, ip, prefix, brd) in addrs.iter().filter(|a| a.0 == link.name) {
                    let scope = if ip.is_loopback() { "host" } else { "global" };
                    let brd = brd
                        .filter(|_| !ip.is_loopback())
                        .map_or(String::new(), |b| format!(" brd {b}"));
                    out.push_str(&format!(
                        "    inet {ip}/{prefix}{brd} scope {scope} {}\n       valid_lft forever preferred_lft forever\n",
                        link.name
                    ));
                }
            }
            Ok(write_stdout(out.as_bytes()))
        }
        "r" | "ro" | "route" => {
            let table = fs::read_to_string("/proc/net/route").unwrap_or_default();
            let hex = |s: &str| u32::from_str_radix(s, 16).map(|v| Ipv4Addr::from(v.swap_bytes()));
            for line in table.lines().skip(1) {
                let f: Vec<&str> = line.split_whitespace().collect();
                let [iface, dest, gateway, _flags, _, _, _, mask, ..] = f.as_slice() else {
                    continue;
                };
                let (Ok(dest), Ok(gateway), Ok(mask)) = (hex(dest), hex(gateway), hex(mask)) else {
                    continue;
                };
                let prefix = u32::from(mask).count_ones();
                if dest.is_unspecified() && prefix == 0 {
                    out.push_str(&format!("default via {gateway} dev {iface}\n"));
                } else {
                    let src = addresses()
                        .into_iter()
                        .find(|a| &a.0 == iface)
                        .map_or(String::new(), |a| format!("  src {}", a.1));
                    out.push_str(&format!("{dest}/{prefix} dev {iface} scope link{src}\n"));
                }
            }
            Ok(write_stdout(out.as_bytes()))
        }
        _ => Err((
            "Usage: ip OBJECT [show [dev NAME]]\nwhere  OBJECT := { address | link | route }"
                .into(),
            255,
        )),
    }
}
