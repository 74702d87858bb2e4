//! The labels every exported object carries (the app.kubernetes.io set), and the
//! namespaced metadata built from them.

use gridctl_config::cluster::ClusterPlan;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

pub(crate) const NAME_KEY: &str = "app.kubernetes.io/name";
pub(crate) const INSTANCE_KEY: &str = "app.kubernetes.io/instance";
pub(crate) const COMPONENT_KEY: &str = "app.kubernetes.io/component";
pub(crate) const MANAGED_BY_KEY: &str = "app.kubernetes.io/managed-by";

/// The grid's common labels.
#[derive(Debug, Clone)]
pub(crate) struct Labels {
    instance: String,
}

impl Labels {
    pub(crate) fn new(grid_nick: &str) -> Labels {
        Labels {
            instance: label_value(grid_nick),
        }
    }

    /// name, instance, managed-by: on every object.
    pub(crate) fn common(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (NAME_KEY.to_string(), "gridctl".to_string()),
            (INSTANCE_KEY.to_string(), self.instance.clone()),
            (MANAGED_BY_KEY.to_string(), "gridctl".to_string()),
        ])
    }

    /// One role's labels, which also select its pods: the common ones plus the
    /// role's component (all constant for a role, as a StatefulSet's immutable
    /// selector must be).
    pub(crate) fn role(&self, role: &str) -> BTreeMap<String, String> {
        let mut l = self.common();
        l.insert(
            COMPONENT_KEY.to_string(),
            label_value(&ClusterPlan::object_name(role)),
        );
        l
    }

    /// Metadata of a namespaced object.
    pub(crate) fn meta(
        &self,
        name: &str,
        namespace: &str,
        labels: BTreeMap<String, String>,
    ) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            ..ObjectMeta::default()
        }
    }
}

/// `s` as a valid label value: at most 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends.
pub(crate) fn label_value(s: &str) -> String {
    let kept: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    kept.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_valid() {
        assert_eq!(label_value("blog-split-grid"), "blog-split-grid");
        assert_eq!(label_value("-a b-"), "a-b");
        assert_eq!(label_value(&"x".repeat(80)).len(), 63);
        assert_eq!(label_value("ü"), "");
    }
}
