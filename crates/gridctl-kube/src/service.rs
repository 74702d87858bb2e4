//! A role's two Services: the ClusterIP one (ready copies only, what connectors and the
//! Ingress use) and the headless one that gives each copy a stable DNS name.

use crate::labels::Labels;
use gridctl_config::cluster::ClusterPlan;
use gridctl_config::plan::RolePlan;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The port names of a role's containers and Services.
pub(crate) const PRIVATE_PORT: &str = "private";
pub(crate) const PUBLIC_PORT: &str = "public";

/// (ClusterIP Service, headless Service) of `role`.
pub(crate) fn build(cluster: &ClusterPlan, role: &RolePlan, labels: &Labels) -> (Service, Service) {
    let name = ClusterPlan::object_name(&role.name);
    let headless = ClusterPlan::headless_name(&role.name);
    let ports = ports(role);
    let clusterip = Service {
        metadata: labels.meta(&name, &cluster.namespace, labels.role(&role.name)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(labels.role(&role.name)),
            ports: Some(ports.clone()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let headless = Service {
        metadata: labels.meta(&headless, &cluster.namespace, labels.role(&role.name)),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            // A copy that is starting (or failing its probe) still has a DNS name, so
            // `kubectl exec` and peers can reach it by name while it comes up.
            publish_not_ready_addresses: Some(true),
            selector: Some(labels.role(&role.name)),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    (clusterip, headless)
}

fn ports(role: &RolePlan) -> Vec<ServicePort> {
    let port = |name: &str, number: u16| ServicePort {
        name: Some(name.to_string()),
        port: i32::from(number),
        target_port: Some(IntOrString::String(name.to_string())),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    };
    let mut out = vec![port(PRIVATE_PORT, role.port)];
    if let Some(p) = role.public_port {
        out.push(port(PUBLIC_PORT, p));
    }
    out
}
