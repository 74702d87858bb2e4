//! `[ServiceList]` entries and what each connector class serves (robust.md §2, §3).

use gridctl::ini::Ini;

/// One `[[ConfigName@]port/]Dll[:Class]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `Dll[:Class]` as Robust names it in "Failed to load".
    pub conn: String,
    pub dll: String,
    /// The class, or the DLL name when no class is given (Robust's friendly name).
    pub class: String,
    pub port: Option<u16>,
    pub config_name: Option<String>,
}

/// Every entry string from `[ServiceList]` values and `[Startup] ServiceConnectors`,
/// split on `,` and whitespace as `ServerMain` does.
pub fn entry_strings(ini: &Ini) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    if let Some(legacy) = ini.get("Startup", "ServiceConnectors") {
        values.push(legacy.to_string());
    }
    values.extend(ini.keys("ServiceList").into_iter().map(|(_, v)| v));
    values
        .iter()
        .flat_map(|v| v.split([',', ' ', '\t', '\n', '\r']))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses one entry; a port that is not a number is an error (Robust crashes on it).
pub fn parse_entry(s: &str) -> Result<Entry, String> {
    let (prefix, conn) = match s.split_once('/') {
        Some((p, c)) => (Some(p), c),
        None => (None, s),
    };
    let (config_name, port) = match prefix {
        None => (None, None),
        Some(p) => {
            let (name, port) = match p.split_once('@') {
                Some((n, port)) => (Some(n.to_string()), port),
                None => (None, p),
            };
            let port: u16 = port
                .parse()
                .map_err(|_| format!("System.FormatException: bad port `{port}` in `{s}`"))?;
            (name, Some(port))
        }
    };
    let (dll, class) = match conn.split_once(':') {
        Some((d, c)) => (d, c),
        None => (conn, conn),
    };
    Ok(Entry {
        conn: conn.to_string(),
        dll: dll.to_string(),
        class: class.to_string(),
        port,
        config_name,
    })
}

/// The config section an in-connector's service reads, from gridctl's catalog.
pub fn section_of(class: &str) -> Option<&'static str> {
    gridctl::catalog::all()
        .iter()
        .find(|s| s.connectors.iter().any(|c| c.class_name() == class))
        .and_then(|s| s.section)
}

/// Path prefixes a connector class answers; `"POST /"` is the XML-RPC root.
pub fn paths_for(class: &str) -> &'static [&'static str] {
    match class {
        "AssetServiceConnector" => &["/assets", "/get_assets_exist"],
        "XInventoryInConnector" | "InventoryInConnector" => &["/xinventory"],
        "GridServiceConnector" => &["/grid"],
        "GridInfoServerInConnector" => &["/get_grid_stats", "POST /"],
        "AuthenticationServiceConnector" => &["/auth"],
        "OpenIdServerConnector" => &["/openid", "/users"],
        "AvatarServiceConnector" => &["/avatar"],
        "LLLoginServiceInConnector" => &["POST /", "/index.php"],
        "PresenceServiceConnector" => &["/presence"],
        "UserAccountServiceConnector" => &["/accounts"],
        "GridUserServiceConnector" => &["/griduser"],
        "AgentPreferencesServiceConnector" => &["/agentprefs"],
        "FriendsServiceConnector" => &["/friends"],
        "MapAddServiceConnector" | "MapGetServiceConnector" => &["/map"],
        "MuteListServiceConnector" | "MuteListConnector" => &["/mutelist"],
        "OfflineIMServiceRobustConnector" => &["/offlineim"],
        "GroupsServiceRobustConnector" => &["/groups"],
        "HGGroupsServiceRobustConnector" => &["/hg-groups"],
        "XBakesConnector" => &["/bakes"],
        "UserProfilesConnector" => &["POST /"],
        "EstateDataRobustConnector" => &["/estates"],
        "FreeswitchServerConnector" => &["/fsapi"],
        "GatekeeperServiceInConnector" => &["POST /", "/foreignagent"],
        "UserAgentServerConnector" => &["POST /", "/homeagent"],
        "HeloServiceInConnector" => &["/helo"],
        "HGFriendsServerConnector" => &["/hgfriends"],
        "InstantMessageServerConnector" => &["POST /"],
        _ => &[],
    }
}

/// Whether `class` serves `method path` (query already stripped).
pub fn serves(class: &str, method: &str, path: &str) -> bool {
    paths_for(class)
        .iter()
        .any(|p| match p.strip_prefix("POST ") {
            Some(root) => method == "POST" && path == root,
            None => path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/')),
        })
}

/// Files `--make-bin-dir` creates (and `examples/fake-bin` holds): what a Robust bin/
/// needs for every §3 entry to load, `OpenSim.exe` for the simulator, the assemblies
/// log4net loads its appenders from, and the `Robust.exe.config` that configures logging
/// without `-logconfig`. Names as in the real 0.9.2.2 bin/ (`Robust.dll` is the 0.9.3
/// launcher name, kept for `dotnet Robust.dll`).
pub const BIN_FILES: &[&str] = &[
    "Robust.dll",
    "Robust.exe",
    // The simulator's executable: `fake-robust OpenSim.exe ...` plays a simulator here.
    "OpenSim.exe",
    "log4net.dll",
    "OpenSim.Framework.dll",
    "OpenSim.Framework.Console.dll",
    "OpenSim.Framework.AssetLoader.Filesystem.dll",
    "OpenSim.Data.MySQL.dll",
    "OpenSim.Data.SQLite.dll",
    "OpenSim.Server.Handlers.dll",
    "OpenSim.Services.Connectors.dll",
    "OpenSim.Addons.OfflineIM.dll",
    "OpenSim.Addons.Groups.dll",
    "OpenSim.Services.AssetService.dll",
    "OpenSim.Services.FSAssetService.dll",
    "OpenSim.Services.InventoryService.dll",
    "OpenSim.Services.GridService.dll",
    "OpenSim.Services.AuthenticationService.dll",
    "OpenSim.Services.AvatarService.dll",
    "OpenSim.Services.LLLoginService.dll",
    "OpenSim.Services.PresenceService.dll",
    "OpenSim.Services.UserAccountService.dll",
    "OpenSim.Services.FriendsService.dll",
    "OpenSim.Services.MapImageService.dll",
    "OpenSim.Services.MuteListService.dll",
    "OpenSim.Services.HypergridService.dll",
    "OpenSim.Services.EstateService.dll",
    "OpenSim.Services.UserProfilesService.dll",
    "OpenSim.Services.FreeswitchService.dll",
    "OpenSim.Services.AuthorizationService.dll",
    "OpenSim.Services.Base.dll",
    "OpenSim.Services.Interfaces.dll",
];

/// The log4net config Robust reads without `-logconfig`: the real 0.9.2.2 file (console,
/// `Robust.log` and `RobustStats.log` relative to bin/).
pub const ROBUST_EXE_CONFIG: (&str, &str) = (
    "Robust.exe.config",
    include_str!("../../../examples/fake-bin/Robust.exe.config"),
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_forms() {
        let e = parse_entry(
            "HGInventoryService@8002/OpenSim.Server.Handlers.dll:XInventoryInConnector",
        )
        .expect("ok");
        assert_eq!(e.config_name.as_deref(), Some("HGInventoryService"));
        assert_eq!(e.port, Some(8002));
        assert_eq!(e.dll, "OpenSim.Server.Handlers.dll");
        assert_eq!(e.class, "XInventoryInConnector");
        assert_eq!(e.conn, "OpenSim.Server.Handlers.dll:XInventoryInConnector");
        let e = parse_entry("Some.dll").expect("ok");
        assert_eq!((e.class.as_str(), e.port), ("Some.dll", None));
        assert!(parse_entry("x/Some.dll").is_err());
    }

    #[test]
    fn list_is_split_like_robust() {
        let ini = gridctl::ini::parse(
            "[Startup]\nServiceConnectors = \"a.dll:A,b.dll:B\"\n[ServiceList]\nX = \"8003/c.dll:C d.dll:D\"\n",
            std::path::Path::new("t"),
        )
        .expect("parse");
        assert_eq!(
            entry_strings(&ini),
            vec!["a.dll:A", "b.dll:B", "8003/c.dll:C", "d.dll:D"]
        );
    }

    #[test]
    fn path_matching() {
        assert!(serves("AssetServiceConnector", "GET", "/assets/123"));
        assert!(serves("AssetServiceConnector", "POST", "/assets"));
        assert!(!serves("AssetServiceConnector", "GET", "/assetsx"));
        assert!(serves("LLLoginServiceInConnector", "POST", "/"));
        assert!(!serves("LLLoginServiceInConnector", "GET", "/"));
    }
}
