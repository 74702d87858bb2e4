//! A role's StatefulSet: one pod per copy (`asset-1`, `asset-2`, … — the copy's own
//! name), each running `gridctl pod run` on the ConfigMap's grid.toml.

use crate::configmap::{self, ConfigData};
use crate::labels::Labels;
use crate::service::{PRIVATE_PORT, PUBLIC_PORT};
use gridctl_config::cluster::{
    ClusterPlan, CONFIG_DIR, MANIFEST_NAME, SECRET_KEY, STATE_DIR, TARGET_CLUSTER, TARGET_ENV,
};
use gridctl_config::plan::{Plan, RolePlan};
use gridctl_config::render::shared_dirs;
use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetOrdinals, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    ExecAction, ObjectFieldSelector, PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec,
    Probe, ResourceRequirements, SecretKeySelector, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::BTreeMap;
use std::time::Duration;

/// The pod template annotation carrying the role's config hash.
pub(crate) const HASH_ANNOTATION: &str = "gridctl.io/config-hash";

/// The volume of `[kubernetes] shared_claim`.
const SHARED_VOLUME: &str = "shared";

/// How often the probes ask the holder, in seconds.
const PROBE_PERIOD_SECS: i32 = 5;

/// Time given beyond the holder's own stop escalation before the kubelet kills it.
const GRACE_MARGIN: Duration = Duration::from_secs(10);

pub(crate) fn build(
    plan: &Plan,
    cluster: &ClusterPlan,
    role: &RolePlan,
    labels: &Labels,
    config: &ConfigData,
    config_hash: &str,
) -> StatefulSet {
    let name = ClusterPlan::object_name(&role.name);
    let sup = &role.supervise;
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels.role(&role.name)),
            annotations: Some(BTreeMap::from([(
                HASH_ANNOTATION.to_string(),
                config_hash.to_string(),
            )])),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            // The holder stops Robust with its console command, then SIGINT, then
            // SIGTERM, each with its timeout: the kubelet waits for all three.
            termination_grace_period_seconds: Some(whole_seconds(
                sup.stop_timeout
                    .saturating_add(sup.sigint_timeout)
                    .saturating_add(sup.sigterm_timeout)
                    .saturating_add(GRACE_MARGIN),
            )),
            containers: vec![container(plan, cluster, role)],
            volumes: Some(volumes(plan, cluster, role, config)),
            ..PodSpec::default()
        }),
    };
    StatefulSet {
        metadata: labels.meta(&name, &cluster.namespace, labels.role(&role.name)),
        spec: StatefulSetSpec {
            replicas: Some(i32::try_from(role.instances).unwrap_or(i32::MAX)),
            // Pods `asset-1`, `asset-2`: the copies' own names (with `-` for `_`).
            ordinals: Some(StatefulSetOrdinals { start: Some(1) }),
            service_name: Some(ClusterPlan::headless_name(&role.name)),
            // One pod at a time, each ready before the next starts: copies racing on
            // a fresh database corrupt its migrations (docs/robust.md §0c), and copy 1
            // is the one that loads default assets / is the FSAssets primary.
            pod_management_policy: Some("OrderedReady".into()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                ..StatefulSetUpdateStrategy::default()
            }),
            selector: LabelSelector {
                match_labels: Some(labels.role(&role.name)),
                ..LabelSelector::default()
            },
            template,
            ..StatefulSetSpec::default()
        },
        ..StatefulSet::default()
    }
}

fn container(plan: &Plan, cluster: &ClusterPlan, role: &RolePlan) -> Container {
    let sup = &role.supervise;
    let probe_command = || ExecAction {
        command: Some(vec!["gridctl".into(), "probe".into()]),
    };
    let mut env = vec![
        EnvVar {
            name: "POD_NAME".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "metadata.name".into(),
                    ..ObjectFieldSelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        },
        EnvVar {
            name: TARGET_ENV.into(),
            value: Some(TARGET_CLUSTER.into()),
            ..EnvVar::default()
        },
        EnvVar {
            name: "GRIDCTL_FILE".into(),
            value: Some(format!("{CONFIG_DIR}/{MANIFEST_NAME}")),
            ..EnvVar::default()
        },
    ];
    if plan.database.is_some() {
        // By reference only: the connection string stays in the Secret.
        env.push(EnvVar {
            name: cluster.database_env.clone(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: cluster.database_secret.clone(),
                    key: SECRET_KEY.into(),
                    ..SecretKeySelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        });
    }
    let port = |name: &str, number: u16| ContainerPort {
        name: Some(name.into()),
        container_port: i32::from(number),
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    };
    let mut ports = vec![port(PRIVATE_PORT, role.port)];
    if let Some(p) = role.public_port {
        ports.push(port(PUBLIC_PORT, p));
    }
    Container {
        name: "robust".into(),
        image: Some(cluster.image.clone()),
        command: Some(vec!["gridctl".into(), "pod".into(), "run".into()]),
        working_dir: Some(CONFIG_DIR.into()),
        env: Some(env),
        ports: Some(ports),
        readiness_probe: Some(Probe {
            exec: Some(probe_command()),
            period_seconds: Some(PROBE_PERIOD_SECS),
            timeout_seconds: Some(3),
            failure_threshold: Some(2),
            ..Probe::default()
        }),
        // A first start (migrations on a fresh database) may take the whole
        // ready_timeout: the startup probe waits that long before readiness counts.
        startup_probe: Some(Probe {
            exec: Some(probe_command()),
            period_seconds: Some(PROBE_PERIOD_SECS),
            timeout_seconds: Some(3),
            failure_threshold: Some(startup_failures(sup.ready_timeout)),
            ..Probe::default()
        }),
        // No liveness probe: the holder (PID 1) restarts a crashed Robust itself, with
        // backoff, and keeps its console; a kubelet restart would lose both.
        liveness_probe: None,
        resources: resources(cluster, &role.name),
        volume_mounts: Some(
            [
                VolumeMount {
                    name: "config".into(),
                    mount_path: CONFIG_DIR.into(),
                    read_only: Some(true),
                    ..VolumeMount::default()
                },
                VolumeMount {
                    name: "state".into(),
                    mount_path: STATE_DIR.into(),
                    ..VolumeMount::default()
                },
            ]
            .into_iter()
            .chain(shared_mounts(plan, cluster, role))
            .collect(),
        ),
        ..Container::default()
    }
}

/// The pod's volumes: the ConfigMap, the emptyDir state, and the shared claim when the
/// role writes into a shared directory and the manifest names one.
fn volumes(
    plan: &Plan,
    cluster: &ClusterPlan,
    role: &RolePlan,
    config: &ConfigData,
) -> Vec<Volume> {
    let mut out = vec![
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: configmap::NAME.into(),
                items: config.items.clone(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "state".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    ];
    if let (Some(claim), false) = (
        &cluster.shared_claim,
        shared_mounts(plan, cluster, role).is_empty(),
    ) {
        out.push(Volume {
            name: SHARED_VOLUME.into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                ..PersistentVolumeClaimVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    out
}

/// The shared claim mounted over each shared directory the role writes (map tiles,
/// bakes, FSAssets), each as its own sub-directory of the claim; none without a claim.
fn shared_mounts(plan: &Plan, cluster: &ClusterPlan, role: &RolePlan) -> Vec<VolumeMount> {
    if cluster.shared_claim.is_none() {
        return Vec::new();
    }
    shared_dirs(plan, role)
        .into_iter()
        .map(|dir| {
            let sub = dir
                .strip_prefix(&plan.state_dir)
                .unwrap_or(&dir)
                .to_string_lossy()
                .trim_start_matches('/')
                .to_string();
            VolumeMount {
                name: SHARED_VOLUME.into(),
                mount_path: dir.display().to_string(),
                sub_path: Some(sub),
                ..VolumeMount::default()
            }
        })
        .collect()
}

/// Requests and limits of `role`; `None` when the manifest gives none.
fn resources(cluster: &ClusterPlan, role: &str) -> Option<ResourceRequirements> {
    let r = cluster.resources_of(role);
    let pairs = |cpu: &Option<String>, memory: &Option<String>| {
        let mut m = BTreeMap::new();
        if let Some(c) = cpu {
            m.insert("cpu".to_string(), Quantity(c.clone()));
        }
        if let Some(mem) = memory {
            m.insert("memory".to_string(), Quantity(mem.clone()));
        }
        (!m.is_empty()).then_some(m)
    };
    let requests = pairs(&r.cpu, &r.memory);
    let limits = pairs(&r.cpu_limit, &r.memory_limit);
    (requests.is_some() || limits.is_some()).then(|| ResourceRequirements {
        requests,
        limits,
        ..ResourceRequirements::default()
    })
}

/// `d` rounded up to whole seconds.
fn whole_seconds(d: Duration) -> i64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// Startup probe failures allowed: ready_timeout in probe periods, rounded up, plus one.
fn startup_failures(ready_timeout: Duration) -> i32 {
    let period = u128::from(PROBE_PERIOD_SECS.unsigned_abs()).max(1) * 1000;
    let periods = ready_timeout.as_millis().div_ceil(period) + 1;
    i32::try_from(periods).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding() {
        assert_eq!(whole_seconds(Duration::from_millis(60_001)), 61);
        assert_eq!(whole_seconds(Duration::from_secs(60)), 60);
        assert_eq!(startup_failures(Duration::from_secs(120)), 25);
        assert_eq!(startup_failures(Duration::from_secs(121)), 26);
        assert_eq!(startup_failures(Duration::ZERO), 1);
    }
}
