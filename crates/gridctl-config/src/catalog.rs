//! The Robust service catalog: every service `robust.md` §3 names, with what rendering
//! and `check` need to wire a split grid without anybody memorising OpenSim's
//! inter-service plumbing.

/// Which listener of an instance a connector runs on, and so which nginx listener fronts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Reached by viewers, simulators and other grids (Robust's PublicPort, 8002).
    Public,
    /// Reached only by simulators and other Robust instances (PrivatePort, 8003).
    Private,
}

/// Whether a service may run as several copies (robust.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "rule", content = "why")]
pub enum CopyRule {
    /// Database-only state: any number of copies.
    Free,
    /// A process-wide cache with no off switch: more than one copy loses updates.
    Single(&'static str),
    /// Copy 1 is the primary; the others run with a secondary flag.
    PrimarySecondaries,
}

/// How a dependency is satisfied when the depended-on service is not in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepMode {
    /// Local module when hosted in the same role, otherwise the remote connector
    /// (falling back to a local module when the service has no remote connector).
    Wire,
    /// Always a local module (its section is rendered into the instance).
    LocalOnly,
}

#[derive(Debug, Clone, Copy)]
pub struct Dep {
    /// The key in the dependant's section (`[LoginService] PresenceService = ...`);
    /// `None` when only the dependency's section must exist (GridInfo needs `[GridService]`).
    pub key: Option<&'static str>,
    /// Catalog name of the service depended on.
    pub service: &'static str,
    pub mode: DepMode,
    /// `check` fails when a required dependency is hosted nowhere in the grid.
    pub required: bool,
    /// Only wired in a Hypergrid (some Hypergrid service is hosted).
    pub hypergrid_only: bool,
}

/// The client connector other processes use to reach a service hosted elsewhere.
#[derive(Debug, Clone, Copy)]
pub struct Remote {
    /// `Dll:Class` of the connector (OpenSim.Services.Connectors.dll, mostly).
    pub connector: &'static str,
    /// The section and key the connector reads its URL from (fixed per connector).
    pub url_section: &'static str,
    pub url_key: &'static str,
}

/// One `[ServiceList]` entry of a service.
#[derive(Debug, Clone, Copy)]
pub struct Connector {
    /// `Dll:Class` of the in-connector.
    pub class: &'static str,
    pub side: Side,
    /// `ConfigName@` prefix: the connector reads this section instead of its default.
    pub config_name: Option<&'static str>,
}

impl Connector {
    /// The class name alone, as Robust logs it in `[SERVER]: <Class> loaded successfully`.
    pub fn class_name(&self) -> &'static str {
        self.class.rsplit(':').next().unwrap_or(self.class)
    }
}

/// A request that proves the service really answers (robust.md §0c): a bound port is not enough.
#[derive(Debug, Clone, Copy)]
pub struct ProbeDef {
    pub method: &'static str,
    pub path: &'static str,
    pub body: &'static str,
    pub expect_status: Option<u16>,
    pub reject_body: Option<&'static str>,
}

#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// Catalog name used in grid.toml (`services = ["asset"]`).
    pub name: &'static str,
    pub summary: &'static str,
    /// The config section the service reads (`[AssetService]`); `None` for Helo.
    pub section: Option<&'static str>,
    pub connectors: &'static [Connector],
    /// `LocalServiceModule` of the section, when the service has one.
    pub local_module: Option<&'static str>,
    pub deps: &'static [Dep],
    pub remote: Option<Remote>,
    pub copies: CopyRule,
    /// URL paths the service answers (for docs, readiness and the fake Robust).
    pub paths: &'static [&'static str],
    /// Answers XML-RPC/JSON-RPC POSTs on `/`: nginx must route it by hostname, never by path.
    pub root_rpc: bool,
    /// Hypergrid-only service.
    pub hypergrid: bool,
    /// Services that cannot share a process with this one (same section, other module).
    pub conflicts: &'static [&'static str],
    pub probe: Option<ProbeDef>,
}

impl Service {
    pub fn sides(&self) -> impl Iterator<Item = Side> + '_ {
        self.connectors.iter().map(|c| c.side)
    }
    pub fn has_side(&self, side: Side) -> bool {
        self.sides().any(|s| s == side)
    }
}

const H: &str = "OpenSim.Server.Handlers.dll";

macro_rules! conn {
    ($class:literal, $side:ident) => {
        Connector {
            class: concat!("OpenSim.Server.Handlers.dll:", $class),
            side: Side::$side,
            config_name: None,
        }
    };
    ($dll:literal : $class:literal, $side:ident) => {
        Connector {
            class: concat!($dll, ":", $class),
            side: Side::$side,
            config_name: None,
        }
    };
}

const fn wire(key: &'static str, service: &'static str, required: bool) -> Dep {
    Dep {
        key: Some(key),
        service,
        mode: DepMode::Wire,
        required,
        hypergrid_only: false,
    }
}

/// A dependency only a Hypergrid needs (e.g. the HypergridLinker's assets).
const fn hg_wire(key: &'static str, service: &'static str) -> Dep {
    Dep {
        key: Some(key),
        service,
        mode: DepMode::Wire,
        required: false,
        hypergrid_only: true,
    }
}

const fn local(key: Option<&'static str>, service: &'static str) -> Dep {
    Dep {
        key,
        service,
        mode: DepMode::LocalOnly,
        required: false,
        hypergrid_only: false,
    }
}

const fn remote(
    connector: &'static str,
    url_section: &'static str,
    url_key: &'static str,
) -> Remote {
    Remote {
        connector,
        url_section,
        url_key,
    }
}

const PRESENCE_CACHE: &str = "PresenceService keeps process-wide session caches (300 s sliding TTL) with no off switch: a second copy serves stale online/region state";
const GRIDUSER_CACHE: &str = "GridUserService caches whole rows for 300 s and writes them back: two copies lose updates (SetHome on one, LoggedOut on the other restores the old home)";
const SUITCASE_CACHE: &str = "HGSuitcaseInventoryService caches each user's suitcase tree for 5 minutes: another copy rejects folders created on the first";

// A GET that a working AssetService answers 200: the default texture that the first
// copy's asset loader stores. Every copy reads it from the shared database; a copy broken
// by a migration race answers 404 for every asset (robust.md §0c), so 200 is required
// (measured on the real 0.9.2.2 by tests/real_robust.rs).
const ASSET_PROBE: ProbeDef = ProbeDef {
    method: "GET",
    path: "/assets/89556747-24cb-43ed-920b-47caed15465f",
    body: "",
    expect_status: Some(200),
    reject_body: None,
};

// The same GET for FSAssets, where any answer counts: whether its loader stores the
// default texture has not been measured on the real server yet.
const FSASSET_PROBE: ProbeDef = ProbeDef {
    expect_status: None,
    ..ASSET_PROBE
};

static SERVICES: &[Service] = &[
    Service {
        name: "asset",
        summary: "asset storage in the database",
        section: Some("AssetService"),
        connectors: &[conn!("AssetServiceConnector", Private)],
        local_module: Some("OpenSim.Services.AssetService.dll:AssetService"),
        deps: &[],
        remote: Some(remote(
            "OpenSim.Services.Connectors.dll:AssetServicesConnector",
            "AssetService",
            "AssetServerURI",
        )),
        copies: CopyRule::Free,
        paths: &["/assets", "/get_assets_exist"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &["fsasset"],
        probe: Some(ASSET_PROBE),
    },
    Service {
        name: "fsasset",
        summary: "asset storage on the filesystem (FSAssets)",
        section: Some("AssetService"),
        connectors: &[conn!("AssetServiceConnector", Private)],
        local_module: Some("OpenSim.Services.FSAssetService.dll:FSAssetConnector"),
        deps: &[],
        remote: Some(remote(
            "OpenSim.Services.Connectors.dll:AssetServicesConnector",
            "AssetService",
            "AssetServerURI",
        )),
        copies: CopyRule::PrimarySecondaries,
        paths: &["/assets", "/get_assets_exist"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &["asset"],
        probe: Some(FSASSET_PROBE),
    },
    Service {
        name: "inventory",
        summary: "user inventory (XInventory)",
        section: Some("InventoryService"),
        connectors: &[conn!("XInventoryInConnector", Private)],
        local_module: Some("OpenSim.Services.InventoryService.dll:XInventoryService"),
        deps: &[],
        remote: Some(remote(
            "OpenSim.Services.Connectors.dll:XInventoryServicesConnector",
            "InventoryService",
            "InventoryServerURI",
        )),
        copies: CopyRule::Free,
        paths: &["/xinventory"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        // A broken copy answers 200 with <RESULT>False</RESULT> (robust.md §0c).
        probe: Some(ProbeDef {
            method: "POST",
            path: "/xinventory",
            body: "METHOD=GETROOTFOLDER&PRINCIPAL=00000000-0000-0000-0000-000000000000",
            expect_status: Some(200),
            reject_body: Some("<RESULT>False</RESULT>"),
        }),
    },
    Service {
        name: "grid",
        summary: "region registry",
        section: Some("GridService"),
        connectors: &[conn!("GridServiceConnector", Private)],
        local_module: Some("OpenSim.Services.GridService.dll:GridService"),
        // The HypergridLinker stores region map tiles as assets (robust.md §3); whichever
        // asset service the grid hosts is wired (only one of them can be).
        deps: &[
            wire("AuthenticationService", "auth", false),
            hg_wire("AssetService", "asset"),
            hg_wire("AssetService", "fsasset"),
        ],
        remote: Some(remote(
            "OpenSim.Services.Connectors.dll:GridServicesConnector",
            "GridService",
            "GridServerURI",
        )),
        copies: CopyRule::Free,
        paths: &["/grid"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "gridinfo",
        summary: "grid info for viewers (/get_grid_info)",
        section: Some("GridInfoService"),
        connectors: &[conn!("GridInfoServerInConnector", Public)],
        local_module: None,
        // The stats endpoint looks up [GridService] LocalServiceModule even when the grid is remote.
        deps: &[local(None, "grid")],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/get_grid_info", "/json_grid_info", "/get_grid_stats"],
        root_rpc: true,
        hypergrid: false,
        conflicts: &[],
        probe: Some(ProbeDef {
            method: "GET",
            path: "/get_grid_info",
            body: "",
            expect_status: Some(200),
            reject_body: None,
        }),
    },
    Service {
        name: "auth",
        summary: "password authentication and tokens",
        section: Some("AuthenticationService"),
        connectors: &[conn!("AuthenticationServiceConnector", Private)],
        local_module: Some(
            "OpenSim.Services.AuthenticationService.dll:PasswordAuthenticationService",
        ),
        deps: &[],
        remote: Some(remote(
            "OpenSim.Services.Connectors.dll:AuthenticationServicesConnector",
            "AuthenticationService",
            "AuthenticationServerURI",
        )),
        copies: CopyRule::Free,
        paths: &["/auth"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "openid",
        summary: "OpenID provider",
        section: Some("OpenIdService"),
        connectors: &[conn!("OpenIdServerConnector", Public)],
        local_module: None,
        deps: &[
            local(Some("AuthenticationServiceModule"), "auth"),
            local(Some("UserAccountServiceModule"), "useraccount"),
        ],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/openid/server", "/users"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "avatar",
        summary: "avatar appearance",
        section: Some("AvatarService"),
        connectors: &[conn!("AvatarServiceConnector", Private)],
        local_module: Some("OpenSim.Services.AvatarService.dll:AvatarService"),
        deps: &[],
        remote: Some(remote(
            "OpenSim.Services.Connectors.dll:AvatarServicesConnector",
            "AvatarService",
            "AvatarServerURI",
        )),
        copies: CopyRule::Free,
        paths: &["/avatar"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "login",
        summary: "viewer login (XML-RPC and LLSD on /)",
        section: Some("LoginService"),
        connectors: &[conn!("LLLoginServiceInConnector", Public)],
        local_module: Some("OpenSim.Services.LLLoginService.dll:LLLoginService"),
        deps: &[
            wire("UserAccountService", "useraccount", true),
            wire("GridUserService", "griduser", true),
            wire("AuthenticationService", "auth", true),
            wire("InventoryService", "inventory", true),
            wire("AvatarService", "avatar", true),
            wire("PresenceService", "presence", true),
            wire("GridService", "grid", true),
            wire("FriendsService", "friends", false),
            wire("UserAgentService", "useragent", false),
        ],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/", "/index.php"],
        root_rpc: true,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "presence",
        summary: "who is online and where",
        section: Some("PresenceService"),
        connectors: &[conn!("PresenceServiceConnector", Private)],
        local_module: Some("OpenSim.Services.PresenceService.dll:PresenceService"),
        deps: &[],
        remote: Some(remote(
            "OpenSim.Services.Connectors.dll:PresenceServicesConnector",
            "PresenceService",
            "PresenceServerURI",
        )),
        copies: CopyRule::Single(PRESENCE_CACHE),
        paths: &["/presence"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "useraccount",
        summary: "user accounts (also `create user` on the console)",
        section: Some("UserAccountService"),
        connectors: &[conn!("UserAccountServiceConnector", Private)],
        local_module: Some("OpenSim.Services.UserAccountService.dll:UserAccountService"),
        deps: &[
            wire("AuthenticationService", "auth", false),
            wire("PresenceService", "presence", false),
            wire("GridService", "grid", false),
            wire("InventoryService", "inventory", false),
            wire("AvatarService", "avatar", false),
            wire("GridUserService", "griduser", false),
        ],
        remote: Some(remote(
            "OpenSim.Services.Connectors.dll:UserAccountServicesConnector",
            "UserAccountService",
            "UserAccountServerURI",
        )),
        copies: CopyRule::Free,
        paths: &["/accounts"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "griduser",
        summary: "last position, home and login times",
        section: Some("GridUserService"),
        connectors: &[conn!("GridUserServiceConnector", Private)],
        local_module: Some("OpenSim.Services.UserAccountService.dll:GridUserService"),
        deps: &[],
        remote: Some(remote(
            "OpenSim.Services.Connectors.dll:GridUserServicesConnector",
            "GridUserService",
            "GridUserServerURI",
        )),
        copies: CopyRule::Single(GRIDUSER_CACHE),
        paths: &["/griduser"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "agentprefs",
        summary: "agent preferences",
        section: Some("AgentPreferencesService"),
        connectors: &[conn!("AgentPreferencesServiceConnector", Private)],
        local_module: Some("OpenSim.Services.UserAccountService.dll:AgentPreferencesService"),
        deps: &[],
        remote: Some(remote(
            "OpenSim.Services.Connectors.dll:AgentPreferencesServicesConnector",
            "AgentPreferencesService",
            "AgentPreferencesServerURI",
        )),
        copies: CopyRule::Free,
        paths: &["/agentprefs"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "friends",
        summary: "friendships",
        section: Some("FriendsService"),
        connectors: &[conn!("FriendsServiceConnector", Private)],
        local_module: Some("OpenSim.Services.FriendsService.dll:FriendsService"),
        deps: &[],
        remote: Some(remote(
            "OpenSim.Services.Connectors.dll:FriendsServicesConnector",
            "FriendsService",
            "FriendsServerURI",
        )),
        copies: CopyRule::Free,
        paths: &["/friends"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "map",
        summary: "map tiles: add (private) and get (public); tiles directory shared",
        section: Some("MapImageService"),
        connectors: &[
            conn!("MapAddServiceConnector", Private),
            conn!("MapGetServiceConnector", Public),
        ],
        local_module: Some("OpenSim.Services.MapImageService.dll:MapImageService"),
        // No `GridService` check: a 0.9.2.2 simulator uploads its tile before it
        // registers, so the check only ever logs "IP address … may be rogue" at every
        // simulator start (and stores the tile anyway). Only simulators reach the
        // private listener the add connector is on.
        deps: &[],
        remote: Some(remote(
            "OpenSim.Services.Connectors.dll:MapImageServicesConnector",
            "MapImageService",
            "MapImageServerURI",
        )),
        copies: CopyRule::Free,
        paths: &["/map"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "mutelist",
        summary: "mute lists",
        section: Some("MuteListService"),
        connectors: &[conn!("MuteListServiceConnector", Private)],
        local_module: Some("OpenSim.Services.MuteListService.dll:MuteListService"),
        deps: &[],
        remote: Some(remote(
            "OpenSim.Services.Connectors.dll:MuteListServicesConnector",
            "MuteListService",
            "MuteListServerURI",
        )),
        copies: CopyRule::Free,
        paths: &["/mutelist"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "offlineim",
        summary: "offline instant messages",
        section: Some("Messaging"),
        connectors: &[
            conn!("OpenSim.Addons.OfflineIM.dll" : "OfflineIMServiceRobustConnector", Private),
        ],
        // Read from `[Messaging] OfflineIMService`, not `LocalServiceModule` (see its template).
        local_module: Some("OpenSim.Addons.OfflineIM.dll:OfflineIMService"),
        deps: &[],
        remote: Some(remote(
            "OpenSim.Addons.OfflineIM.dll:OfflineIMServiceRemoteConnector",
            "Messaging",
            "OfflineMessageURL",
        )),
        copies: CopyRule::Free,
        paths: &["/offlineim"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "groups",
        summary: "groups",
        section: Some("Groups"),
        connectors: &[conn!("OpenSim.Addons.Groups.dll" : "GroupsServiceRobustConnector", Private)],
        local_module: None,
        deps: &[
            wire("OfflineIMService", "offlineim", false),
            wire("UserAccountService", "useraccount", false),
        ],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/groups"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "bakes",
        summary: "baked textures on disk (directory shared)",
        section: Some("BakedTextureService"),
        connectors: &[conn!("XBakesConnector", Private)],
        local_module: Some("OpenSim.Server.Handlers.dll:XBakes"),
        deps: &[],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/bakes"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "profiles",
        summary: "user profiles (JSON-RPC on /)",
        section: Some("UserProfilesService"),
        connectors: &[conn!("UserProfilesConnector", Public)],
        local_module: Some("OpenSim.Services.UserProfilesService.dll:UserProfilesService"),
        deps: &[
            wire("UserAccountService", "useraccount", false),
            local(Some("AuthenticationServiceModule"), "auth"),
        ],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/"],
        root_rpc: true,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "estate",
        summary: "estate data for simulators",
        section: Some("EstateService"),
        connectors: &[conn!("EstateDataRobustConnector", Private)],
        local_module: Some("OpenSim.Services.EstateService.dll:EstateDataService"),
        deps: &[],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/estates"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "voice",
        summary: "FreeSWITCH voice",
        section: Some("FreeswitchService"),
        connectors: &[conn!("FreeswitchServerConnector", Private)],
        local_module: Some("OpenSim.Services.FreeswitchService.dll:FreeswitchService"),
        deps: &[],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/fsapi"],
        root_rpc: false,
        hypergrid: false,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "gatekeeper",
        summary: "Hypergrid gatekeeper (XML-RPC on /, /foreignagent/)",
        section: Some("GatekeeperService"),
        connectors: &[conn!("GatekeeperServiceInConnector", Public)],
        local_module: Some("OpenSim.Services.HypergridService.dll:GatekeeperService"),
        deps: &[
            wire("UserAccountService", "useraccount", true),
            wire("UserAgentService", "useragent", false),
            wire("PresenceService", "presence", true),
            wire("GridUserService", "griduser", true),
            wire("GridService", "grid", true),
        ],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/", "/foreignagent/"],
        root_rpc: true,
        hypergrid: true,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "useragent",
        summary: "Hypergrid user agent (XML-RPC on /, /homeagent/)",
        section: Some("UserAgentService"),
        connectors: &[conn!("UserAgentServerConnector", Public)],
        local_module: Some("OpenSim.Services.HypergridService.dll:UserAgentService"),
        deps: &[
            wire("GridUserService", "griduser", true),
            wire("GridService", "grid", true),
            local(Some("GatekeeperService"), "gatekeeper"),
            wire("PresenceService", "presence", true),
            wire("FriendsService", "friends", false),
            wire("UserAccountService", "useraccount", true),
        ],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/", "/homeagent/"],
        root_rpc: true,
        hypergrid: true,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "helo",
        summary: "Hypergrid HELO (HEAD /helo)",
        section: None,
        connectors: &[conn!("HeloServiceInConnector", Public)],
        local_module: None,
        deps: &[],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/helo"],
        root_rpc: false,
        hypergrid: true,
        conflicts: &[],
        probe: Some(ProbeDef {
            method: "GET",
            path: "/helo",
            body: "",
            expect_status: Some(200),
            reject_body: None,
        }),
    },
    Service {
        name: "hgfriends",
        summary: "Hypergrid friends",
        section: Some("HGFriendsService"),
        connectors: &[conn!("HGFriendsServerConnector", Public)],
        local_module: Some("OpenSim.Services.HypergridService.dll:HGFriendsService"),
        deps: &[
            wire("UserAgentService", "useragent", false),
            wire("FriendsService", "friends", true),
            wire("UserAccountService", "useraccount", true),
            wire("GridService", "grid", true),
            wire("PresenceService", "presence", true),
        ],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/hgfriends"],
        root_rpc: false,
        hypergrid: true,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "hgim",
        summary: "Hypergrid instant messages (XML-RPC on /)",
        section: Some("HGInstantMessageService"),
        connectors: &[conn!("InstantMessageServerConnector", Public)],
        local_module: Some("OpenSim.Services.HypergridService.dll:HGInstantMessageService"),
        deps: &[
            wire("GridService", "grid", true),
            wire("PresenceService", "presence", true),
            wire("UserAgentService", "useragent", false),
        ],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/"],
        root_rpc: true,
        hypergrid: true,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "hginventory",
        summary: "Hypergrid suitcase inventory (public /xinventory)",
        section: Some("HGInventoryService"),
        connectors: &[Connector {
            class: "OpenSim.Server.Handlers.dll:XInventoryInConnector",
            side: Side::Public,
            config_name: Some("HGInventoryService"),
        }],
        local_module: Some("OpenSim.Services.HypergridService.dll:HGSuitcaseInventoryService"),
        deps: &[
            wire("UserAccountsService", "useraccount", true),
            wire("AvatarService", "avatar", true),
        ],
        remote: None,
        copies: CopyRule::Single(SUITCASE_CACHE),
        paths: &["/xinventory"],
        root_rpc: false,
        hypergrid: true,
        conflicts: &[],
        probe: None,
    },
    Service {
        name: "hgasset",
        summary: "Hypergrid assets (public /assets)",
        section: Some("HGAssetService"),
        connectors: &[Connector {
            class: "OpenSim.Server.Handlers.dll:AssetServiceConnector",
            side: Side::Public,
            config_name: Some("HGAssetService"),
        }],
        local_module: Some("OpenSim.Services.HypergridService.dll:HGAssetService"),
        deps: &[wire("UserAccountsService", "useraccount", true)],
        remote: None,
        copies: CopyRule::Free,
        paths: &["/assets"],
        root_rpc: false,
        hypergrid: true,
        conflicts: &[],
        probe: None,
    },
];

/// Every service, in catalog order.
pub fn all() -> &'static [Service] {
    SERVICES
}

/// The service named `name` in grid.toml.
/// Services whose POSTs nginx may send again to another copy when the copy that took one
/// died before answering (`proxy_next_upstream non_idempotent`). XInventory's are: a read
/// reads again, and every write names the item or folder by the caller's own UUID and
/// stores it with `replace into` (MySQLGenericTableHandler), so a replayed add, update,
/// move or delete lands the same twice; CreateUserInventory creates only the folders
/// missing. Measured without
/// it: a `kill -9` of an inventory copy failed the logins whose inventory skeleton it was
/// serving (nginx answered 502 to the login service).
pub fn replays_posts(service: &str) -> bool {
    service == "inventory"
}

pub fn get(name: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.name == name)
}

/// All catalog names, for "did you mean" and help texts.
pub fn names() -> Vec<&'static str> {
    SERVICES.iter().map(|s| s.name).collect()
}

/// The handlers DLL: its presence in `bin_dir` is how `check` recognises a Robust bin directory.
pub const HANDLERS_DLL: &str = H;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_deps_exist() {
        let mut seen = HashSet::new();
        for s in all() {
            assert!(seen.insert(s.name), "duplicate {}", s.name);
            for d in s.deps {
                assert!(
                    get(d.service).is_some(),
                    "{} depends on unknown {}",
                    s.name,
                    d.service
                );
            }
            for c in s.conflicts {
                assert!(get(c).is_some(), "{} conflicts with unknown {c}", s.name);
            }
            assert!(!s.connectors.is_empty(), "{} has no connector", s.name);
        }
    }

    #[test]
    fn every_issue_service_is_present() {
        for n in [
            "asset",
            "fsasset",
            "inventory",
            "grid",
            "gridinfo",
            "auth",
            "openid",
            "avatar",
            "login",
            "presence",
            "useraccount",
            "griduser",
            "agentprefs",
            "friends",
            "map",
            "mutelist",
            "offlineim",
            "groups",
            "bakes",
            "profiles",
            "estate",
            "voice",
            "gatekeeper",
            "useragent",
            "helo",
            "hgfriends",
            "hgim",
            "hginventory",
            "hgasset",
        ] {
            assert!(get(n).is_some(), "{n} missing");
        }
    }

    #[test]
    fn class_name_is_what_robust_logs() {
        assert_eq!(
            get("asset").unwrap().connectors[0].class_name(),
            "AssetServiceConnector"
        );
    }
}
