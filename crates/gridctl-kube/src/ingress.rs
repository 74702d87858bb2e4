//! The Ingresses: every public hostname on `gridctl-public`; private hostnames only on
//! `gridctl-private` with the internal ingress class, or on no Ingress at all — a
//! private service is never reachable through the public class.

use crate::labels::Labels;
use crate::service::{PRIVATE_PORT, PUBLIC_PORT};
use gridctl_config::catalog::Side;
use gridctl_config::cluster::ClusterPlan;
use gridctl_config::plan::Plan;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};

pub(crate) const PUBLIC_NAME: &str = "gridctl-public";
pub(crate) const PRIVATE_NAME: &str = "gridctl-private";

pub(crate) struct Ingresses {
    pub(crate) objects: Vec<Ingress>,
    pub(crate) notes: Vec<String>,
}

pub(crate) fn build(plan: &Plan, cluster: &ClusterPlan, labels: &Labels) -> Ingresses {
    let mut objects = Vec::new();
    let mut notes = Vec::new();
    let public = hosts(plan, Side::Public, &mut notes);
    if !public.is_empty() {
        objects.push(ingress(
            PUBLIC_NAME,
            cluster.ingress_class.clone(),
            &public,
            cluster,
            labels,
        ));
    }
    let private = hosts(plan, Side::Private, &mut notes);
    match &cluster.internal_ingress_class {
        Some(class) if !private.is_empty() => objects.push(ingress(
            PRIVATE_NAME,
            Some(class.clone()),
            &private,
            cluster,
            labels,
        )),
        None if !private.is_empty() => notes.push(format!(
            "private services get no Ingress (no internal_ingress_class in [kubernetes]): simulators reach them at their Services, e.g. http://{}",
            cluster.service_host(&private[0].1)
        )),
        _ => {}
    }
    Ingresses { objects, notes }
}

/// (hostname, role, port name) of one side's routes: each hostname once, in plan order.
fn hosts(plan: &Plan, side: Side, notes: &mut Vec<String>) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for route in plan.routes.iter().filter(|r| r.side == side) {
        if let Some((_, role, _)) = out.iter().find(|(h, _, _)| *h == route.hostname) {
            if *role != route.role {
                notes.push(format!(
                    "hostname `{}` is served by roles `{role}` and `{}`; the Ingress sends it to `{role}`",
                    route.hostname, route.role
                ));
            }
            continue;
        }
        let has_public = plan
            .role(&route.role)
            .is_some_and(|r| r.public_port.is_some());
        let port = match side {
            Side::Public if has_public => PUBLIC_PORT,
            _ => PRIVATE_PORT,
        };
        out.push((route.hostname.clone(), route.role.clone(), port.to_string()));
    }
    out
}

fn ingress(
    name: &str,
    class: Option<String>,
    hosts: &[(String, String, String)],
    cluster: &ClusterPlan,
    labels: &Labels,
) -> Ingress {
    let rules = hosts
        .iter()
        .map(|(host, role, port)| IngressRule {
            host: Some(host.clone()),
            http: Some(HTTPIngressRuleValue {
                paths: vec![HTTPIngressPath {
                    path: Some("/".into()),
                    path_type: "Prefix".into(),
                    backend: IngressBackend {
                        service: Some(IngressServiceBackend {
                            name: ClusterPlan::object_name(role),
                            port: Some(ServiceBackendPort {
                                name: Some(port.clone()),
                                ..ServiceBackendPort::default()
                            }),
                        }),
                        ..IngressBackend::default()
                    },
                }],
            }),
        })
        .collect();
    Ingress {
        metadata: labels.meta(name, &cluster.namespace, labels.common()),
        spec: Some(IngressSpec {
            ingress_class_name: class,
            rules: Some(rules),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    }
}
