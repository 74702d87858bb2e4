//! The Containerfile that builds the pods' image: Debian, Mono (OpenSim 0.9.2.2 is the
//! last Mono release, robust.md), OpenSim's bin/ and the gridctl binaries.

use gridctl_config::cluster::{ClusterPlan, CONFIG_DIR};
use gridctl_config::plan::Plan;

/// The Containerfile's text (a build recipe, not a Kubernetes object).
pub(crate) fn text(plan: &Plan, cluster: &ClusterPlan) -> String {
    let bin = plan.bin_dir.display();
    let image = &cluster.image;
    format!(
        r#"# Written by `gridctl export kubernetes`: the image the StatefulSets run ({image}).
#
# Build context (a directory laid out like this):
#   bin/             OpenSim's bin/ (Robust.exe and its DLLs, 0.9.2.2 or another Mono release)
#   gridctl          the gridctl binary (`cargo build --release`: target/release/gridctl)
#   gridctl-holder   the holder binary from the same build; gridctl looks for it next to itself
#   Containerfile    this file
#
# Build and push:
#   podman build -t {image} -f Containerfile .
#   podman push {image}
#
# The manifest and templates are not in the image: they come from the gridctl-config
# ConfigMap, mounted at {CONFIG_DIR}; the database connection from the Secret.

FROM debian:bookworm-slim

# Mono runs Robust.exe (OpenSim <= 0.9.2.2); libgdiplus is System.Drawing (map tiles).
RUN apt-get update \
 && apt-get install -y --no-install-recommends mono-complete libgdiplus ca-certificates \
 && rm -rf /var/lib/apt/lists/*

COPY bin/ {bin}/
COPY gridctl gridctl-holder /usr/local/bin/

WORKDIR {CONFIG_DIR}
ENTRYPOINT ["gridctl", "pod", "run"]
"#
    )
}
