//! Ports: each role's port range, collisions between instances and nginx listeners
//! on one host, and reading ports out of nginx `listen` values.

use super::validate::{listeners_overlap, parse_listen};
use super::Planner;
use crate::manifest::NginxSection;
use crate::plan::{InstancePlan, RolePlan};
use std::collections::HashMap;
use std::ops::Range;
use toml::Spanned;

impl Planner<'_> {
    pub(super) fn port(&mut self, role: &str, key: &str, p: &Spanned<i64>, instances: u32) -> u16 {
        let last = p.get_ref().saturating_add(i64::from(instances.max(1)) - 1);
        if *p.get_ref() < 1 || last > 65535 {
            let d = self.at(
                format!(
                    "`{key}` of role `{role}` gives ports {}..={last}, outside 1..=65535",
                    p.get_ref()
                ),
                p.span(),
                "port base",
            );
            self.err(d);
            return 1;
        }
        *p.get_ref() as u16
    }

    /// Any two instances (or an instance and an nginx listener) on one host sharing a port.
    pub(super) fn check_ports(&mut self, roles: &[RolePlan], instances: &[InstancePlan]) {
        let mut used: HashMap<(String, u16), PortUser> = HashMap::new();
        if let Some(n) = &self.m.nginx {
            for (what, listen, span) in [
                (
                    "nginx public_listen",
                    n.public_listen.get_ref().as_str(),
                    n.public_listen.span(),
                ),
                (
                    "nginx private_listen",
                    n.private_listen.get_ref().as_str(),
                    n.private_listen.span(),
                ),
            ] {
                if let Some(p) = listen_port(listen) {
                    let span = (!span.is_empty()).then_some(span);
                    used.entry(("127.0.0.1".into(), p))
                        .or_insert((what.to_string(), span));
                }
            }
        }
        for inst in instances {
            for (kind, port) in [
                ("port", Some(inst.private_port)),
                ("public_port", inst.public_port),
            ] {
                let Some(port) = port else { continue };
                let key = (inst.address.clone(), port);
                let me = format!("{} ({kind})", inst.name);
                let span = match (self.m.roles.get(&inst.role), kind) {
                    (Some(role), "port") => role.get_ref().port.span(),
                    (Some(role), _) => role
                        .get_ref()
                        .public_port
                        .as_ref()
                        .map(|p| p.span())
                        .unwrap_or(role.get_ref().port.span()),
                    // A simulator's one port, its HTTP listener.
                    (None, _) => match self.m.simulators.get(&inst.role) {
                        Some(sim) => sim.get_ref().http_port.span(),
                        None => 0..0,
                    },
                };
                if let Some((other, other_span)) = used.get(&key) {
                    let mut d = self.at(
                        format!("port {port} is used by both {other} and {me}"),
                        span.clone(),
                        match inst.kind {
                            crate::plan::Kind::Simulator => {
                                format!("the HTTP port of simulator `{}`", inst.role)
                            }
                            crate::plan::Kind::Robust => format!(
                                "role `{}` derives port {port} for copy {}",
                                inst.role, inst.index
                            ),
                        },
                    );
                    if let Some(s) = other_span.clone().filter(|s| *s != span) {
                        d = d.note_at(&self.src, s, format!("{other} is derived from here"));
                    }
                    self.err(d.help("give the roles port bases far enough apart for all their copies (copy n uses base + n - 1)"));
                } else {
                    used.insert(key, (me, Some(span)));
                }
            }
        }
        let _ = roles;
    }

    /// The nginx listeners themselves: each must be `ADDRESS:PORT` or `PORT` (an IP
    /// literal, nothing after it: nginx would read `8003 ; listen 80` as two listeners),
    /// and the private one must not share a socket with the public one.
    pub(super) fn check_listeners(&mut self, n: &NginxSection) {
        let mut parsed = Vec::new();
        for (key, l) in [
            ("public_listen", &n.public_listen),
            ("private_listen", &n.private_listen),
        ] {
            match parse_listen(l.get_ref()) {
                Ok(a) => parsed.push(Some(a)),
                Err(why) => {
                    parsed.push(None);
                    let d = self.at(
                        format!(
                            "`{key}` of [nginx] is `{}`: {why}",
                            crate::diagnostic::escape(l.get_ref())
                        ),
                        l.span(),
                        "expected ADDRESS:PORT or PORT",
                    );
                    self.err(d.help("e.g. \"127.0.0.1:8003\", \"[::1]:8003\" or \"80\""));
                }
            }
        }
        if let [Some(public), Some(private)] = parsed[..] {
            if listeners_overlap(public, private) {
                let d = self.at(
                    format!(
                        "nginx `private_listen` ({}) overlaps `public_listen` ({})",
                        n.private_listen.get_ref(),
                        n.public_listen.get_ref()
                    ),
                    n.private_listen.span(),
                    "private services would be published on the public listener",
                );
                let d = if n.public_listen.span().is_empty() {
                    d
                } else {
                    d.note_at(&self.src, n.public_listen.span(), "public listener")
                };
                self.err(d.help("give the private listener its own port, on an address not reachable from outside (e.g. 127.0.0.1:8003)"));
            }
        }
    }
}

/// Who uses a port, and where in grid.toml it is declared.
type PortUser = (String, Option<Range<usize>>);

/// The port of an nginx `listen` value: `8003`, `127.0.0.1:8003`, `[::1]:8003`.
pub fn listen_port(listen: &str) -> Option<u16> {
    listen_addr(listen).map(|(_, p)| p)
}

/// Address (`*` when none is given) and port of an nginx `listen` value.
fn listen_addr(listen: &str) -> Option<(String, u16)> {
    let (addr, port) = parse_listen(listen).ok()?;
    Some((addr.map_or("*".into(), |a| a.to_string()), port))
}
