//! Secrets written inline in grid.toml outside `[database] connection`: a settings key
//! that names a password, connection string, token or key, an environment variable of
//! that kind, or any value holding `Password=`. grid.toml is committed and, on a
//! cluster, copied into a ConfigMap: such a value would be exported in the clear. On
//! this host they are warned about; for a cluster they are refused, pointing at the
//! ways that keep a secret out of the file.

use super::Planner;
use crate::cluster::Target;
use crate::diagnostic::Diagnostic;
use crate::manifest::Locator;
use std::ops::Range;

/// How a settings key or variable name ends when its value is a secret
/// (`AdminPassword`, `ConnectionString`, `SMTP_PASSWORD`, `ApiKey`, `ClientSecret`).
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "connectionstring",
    "secret",
    "token",
    "apikey",
    "api_key",
    "privatekey",
    "private_key",
];

/// Whether `key = value` holds a secret: a secret-named key with a literal value (not a
/// `${...}` reference, which is how a setting reads one from the environment), or a
/// value that carries a password itself.
pub fn looks_secret(key: &str, value: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let value_lower = value.to_ascii_lowercase();
    let named = SECRET_WORDS.iter().any(|w| key.ends_with(w));
    let literal = !value.trim().is_empty() && !value.trim_start().starts_with("${");
    let carries = ["password=", "pwd="]
        .iter()
        .any(|p| value_lower.contains(p));
    (named && literal) || carries
}

impl Planner<'_> {
    /// Every inline secret outside `[database] connection`: a warning on this host, an
    /// error for a cluster.
    pub(super) fn inline_secrets(&mut self) {
        let loc = Locator::new(&self.src.text);
        let mut found: Vec<(Option<Range<usize>>, String)> = Vec::new();
        let m = self.m;
        let settings = m
            .roles
            .iter()
            .map(|(n, r)| ("roles", n, &r.get_ref().settings))
            .chain(
                m.simulators
                    .iter()
                    .map(|(n, s)| ("simulators", n, &s.get_ref().settings)),
            );
        for (table, name, settings) in settings {
            for (section, keys) in settings {
                for (key, value) in keys {
                    let text = match value {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    if looks_secret(key, &text) {
                        found.push((
                            loc.value(&[table, name, "settings", section, key]),
                            format!("`{key}` in [{table}.{name}.settings.{section}]"),
                        ));
                    }
                }
            }
        }
        let envs = std::iter::once((vec!["robust", "env"], &m.robust.env))
            .chain(
                m.roles
                    .iter()
                    .map(|(n, r)| (vec!["roles", n.as_str(), "env"], &r.get_ref().env)),
            )
            .chain(
                m.simulators
                    .iter()
                    .map(|(n, s)| (vec!["simulators", n.as_str(), "env"], &s.get_ref().env)),
            );
        for (base, env) in envs {
            for (k, v) in env {
                if looks_secret(k, v) {
                    let path: Vec<&str> = base.iter().copied().chain([k.as_str()]).collect();
                    found.push((loc.value(&path), format!("`{k}` in [{}]", base.join("."))));
                }
            }
        }
        let cluster = self.target == Target::Cluster;
        for (span, what) in found {
            let msg = format!("{what} holds a secret written inline in grid.toml");
            let help = "grid.toml is committed and copied into the export's ConfigMap: keep the value out of it — the database connection as [database] connection = \"env:NAME\" or \"file:PATH\", any other setting as a ${Environment|NAME} reference to a variable set where gridctl runs";
            let d = if cluster {
                Diagnostic::error(msg)
            } else {
                Diagnostic::warning(msg)
            };
            let d = match span {
                Some(span) => d.at(&self.src, span, "written here"),
                None => d,
            }
            .help(help);
            if cluster {
                self.err(d);
            } else {
                self.warnings.push(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::looks_secret;

    #[test]
    fn what_counts_as_a_secret() {
        assert!(looks_secret("ConnectionString", "Data Source=x;Password=y"));
        assert!(looks_secret("AdminPassword", "hunter2"));
        assert!(looks_secret("SMTP_PASSWORD", "x"));
        assert!(looks_secret("Anything", "Server=x;Pwd=y"));
        assert!(!looks_secret("ConnectionString", "${Environment|DB}"));
        assert!(!looks_secret("WelcomeMessage", "hello"));
        assert!(!looks_secret("AdminPassword", ""));
        assert!(!looks_secret("MaxConnections", "10"));
        assert!(!looks_secret("PasswordResetURL", "http://x"));
    }
}
