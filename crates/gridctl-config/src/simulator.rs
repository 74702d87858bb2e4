//! What gridctl knows about OpenSim's region simulator (design.md §8) beyond the plan's
//! types (`plan::SimulatorPlan`): its prompt, its region UUIDs, what the grid answers
//! about it, where its region-store secret goes.

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
}
