//! The config hash of each role: what the pods of a role render, hashed, so a changed
//! manifest or template changes exactly the affected roles' pod templates (and so
//! rolls exactly those StatefulSets).

use gridctl_config::cluster::ClusterPlan;
use gridctl_config::diagnostic::Diagnostic;
use gridctl_config::plan::{Plan, Secret};
use gridctl_config::render::render_instance;
use gridctl_config::templates::Templates;
use sha2::{Digest, Sha256};
use std::path::Path;

/// (role, first half of a hex sha256) for every role, in plan order: the file names and contents of
/// the role's first two copies, rendered as their pods will render them (with the
/// cluster plan).
///
/// Copy 1 stands for itself (it loads default assets, is the FSAssets primary) and
/// copy 2 for every later one, which render alike but for their own name and number:
/// so scaling a role from 3 to 4 copies adds a pod without rolling the others, while
/// any change to the role's config rolls them all. (A user template that made copy 3
/// differ from copy 2 on purpose would not be seen by the hash beyond copy 2.)
pub(crate) fn role_hashes(
    plan: &Plan,
    templates_on_disk: Option<&Path>,
) -> Result<Vec<(String, String)>, Diagnostic> {
    let templates = Templates::load(templates_on_disk)?;
    // The pods read the connection from the Secret; whether this shell happens to have
    // it set must not change the hash (the export is deterministic), and the hash must
    // never be a function of the secret.
    let mut plan = plan.clone();
    if let Some(db) = &mut plan.database {
        db.connection = Secret(None);
    }
    // The pod renders from the ConfigMap's copy, wherever this export ran: the hash
    // must not depend on the checkout's path.
    plan.manifest_path = ClusterPlan::manifest_path();
    let mut out = Vec::new();
    for role in &plan.roles {
        let mut h = Sha256::new();
        let representatives = plan
            .instances
            .iter()
            .filter(|i| i.role == role.name && i.index <= 2);
        for inst in representatives {
            let rendered = render_instance(&plan, &templates, inst)?;
            h.update(inst.name.as_bytes());
            h.update([0]);
            for (path, text) in &rendered.files {
                h.update(path.to_string_lossy().as_bytes());
                h.update([0]);
                h.update(text.as_bytes());
                h.update([0]);
            }
            h.update([1]);
        }
        let digest = h.finalize();
        // 128 bits, 32 hex digits: podman 4.3's `kube play` refuses an annotation value
        // longer than 63 characters (a label's limit), and a full sha256 has 64.
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        out.push((role.name.clone(), hex));
    }
    Ok(out)
}
