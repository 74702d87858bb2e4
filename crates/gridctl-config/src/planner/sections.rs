//! The `[database]` and `[nginx]` tables, read into their plans.

use super::Planner;
use crate::diagnostic::Diagnostic;
use crate::plan::{absolutize, DatabasePlan, NginxPlan, Secret};
use std::ops::Range;

impl Planner<'_> {
    pub(super) fn database(
        &mut self,
        dir: &std::path::Path,
        instance_count: usize,
    ) -> Option<DatabasePlan> {
        let Some(db) = &self.m.database else {
            let d = Diagnostic::error("missing required table `[database]`");
            // No span for something absent: point at `[robust]`, after which it usually goes.
            let d = match table_header(&self.src.text, "robust") {
                Some(span) => d.at(&self.src, span, "add `[database]` after this table"),
                None => d,
            };
            let d = d.help(
                "add [database] with provider = \"mysql\" and connection = \"env:ROBUST_DB\" (or \"sqlite\" for a single instance)",
            );
            self.err(d);
            return None;
        };
        self.database_section(db.get_ref(), dir, instance_count)
    }

    /// One `database` table (`[database]`, or a simulator's): provider, and the
    /// connection resolved from `env:`/`file:`/inline, checked without showing it.
    /// `processes`: how many processes would use it (SQLite serves one).
    pub(super) fn database_section(
        &mut self,
        db: &crate::manifest::DatabaseSection,
        dir: &std::path::Path,
        instance_count: usize,
    ) -> Option<DatabasePlan> {
        let provider = db.provider.get_ref().to_ascii_lowercase();
        let storage = match provider.as_str() {
            "mysql" => "OpenSim.Data.MySQL.dll",
            "pgsql" | "postgres" | "postgresql" => "OpenSim.Data.PGSQL.dll",
            "sqlite" => "OpenSim.Data.SQLite.dll",
            _ => {
                let d = self.at(
                    format!("unknown database provider `{}`", db.provider.get_ref()),
                    db.provider.span(),
                    "not a provider",
                );
                self.err(d.help("use \"mysql\", \"pgsql\" or \"sqlite\""));
                return None;
            }
        };
        if provider == "sqlite" && instance_count > 1 {
            let d = self.at(
                format!("SQLite cannot serve {instance_count} Robust processes"),
                db.provider.span(),
                "sqlite",
            );
            self.err(d.help("several processes sharing SQLite files fail with UNIQUE constraint errors at start; use mysql or pgsql for a split grid"));
        }
        let raw = db.connection.get_ref();
        if let Some(var) = raw.strip_prefix("env:") {
            if let Some(why) = env_source_problem(var) {
                let d = self.at(
                    format!(
                        "`{}` cannot name the variable holding the connection string",
                        crate::diagnostic::escape(raw)
                    ),
                    db.connection.span(),
                    why,
                );
                self.err(
                    d.help("name a variable of your own, e.g. connection = \"env:ROBUST_DB\""),
                );
                return None;
            }
        }
        let (source, value) = if let Some(c) = &self.cluster {
            // In a pod the connection comes from the Secret, through this variable;
            // an inline or file value of grid.toml never goes into the cluster.
            let var = &c.database_env;
            (format!("env:{var}"), std::env::var(var).ok())
        } else if let Some(var) = raw.strip_prefix("env:") {
            (format!("env:{var}"), std::env::var(var).ok())
        } else if let Some(path) = raw.strip_prefix("file:") {
            let p = absolutize(dir, path.as_ref());
            match crate::manifest::read_text_file(&p) {
                Ok(s) => (
                    format!("file:{}", p.display()),
                    Some(s.trim_end_matches(['\n', '\r']).to_string()),
                ),
                Err(e) => {
                    let d = self.at(
                        format!(
                            "cannot read the connection string from `{}`: {e}",
                            p.display()
                        ),
                        db.connection.span(),
                        "secret file",
                    );
                    self.err(d);
                    (format!("file:{}", p.display()), None)
                }
            }
        } else {
            ("inline".to_string(), Some(raw.clone()))
        };
        // The secret reaches Robust through the environment and `${Environment|...}`;
        // Nini would expand a `${` inside it, and a line break or NUL cannot pass.
        // The message never shows the secret.
        if let Some(v) = &value {
            let why = if v.contains('\0') {
                Some("a NUL byte")
            } else if v.chars().any(char::is_control) {
                Some("a line break or control character")
            } else if v.contains("${") {
                Some("`${`, which Robust would expand as a reference")
            } else {
                None
            };
            if let Some(why) = why {
                let d = self.at(
                    format!("the database connection string ({source}) holds {why}"),
                    db.connection.span(),
                    "connection string",
                );
                self.err(d.help("the value is not shown here; fix the secret where it is kept"));
            }
        }
        Some(DatabasePlan {
            provider,
            storage_provider: storage.into(),
            source,
            connection: Secret(value),
        })
    }

    pub(super) fn nginx(&mut self, dir: &std::path::Path) -> Option<NginxPlan> {
        let n = self.m.nginx.as_ref()?;
        self.check_listeners(n);
        Some(NginxPlan {
            output: absolutize(dir, &n.output),
            test_command: n.test_command.clone(),
            reload_command: n.reload_command.clone(),
            public_listen: n.public_listen.get_ref().clone(),
            private_listen: n.private_listen.get_ref().clone(),
            private_address: super::parse_listen(n.private_listen.get_ref())
                .ok()
                .and_then(|(ip, _)| match ip {
                    Some(std::net::IpAddr::V4(v4)) if !v4.is_unspecified() => Some(v4),
                    _ => None,
                }),
            max_fails: n.max_fails,
            fail_timeout_secs: n.fail_timeout.as_secs().max(1),
            keepalive: n.keepalive,
            drain_secs: n.drain.as_secs_f64(),
        })
    }
}

/// The span of a `[name]` table header line in the manifest text.
fn table_header(text: &str, name: &str) -> Option<Range<usize>> {
    let header = format!("[{name}]");
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with(&header) {
            let start = offset + (line.len() - trimmed.len());
            return Some(start..start + header.len());
        }
        offset += line.len();
    }
    None
}

/// Variables gridctl sets itself in a copy's or a pod's environment: a connection read
/// from one of them would be gridctl's value (or, in a pod, would replace it).
const GRIDCTL_SETS: &[&str] = &[
    crate::plan::DB_ENV,
    crate::simulator::REGION_DB_ENV,
    crate::cluster::TARGET_ENV,
    "GRIDCTL_FILE",
    "POD_NAME",
    "TERM",
];

/// Why `env:NAME` cannot hold the connection: no name, not a shell name, or one of
/// gridctl's own.
fn env_source_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("`env:` names no variable");
    }
    if let Some(why) = super::validate::env_name_problem(name) {
        return Some(why);
    }
    GRIDCTL_SETS
        .contains(&name)
        .then_some("gridctl sets this variable itself")
}

#[cfg(test)]
mod tests {
    use super::env_source_problem;

    #[test]
    fn env_sources() {
        assert_eq!(env_source_problem("ROBUST_DB"), None);
        for bad in [
            "",
            "A B=$(x)",
            "POD_NAME",
            "GRIDCTL_DATABASE_CONNECTION",
            "1X",
            "a-b",
        ] {
            assert!(env_source_problem(bad).is_some(), "{bad:?}");
        }
    }
}
