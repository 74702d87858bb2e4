//! Inter-service wiring: for each role, which sections are rendered locally and which
//! services are reached through a remote connector (robust.md §2, §4).
//!
//! A dependency hosted in the same role is a local module; otherwise it is the remote
//! connector pointed at the service's URL. This is what avoids "the local-module trap":
//! Login, Gatekeeper, UserAgent, HG friends and HG IM never load their own Presence or
//! GridUser when those live in another role.

use crate::catalog::{self, DepMode, Service};
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct RoleWiring {
    /// Sections rendered from the local templates, in order.
    pub local: Vec<LocalSection>,
    /// Services this role calls through their remote connector.
    pub remote: Vec<RemoteUse>,
    /// Required dependencies hosted nowhere: (dependant, dependency).
    pub missing: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LocalSection {
    pub service: String,
    /// `true` when the role hosts the service's connector; `false` when only its module is
    /// loaded in-process by a dependant (the section must exist, no ServiceList entry).
    pub hosted: bool,
    /// Dependency keys of the section: `(PresenceService, OpenSim.Services.Connectors.dll:PresenceServicesConnector)`.
    pub deps: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemoteUse {
    pub service: String,
    pub section: String,
    pub key: String,
    pub url: String,
}

/// Computes the wiring of a role hosting `hosted`.
/// `hosted_anywhere(service)` tells whether some role hosts it; `url_of(service)` gives
/// the URL its remote connector should use; `hypergrid` enables Hypergrid-only dependencies.
pub fn wire_role(
    hosted: &[&'static Service],
    hypergrid: bool,
    hosted_anywhere: &dyn Fn(&str) -> bool,
    url_of: &dyn Fn(&str) -> Option<String>,
) -> RoleWiring {
    let mut w = RoleWiring::default();
    let mut queue: Vec<(&'static Service, bool)> = hosted.iter().map(|s| (*s, true)).collect();
    let is_local = |name: &str| hosted.iter().any(|s| s.name == name);
    let mut i = 0;
    while i < queue.len() {
        let (svc, is_hosted) = queue[i];
        i += 1;
        let mut deps = Vec::new();
        for dep in svc.deps.iter().filter(|d| hypergrid || !d.hypergrid_only) {
            let Some(target) = catalog::get(dep.service) else {
                continue;
            };
            let value = match dep.mode {
                DepMode::LocalOnly => Some(module_only(target, &mut queue)),
                DepMode::Wire if is_local(target.name) => target.local_module.map(str::to_string),
                DepMode::Wire if hosted_anywhere(target.name) => {
                    match (target.remote, url_of(target.name)) {
                        (Some(remote), Some(url)) => {
                            if !w.remote.iter().any(|r| r.service == target.name) {
                                w.remote.push(RemoteUse {
                                    service: target.name.into(),
                                    section: remote.url_section.into(),
                                    key: remote.url_key.into(),
                                    url,
                                });
                            }
                            Some(remote.connector.to_string())
                        }
                        // No remote connector exists (UserAgent, Gatekeeper): load the module here.
                        _ => Some(module_only(target, &mut queue)),
                    }
                }
                DepMode::Wire => {
                    if dep.required {
                        w.missing.push((svc.name.into(), target.name.into()));
                    }
                    None
                }
            };
            if let (Some(key), Some(value)) = (dep.key, value) {
                if !value.is_empty() {
                    deps.push((key.to_string(), value));
                }
            }
        }
        if svc.section.is_some() {
            w.local.push(LocalSection {
                service: svc.name.into(),
                hosted: is_hosted,
                deps,
            });
        }
    }
    w
}

/// Queues `target`'s section as module-only (once) and returns its module string.
fn module_only(target: &'static Service, queue: &mut Vec<(&'static Service, bool)>) -> String {
    if !queue.iter().any(|(s, _)| s.name == target.name) {
        queue.push((target, false));
    }
    target.local_module.unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svcs(names: &[&str]) -> Vec<&'static Service> {
        names.iter().map(|n| catalog::get(n).unwrap()).collect()
    }

    #[test]
    fn login_uses_remote_presence_when_it_lives_elsewhere() {
        let hosted = svcs(&["login", "useraccount", "auth", "grid", "avatar", "griduser"]);
        let w = wire_role(&hosted, false, &|_| true, &|s| {
            Some(format!("http://{s}.robust.internal:8003"))
        });
        let login = w.local.iter().find(|l| l.service == "login").unwrap();
        let presence = login
            .deps
            .iter()
            .find(|(k, _)| k == "PresenceService")
            .unwrap();
        assert_eq!(
            presence.1,
            "OpenSim.Services.Connectors.dll:PresenceServicesConnector"
        );
        let griduser = login
            .deps
            .iter()
            .find(|(k, _)| k == "GridUserService")
            .unwrap();
        assert_eq!(
            griduser.1,
            "OpenSim.Services.UserAccountService.dll:GridUserService"
        );
        assert!(w
            .remote
            .iter()
            .any(|r| r.section == "PresenceService" && r.key == "PresenceServerURI"));
        // One include per remote service even when several sections use it.
        assert_eq!(
            w.remote.iter().filter(|r| r.service == "inventory").count(),
            1
        );
    }

    #[test]
    fn gridinfo_gets_a_module_only_grid_section() {
        let w = wire_role(&svcs(&["gridinfo"]), false, &|_| true, &|_| None);
        let grid = w.local.iter().find(|l| l.service == "grid").unwrap();
        assert!(!grid.hosted);
    }

    #[test]
    fn required_dependency_hosted_nowhere_is_reported() {
        let w = wire_role(&svcs(&["login"]), false, &|s| s != "presence", &|s| {
            Some(format!("http://{s}"))
        });
        assert!(w.missing.contains(&("login".into(), "presence".into())));
    }

    #[test]
    fn grid_wires_the_hosted_asset_service_only_in_a_hypergrid() {
        let hosted = svcs(&["grid"]);
        let anywhere = |s: &str| s != "asset";
        let url = |s: &str| Some(format!("http://{s}.robust.internal:8003"));
        let plain = wire_role(&hosted, false, &anywhere, &url);
        assert!(!plain.remote.iter().any(|r| r.service.ends_with("asset")));
        let hg = wire_role(&hosted, true, &anywhere, &url);
        let grid = hg.local.iter().find(|l| l.service == "grid").unwrap();
        assert!(grid.deps.contains(&(
            "AssetService".into(),
            "OpenSim.Services.Connectors.dll:AssetServicesConnector".into()
        )));
        let assets: Vec<&str> = hg
            .remote
            .iter()
            .filter(|r| r.service.ends_with("asset"))
            .map(|r| r.service.as_str())
            .collect();
        assert_eq!(assets, ["fsasset"]);
    }
}
