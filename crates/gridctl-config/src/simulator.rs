//! A region simulator in the plan (design.md §8): one `OpenSim.exe` process serving its
//! regions, planned as a one-copy entry of its own kind beside the Robust roles.

use crate::plan::DatabasePlan;
use serde::Serialize;
use std::path::PathBuf;

/// Environment variable that carries a simulator's region-database connection string,
/// so the secret never lands in a rendered INI file (as `plan::DB_ENV` for Robust).
pub const REGION_DB_ENV: &str = "GRIDCTL_REGION_DATABASE_CONNECTION";

/// A simulator's console prompt, without the `# ` the console adds: OpenSim's own
/// `ConsolePrompt = "Region (\\R) "` names the console's current region, which changes
/// (a simulator of one region selects it at start, measured: `Region (Region 1) # `), so
/// gridctl writes a fixed one naming the simulator. Readiness and `send` find it on the
/// screen whatever region the operator selects.
pub fn default_prompt(simulator: &str) -> String {
    format!("Region ({simulator}) ")
}

/// What Robust's services answer for a region or account they do not know
/// (`get_region_by_name`, `getaccount`: a `null` result, measured on 0.9.2.2).
pub const NULL_RESULT: &str = "<result>null</result>";

/// What kind of process an instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A copy of a Robust role.
    Robust,
    /// A region simulator (`OpenSim.exe`).
    Simulator,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Robust => "robust",
            Kind::Simulator => "simulator",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SimulatorPlan {
    /// OpenSim's `bin/`: the simulator's cwd (nothing is written there).
    pub bin_dir: PathBuf,
    /// `[Network] http_listener_port`.
    pub http_port: u16,
    pub regions: Vec<RegionPlan>,
    /// `[Estates] DefaultEstateName`.
    pub estate_name: String,
    /// `[Estates] DefaultEstateOwnerName`, "First Last".
    pub estate_owner: String,
    /// Region data: `None` = SQLite files in the simulator's own data directory.
    pub database: Option<DatabasePlan>,
    /// Where viewers reach the regions (`ExternalHostName`).
    pub external_host: String,
    /// What the regions' UDP listeners bind (`InternalAddress`).
    pub internal_address: String,
    /// `[Startup] ConsolePrompt`, without `# `.
    pub prompt: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionPlan {
    pub name: String,
    pub uuid: String,
    /// Grid coordinates, in regions.
    pub x: u32,
    pub y: u32,
    /// UDP port (`InternalPort`).
    pub port: u16,
    /// Logins without a start region land here (Robust's `DefaultRegion`).
    pub default: bool,
}

impl RegionPlan {
    /// The console line OpenSim's RegionReady module prints once the region takes logins.
    pub fn logins_enabled_line(&self) -> String {
        format!("INITIALIZATION COMPLETE FOR {} - LOGINS ENABLED", self.name)
    }

    /// The key Robust's `[GridService]` reads this region's flags from: `Region_` and
    /// the name with spaces as `_` (GridService.cs).
    pub fn flags_key(&self) -> String {
        format!("Region_{}", self.name.replace(' ', "_"))
    }
}

/// The UUID a region gets when grid.toml names none: the same for the same grid and
/// region name on every machine and every render (UUID v5 over both names).
pub fn region_uuid(grid_name: &str, region_name: &str) -> String {
    // A fixed namespace of gridctl's own, so these never collide with other v5 users.
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6a1d_0c4e_5f0b_4e3f_9a56_7d2b_1c8e_4f90);
    let name = format!("{grid_name}\n{}", region_name.to_lowercase());
    uuid::Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_uuids_are_stable_and_distinct() {
        let a = region_uuid("My Grid", "Welcome");
        assert_eq!(a, region_uuid("My Grid", "welcome"));
        assert_ne!(a, region_uuid("My Grid", "Sandbox"));
        assert_ne!(a, region_uuid("Other Grid", "Welcome"));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }

    #[test]
    fn flags_key_replaces_spaces() {
        let r = RegionPlan {
            name: "Welcome Area".into(),
            uuid: String::new(),
            x: 1000,
            y: 1000,
            port: 9000,
            default: true,
        };
        assert_eq!(r.flags_key(), "Region_Welcome_Area");
    }
}
