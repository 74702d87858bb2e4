//! The fake Robust's grid service and user accounts, kept in memory (simulator.md §4,
//! §8): what a simulator calls while it starts and stops (`POST /grid` register,
//! deregister, get_grid_extra_features, get_neighbours; `POST /accounts` getaccount for
//! the estate owner), and what gridctl asks to see a region registered
//! (get_region_by_name), answered byte for byte as Robust 0.9.2.2's GridServerPostHandler
//! and UserAccountServerPostHandler answer. Also the form and XML helpers the fake
//! simulator shares.
//!
//! Unlike the real one (a database table), each fake Robust process has its own regions:
//! two copies of the grid service behind nginx do not see each other's registrations.

use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use gridctl::ini::Ini;

use crate::log;

pub const ZERO_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// `Constants.MaximumRegionSize`: a region at or below this Y (metres) is refused.
const MAXIMUM_REGION_SIZE: u32 = 4096;

/// One registered region, as Robust's `regions` row holds it (positions in metres).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub uuid: String,
    pub name: String,
    pub loc_x: u32,
    pub loc_y: u32,
    pub size_x: u32,
    pub size_y: u32,
    pub server_ip: String,
    pub http_port: String,
    pub server_uri: String,
    pub server_port: String,
    pub map_texture: String,
    pub parcel_texture: String,
    pub access: String,
    pub secret: String,
    pub owner: String,
    pub token: String,
    pub flags: u32,
}

/// One user account (`create user` on the console, or the `Users` knob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub first: String,
    pub last: String,
    pub id: String,
    pub email: String,
    pub created: u64,
}

/// The grid service's regions and the account service's users of one fake Robust.
#[derive(Debug, Default)]
pub struct Grid {
    regions: Mutex<Vec<Region>>,
    users: Mutex<Vec<User>>,
    /// `get_grid_extra_features`, in the order Robust fills them.
    features: Vec<(String, String)>,
}

/// `RegionFlags.RegionOnline`.
const REGION_ONLINE: u32 = 4;

impl Grid {
    /// A grid with the extra features Robust derives from `config`, and `users` already
    /// in the accounts table.
    pub fn new(config: &Ini, users: Vec<User>) -> Grid {
        Grid {
            regions: Mutex::new(Vec::new()),
            users: Mutex::new(users),
            features: extra_features(config),
        }
    }

    fn regions(&self) -> MutexGuard<'_, Vec<Region>> {
        self.regions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn users(&self) -> MutexGuard<'_, Vec<User>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a user unless one with that name exists (names compare case-insensitively,
    /// as MySQL's collation does): `false` then.
    pub fn add_user(&self, user: User) -> bool {
        let mut users = self.users();
        if users.iter().any(|u| same_name(u, &user.first, &user.last)) {
            return false;
        }
        users.push(user);
        true
    }

    /// `POST /grid`: the body's `METHOD` selects the call (GridServerPostHandler).
    pub fn handle_grid(&self, body: &str) -> String {
        let form = form_decode(body.trim());
        let get = |k: &str| form_get(&form, k);
        let Some(method) = get("METHOD") else {
            return failure("");
        };
        match method {
            "register" => self.register(&form),
            "deregister" => self.deregister(get("REGIONID").unwrap_or_default()),
            "get_region_by_name" => {
                let name = get("NAME").unwrap_or_default();
                let found = self
                    .regions()
                    .iter()
                    .find(|r| r.name.eq_ignore_ascii_case(name))
                    .cloned();
                one(found.as_ref())
            }
            "get_region_by_uuid" => {
                let id = get("REGIONID").unwrap_or_default();
                let found = self
                    .regions()
                    .iter()
                    .find(|r| r.uuid.eq_ignore_ascii_case(id))
                    .cloned();
                one(found.as_ref())
            }
            "get_region_by_position" => {
                let (x, y) = (num(get("X")), num(get("Y")));
                let found = self
                    .regions()
                    .iter()
                    .find(|r| {
                        r.loc_x <= x
                            && x < r.loc_x + r.size_x
                            && r.loc_y <= y
                            && y < r.loc_y + r.size_y
                    })
                    .cloned();
                one(found.as_ref())
            }
            "get_neighbours" => {
                let id = get("REGIONID").unwrap_or_default();
                let regions = self.regions();
                let list: Vec<Region> =
                    match regions.iter().find(|r| r.uuid.eq_ignore_ascii_case(id)) {
                        Some(me) => regions
                            .iter()
                            .filter(|r| r.uuid != me.uuid && touches(me, r))
                            .cloned()
                            .collect(),
                        None => Vec::new(),
                    };
                many(&list)
            }
            "get_regions_by_name" => {
                let name = get("NAME").unwrap_or_default().to_ascii_lowercase();
                let max = num(get("MAX")) as usize;
                let list: Vec<Region> = self
                    .regions()
                    .iter()
                    .filter(|r| r.name.to_ascii_lowercase().contains(&name))
                    .take(max)
                    .cloned()
                    .collect();
                many(&list)
            }
            "get_region_range" => {
                let (x0, x1) = (num(get("XMIN")), num(get("XMAX")));
                let (y0, y1) = (num(get("YMIN")), num(get("YMAX")));
                let list: Vec<Region> = self
                    .regions()
                    .iter()
                    .filter(|r| r.loc_x >= x0 && r.loc_x <= x1 && r.loc_y >= y0 && r.loc_y <= y1)
                    .cloned()
                    .collect();
                many(&list)
            }
            "get_region_flags" => {
                let id = get("REGIONID").unwrap_or_default();
                let flags = self
                    .regions()
                    .iter()
                    .find(|r| r.uuid.eq_ignore_ascii_case(id))
                    .map_or(-1, |r| i64::from(r.flags));
                format!("<?xml version=\"1.0\"?><ServerResponse><result>{flags}</result></ServerResponse>")
            }
            // No region is a default, fallback or hyperlink in the fake.
            "get_default_regions"
            | "get_default_hypergrid_regions"
            | "get_fallback_regions"
            | "get_online_regions"
            | "get_hyperlinks" => many(&[]),
            "get_grid_extra_features" => {
                let mut xml = String::from("<?xml version=\"1.0\"?><ServerResponse>");
                for (k, v) in &self.features {
                    xml.push_str(&format!("<{k}>{}</{k}>", escape(v)));
                }
                xml.push_str("</ServerResponse>");
                xml
            }
            other => {
                log::debug(&format!("[GRID HANDLER]: unknown method request {other}"));
                failure("")
            }
        }
    }

    /// GridService.RegisterRegion, the checks a fake can make.
    fn register(&self, form: &[(String, String)]) -> String {
        let get = |k: &str| form_get(form, k).unwrap_or_default().to_string();
        let version = |k: &str| form_get(form, k).and_then(|v| v.trim().parse::<i32>().ok());
        // Protocol 1..1 on both sides: no overlap is a bare failure.
        if version("VERSIONMIN").unwrap_or(0) > 1 || version("VERSIONMAX").unwrap_or(0) < 1 {
            return failure("");
        }
        let scope = form_get(form, "SCOPEID").unwrap_or(ZERO_UUID).to_string();
        let size = |k: &str| match get(k).trim().parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => 256,
        };
        let region = Region {
            uuid: get("uuid").to_ascii_lowercase(),
            name: get("regionName"),
            loc_x: num(form_get(form, "locX")),
            loc_y: num(form_get(form, "locY")),
            size_x: size("sizeX"),
            size_y: size("sizeY"),
            server_ip: get("serverIP"),
            http_port: get("serverHttpPort"),
            server_uri: get("serverURI"),
            server_port: get("serverPort"),
            map_texture: get("regionMapTexture"),
            parcel_texture: get("parcelMapTexture"),
            access: get("access"),
            secret: get("regionSecret"),
            owner: get("owner_uuid"),
            token: get("Token"),
            flags: REGION_ONLINE,
        };
        if region.uuid.is_empty() || region.uuid == ZERO_UUID {
            return failure("Invalid RegionID - cannot be zero UUID");
        }
        if region.loc_y <= MAXIMUM_REGION_SIZE {
            return failure(&format!(
                "Region location reserved for HG links coord Y must be higher than {}",
                MAXIMUM_REGION_SIZE / 256
            ));
        }
        let mut regions = self.regions();
        let overlapping: Vec<&Region> = regions.iter().filter(|r| overlaps(r, &region)).collect();
        if overlapping.len() > 1 || overlapping.first().is_some_and(|r| r.uuid != region.uuid) {
            let reason = "Region overlaps another region";
            log::warn(&format!(
                "[GRID SERVICE]: Register region conflict in scope {scope}. {reason}"
            ));
            return failure(reason);
        }
        if let Some(d) = regions
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(&region.name) && r.uuid != region.uuid)
        {
            log::warn(&format!(
                "[GRID SERVICE]: Region tried to register using a duplicate name. New region: {} ({}), existing region: {} ({}).",
                region.name, region.uuid, d.name, d.uuid
            ));
            return failure("Duplicate region name");
        }
        // Re-registering (the same UUID, here or elsewhere) replaces the old row.
        regions.retain(|r| r.uuid != region.uuid);
        log::debug(&format!(
            "[GRID SERVICE]: Region {} ({}, {}x{}) registered at {},{} with flags RegionOnline",
            region.name,
            region.uuid,
            region.size_x,
            region.size_y,
            region.loc_x / 256,
            region.loc_y / 256
        ));
        regions.push(region);
        success()
    }

    /// GridService.DeregisterRegion: the row is deleted (no `Persistent` flag in the fake).
    fn deregister(&self, id: &str) -> String {
        let mut regions = self.regions();
        let Some(at) = regions
            .iter()
            .position(|r| r.uuid.eq_ignore_ascii_case(id.trim()))
        else {
            return failure("");
        };
        let r = regions.remove(at);
        log::debug(&format!(
            "[GRID SERVICE]: Deregistering region {} ({}) at {}-{}",
            r.name,
            r.uuid,
            r.loc_x / 256,
            r.loc_y / 256
        ));
        success()
    }

    /// `POST /accounts` with `METHOD=getaccount`; `None` for any other call (the fake's
    /// generic answer then).
    pub fn handle_accounts(&self, body: &str) -> Option<String> {
        let form = form_decode(body.trim());
        if form_get(&form, "METHOD") != Some("getaccount") {
            return None;
        }
        let users = self.users();
        let found = match form_get(&form, "UserID").filter(|id| !id.is_empty()) {
            Some(id) => users.iter().find(|u| u.id.eq_ignore_ascii_case(id)),
            None => {
                let first = form_get(&form, "FirstName").unwrap_or_default();
                let last = form_get(&form, "LastName").unwrap_or_default();
                users.iter().find(|u| same_name(u, first, last))
            }
        };
        Some(match found {
            None => "<?xml version=\"1.0\"?><ServerResponse><result>null</result></ServerResponse>".into(),
            Some(u) => format!(
                "<?xml version=\"1.0\"?><ServerResponse><result type=\"List\"><FirstName>{}</FirstName><LastName>{}</LastName><Email>{}</Email><PrincipalID>{}</PrincipalID><ScopeID>{ZERO_UUID}</ScopeID><Created>{}</Created><UserLevel>0</UserLevel><UserFlags>0</UserFlags><UserTitle></UserTitle><UserCountry></UserCountry><LocalToGrid>True</LocalToGrid><ServiceURLs>HomeURI*;InventoryServerURI*;AssetServerURI*;</ServiceURLs></result></ServerResponse>",
                escape(&u.first),
                escape(&u.last),
                escape(&u.email),
                u.id,
                u.created
            ),
        })
    }
}

fn same_name(u: &User, first: &str, last: &str) -> bool {
    u.first.eq_ignore_ascii_case(first) && u.last.eq_ignore_ascii_case(last)
}

fn num(v: Option<&str>) -> u32 {
    v.and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// Whether the two regions' areas share a point.
fn overlaps(a: &Region, b: &Region) -> bool {
    a.loc_x < b.loc_x + b.size_x
        && b.loc_x < a.loc_x + a.size_x
        && a.loc_y < b.loc_y + b.size_y
        && b.loc_y < a.loc_y + a.size_y
}

/// Whether `b` borders `a` (an edge or a corner).
fn touches(a: &Region, b: &Region) -> bool {
    a.loc_x <= b.loc_x + b.size_x
        && b.loc_x <= a.loc_x + a.size_x
        && a.loc_y <= b.loc_y + b.size_y
        && b.loc_y <= a.loc_y + a.size_y
}

/// `GridRegion.ToKeyValuePairs()` as Robust's XML lists it (measured order).
fn region_xml(r: &Region) -> String {
    let fields = [
        ("uuid", r.uuid.clone()),
        ("locX", r.loc_x.to_string()),
        ("locY", r.loc_y.to_string()),
        ("sizeX", r.size_x.to_string()),
        ("sizeY", r.size_y.to_string()),
        ("regionName", r.name.clone()),
        ("flags", r.flags.to_string()),
        ("serverIP", r.server_ip.clone()),
        ("serverHttpPort", r.http_port.clone()),
        ("serverURI", r.server_uri.clone()),
        ("serverPort", r.server_port.clone()),
        ("regionMapTexture", r.map_texture.clone()),
        ("parcelMapTexture", r.parcel_texture.clone()),
        ("access", r.access.clone()),
        ("regionSecret", r.secret.clone()),
        ("owner_uuid", r.owner.clone()),
        ("Token", r.token.clone()),
    ];
    fields
        .iter()
        .map(|(k, v)| format!("<{k}>{}</{k}>", escape(v)))
        .collect()
}

/// `{ result = region }` or `{ result = "null" }`.
fn one(r: Option<&Region>) -> String {
    match r {
        Some(r) => format!(
            "<?xml version=\"1.0\"?><ServerResponse><result type=\"List\">{}</result></ServerResponse>",
            region_xml(r)
        ),
        None => "<?xml version=\"1.0\"?><ServerResponse><result>null</result></ServerResponse>".into(),
    }
}

/// `{ region0 = …, region1 = … }` or `{ result = "null" }` when empty.
fn many(list: &[Region]) -> String {
    if list.is_empty() {
        return one(None);
    }
    let mut xml = String::from("<?xml version=\"1.0\"?><ServerResponse>");
    for (i, r) in list.iter().enumerate() {
        xml.push_str(&format!(
            "<region{i} type=\"List\">{}</region{i}>",
            region_xml(r)
        ));
    }
    xml.push_str("</ServerResponse>");
    xml
}

/// `SuccessResult()`: an indented XmlDocument, no final newline (83 bytes).
pub fn success() -> String {
    "<?xml version=\"1.0\"?>\n<ServerResponse>\n  <Result>Success</Result>\n</ServerResponse>"
        .to_string()
}

/// `FailureResult(msg)`; an empty message is written as an element with a line break.
pub fn failure(msg: &str) -> String {
    let message = if msg.is_empty() {
        "  <Message>\n  </Message>".to_string()
    } else {
        format!("  <Message>{}</Message>", escape(msg))
    };
    format!(
        "<?xml version=\"1.0\"?>\n<ServerResponse>\n  <Result>Failure</Result>\n{message}\n</ServerResponse>"
    )
}

/// GridService.SetExtraServiceURLs: only with both `[LoginService]` and `[GridService]`.
fn extra_features(config: &Ini) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !config.has_section("LoginService") || !config.has_section("GridService") {
        return out;
    }
    let first = |sections: &[&str], key: &str| {
        sections
            .iter()
            .find_map(|s| config.get(s, key).filter(|v| !v.is_empty()))
            .map(str::to_string)
    };
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            out.push((k.to_string(), v));
        }
    };
    put("search-server-url", first(&["LoginService"], "SearchURL"));
    put(
        "map-server-url",
        first(&["LoginService"], "MapTileURL").map(|v| {
            let v = v.trim().to_string();
            if v.ends_with('/') {
                v
            } else {
                format!("{v}/")
            }
        }),
    );
    put(
        "destination-guide-url",
        first(&["LoginService"], "DestinationGuide"),
    );
    put("GridURL", first(&["Startup", "Hypergrid"], "GatekeeperURI"));
    put(
        "GridName",
        first(&["Const", "Hypergrid"], "GridName")
            .or_else(|| first(&["GridInfo", "GridInfoService"], "gridname")),
    );
    put(
        "GridNick",
        first(&["Const", "Hypergrid"], "GridNick")
            .or_else(|| first(&["GridInfo", "GridInfoService"], "gridnick")),
    );
    put(
        "GridStatus",
        first(&["GridInfo", "GridInfoService"], "GridStatus"),
    );
    put(
        "GridStatusRSS",
        first(&["GridInfo", "GridInfoService"], "GridStatusRSS"),
    );
    put(
        "ExportSupported",
        Some(
            config
                .get("GridService", "ExportSupported")
                .unwrap_or("true")
                .to_string(),
        ),
    );
    out
}

/// Users named by the `Users` knob: `First Last[=UUID]`, comma-separated. An entry
/// without a valid UUID gets a random one.
pub fn users_from_knob(spec: &str) -> (Vec<User>, Vec<String>) {
    let mut users = Vec::new();
    let mut problems = Vec::new();
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, id) = match entry.split_once('=') {
            Some((n, id)) => (n.trim(), Some(id.trim())),
            None => (entry, None),
        };
        let words: Vec<&str> = name.split_whitespace().collect();
        let [first, last] = words.as_slice() else {
            problems.push(format!(
                "[FAKE]: ignoring user `{entry}`: want `First Last[=UUID]`"
            ));
            continue;
        };
        let id = match id {
            Some(id) if crate::commands::is_uuid(id) => id.to_ascii_lowercase(),
            Some(id) => {
                problems.push(format!(
                    "[FAKE]: ignoring user `{entry}`: `{id}` is not a UUID"
                ));
                continue;
            }
            None => crate::commands::random_uuid(),
        };
        users.push(User {
            first: first.to_string(),
            last: last.to_string(),
            id,
            email: String::new(),
            created: now_secs(),
        });
    }
    (users, problems)
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `ServerUtils.ParseQueryString`: `k=v` pairs split on `&`, `+` and `%xx` decoded; a
/// part without `=` is a key with an empty value.
pub fn form_decode(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (url_decode(k), url_decode(v)),
            None => (url_decode(p), String::new()),
        })
        .collect()
}

/// The last value of `key` (a later duplicate wins, as in the dictionary Robust fills).
pub fn form_get<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| char::from(b).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        // Two hex digits make one byte (< 256).
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `ServerUtils.BuildQueryString`: `key=value` with .NET's `HttpUtility.UrlEncode`
/// (space as `+`, lowercase `%xx`); an empty value is the bare key (`&Token&`).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.to_string()
            } else {
                format!("{k}={}", url_encode(v))
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'*'
            | b'('
            | b')' => out.push(char::from(b)),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02x}")),
        }
    }
    out
}

/// The text of the first `<tag>…</tag>` (or `<tag attr…>…</tag>`) in `xml`, unescaped.
pub fn xml_tag(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}");
    let mut from = 0;
    while let Some(at) = xml[from..].find(&open) {
        let start = from + at + open.len();
        let rest = &xml[start..];
        // `<tag>` or `<tag …>`, not `<tagX>`.
        if rest.starts_with('>') || rest.starts_with(' ') {
            let body_start = start + rest.find('>')? + 1;
            let end = xml[body_start..].find(&format!("</{tag}>"))?;
            return Some(unescape(&xml[body_start..body_start + end]));
        }
        from = start;
    }
    None
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        Grid::new(
            &gridctl::ini::parse(
                "[LoginService]\nMapTileURL = http://127.0.0.1:31502\n[GridService]\n[GridInfoService]\ngridname = the lost continent of hippo\ngridnick = hippogrid\n",
                std::path::Path::new("t"),
            )
            .expect("parse"),
            Vec::new(),
        )
    }

    const REGISTER: &str = "uuid=9451aa68-4d45-87be-20a8-ef541918618f&locX=256000&locY=256000&sizeX=256&sizeY=256&regionName=Lab+One&serverIP=127.0.0.1&serverHttpPort=31510&serverURI=http%3a%2f%2f127.0.0.1%3a31510%2f&serverPort=31511&regionMapTexture=ce559a76-276c-4ac2-8b48-7bad973851d0&parcelMapTexture=00000000-0000-0000-0000-000000000000&access=13&regionSecret=20df599d-6653-4edf-9565-dd3a81b9ccfe&owner_uuid=11111111-0000-0000-0000-000000000001&Token&SCOPEID=00000000-0000-0000-0000-000000000000&VERSIONMIN=1&VERSIONMAX=1&METHOD=register";

    #[test]
    fn register_lookup_and_deregister_answer_as_measured() {
        let g = grid();
        assert_eq!(g.handle_grid(REGISTER), success());
        assert_eq!(success().len(), 83);
        let found = g.handle_grid(
            "METHOD=get_region_by_name&SCOPEID=00000000-0000-0000-0000-000000000000&NAME=lab one",
        );
        // The measured 0.9.2.2 answer, byte for byte.
        assert_eq!(
            found,
            "<?xml version=\"1.0\"?><ServerResponse><result type=\"List\"><uuid>9451aa68-4d45-87be-20a8-ef541918618f</uuid><locX>256000</locX><locY>256000</locY><sizeX>256</sizeX><sizeY>256</sizeY><regionName>Lab One</regionName><flags>4</flags><serverIP>127.0.0.1</serverIP><serverHttpPort>31510</serverHttpPort><serverURI>http://127.0.0.1:31510/</serverURI><serverPort>31511</serverPort><regionMapTexture>ce559a76-276c-4ac2-8b48-7bad973851d0</regionMapTexture><parcelMapTexture>00000000-0000-0000-0000-000000000000</parcelMapTexture><access>13</access><regionSecret>20df599d-6653-4edf-9565-dd3a81b9ccfe</regionSecret><owner_uuid>11111111-0000-0000-0000-000000000001</owner_uuid><Token></Token></result></ServerResponse>"
        );
        assert_eq!(
            g.handle_grid("METHOD=get_region_by_name&NAME=Nowhere"),
            "<?xml version=\"1.0\"?><ServerResponse><result>null</result></ServerResponse>"
        );
        assert_eq!(
            g.handle_grid("METHOD=get_grid_extra_features"),
            "<?xml version=\"1.0\"?><ServerResponse><map-server-url>http://127.0.0.1:31502/</map-server-url><GridName>the lost continent of hippo</GridName><GridNick>hippogrid</GridNick><ExportSupported>true</ExportSupported></ServerResponse>"
        );
        // Another UUID on the same spot, then the same name elsewhere.
        let squatter = REGISTER.replace("9451aa68", "99999999");
        assert!(g
            .handle_grid(&squatter)
            .contains("<Message>Region overlaps another region</Message>"));
        assert_eq!(failure("Region overlaps another region").len(), 135);
        let dupe = squatter.replace("locX=256000", "locX=300000");
        assert!(g.handle_grid(&dupe).contains("Duplicate region name"));
        let id = "REGIONID=9451aa68-4d45-87be-20a8-ef541918618f&METHOD=deregister";
        assert_eq!(g.handle_grid(id), success());
        assert_eq!(g.handle_grid(id), failure(""));
        assert_eq!(failure("").len(), 108);
        assert_eq!(g.handle_grid("X=1"), failure(""));
        assert_eq!(g.handle_grid("METHOD=bogus"), failure(""));
    }

    #[test]
    fn neighbours_touch() {
        let g = grid();
        assert_eq!(g.handle_grid(REGISTER), success());
        let two = REGISTER
            .replace("9451aa68", "a4ca80a9")
            .replace("locX=256000", "locX=256256")
            .replace("Lab+One", "Lab+Two");
        assert_eq!(g.handle_grid(&two), success());
        let far = REGISTER
            .replace("9451aa68", "b4ca80a9")
            .replace("locX=256000", "locX=266256")
            .replace("Lab+One", "Far");
        assert_eq!(g.handle_grid(&far), success());
        let n = g.handle_grid("SCOPEID=00000000-0000-0000-0000-000000000000&REGIONID=9451aa68-4d45-87be-20a8-ef541918618f&METHOD=get_neighbours");
        assert!(n.contains("<region0 type=\"List\"><uuid>a4ca80a9"), "{n}");
        assert!(!n.contains("region1"), "{n}");
    }

    #[test]
    fn accounts_and_forms() {
        let g = grid();
        let (users, problems) =
            users_from_knob("Lab Owner=11111111-0000-0000-0000-000000000001, Solo, Test User");
        assert_eq!(problems.len(), 1);
        for u in users {
            assert!(g.add_user(u));
        }
        let hit = g
            .handle_accounts("VERSIONMIN=1&VERSIONMAX=1&METHOD=getaccount&ScopeID=00000000-0000-0000-0000-000000000000&FirstName=lab&LastName=OWNER")
            .expect("getaccount");
        assert_eq!(
            xml_tag(&hit, "PrincipalID").as_deref(),
            Some("11111111-0000-0000-0000-000000000001")
        );
        let miss = g
            .handle_accounts("METHOD=getaccount&FirstName=No&LastName=Body")
            .expect("getaccount");
        assert_eq!(xml_tag(&miss, "result").as_deref(), Some("null"));
        assert!(g.handle_accounts("METHOD=getaccounts").is_none());
        assert_eq!(
            form_encode(&[
                ("regionName", "Lab One"),
                ("serverURI", "http://a:1/"),
                ("Token", "")
            ]),
            "regionName=Lab+One&serverURI=http%3a%2f%2fa%3a1%2f&Token"
        );
        assert_eq!(
            form_decode("NAME=Lab One&x=a%2Fb+c&Token"),
            vec![
                ("NAME".to_string(), "Lab One".to_string()),
                ("x".to_string(), "a/b c".to_string()),
                ("Token".to_string(), String::new()),
            ]
        );
        assert_eq!(
            xml_tag(
                "<a><Result>Failure</Result><Message>x &amp; y</Message>",
                "Message"
            )
            .as_deref(),
            Some("x & y")
        );
    }
}
