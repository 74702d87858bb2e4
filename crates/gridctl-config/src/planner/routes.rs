//! Routes: the hostname and URL of every hosted service on each side (public,
//! private), and the hostname collisions nginx could not tell apart.

use super::{listen_port, Planner};
use crate::catalog::{self, Service, Side};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::manifest::Manifest;
use crate::plan::Route;

impl Planner<'_> {
    /// One route per hosted service and side, with its hostname and URL.
    pub(super) fn routes(
        &mut self,
        role_services: &[(String, Vec<&'static Service>)],
    ) -> Vec<Route> {
        let m = self.m;
        let mut routes: Vec<Route> = Vec::new();
        for (role_name, services) in role_services {
            let role = &m.roles[role_name];
            let routed = services.len();
            if let Some(h) = &role.get_ref().hostname {
                if routed != 1 {
                    let d = self.at(
                        format!(
                            "role `{role_name}` hosts {routed} services but names one `hostname`"
                        ),
                        h.span(),
                        "one hostname per service",
                    );
                    self.err(d.help("name hostnames per service in [grid.hostnames] instead"));
                }
            }
            for svc in services {
                for side in [Side::Public, Side::Private] {
                    if !svc.has_side(side) {
                        continue;
                    }
                    let default_domain = match side {
                        Side::Public => m.grid.domain.get_ref().as_str(),
                        Side::Private => m.grid.private_domain.as_str(),
                    };
                    let hostname = m
                        .grid
                        .hostnames
                        .get(svc.name)
                        .map(|h| h.get_ref().clone())
                        .or_else(|| {
                            role.get_ref()
                                .hostname
                                .as_ref()
                                .map(|h| h.get_ref().clone())
                        })
                        .unwrap_or_else(|| format!("{}.{default_domain}", svc.name));
                    if let Some(other) = routes
                        .iter()
                        // nginx compares server names without case.
                        .find(|r| r.hostname.eq_ignore_ascii_case(&hostname) && r.side == side)
                    {
                        let msg = format!(
                            "hostname `{hostname}` is used by services `{}` and `{}` on the {} listener",
                            other.service,
                            svc.name,
                            side_name(side)
                        );
                        let named_at = |service: &str, role: &str| hostname_span(m, service, role);
                        let mut d = match named_at(svc.name, role_name) {
                            Some(span) => self.at(msg, span, "duplicate hostname"),
                            None => Diagnostic::error(msg),
                        };
                        if let Some(span) = named_at(&other.service, &other.role) {
                            d = d.note_at(
                                &self.src,
                                span,
                                format!("already used by `{}`", other.service),
                            );
                        }
                        self.err(d.help("Robust services that answer on `/` can only be told apart by hostname: give each its own"));
                    }
                    let url = self.service_url(role_name, side, &hostname);
                    routes.push(Route {
                        service: svc.name.into(),
                        role: role_name.clone(),
                        side,
                        hostname,
                        url,
                    });
                }
            }
        }
        self.check_sides(&routes);
        for (svc, h) in &m.grid.hostnames {
            if catalog::get(svc).is_none() {
                let d = self.at(
                    format!("unknown service `{svc}` in [grid.hostnames]"),
                    h.span(),
                    "not in the service catalog",
                );
                let help = did_you_mean(svc, catalog::names())
                    .unwrap_or_else(|| "use a catalog service name".into());
                self.err(d.help(help));
            }
        }
        routes
    }

    /// A private service's hostname must not also name a public service: a request for
    /// it would then be answered on the public listener (by the public one), and the
    /// private name is published in public URLs.
    fn check_sides(&mut self, routes: &[Route]) {
        let m = self.m;
        for private in routes.iter().filter(|r| r.side == Side::Private) {
            let Some(public) = routes.iter().find(|r| {
                r.side == Side::Public
                    && r.service != private.service
                    && r.hostname.eq_ignore_ascii_case(&private.hostname)
            }) else {
                continue;
            };
            let named_at = |service: &str, role: &str| hostname_span(m, service, role);
            let span = named_at(&private.service, &private.role)
                .or_else(|| named_at(&public.service, &public.role))
                .unwrap_or(m.grid.domain.span());
            let d = self.at(
                format!(
                    "hostname `{}` names private service `{}` and public service `{}`",
                    private.hostname, private.service, public.service
                ),
                span,
                "a private hostname must not be public",
            );
            self.err(d.help("give private services hostnames under `private_domain` that no public service uses"));
        }
    }

    /// `http://login.example.org` (+ `:port` unless the scheme's own): on a cluster the
    /// port is the Ingress's (`[kubernetes] public_port`), not the single host's.
    pub(super) fn public_url(&self, hostname: &str) -> String {
        let m = self.m;
        if self.cluster.is_none() {
            return public_url(m, hostname);
        }
        let port = m
            .kubernetes
            .as_ref()
            .and_then(|k| k.get_ref().public_port.as_ref())
            .and_then(|p| u16::try_from(*p.get_ref()).ok());
        url_with_port(m.grid.public_scheme.get_ref(), hostname, port)
    }

    fn service_url(&self, role_name: &str, side: Side, hostname: &str) -> String {
        let m = self.m;
        if let Some(c) = &self.cluster {
            return match side {
                // Viewers and other grids come in through the Ingress, on the hostname.
                Side::Public => self.public_url(hostname),
                // Robust copies reach each other through the role's Service: ready pods only.
                Side::Private => format!(
                    "http://{}:{}",
                    c.service_host(role_name),
                    m.roles[role_name].get_ref().port.get_ref()
                ),
            };
        }
        match side {
            Side::Public if m.nginx.is_some() || m.grid.public_port.is_some() => {
                public_url(m, hostname)
            }
            // Without a front, viewers reach the role's public port on the grid's domain
            // (like the stock Robust.ini's ${Const|BaseURL}:${Const|PublicPort}).
            Side::Public => {
                let role = m.roles[role_name].get_ref();
                let port = role
                    .public_port
                    .as_ref()
                    .map(|p| *p.get_ref())
                    .unwrap_or(role.port.get_ref().saturating_add(1000));
                let host = m
                    .grid
                    .hostnames
                    .values()
                    .find(|h| h.get_ref() == hostname)
                    .map(|h| h.get_ref().as_str())
                    .unwrap_or(m.grid.domain.get_ref().as_str());
                format!("{}://{host}:{port}", m.grid.public_scheme.get_ref())
            }
            Side::Private => match &m.nginx {
                Some(n) => {
                    let port = listen_port(n.private_listen.get_ref()).unwrap_or(80);
                    format!("http://{hostname}:{port}")
                }
                // Without nginx, other roles reach copy 1 directly.
                None => {
                    let role = m.roles[role_name].get_ref();
                    format!(
                        "http://{}:{}",
                        self.address(role_name, role),
                        role.port.get_ref()
                    )
                }
            },
        }
    }
}

/// Where the manifest names `service`'s hostname: `[grid.hostnames]`, else its role's
/// `hostname` (the place a diagnostic about that hostname points at).
fn hostname_span(m: &Manifest, service: &str, role: &str) -> Option<std::ops::Range<usize>> {
    m.grid.hostnames.get(service).map(|h| h.span()).or_else(|| {
        m.roles
            .get(role)
            .and_then(|r| r.get_ref().hostname.as_ref())
            .map(|h| h.span())
    })
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Public => "public",
        Side::Private => "private",
    }
}

/// `http://login.example.org` (+ `:port` when it is not the scheme's default).
pub(super) fn public_url(m: &Manifest, hostname: &str) -> String {
    url_with_port(m.grid.public_scheme.get_ref(), hostname, m.grid.public_port)
}

fn url_with_port(scheme: &str, hostname: &str, port: Option<u16>) -> String {
    match port {
        Some(p) if !((scheme == "http" && p == 80) || (scheme == "https" && p == 443)) => {
            format!("{scheme}://{hostname}:{p}")
        }
        _ => format!("{scheme}://{hostname}"),
    }
}
