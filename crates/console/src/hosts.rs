//! Which `Host` values a request may carry. A browser sends the name it resolved, so a page on a name that an
//! attacker rebinds to 127.0.0.1 (DNS rebinding) arrives with that name, same-origin with itself, and would
//! pass an Origin check. Only the names the server is meant to be reached by are accepted: the loopback names
//! and addresses on its own port, the address it listens on, and `--allowed-hosts`.

use std::net::IpAddr;
use std::sync::OnceLock;

use crate::config::ConfigError;

#[derive(Debug)]
pub struct AllowedHosts {
    /// `--allowed-hosts`: a name (lowercase), and the port when the entry named one.
    extra: Vec<(String, Option<u16>)>,
    /// The address the server listens on, when it is a specific one other than loopback.
    own: Option<IpAddr>,
    /// The port the server listens on, once it does (a test may drive the router without listening).
    port: OnceLock<u16>,
}

impl AllowedHosts {
    /// `entries` from `--allowed-hosts`; `host` the address the server listens on.
    pub fn new(entries: &[String], host: IpAddr) -> Result<Self, ConfigError> {
        let extra = entries
            .iter()
            .map(|entry| entry.trim())
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                split(entry)
                    .filter(|(host, _)| !host.is_empty())
                    .ok_or_else(|| ConfigError::AllowedHost(entry.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        let own = (!host.is_loopback() && !host.is_unspecified()).then_some(host);
        Ok(Self {
            extra,
            own,
            port: OnceLock::new(),
        })
    }

    /// No names beyond loopback (and the listening address) are allowed.
    pub fn only_loopback(&self) -> bool {
        self.extra.is_empty()
    }

    pub fn listening_on(&self, port: u16) {
        let _ = self.port.set(port);
    }

    /// Whether a request with this `Host` header (or URI authority) is for this server.
    pub fn allows(&self, host: &str) -> bool {
        let Some((name, port)) = split(host) else {
            return false;
        };
        let port = port.unwrap_or(80);
        let on_our_port = self.port.get().is_none_or(|p| *p == port);
        if is_loopback(&name) || self.own.is_some_and(|own| name.parse() == Ok(own)) {
            return on_our_port;
        }
        self.extra
            .iter()
            .any(|(allowed, p)| *allowed == name && p.is_none_or(|p| p == port))
    }
}

/// `localhost`, `*.localhost` (browsers resolve them to loopback themselves, RFC 6761), or a loopback address.
fn is_loopback(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `host[:port]` → (lowercase host without a trailing dot or IPv6 brackets, port). `None` when it is not an
/// authority.
fn split(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim();
    if authority.is_empty()
        || !authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
    {
        return None;
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        v6.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        (v6, port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port.parse().ok()?)),
            None => (authority, None),
        };
        if host.contains([':', '[', ']']) {
            return None;
        }
        (host, port)
    };
    Some((host.trim_end_matches('.').to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(extra: &[&str], host: &str, port: u16) -> AllowedHosts {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let hosts = AllowedHosts::new(&extra, host.parse().unwrap()).unwrap();
        hosts.listening_on(port);
        hosts
    }

    #[test]
    fn loopback_names_on_our_port_only() {
        let h = hosts(&[], "127.0.0.1", 3000);
        for ok in [
            "127.0.0.1:3000",
            "localhost:3000",
            "LOCALHOST.:3000",
            "app.localhost:3000",
            "[::1]:3000",
            "127.0.0.2:3000",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:3000",
            "127.0.0.1:3001",
            "localhost",
            "localhost.evil.example:3000",
            "10.0.0.5:3000",
            "",
            "[::1",
            "a b:3000",
            "127.0.0.1:3000/x",
        ] {
            assert!(!h.allows(bad), "{bad}");
        }
    }

    #[test]
    fn the_listening_address_and_allowed_names() {
        let h = hosts(&["console.lan", "Proxy.Example:443"], "192.168.1.5", 3000);
        assert!(h.allows("192.168.1.5:3000"));
        assert!(!h.allows("192.168.1.5:8080"));
        assert!(h.allows("console.lan:3000"));
        assert!(h.allows("console.lan:8443"));
        assert!(h.allows("proxy.example:443"));
        assert!(!h.allows("proxy.example:80"));
        assert!(!h.allows("proxy.example"));
        assert!(AllowedHosts::new(&["bad/host".into()], "127.0.0.1".parse().unwrap()).is_err());
    }
}
