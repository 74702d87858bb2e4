//! A simulator's tree (OpenSim.ini, config-include/, Regions/, config/, log4net.xml) and
//! the GridCommon.ini that `render-simulator` prints: one function renders GridCommon
//! for both, so a simulator gridctl runs and one an operator runs see the same grid.

use super::{common, finish, json, with, Common, RenderedInstance};
use crate::catalog::{self, Side};
use crate::diagnostic::Diagnostic;
use crate::plan::SimulatorPlan;
use crate::plan::{InstancePlan, Plan, RolePlan};
use crate::simulator::REGION_DB_ENV;
use crate::templates::Templates;
use std::path::PathBuf;

/// Where a simulator gridctl runs keeps what it writes: SQLite files, asset cache,
/// script state, decoded sculpt maps, the add-in registry, crash dumps.
fn data_dir(inst: &InstancePlan) -> PathBuf {
    inst.dir.join("data")
}

/// GridCommon.ini: the region store, the asset cache, and the URL of every Robust
/// service a simulator calls (the private routes: through nginx when it is managed).
/// `managed`: the simulator gridctl runs (absolute paths under its data dir), or
/// `None` for `render-simulator` (paths relative to the operator's bin/).
pub(super) fn grid_common(
    plan: &Plan,
    t: &Templates,
    managed: Option<(&Common, &InstancePlan, &SimulatorPlan)>,
) -> Result<String, Diagnostic> {
    let mut entries = Vec::new();
    for r in &plan.routes {
        let Some(svc) = catalog::get(&r.service) else {
            continue;
        };
        let key: Option<(&str, &str)> = match (svc.name, r.side) {
            ("gridinfo", Side::Public) => Some(("GridInfo", "GridInfoURI")),
            ("groups", Side::Private) => Some(("Groups", "GroupsServerURI")),
            ("estate", Side::Private) => Some(("EstateService", "EstateServerURI")),
            ("bakes", Side::Private) => Some(("XBakes", "URL")),
            (_, Side::Private) => svc.remote.map(|rm| (rm.url_section, rm.url_key)),
            _ => None,
        };
        if let Some((section, key)) = key {
            entries.push(serde_json::json!({"section": section, "key": key, "url": r.url}));
        }
    }
    let (storage, asset_cache) = match managed {
        Some((_, inst, sim)) => {
            let data = data_dir(inst);
            let storage = match &sim.database {
                Some(db) => serde_json::json!({
                    "provider": db.storage_provider,
                    "connection": format!("${{Environment|{REGION_DB_ENV}}}"),
                    "env": REGION_DB_ENV,
                }),
                // Absolute: a relative `URI=file:` is opened in the cwd, bin/.
                None => serde_json::json!({
                    "provider": "OpenSim.Data.SQLite.dll",
                    "connection": format!(
                        "URI=file:{},version=3,UseUTF16Encoding=True",
                        data.join("OpenSim.db").display()
                    ),
                }),
            };
            (storage, data.join("assetcache").display().to_string())
        }
        None => (
            serde_json::json!({"include": "config-include/storage/SQLiteStandalone.ini"}),
            "./assetcache".to_string(),
        ),
    };
    let base = match managed {
        Some((base, ..)) => super::json(base),
        None => serde_json::json!({
            "manifest": plan.manifest_path.display().to_string(),
            "grid": { "name": plan.grid_name },
        }),
    };
    let mut ctx = base;
    if let serde_json::Value::Object(map) = &mut ctx {
        map.insert("managed".into(), managed.is_some().into());
        map.insert("hypergrid".into(), json(&plan.hypergrid));
        map.insert("entries".into(), entries.into());
        map.insert("storage".into(), storage);
        map.insert("asset_cache".into(), asset_cache.into());
    }
    t.render("simulator.ini", &ctx)
}

/// Every file of simulator `inst`'s tree, its spec among them.
pub(super) fn render_instance(
    plan: &Plan,
    t: &Templates,
    role: &RolePlan,
    inst: &InstancePlan,
    sim: &SimulatorPlan,
) -> Result<RenderedInstance, Diagnostic> {
    let base = common(plan, role, inst);
    let data = data_dir(inst);
    let ctx = with(
        &base,
        [
            ("simulator", json(sim)),
            ("data", data.display().to_string().into()),
            ("settings", json(&role.settings)),
        ],
    );
    let files: Vec<(PathBuf, String)> = vec![
        (
            "OpenSim.ini".into(),
            t.render("simulator/OpenSim.ini", &ctx)?,
        ),
        (
            "config-include/Grid.ini".into(),
            t.render("simulator/Grid.ini", &ctx)?,
        ),
        (
            "config-include/GridCommon.ini".into(),
            grid_common(plan, t, Some((&base, inst, sim)))?,
        ),
        (
            format!("Regions/{}.ini", inst.name).into(),
            t.render("simulator/Regions.ini", &ctx)?,
        ),
        (
            "config/overrides.ini".into(),
            t.render("simulator/overrides.ini", &ctx)?,
        ),
        ("log4net.xml".into(), t.render("log4net.xml", &base)?),
    ];
    // No crash hook: a simulator is in no nginx upstream.
    finish(plan, inst, files, None, vec![data])
}
