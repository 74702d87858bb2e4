//! Remote service connectors that resolve their server's host when they are built
//! (robust.md 0d, measured on 0.9.2.2): when the name does not resolve, the connector is
//! left out with an ERROR, yet the in-connector that wanted it still logs `loaded
//! successfully`. Only the connectors measured to do this are listed.

use gridctl::ini::Ini;

use crate::client::Resolver;

/// `(class, its fixed config section, URL key, log tag, interface)`.
const RESOLVING: &[(&str, &str, &str, &str, &str)] = &[
    (
        "UserAccountServicesConnector",
        "UserAccountService",
        "UserAccountServerURI",
        "ACCOUNT CONNECTOR",
        "IUserAccountService",
    ),
    (
        "GridUserServicesConnector",
        "GridUserService",
        "GridUserServerURI",
        "GRIDUSER CONNECTOR",
        "IGridUserService",
    ),
];

/// The ERROR lines the real one logs while building the connectors named in `section`
/// (its `LocalServiceModule` and the modules it loads) whose host does not resolve
/// (names of the `Resolve` knob count as resolving).
pub fn unresolved(config: &Ini, section: &str, resolver: &Resolver) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, value) in config.keys(section) {
        let Some((dll, class)) = value.split_once(':') else {
            continue;
        };
        let Some(&(_, fixed, url_key, tag, interface)) =
            RESOLVING.iter().find(|(c, ..)| *c == class)
        else {
            continue;
        };
        let url = config.get(fixed, url_key).unwrap_or_default();
        if resolves(url, resolver) {
            continue;
        }
        lines.push(format!("[{tag}]: Could not resolve {url_key}"));
        if key.eq_ignore_ascii_case("LocalServiceModule") {
            lines.push(format!(
                "[SERVER UTILS]: Error loading plugin OpenSim.Services.Interfaces.{interface} from {dll}. Exception: User account connector init error"
            ));
        } else {
            lines.push(format!(
                "[SERVICE BASE]: Failed to load plugin OpenSim.Services.Interfaces.{interface} from {dll} with args [Startup]"
            ));
        }
    }
    lines
}

/// Whether the host of `url` (`scheme://host[:port][/...]`) resolves.
fn resolves(url: &str, resolver: &Resolver) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().unwrap_or(80)),
        None => (authority, 80),
    };
    !host.is_empty() && resolver.resolve(host, port).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unresolvable_hosts_of_measured_connectors() {
        let ini = gridctl::ini::parse(
            "[LoginService]\n\
             LocalServiceModule = \"OpenSim.Services.LLLoginService.dll:LLLoginService\"\n\
             UserAccountService = \"OpenSim.Services.Connectors.dll:UserAccountServicesConnector\"\n\
             GridUserService = \"OpenSim.Services.Connectors.dll:GridUserServicesConnector\"\n\
             [UserAccountService]\nUserAccountServerURI = \"http://127.0.0.1:8003\"\n\
             [GridUserService]\nGridUserServerURI = \"http://gu.nonexistent.invalid:8003\"\n\
             [AccountProxy]\nLocalServiceModule = \"OpenSim.Services.Connectors.dll:GridUserServicesConnector\"\n",
            std::path::Path::new("t"),
        )
        .expect("parse");
        let none = Resolver::default();
        assert_eq!(
            unresolved(&ini, "LoginService", &none),
            vec![
                "[GRIDUSER CONNECTOR]: Could not resolve GridUserServerURI",
                "[SERVICE BASE]: Failed to load plugin OpenSim.Services.Interfaces.IGridUserService from OpenSim.Services.Connectors.dll with args [Startup]",
            ]
        );
        assert_eq!(
            unresolved(&ini, "AccountProxy", &none)[1],
            "[SERVER UTILS]: Error loading plugin OpenSim.Services.Interfaces.IGridUserService from OpenSim.Services.Connectors.dll. Exception: User account connector init error"
        );
        assert!(resolves("http://localhost:80/", &none));
        assert!(!resolves("", &none));
        let (known, _) = Resolver::parse("*.nonexistent.invalid=127.0.0.1");
        assert!(unresolved(&ini, "LoginService", &known).is_empty());
    }
}
