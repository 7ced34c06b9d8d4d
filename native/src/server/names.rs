//! The names a server answers to, for the `Host` and `Origin` checks: the
//! same rule for both, with or without a port.
//!
//! A server on loopback answers to `127.0.0.1`, `localhost` and `[::1]`;
//! one on another address to that address; one on every address to any
//! name (the token guards it). `Host` may leave the port out (it is the
//! name that DNS rebinding changes); when it gives one, it is the
//! server's. An `Origin` (the page that opens a websocket) must be one of
//! the server's names at the server's own port (its scheme's port when it
//! gives none): a page of another port on the same host is another site.

use std::fmt;
use std::net::SocketAddr;

#[derive(Debug)]
pub struct Names {
    port: u16,
    /// Lowercase names, IPv6 addresses in brackets; empty: any name.
    names: Vec<String>,
}

/// `name[:port]` of an authority (`[::1]:7878`, `localhost`), lowercase,
/// without a trailing dot; `None` for a port that is not a number.
fn split(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim();
    let (name, port) = match authority.rfind(':') {
        Some(colon) if !authority[colon..].contains(']') => (
            &authority[..colon],
            Some(authority[colon + 1..].parse().ok()?),
        ),
        _ => (authority, None),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    (!name.is_empty()).then_some((name, port))
}

impl Names {
    pub fn for_addr(addr: SocketAddr) -> Names {
        let ip = addr.ip();
        let names = if ip.is_unspecified() {
            Vec::new()
        } else {
            let shown = match ip {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                std::net::IpAddr::V4(v4) => v4.to_string(),
            };
            let mut names = vec![shown];
            if ip.is_loopback() {
                for name in ["127.0.0.1", "localhost", "[::1]"] {
                    if !names.iter().any(|n| n == name) {
                        names.push(name.to_string());
                    }
                }
            }
            names
        };
        Names {
            port: addr.port(),
            names,
        }
    }

    fn knows(&self, name: &str) -> bool {
        self.names.is_empty() || self.names.iter().any(|n| n == name)
    }

    /// Whether a request's `Host` header names this server.
    pub fn host_ok(&self, host: &str) -> bool {
        match split(host) {
            Some((name, port)) => self.knows(&name) && port.is_none_or(|p| p == self.port),
            None => false,
        }
    }

    /// Whether a websocket's `Origin` is a page of this server (`host`,
    /// the request's own `Host`, when the server answers to any name).
    pub fn origin_ok(&self, origin: &str, host: &str) -> bool {
        let (scheme, rest) = match origin.split_once("://") {
            Some(("http", rest)) => (80, rest),
            Some(("https", rest)) => (443, rest),
            _ => return false,
        };
        let Some((name, port)) = split(rest.trim_end_matches('/')) else {
            return false;
        };
        let same_name = if self.names.is_empty() {
            split(host).is_some_and(|(host_name, _)| host_name == name)
        } else {
            self.knows(&name)
        };
        same_name && port.unwrap_or(scheme) == self.port
    }
}

impl fmt::Display for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.names.is_empty() {
            return write!(f, "any name, on port {}", self.port);
        }
        let shown: Vec<String> = self
            .names
            .iter()
            .map(|n| format!("{n}:{}", self.port))
            .collect();
        f.write_str(&shown.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_agree_with_and_without_a_port() {
        let names = Names::for_addr("127.0.0.1:7878".parse().unwrap());
        for host in [
            "127.0.0.1",
            "127.0.0.1:7878",
            "localhost",
            "LOCALHOST:7878",
            "localhost.",
            "[::1]",
            "[::1]:7878",
        ] {
            assert!(names.host_ok(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:7878",
            "127.0.0.1:80",
            "",
            "localhost:x",
        ] {
            assert!(!names.host_ok(host), "{host}");
        }
        for origin in [
            "http://localhost:7878",
            "http://127.0.0.1:7878",
            "http://[::1]:7878",
        ] {
            for host in ["localhost:7878", "127.0.0.1:7878", "127.0.0.1"] {
                assert!(names.origin_ok(origin, host), "{origin} with {host}");
            }
        }
        for origin in [
            "http://localhost",
            "http://localhost:8080",
            "http://evil.example:7878",
            "file://",
            "null",
        ] {
            assert!(!names.origin_ok(origin, "localhost:7878"), "{origin}");
        }
        let on_80 = Names::for_addr("127.0.0.1:80".parse().unwrap());
        assert!(on_80.origin_ok("http://localhost", "localhost"));
    }

    #[test]
    fn every_address_takes_any_name_but_origins_must_match_the_host() {
        let names = Names::for_addr("0.0.0.0:7878".parse().unwrap());
        assert!(names.host_ok("box.lan:7878"));
        assert!(names.origin_ok("http://box.lan:7878", "box.lan:7878"));
        assert!(!names.origin_ok("http://evil.example:7878", "box.lan:7878"));
    }
}
