//! The cluster half of a plan: what `[kubernetes]` resolves to, and the names a role's
//! objects get in the cluster. Set only when the manifest is planned for a cluster
//! (`planner::build_for(.., Target::Cluster)`): then every copy listens on its role's
//! own ports in its own pod, and every connector names a role Service by DNS.

use serde::Serialize;
use std::path::PathBuf;

/// Where a plan is for: this machine (ports per copy, loopback, nginx) or a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    #[default]
    Host,
    Cluster,
}

/// Environment variable that makes every command plan for the cluster: the exported
/// pod template sets it, so `gridctl attach/send/status/probe` inside a pod see the
/// pod's own plan (state dir, ports) without a flag.
pub const TARGET_ENV: &str = "GRIDCTL_TARGET";

/// Value of [`TARGET_ENV`] that selects [`Target::Cluster`].
pub const TARGET_CLUSTER: &str = "kubernetes";

impl Target {
    /// [`Target::Cluster`] when [`TARGET_ENV`] says so (the pods set it), else this host.
    pub fn from_env() -> Target {
        match std::env::var(TARGET_ENV) {
            Ok(v) if v == TARGET_CLUSTER => Target::Cluster,
            _ => Target::Host,
        }
    }
}

/// Where the ConfigMap (manifest and user templates) is mounted in every pod.
pub const CONFIG_DIR: &str = "/etc/gridctl";
/// The manifest's name inside [`CONFIG_DIR`].
pub const MANIFEST_NAME: &str = "grid.toml";
/// User templates inside [`CONFIG_DIR`], whatever the manifest calls their directory.
pub const TEMPLATES_SUBDIR: &str = "templates";
/// The pod's own state (rendered tree, socket, logs): an emptyDir.
pub const STATE_DIR: &str = "/var/lib/gridctl";
/// Key of the database connection string in the Secret.
pub const SECRET_KEY: &str = "connection";

#[derive(Debug, Clone, Serialize)]
pub struct ClusterPlan {
    pub namespace: String,
    pub image: String,
    /// Public IngressClass; `None` leaves it to the cluster's default class.
    pub ingress_class: Option<String>,
    /// Private services' IngressClass; `None`: they get no Ingress.
    pub internal_ingress_class: Option<String>,
    pub database_secret: String,
    /// The variable the pods' Robust reads the connection from (the manifest's
    /// `env:NAME`, or [`crate::plan::DB_ENV`]'s cluster twin when it was inline or a file).
    pub database_env: String,
    pub cluster_domain: String,
    /// ReadWriteMany claim mounted over the shared directories (map tiles, bakes,
    /// FSAssets); `None`: each pod has its own (fine while one pod uses them).
    pub shared_claim: Option<String>,
    /// Requests and limits per role, in role order.
    pub resources: Vec<(String, Resources)>,
}

/// Kubernetes quantities, already checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resources {
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub cpu_limit: Option<String>,
    pub memory_limit: Option<String>,
}

impl ClusterPlan {
    /// The Service (and StatefulSet) name of a role: DNS-1035, so `_` becomes `-`.
    pub fn object_name(role: &str) -> String {
        role.replace('_', "-")
    }

    /// The headless Service that gives each copy of `role` a stable DNS name.
    pub fn headless_name(role: &str) -> String {
        format!("{}-pods", Self::object_name(role))
    }

    /// `asset.grid.svc.cluster.local`: the role's ClusterIP Service, ready copies only.
    pub fn service_host(&self, role: &str) -> String {
        format!(
            "{}.{}.svc.{}",
            Self::object_name(role),
            self.namespace,
            self.cluster_domain
        )
    }

    /// `asset-2.asset-pods.grid.svc.cluster.local`: one copy's own pod.
    pub fn pod_host(&self, role: &str, index: u32) -> String {
        format!(
            "{}-{index}.{}.{}.svc.{}",
            Self::object_name(role),
            Self::headless_name(role),
            self.namespace,
            self.cluster_domain
        )
    }

    pub fn resources_of(&self, role: &str) -> Resources {
        self.resources
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, res)| res.clone())
            .unwrap_or_default()
    }

    /// The manifest's path inside a pod.
    pub fn manifest_path() -> PathBuf {
        PathBuf::from(CONFIG_DIR).join(MANIFEST_NAME)
    }
}

/// The instance a pod name stands for: pod `user-agent-2` runs instance `user_agent-2`.
pub fn instance_for_pod<'a>(
    names: impl IntoIterator<Item = &'a str>,
    pod: &str,
) -> Option<&'a str> {
    names
        .into_iter()
        .find(|n| *n == pod || ClusterPlan::object_name(n) == pod)
}
