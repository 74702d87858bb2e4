//! `gridctl status`: one row per instance, from its holder plus /proc.

use crate::procstat;
use gridctl_config::plan::{Kind, Plan};
use gridctl_config::render::Membership;
use gridctl_wire::protocol::{InstanceState, InstanceStatus};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Row {
    pub name: String,
    /// The role, or for a simulator its own name.
    pub role: String,
    /// `robust` or `simulator`.
    #[serde(default = "robust")]
    pub kind: Kind,
    pub state: String,
    pub detail: String,
    pub pid: Option<u32>,
    pub holder_pid: Option<u32>,
    pub ports: Vec<u16>,
    /// Operator restarts (`gridctl restart`, top's `r`) since the holder started.
    pub restarts: u32,
    /// Unexpected ends of the child (each followed by an automatic restart unless in a
    /// crash loop) since the holder started.
    #[serde(default)]
    pub crashes: u32,
    pub uptime_secs: Option<u64>,
    pub cpu_percent: Option<f64>,
    pub rss_bytes: Option<u64>,
    pub holder_rss_bytes: Option<u64>,
    pub last_exit: Option<String>,
    pub viewers: u32,
    /// Where the copy stands in its nginx upstream, when nginx is managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Membership>,
}

fn robust() -> Kind {
    Kind::Robust
}

impl Row {
    /// The common columns as text, in table order: instance, state (with its symbol),
    /// pid, ports, restarts, crashes, uptime, CPU%, RSS — shared by `status` and `top`.
    pub fn cells(&self) -> Vec<String> {
        let dash = || "-".to_string();
        vec![
            self.name.clone(),
            format!("{} {}", symbol(&self.state), self.state),
            self.pid.map_or_else(dash, |p| p.to_string()),
            self.ports
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(","),
            self.restarts.to_string(),
            self.crashes.to_string(),
            self.uptime_secs
                .map_or_else(dash, |s| procstat::format_uptime(Duration::from_secs(s))),
            self.cpu_percent.map_or_else(dash, |c| format!("{c:.1}")),
            self.rss_bytes.map_or_else(dash, procstat::format_bytes),
        ]
    }

    /// The detail to show: why the state is what it is, else how the last run ended.
    pub fn detail_text(&self) -> String {
        let text = match (&self.detail, &self.last_exit) {
            (d, _) if !d.is_empty() => d.clone(),
            (_, Some(e)) => format!("last exit: {e}"),
            _ => String::new(),
        };
        // The detail can quote a console line (a holder of another build may not have
        // cleaned it): never a C1 control on the operator's terminal.
        gridctl_wire::terminal::text_without_c1(&text).into_owned()
    }
}

/// `in` / `draining` / `out` for the table.
pub fn membership_label(m: Membership) -> &'static str {
    match m {
        Membership::In => "in",
        Membership::Draining => "draining",
        Membership::Out => "out",
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Builds the rows from holder answers (`None` = no holder).
pub fn rows(
    plan: &Plan,
    statuses: &[(String, Option<InstanceStatus>, Option<String>)],
) -> Vec<Row> {
    rows_for(plan, statuses, true)
}

/// [`rows`], the holders' RSS left out unless `holder_rss` (the table does not show it,
/// and it is one more /proc read per copy).
pub fn rows_for(
    plan: &Plan,
    statuses: &[(String, Option<InstanceStatus>, Option<String>)],
    holder_rss: bool,
) -> Vec<Row> {
    let membership = plan
        .nginx
        .as_ref()
        .map(|_| crate::nginx::load_membership(plan));
    // A simulator is in no upstream.
    let upstream_of = |name: &str| {
        let routed = plan.instance(name).is_none_or(|i| i.kind == Kind::Robust);
        membership
            .as_ref()
            .filter(|_| routed)
            .map(|m| m.get(name).copied().unwrap_or(Membership::In))
    };
    // By name, once: a lookup per row in the plan's list is quadratic in the copies.
    let by_name: HashMap<&str, &gridctl_config::plan::InstancePlan> = plan
        .instances
        .iter()
        .map(|i| (i.name.as_str(), i))
        .collect();
    let uptime = procstat::uptime_secs();
    // /proc is read for two processes per copy: spread over a few threads.
    let rows = crate::parallel::par_map(statuses, crate::parallel::PARALLEL, |(name, st, note)| {
        let inst = by_name.get(name.as_str())?;
        let ports: Vec<u16> = std::iter::once(inst.private_port)
            .chain(inst.public_port)
            .collect();
        // A ready simulator says what it serves.
        let regions = plan
            .role(&inst.role)
            .and_then(|r| r.simulator.as_ref())
            .map(|sim| {
                let list: Vec<String> = sim
                    .regions
                    .iter()
                    .map(|r| format!("{} ({},{} udp {})", r.name, r.x, r.y, r.port))
                    .collect();
                format!("regions: {}", list.join(", "))
            });
        Some(match st {
            Some(s) => {
                let proc_ = s.pid.and_then(procstat::sample);
                let detail = match (&regions, s.state) {
                    (Some(r), InstanceState::Ready) if s.detail.is_empty() => r.clone(),
                    _ => s.detail.clone(),
                };
                Row {
                    name: name.clone(),
                    role: inst.role.clone(),
                    kind: inst.kind,
                    state: s.state.as_str().to_string(),
                    detail,
                    pid: s.pid,
                    holder_pid: Some(s.holder_pid),
                    ports,
                    restarts: s.restarts,
                    crashes: s.crashes,
                    uptime_secs: s
                        .started_at_ms
                        .filter(|_| s.pid.is_some())
                        .map(|t| now_ms().saturating_sub(t) / 1000),
                    cpu_percent: proc_
                        .as_ref()
                        .and_then(|p| uptime.and_then(|u| procstat::lifetime_cpu_percent_at(p, u))),
                    rss_bytes: proc_.map(|p| p.rss_bytes),
                    holder_rss_bytes: holder_rss
                        .then(|| procstat::rss_bytes(s.holder_pid))
                        .flatten(),
                    last_exit: s.last_exit.clone(),
                    viewers: s.viewers,
                    upstream: upstream_of(name),
                }
            }
            None => Row {
                name: name.clone(),
                role: inst.role.clone(),
                kind: inst.kind,
                state: InstanceState::Stopped.as_str().to_string(),
                detail: note.clone().unwrap_or_default(),
                pid: None,
                holder_pid: None,
                ports,
                restarts: 0,
                crashes: 0,
                uptime_secs: None,
                cpu_percent: None,
                rss_bytes: None,
                holder_rss_bytes: None,
                last_exit: None,
                viewers: 0,
                upstream: upstream_of(name),
            },
        })
    });
    rows.into_iter().flatten().collect()
}

/// The state shown for a copy that runs although grid.toml no longer declares it.
pub const UNDECLARED: &str = "undeclared";

/// A row for a running copy the plan no longer declares (`status` lists it so it is
/// never forgotten; `up` or `down` stops it). `installed`: where the installed nginx
/// file puts each copy (`nginx::load_membership`), when nginx is managed: a temporary
/// copy an interrupted roll left may still be serving (issue 19.2).
pub fn undeclared_row(
    installed: Option<&BTreeMap<String, Membership>>,
    name: &str,
    status: Option<&InstanceStatus>,
) -> Row {
    let role = name
        .rsplit_once('-')
        .map_or(name, |(role, _)| role)
        .to_string();
    Row {
        name: name.to_string(),
        role,
        kind: Kind::Robust,
        state: UNDECLARED.to_string(),
        detail: "running but no longer in grid.toml; `gridctl up` or `gridctl down` stops it"
            .into(),
        pid: status.and_then(|s| s.pid),
        holder_pid: status.map(|s| s.holder_pid),
        ports: Vec::new(),
        restarts: status.map_or(0, |s| s.restarts),
        crashes: status.map_or(0, |s| s.crashes),
        uptime_secs: None,
        cpu_percent: None,
        rss_bytes: None,
        holder_rss_bytes: None,
        last_exit: None,
        viewers: status.map_or(0, |s| s.viewers),
        upstream: installed.map(|m| m.get(name).copied().unwrap_or(Membership::Out)),
    }
}

/// A symbol per state so the table reads without colour too.
pub fn symbol(state: &str) -> &'static str {
    match state {
        "ready" => "●",
        "starting" => "◐",
        "degraded" => "▲",
        "stopping" => "◑",
        "backoff" => "↻",
        "crash-loop" => "✖",
        UNDECLARED => "?",
        _ => "○",
    }
}

pub fn table(rows: &[Row]) -> String {
    let nginx = rows.iter().any(|r| r.upstream.is_some());
    // A grid with simulators says which line is which kind of process.
    let kinds = rows.iter().any(|r| r.kind == Kind::Simulator);
    let mut header = vec![
        "INSTANCE", "STATE", "PID", "PORTS", "RESTARTS", "CRASH", "UPTIME", "CPU%", "RSS",
    ];
    if kinds {
        header.insert(1, "KIND");
    }
    if nginx {
        header.push("NGINX");
    }
    header.push("DETAIL");
    let mut lines: Vec<Vec<String>> = vec![header.into_iter().map(String::from).collect()];
    let dash = || "-".to_string();
    for r in rows {
        let mut line = r.cells();
        if kinds {
            line.insert(1, r.kind.as_str().to_string());
        }
        if nginx {
            line.push(
                r.upstream
                    .map_or_else(dash, |m| membership_label(m).to_string()),
            );
        }
        line.push(r.detail_text());
        lines.push(line);
    }
    let columns = lines[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .map(|(cell, w)| {
                format!(
                    "{cell}{}",
                    " ".repeat(w.saturating_sub(cell.chars().count()))
                )
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
