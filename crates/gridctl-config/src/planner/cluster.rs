//! `[kubernetes]` checked and resolved into a [`ClusterPlan`]: names Kubernetes accepts
//! (DNS labels and subdomains), an image reference, quantities for requests and limits,
//! and role names that fit a StatefulSet. Checked on every target, so `gridctl check`
//! finds a typo before an export does; resolved only when planning for a cluster.

use super::Planner;
use crate::cluster::{ClusterPlan, Resources, Target};
use crate::diagnostic::{did_you_mean, escape, Diagnostic};
use crate::manifest::{KubernetesSection, ResourcesSection};
use crate::plan::Plan;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use toml::Spanned;

/// A StatefulSet's name ends up in its pods' `controller-revision-hash` label as
/// `<name>-<10 characters>`, which must fit a 63-character label.
pub const MAX_ROLE_NAME: usize = 52;

pub const DEFAULT_NAMESPACE: &str = "default";
pub const DEFAULT_IMAGE: &str = "opensim-robust:0.9.2.2";
pub const DEFAULT_SECRET: &str = "robust-db";
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";
pub const DEFAULT_BIN_DIR: &str = "/opt/opensim/bin";
/// Robust 0.9.2.2 is a .NET Framework program: Mono runs it in the image.
pub const DEFAULT_COMMAND: [&str; 2] = ["mono", "Robust.exe"];
/// The variable the pods read the database connection from when grid.toml keeps it
/// inline or in a file (neither of which goes into the cluster).
pub const DEFAULT_DATABASE_ENV: &str = "ROBUST_DB";

/// Why `s` is not a DNS-1123 label (namespaces): lowercase letters, digits, `-`.
pub fn dns_label_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("it is empty".into());
    }
    if s.len() > 63 {
        return Some("it is longer than 63 characters".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "`{}` is not allowed (lowercase letters, digits and `-` only)",
            c.escape_debug()
        ));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Some("it starts or ends with `-`".into());
    }
    None
}

/// Why `s` is not a DNS-1123 subdomain (Secrets, IngressClasses, the cluster domain).
pub fn dns_subdomain_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("it is empty".into());
    }
    if s.len() > 253 {
        return Some("it is longer than 253 characters".into());
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Some("it has an empty label (`..`, or a dot at either end)".into());
        }
        if let Some(why) = dns_label_problem(label) {
            return Some(why);
        }
    }
    None
}

/// Why `s` is not a usable image reference (`registry:5000/path/name:tag@sha256:...`).
/// Not the full grammar: enough that nothing else can ride along in the YAML or a shell.
pub fn image_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("it is empty".into());
    }
    if s.len() > 512 {
        return Some("it is longer than 512 characters".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._-/:@".contains(*c)))
    {
        return Some(format!(
            "`{}` is not allowed in an image reference",
            c.escape_debug()
        ));
    }
    if s.starts_with(['-', '.', '/', ':', '@']) || s.ends_with(['/', ':', '@']) {
        return Some("it starts or ends with a separator".into());
    }
    if s.contains("//") {
        return Some("it has an empty part (`//`)".into());
    }
    None
}

/// A Kubernetes quantity (`250m`, `0.5`, `512Mi`, `1G`) as a number of base units,
/// or why it is not one.
pub fn parse_quantity(s: &str) -> Result<f64, String> {
    let shown = escape(s);
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        other => {
            return Err(format!(
                "`{shown}` has unit `{}`; use m, k, M, G, T or Ki, Mi, Gi, Ti",
                escape(other)
            ))
        }
    };
    let digits_ok = !number.is_empty()
        && number.matches('.').count() <= 1
        && !number.starts_with('.')
        && !number.ends_with('.');
    match number.parse::<f64>() {
        Ok(n) if digits_ok && n.is_finite() && n > 0.0 => Ok(n * factor),
        Ok(_) if digits_ok => Err(format!("`{shown}` is not more than zero")),
        _ => Err(format!(
            "`{shown}` is not a quantity (e.g. \"250m\", \"1\", \"512Mi\", \"2Gi\")"
        )),
    }
}

impl Planner<'_> {
    /// Checks `[kubernetes]` (every target) and, for a cluster, the role names; the
    /// resolved plan when planning for a cluster.
    pub(super) fn resolve_cluster(&mut self) -> Option<ClusterPlan> {
        let k = self.m.kubernetes.as_ref().map(|k| k.get_ref());
        let default = KubernetesSection::default();
        let k = k.unwrap_or(&default);
        let namespace = self.k8s_name(&k.namespace, DEFAULT_NAMESPACE, "namespace", Kind::Label);
        let image = match &k.image {
            Some(i) => {
                if let Some(why) = image_problem(i.get_ref()) {
                    self.k8s_bad(
                        i.span(),
                        "image",
                        i.get_ref(),
                        &why,
                        "e.g. \"registry.example.org/opensim-robust:0.9.2.2\"",
                    );
                }
                i.get_ref().clone()
            }
            None => DEFAULT_IMAGE.to_string(),
        };
        let ingress_class = k
            .ingress_class
            .as_ref()
            .map(|_| self.k8s_name(&k.ingress_class, "", "ingress_class", Kind::Subdomain));
        let internal_ingress_class = k.internal_ingress_class.as_ref().map(|_| {
            self.k8s_name(
                &k.internal_ingress_class,
                "",
                "internal_ingress_class",
                Kind::Subdomain,
            )
        });
        if let (Some(public), Some(private)) = (&ingress_class, &k.internal_ingress_class) {
            if public == private.get_ref() {
                let d = self.at(
                    "`internal_ingress_class` of [kubernetes] is the public `ingress_class`",
                    private.span(),
                    "private services would be published",
                );
                self.err(d.help("name the cluster's internal IngressClass, or leave the key out so private services get no Ingress"));
            }
        }
        let database_secret = self.k8s_name(
            &k.database_secret,
            DEFAULT_SECRET,
            "database_secret",
            Kind::Subdomain,
        );
        let shared_claim = k
            .shared_claim
            .as_ref()
            .map(|_| self.k8s_name(&k.shared_claim, "", "shared_claim", Kind::Subdomain));
        let cluster_domain = self.k8s_name(
            &k.cluster_domain,
            DEFAULT_CLUSTER_DOMAIN,
            "cluster_domain",
            Kind::Subdomain,
        );
        if let Some(b) = &k.bin_dir {
            let p = b.get_ref();
            let text = p.to_string_lossy();
            // The Containerfile names it in `COPY bin/ <bin_dir>/`, where a space splits
            // it and `$` expands: only the characters of a plain path.
            let plain = text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'));
            if !p.is_absolute() || !plain {
                self.k8s_bad(
                    b.span(),
                    "bin_dir",
                    &text,
                    "expected an absolute path inside the image, of letters, digits, `/`, `.`, `_` and `-` (the Containerfile copies bin/ there)",
                    "e.g. \"/opt/opensim/bin\"",
                );
            }
        }
        if let Some(c) = &k.command {
            let words = c.get_ref();
            if words.is_empty()
                || words
                    .iter()
                    .any(|w| w.is_empty() || w.chars().any(char::is_control))
            {
                let d = self.at(
                    "`command` of [kubernetes] must be a program and its arguments, none empty, no control characters",
                    c.span(),
                    "command in the image",
                );
                self.err(d.help("e.g. command = [\"mono\", \"Robust.exe\"]"));
            }
        }
        if let Some(p) = &k.public_port {
            if !(1..=65535).contains(p.get_ref()) {
                let d = self.at(
                    format!("`public_port` of [kubernetes] is {}", p.get_ref()),
                    p.span(),
                    "expected a port from 1 to 65535",
                );
                self.err(d);
            }
        }
        let grid_resources = self.resources(&k.resources, "[kubernetes.resources]");
        let mut resources = Vec::new();
        for (role, section) in &k.roles {
            if !self.m.roles.contains_key(role) {
                let d = self.at(
                    format!(
                        "[kubernetes.roles.{}] names no role of this grid",
                        escape(role)
                    ),
                    section.span(),
                    "unknown role",
                );
                let help = did_you_mean(role, self.m.roles.keys().map(String::as_str))
                    .unwrap_or_else(|| {
                        format!(
                            "roles: {}",
                            self.m.roles.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    });
                self.err(d.help(help));
            }
        }
        for role in self.m.roles.keys() {
            let own = k.roles.get(role).map(|s| {
                let what = format!("[kubernetes.roles.{role}]");
                self.resources(s.get_ref(), &what)
            });
            let r = own.unwrap_or_default();
            let merged = Resources {
                cpu: r.cpu.or(grid_resources.cpu.clone()),
                memory: r.memory.or(grid_resources.memory.clone()),
                cpu_limit: r.cpu_limit.or(grid_resources.cpu_limit.clone()),
                memory_limit: r.memory_limit.or(grid_resources.memory_limit.clone()),
            };
            self.request_within_limit(role, &merged);
            resources.push((role.clone(), merged));
        }
        if self.target != Target::Cluster {
            return None;
        }
        for (role, section) in &self.m.roles {
            if role.len() > MAX_ROLE_NAME || !role.starts_with(|c: char| c.is_ascii_lowercase()) {
                let d = self.at(
                    format!("role `{role}` cannot name a StatefulSet"),
                    section.span(),
                    "this role",
                );
                self.err(d.help(format!(
                    "on a cluster a role's name starts with a letter and has at most {MAX_ROLE_NAME} characters (its pods are `<role>-<n>`)"
                )));
            }
        }
        let database_env = match self.m.database.as_ref().map(|d| d.get_ref()) {
            Some(db) => match db.connection.get_ref().strip_prefix("env:") {
                Some(var) if !var.is_empty() => var.to_string(),
                _ => DEFAULT_DATABASE_ENV.to_string(),
            },
            None => DEFAULT_DATABASE_ENV.to_string(),
        };
        Some(ClusterPlan {
            namespace,
            image,
            ingress_class,
            internal_ingress_class,
            database_secret,
            database_env,
            cluster_domain,
            shared_claim,
            resources,
        })
    }

    /// What a cluster plan should make an operator look at twice: directories several
    /// pods would need to share, and SQLite (its files would die with the pod).
    pub(super) fn cluster_warnings(&self, plan: &Plan) -> Vec<Diagnostic> {
        let mut out = self.unshared_on_cluster(plan);
        if let (Some(_), Some(db)) = (&plan.cluster, &plan.database) {
            if db.provider == "sqlite" {
                let d = Diagnostic::warning(
                    "SQLite on a cluster keeps the grid's data in the pod: it is lost whenever the pod is recreated",
                );
                let d = match &self.m.database {
                    Some(db) => d.at(&self.src, db.get_ref().provider.span(), "sqlite"),
                    None => d,
                };
                out.push(d.help(
                    "use provider = \"mysql\" or \"pgsql\" with a database server the pods reach",
                ));
            }
        }
        out
    }

    /// On a cluster each pod's state dir is its own: a directory copies share on one
    /// host (map tiles, bakes, FSAssets) is shared across pods only through a
    /// `shared_claim`. One warning per directory more than one pod would use without it.
    fn unshared_on_cluster(&self, plan: &Plan) -> Vec<Diagnostic> {
        let Some(c) = &plan.cluster else {
            return Vec::new();
        };
        if c.shared_claim.is_some() {
            return Vec::new();
        }
        let mut users: BTreeMap<PathBuf, u32> = BTreeMap::new();
        for r in &plan.roles {
            for d in crate::render::shared_dirs(plan, r) {
                *users.entry(d).or_default() += r.instances;
            }
        }
        let span = self.m.kubernetes.as_ref().map(|k| k.span());
        // `fsassets` stands for its `data` and `tmp`.
        let top: Vec<PathBuf> = users.keys().cloned().collect();
        users.retain(|d, _| !top.iter().any(|t| t != d && d.starts_with(t)));
        users
            .into_iter()
            .filter(|(_, pods)| *pods > 1)
            .map(|(dir, pods)| {
                let d = Diagnostic::warning(format!(
                    "{pods} pods use {} but each would have its own: nothing shares it on a cluster",
                    dir.display()
                ));
                let d = match &span {
                    Some(s) => d.at(&self.src, s.clone(), "no shared_claim here"),
                    None => d,
                };
                d.help("set shared_claim = \"NAME\" in [kubernetes]: a ReadWriteMany PersistentVolumeClaim mounted there in every pod")
            })
            .collect()
    }

    /// A name Kubernetes must accept; `default` when the key is absent.
    fn k8s_name(
        &mut self,
        v: &Option<Spanned<String>>,
        default: &str,
        key: &str,
        kind: Kind,
    ) -> String {
        let Some(v) = v else {
            return default.to_string();
        };
        let problem = match kind {
            Kind::Label => dns_label_problem(v.get_ref()),
            Kind::Subdomain => dns_subdomain_problem(v.get_ref()),
        };
        if let Some(why) = problem {
            let example = match kind {
                Kind::Label => "a DNS label, e.g. \"grid\"",
                Kind::Subdomain => "a DNS name, e.g. \"robust-db\" or \"nginx-internal\"",
            };
            self.k8s_bad(v.span(), key, v.get_ref(), &why, example);
        }
        v.get_ref().clone()
    }

    fn k8s_bad(&mut self, span: Range<usize>, key: &str, value: &str, why: &str, help: &str) {
        let d = self.at(
            format!("`{key}` of [kubernetes] is `{}`: {why}", escape(value)),
            span,
            "not accepted by Kubernetes",
        );
        self.err(d.help(help.to_string()));
    }

    fn resources(&mut self, r: &ResourcesSection, what: &str) -> Resources {
        let mut one = |v: &Option<Spanned<String>>, key: &str| -> Option<String> {
            let v = v.as_ref()?;
            if let Err(why) = parse_quantity(v.get_ref()) {
                let d = self.at(
                    format!("`{key}` of {what}: {why}"),
                    v.span(),
                    "expected a Kubernetes quantity",
                );
                self.err(d.help("cpu in cores or millicores (\"500m\"), memory in bytes with a unit (\"512Mi\", \"1Gi\")"));
            }
            Some(v.get_ref().clone())
        };
        Resources {
            cpu: one(&r.cpu, "cpu"),
            memory: one(&r.memory, "memory"),
            cpu_limit: one(&r.cpu_limit, "cpu_limit"),
            memory_limit: one(&r.memory_limit, "memory_limit"),
        }
    }

    /// A request above its limit is refused by the API server; say so here, at the role.
    fn request_within_limit(&mut self, role: &str, r: &Resources) {
        for (what, request, limit) in [
            ("cpu", &r.cpu, &r.cpu_limit),
            ("memory", &r.memory, &r.memory_limit),
        ] {
            let (Some(req), Some(lim)) = (request, limit) else {
                continue;
            };
            let (Ok(a), Ok(b)) = (parse_quantity(req), parse_quantity(lim)) else {
                continue;
            };
            if a > b {
                let span = self.m.kubernetes.as_ref().map(|k| k.span()).unwrap_or(0..0);
                let d = self.at(
                    format!("role `{role}` requests {what} {req}, more than its limit {lim}"),
                    span,
                    "in [kubernetes]",
                );
                self.err(d.help("the API server refuses a request above its limit: raise the limit or lower the request"));
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Label,
    Subdomain,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("250m"), Ok(0.25));
        assert_eq!(parse_quantity("2"), Ok(2.0));
        assert_eq!(parse_quantity("512Mi"), Ok(512.0 * 1024.0 * 1024.0));
        assert_eq!(parse_quantity("1.5G"), Ok(1.5e9));
        for bad in [
            "", "Mi", "1..2", ".5", "5.", "-1", "0", "1 Gi", "1GB", "1e3", "1;x",
        ] {
            assert!(parse_quantity(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(dns_label_problem("grid-1"), None);
        assert!(dns_label_problem("Grid").is_some());
        assert!(dns_label_problem("a.b").is_some());
        assert!(dns_label_problem("-a").is_some());
        assert!(dns_label_problem(&"a".repeat(64)).is_some());
        assert_eq!(dns_subdomain_problem("nginx-internal.example"), None);
        assert!(dns_subdomain_problem("a..b").is_some());
        assert!(dns_subdomain_problem("a_b").is_some());
        assert_eq!(image_problem("registry:5000/opensim/robust:0.9.2.2"), None);
        assert_eq!(image_problem("robust@sha256:abc"), None);
        for bad in ["", "a b", "a\nb", "a;b", "-a", "a:", "$(x)"] {
            assert!(image_problem(bad).is_some(), "{bad}");
        }
    }
}
