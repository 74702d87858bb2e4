//! `gridctl export kubernetes`: a cluster plan turned into typed Kubernetes objects
//! (k8s-openapi), serialized to YAML files in a stable order, plus a Containerfile.
//!
//! Pure apart from reading the user's templates: nothing here talks to a cluster or
//! writes a file; the CLI writes [`Export::files`] atomically, all or nothing.

use gridctl_config::diagnostic::Diagnostic;
use gridctl_config::manifest::LoadedManifest;
use gridctl_config::plan::Plan;
use std::path::Path;

mod configmap;
mod containerfile;
mod hash;
mod ingress;
mod labels;
mod options;
mod service;
mod statefulset;
mod yaml;

pub use options::{image_problem, namespace_problem, Options};

/// The file holding the ConfigMap.
pub const CONFIGMAP_FILE: &str = "00-configmap.yaml";
/// The file holding every role's Services. `kubectl apply -f DIR` applies files in name
/// order, so every Service exists before any StatefulSet's pod starts: Robust's Asset,
/// GridUser and UserAccount connectors resolve their host names once, at start-up
/// (robust.md §2), and a Service's name resolves from the moment it is created.
pub const SERVICES_FILE: &str = "05-services.yaml";
/// The file holding the Ingresses.
pub const INGRESS_FILE: &str = "20-ingress.yaml";
/// The image build recipe.
pub const CONTAINERFILE: &str = "Containerfile";

/// The file of one role's StatefulSet.
pub fn role_file(role: &str) -> String {
    format!(
        "10-{}.yaml",
        gridctl_config::cluster::ClusterPlan::object_name(role)
    )
}

/// Whether `name` is one an export may have written and may leave stale: a role file
/// (`10-*.yaml`) or the Ingress file (gone when no Ingress is left).
pub fn is_export_file(name: &str) -> bool {
    let role_file =
        name.len() > "10-.yaml".len() && name.starts_with("10-") && name.ends_with(".yaml");
    role_file || name == INGRESS_FILE
}

/// Whether a file's text is one an export wrote (it starts with the export's header).
pub fn written_by_export(text: &str) -> bool {
    // The YAML files' header and the Containerfile's first line both start so.
    text.starts_with("# Written by `gridctl export kubernetes`")
}

/// What an export produced: files in write order, notes for the operator, counts.
#[derive(Debug, Clone, Default)]
pub struct Export {
    /// (file name, text), in a stable order.
    pub files: Vec<(String, String)>,
    pub notes: Vec<String>,
    pub counts: Counts,
}

/// How many objects of each kind the export holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub stateful_sets: usize,
    pub services: usize,
    pub config_maps: usize,
    pub ingresses: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |count: usize, one: &str, many: &str| {
            format!("{count} {}", if count == 1 { one } else { many })
        };
        write!(
            f,
            "{}, {}, {}, {}",
            n(self.stateful_sets, "StatefulSet", "StatefulSets"),
            n(self.services, "Service", "Services"),
            n(self.config_maps, "ConfigMap", "ConfigMaps"),
            n(self.ingresses, "Ingress", "Ingresses"),
        )
    }
}

/// Exports `plan` (planned for the cluster) of the manifest `loaded` (command-line
/// overrides already written into it: [`Options::onto`]). `templates_on_disk`
/// is the user's templates directory as this machine sees it (the plan names the path
/// inside the pod). Any problem is a diagnostic, and then nothing is exported.
pub fn export(
    loaded: &LoadedManifest,
    plan: &Plan,
    templates_on_disk: Option<&Path>,
) -> Result<Export, Diagnostic> {
    let cluster = plan.cluster.clone().ok_or_else(|| {
        Diagnostic::error("the plan was not made for a cluster (no [kubernetes] part in it)")
    })?;
    refuse_simulators(loaded, plan)?;
    let plan = plan.clone();

    let labels = labels::Labels::new(&plan.grid_nick);
    let mut out = Export::default();

    let config = configmap::build(loaded, &plan, &cluster, &labels, templates_on_disk)?;
    out.notes.extend(config.notes.iter().cloned());
    out.files.push((
        CONFIGMAP_FILE.to_string(),
        yaml::file(&[yaml::doc(&config.map)?]),
    ));
    out.counts.config_maps = 1;

    let hashes = hash::role_hashes(&plan, templates_on_disk)?;
    let mut services = Vec::new();
    for role in &plan.roles {
        let config_hash = hashes
            .iter()
            .find(|(r, _)| *r == role.name)
            .map(|(_, h)| h.as_str())
            .unwrap_or_default();
        let set = statefulset::build(&plan, &cluster, role, &labels, &config, config_hash);
        let (clusterip, headless) = service::build(&cluster, role, &labels);
        services.push(yaml::doc(&clusterip)?);
        services.push(yaml::doc(&headless)?);
        out.files
            .push((role_file(&role.name), yaml::file(&[yaml::doc(&set)?])));
        out.counts.stateful_sets += 1;
        out.counts.services += 2;
    }
    // Second in the directory, first of what pods need (see SERVICES_FILE).
    out.files
        .insert(1, (SERVICES_FILE.to_string(), yaml::file(&services)));

    let ingresses = ingress::build(&plan, &cluster, &labels);
    out.notes.extend(ingresses.notes);
    if !ingresses.objects.is_empty() {
        let docs = ingresses
            .objects
            .iter()
            .map(yaml::doc)
            .collect::<Result<Vec<_>, _>>()?;
        out.counts.ingresses = docs.len();
        out.files
            .push((INGRESS_FILE.to_string(), yaml::file(&docs)));
    }

    out.files.push((
        CONTAINERFILE.to_string(),
        containerfile::text(&plan, &cluster),
    ));
    Ok(out)
}

/// Simulators are not exported: a viewer reaches each region over UDP at its
/// `ExternalHostName` and port, which a StatefulSet behind a ClusterIP Service and an
/// HTTP Ingress cannot give it. Silently dropping them would export half a grid.
fn refuse_simulators(loaded: &LoadedManifest, plan: &Plan) -> Result<(), Diagnostic> {
    let names: Vec<&str> = plan.simulators().map(|(r, _)| r.name.as_str()).collect();
    let Some(first) = names.first() else {
        return Ok(());
    };
    let d = Diagnostic::error(format!(
        "the export cannot carry simulators ({}): the cluster objects it writes route HTTP only",
        names.join(", ")
    ));
    let span =
        gridctl_config::manifest::Locator::new(&loaded.source.text).key(&["simulators", first]);
    let d = match span {
        Some(span) => d.at(&loaded.source, span, "a simulator"),
        None => d,
    };
    Err(d.help(
        "a viewer must reach every region's UDP port (and the simulator's http_port) at its external_host, which needs a UDP-capable Service per region (NodePort or LoadBalancer); run the simulators on a host with `gridctl up` against the cluster's Robust, and export a manifest without [simulators]",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_file_names() {
        assert_eq!(role_file("user_agent"), "10-user-agent.yaml");
        assert!(is_export_file("10-asset.yaml"));
        assert!(is_export_file(INGRESS_FILE));
        assert!(!is_export_file("10-.yaml"));
        assert!(!is_export_file(CONFIGMAP_FILE));
        assert!(!is_export_file("10-asset.yml"));
    }

    #[test]
    fn counts_read_as_a_summary() {
        let c = Counts {
            stateful_sets: 3,
            services: 6,
            config_maps: 1,
            ingresses: 1,
        };
        assert_eq!(
            c.to_string(),
            "3 StatefulSets, 6 Services, 1 ConfigMap, 1 Ingress"
        );
    }
}
