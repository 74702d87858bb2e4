//! Every manifest value that reaches nginx, an INI file, a command line or a console is
//! checked here, where the manifest is read, so no value can change the structure of
//! what gridctl writes (issue 10, part 2), and every number has a sane bound (part 4).
//!
//! The rules, and why each is enough:
//! - nginx reads a directive up to `;` and splits on whitespace, so hostnames must be
//!   DNS names (letters, digits, `-`, dots; no wildcard) and listeners `ADDRESS:PORT` or
//!   `PORT` with an IP literal (`localhost:80` and `127.0.0.1:80` are one socket but
//!   two strings; only parsed addresses can be compared).
//! - Robust's INI reader (Nini, `src/ini.rs`) has no escape inside quotes: a value ends
//!   at the next `"`, and a line break ends the entry. Values are written quoted, so a
//!   value may hold anything but `"` and control characters. Section and key names are
//!   identifiers; `Include-*` keys are includes wherever they appear, so they are refused.
//! - Commands, arguments and environment go to `execve` (no shell); a NUL cannot be
//!   passed, and a line break typed into a console (`stop_command`) is a second command.

use super::Planner;
use crate::manifest::{Locator, SuperviseSection};
use std::net::IpAddr;
use std::ops::Range;
use std::time::Duration;

/// Most copies of one role; far beyond any real grid, small enough for every port range.
pub const MAX_INSTANCES: u32 = 1000;

/// `[grid.info]` keys whose values viewers open as links.
const URL_INFO_KEYS: &[&str] = &[
    "welcome",
    "about",
    "register",
    "help",
    "password",
    "economy",
    "search",
    "profiles",
    "messaging",
    "destination",
    "marketplace",
];

/// Why a text value cannot be written into an INI file or a config comment.
pub fn ini_text_problem(s: &str) -> Option<&'static str> {
    if s.contains('"') {
        Some("a `\"` would end the quoted INI value early (Robust's reader has no escapes)")
    } else if s.contains(['\n', '\r']) {
        Some("a line break would start a new INI line")
    } else if s.chars().any(char::is_control) {
        Some("control characters are not allowed")
    } else {
        None
    }
}

/// Why `s` is not a DNS name nginx and Robust can both use as a hostname.
pub fn dns_name_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("it is empty".into());
    }
    if s.len() > 253 {
        return Some("it is longer than 253 characters".into());
    }
    if s.contains('*') {
        return Some("wildcards are not allowed (nginx would route every matching name)".into());
    }
    if s.chars().any(|c| c.is_ascii_uppercase()) {
        // Kubernetes refuses an Ingress host that is not lowercase (RFC 1123), and one
        // grid would otherwise have two spellings of a name.
        return Some("it has uppercase letters; hostnames are written in lowercase".into());
    }
    // IPv4 literals are names to nginx and URLs alike; an IPv6 one would need brackets
    // in both (`server ::1:8003` is not an address and a port).
    if s.parse::<std::net::Ipv4Addr>().is_ok() {
        return None;
    }
    if s.parse::<std::net::Ipv6Addr>().is_ok() {
        return Some("IPv6 literals are not supported here; use a DNS name".into());
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Some("it has an empty label (`..`, or a dot at either end)".into());
        }
        if label.len() > 63 {
            return Some("a label is longer than 63 characters".into());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Some(format!(
                "`{}` is not allowed in a DNS name (letters, digits, `-` and dots only)",
                c.escape_debug()
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some("a label starts or ends with `-`".into());
        }
    }
    None
}

/// Address and port of an nginx listen value: `PORT`, `IPv4:PORT` or `[IPv6]:PORT`.
/// `None` for the address means every address (nginx's `listen 80`).
pub fn parse_listen(s: &str) -> Result<(Option<IpAddr>, u16), String> {
    let port = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!(
                "`{}` is not a port from 1 to 65535",
                crate::diagnostic::escape(p)
            )),
            Ok(n) => Ok(n),
        }
    };
    if s.contains(|c: char| c.is_whitespace() || c.is_control() || ";{}#'\"".contains(c)) {
        return Err(
            "spaces, `;`, quotes and braces are not allowed (nginx would read the rest as more parameters or directives)"
                .into(),
        );
    }
    if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
        return Ok((None, port(s)?));
    }
    let (addr, p) = s
        .rsplit_once(':')
        .ok_or_else(|| "expected ADDRESS:PORT or PORT".to_string())?;
    let addr = match addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().map(IpAddr::V6),
        None if addr == "*" => return Ok((None, port(p)?)),
        None => addr.parse::<std::net::Ipv4Addr>().map(IpAddr::V4),
    }
    .map_err(|_| {
        format!(
            "`{}` is not an IP address (names such as `localhost` are not allowed: only a parsed address can be told apart from the other listener)",
            crate::diagnostic::escape(addr)
        )
    })?;
    Ok((Some(addr), port(p)?))
}

/// Whether two listeners could share a socket: same port and an address in common.
pub fn listeners_overlap(a: (Option<IpAddr>, u16), b: (Option<IpAddr>, u16)) -> bool {
    let everywhere = |x: Option<IpAddr>| x.is_none_or(|ip| ip.is_unspecified());
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    a.1 == b.1 && (everywhere(a.0) || everywhere(b.0) || a.0.map(canon) == b.0.map(canon))
}

/// INI section and key names: what Robust's own files use.
fn identifier_problem(s: &str) -> Option<&'static str> {
    let mut chars = s.chars();
    match chars.next() {
        None => Some("it is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            Some("it must start with a letter or `_`")
        }
        _ if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) => {
            Some("only letters, digits, `_`, `-` and `.` are allowed")
        }
        _ => None,
    }
}

/// Environment variable names: portable shell names.
pub(super) fn env_name_problem(s: &str) -> Option<&'static str> {
    let mut chars = s.chars();
    match chars.next() {
        None => Some("it is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            Some("it must start with a letter or `_`")
        }
        _ if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Some("only letters, digits and `_` are allowed")
        }
        _ => None,
    }
}

/// Program arguments and environment values: anything `execve` can pass that prints.
fn arg_problem(s: &str) -> Option<&'static str> {
    if s.contains('\0') {
        Some("a NUL byte cannot be passed to a program")
    } else if s.chars().any(char::is_control) {
        Some("control characters are not allowed")
    } else {
        None
    }
}

impl Planner<'_> {
    /// Every string and number of the manifest that the typed structure does not already
    /// bound. Problems are diagnostics at the value (or its key).
    pub(super) fn validate(&mut self) {
        let loc = Locator::new(&self.src.text);
        let m = self.m;

        // [grid]
        self.plain_text(&loc, &["grid", "name"], &m.grid.name, "`name` of [grid]");
        if let Some(n) = &m.grid.nick {
            self.plain_text(&loc, &["grid", "nick"], n, "`nick` of [grid]");
        }
        let domain = m.grid.domain.get_ref();
        self.dns(domain, m.grid.domain.span(), "`domain` of [grid]");
        let pd = &m.grid.private_domain;
        let pd_span = loc.value(&["grid", "private_domain"]);
        self.dns_opt(pd, pd_span, "`private_domain` of [grid]");
        let scheme = m.grid.public_scheme.get_ref();
        if scheme != "http" && scheme != "https" {
            self.bad(
                Some(m.grid.public_scheme.span()),
                format!("`public_scheme` of [grid] is `{}`", esc(scheme)),
                "expected \"http\" or \"https\"",
                None,
            );
        }
        if m.grid.public_port == Some(0) {
            self.bad(
                loc.value(&["grid", "public_port"]),
                "`public_port` of [grid] is 0".into(),
                "expected a port from 1 to 65535",
                None,
            );
        }
        for (svc, h) in &m.grid.hostnames {
            self.dns(
                h.get_ref(),
                h.span(),
                &format!("hostname of `{svc}` in [grid.hostnames]"),
            );
        }
        for (k, v) in &m.grid.info {
            let path = ["grid", "info", k.as_str()];
            if self.identifier(&loc, &path, k, "key in [grid.info]") && k.starts_with("Include-") {
                self.bad(
                    loc.key(&path),
                    format!("`{}` in [grid.info] would be an include", esc(k)),
                    "Robust reads every `Include-*` key as a file to include",
                    None,
                );
            }
            if self.text(&loc, &path, v, &format!("`{}` in [grid.info]", esc(k))) {
                let is_url = URL_INFO_KEYS.contains(&k.to_ascii_lowercase().as_str());
                let scheme_ok = v.starts_with("http://") || v.starts_with("https://");
                if is_url && !v.is_empty() && (!scheme_ok || v.contains(char::is_whitespace)) {
                    self.bad(
                        loc.value(&path),
                        format!("`{}` in [grid.info] is not a URL", esc(k)),
                        "viewers open this as a link",
                        Some("write a full http:// or https:// URL without spaces"),
                    );
                }
            }
        }
        // state_dir and bin_dir are checked as resolved (validate_resolved_paths).
        if let Some(t) = &m.grid.templates {
            self.path(&loc, &["grid", "templates"], t.get_ref(), "templates");
        }

        // [robust]
        if let Some(c) = &m.robust.command {
            for (i, a) in c.get_ref().iter().enumerate() {
                self.arg(
                    &loc,
                    &["robust", "command", &i.to_string()],
                    a,
                    "[robust] command",
                );
            }
        }
        for (i, a) in m.robust.args.iter().enumerate() {
            self.arg(
                &loc,
                &["robust", "args", &i.to_string()],
                a,
                "[robust] args",
            );
        }
        self.env(&loc, &["robust", "env"], &m.robust.env);
        if m.robust.term.is_empty()
            || !m
                .robust
                .term
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
        {
            self.bad(
                loc.value(&["robust", "term"]),
                format!("`term` of [robust] is `{}`", esc(&m.robust.term)),
                "not a terminal type",
                Some("use a terminfo name such as \"xterm\""),
            );
        }
        self.plain_text(
            &loc,
            &["robust", "prompt"],
            &m.robust.prompt,
            "`prompt` of [robust]",
        );

        // [database]: the connection string is checked as resolved (inline, env: or
        // file:) in `database()`, without showing it.

        // [nginx]
        if let Some(n) = &m.nginx {
            self.path(&loc, &["nginx", "output"], &n.output, "nginx output");
            for (key, cmd) in [
                ("test_command", &n.test_command),
                ("reload_command", &n.reload_command),
            ] {
                // Empty is allowed: the examples use `[]` for "do not run nginx".
                for (i, a) in cmd.iter().enumerate() {
                    self.arg(
                        &loc,
                        &["nginx", key, &i.to_string()],
                        a,
                        &format!("[nginx] {key}"),
                    );
                }
            }
            self.range(
                &loc,
                &["nginx", "max_fails"],
                u64::from(n.max_fails),
                0,
                100,
                "`max_fails` of [nginx]",
            );
            self.range(
                &loc,
                &["nginx", "keepalive"],
                u64::from(n.keepalive),
                1,
                10_000,
                "`keepalive` of [nginx]",
            );
            self.duration(
                &loc,
                &["nginx", "fail_timeout"],
                Some(n.fail_timeout),
                true,
                "`fail_timeout` of [nginx]",
            );
            self.duration(
                &loc,
                &["nginx", "drain"],
                Some(n.drain),
                false,
                "`drain` of [nginx]",
            );
        }

        // [supervise] and each role's
        self.supervise(&loc, &["supervise"], &m.supervise, "[supervise]");

        // [hosts]
        for (name, h) in &m.hosts {
            let path = ["hosts", name.as_str(), "address"];
            self.identifier(
                &loc,
                &["hosts", name.as_str()],
                name,
                "host name in [hosts]",
            );
            self.dns_opt(
                &h.address,
                loc.value(&path),
                &format!("`address` of host `{}`", esc(name)),
            );
        }

        // [roles.*]
        for (name, role) in &m.roles {
            let r = role.get_ref();
            if let Some(h) = &r.hostname {
                self.dns(
                    h.get_ref(),
                    h.span(),
                    &format!("`hostname` of role `{}`", esc(name)),
                );
            }
            self.settings(&loc, &["roles", name.as_str(), "settings"], &r.settings);
            self.env(&loc, &["roles", name.as_str(), "env"], &r.env);
            let what = format!("[roles.{}.supervise]", esc(name));
            self.supervise(
                &loc,
                &["roles", name.as_str(), "supervise"],
                &r.supervise,
                &what,
            );
        }
    }

    /// `[... .settings.SECTION] KEY = value` tables: identifiers, no includes, values
    /// that fit an INI line.
    pub(super) fn settings(
        &mut self,
        loc: &Locator,
        base: &[&str],
        settings: &indexmap::IndexMap<String, indexmap::IndexMap<String, toml::Value>>,
    ) {
        for (section, keys) in settings {
            let spath: Vec<&str> = base.iter().copied().chain([section.as_str()]).collect();
            self.identifier(loc, &spath, section, "INI section name in settings");
            for (key, value) in keys {
                let kpath: Vec<&str> = spath.iter().copied().chain([key.as_str()]).collect();
                if self.identifier(loc, &kpath, key, "INI key name in settings")
                    && key.starts_with("Include-")
                {
                    self.bad(
                        loc.key(&kpath),
                        format!("`{}` in settings would be an include", esc(key)),
                        "Robust reads every `Include-*` key as a file to include",
                        Some("add files through a templates directory ([grid] templates) instead"),
                    );
                }
                self.setting_value(loc, &kpath, value);
            }
        }
    }

    /// Paths as resolved (absolute, through the manifest's own directory): they are
    /// written inside INI quotes and into comments of every rendered file, so the
    /// manifest's directory and file name are held to the same rule as the values.
    pub(super) fn validate_resolved_paths(&mut self, paths: &[(&str, &[&str], &std::path::Path)]) {
        let loc = Locator::new(&self.src.text);
        for (what, key, p) in paths {
            let s = p.to_string_lossy();
            if let Some(why) = ini_text_problem(&s) {
                let span = if key.is_empty() { None } else { loc.value(key) };
                self.bad(
                    span,
                    format!("{what} `{}` has a character it cannot hold", esc(&s)),
                    why,
                    Some("gridctl writes this path into the rendered files; move or rename it"),
                );
            }
        }
    }

    /// One `[roles.X.settings.S] K = value`: strings that fit in quotes, plain numbers
    /// and booleans; arrays and tables have no INI form.
    pub(super) fn setting_value(&mut self, loc: &Locator, path: &[&str], value: &toml::Value) {
        let what = format!("`{}` in settings", esc(path.last().copied().unwrap_or("")));
        match value {
            toml::Value::String(s) => {
                self.text(loc, path, s, &what);
            }
            toml::Value::Array(_) | toml::Value::Table(_) => self.bad(
                loc.value(path),
                format!("{what} is an array or table"),
                "an INI value is one string",
                Some("write the value as Robust expects it, as a string (e.g. \"a,b\")"),
            ),
            toml::Value::Float(f) if !f.is_finite() => self.bad(
                loc.value(path),
                format!("{what} is not a finite number"),
                "Robust cannot read it",
                None,
            ),
            _ => {}
        }
    }

    pub(super) fn supervise(
        &mut self,
        loc: &Locator,
        base: &[&str],
        s: &SuperviseSection,
        table: &str,
    ) {
        let p = |k: &'static str| -> Vec<&str> { base.iter().copied().chain([k]).collect() };
        if let Some(c) = &s.stop_command {
            let path = p("stop_command");
            if c.trim().is_empty() {
                self.bad(
                    loc.value(&path),
                    format!("`stop_command` of {table} is empty"),
                    "typed into the console to stop Robust",
                    Some("leave it out for Robust's `shutdown`"),
                );
            } else if let Some(why) = arg_problem(c) {
                self.bad(
                    loc.value(&path),
                    format!("`stop_command` of {table} has a character it cannot hold"),
                    why,
                    Some("it is typed into the console: a line break would type a second command"),
                );
            }
        }
        for (key, d) in [
            ("stop_timeout", s.stop_timeout),
            ("sigint_timeout", s.sigint_timeout),
            ("sigterm_timeout", s.sigterm_timeout),
            ("ready_timeout", s.ready_timeout),
            ("backoff_initial", s.backoff_initial),
            ("backoff_max", s.backoff_max),
            ("stable_after", s.stable_after),
            ("crash_loop_window", s.crash_loop_window),
        ] {
            self.duration(loc, &p(key), d, true, &format!("`{key}` of {table}"));
        }
        if let (Some(a), Some(b)) = (s.backoff_initial, s.backoff_max) {
            if a > b {
                self.bad(
                    loc.value(&p("backoff_initial")),
                    format!("`backoff_initial` of {table} is longer than `backoff_max`"),
                    "the first delay would exceed the longest",
                    None,
                );
            }
        }
        let bounds: [(&str, Option<u64>, u64, u64); 6] = [
            (
                "crash_loop_count",
                s.crash_loop_count.map(u64::from),
                1,
                1000,
            ),
            (
                "scrollback_lines",
                s.scrollback_lines.map(|n| n as u64),
                0,
                100_000,
            ),
            ("log_max_bytes", s.log_max_bytes, 4096, 1 << 30),
            ("log_keep", s.log_keep.map(u64::from), 0, 100),
            (
                "console_rows",
                s.console_rows.map(u64::from),
                10,
                u64::from(gridctl_wire::spec::MAX_ROWS),
            ),
            (
                "console_cols",
                s.console_cols.map(u64::from),
                40,
                u64::from(gridctl_wire::spec::MAX_COLS),
            ),
        ];
        for (key, v, lo, hi) in bounds {
            if let Some(v) = v {
                self.range(loc, &p(key), v, lo, hi, &format!("`{key}` of {table}"));
            }
        }
    }

    pub(super) fn range(
        &mut self,
        loc: &Locator,
        path: &[&str],
        v: u64,
        lo: u64,
        hi: u64,
        what: &str,
    ) {
        if v < lo || v > hi {
            self.bad(
                loc.value(path),
                format!("{what} is {v}, outside {lo}..={hi}"),
                "out of range",
                None,
            );
        }
    }

    pub(super) fn duration(
        &mut self,
        loc: &Locator,
        path: &[&str],
        d: Option<Duration>,
        nonzero: bool,
        what: &str,
    ) {
        match d {
            Some(d) if nonzero && d.is_zero() => self.bad(
                loc.value(path),
                format!("{what} is zero"),
                "must be longer than 0",
                None,
            ),
            // Parsing already refuses more than a day; this keeps the rule in one place.
            Some(d) if d > crate::manifest::MAX_DURATION => self.bad(
                loc.value(path),
                format!("{what} is longer than a day"),
                "at most 24h",
                None,
            ),
            _ => {}
        }
    }

    /// A text gridctl writes into templates around other words (the grid's name in the
    /// welcome message, the prompt): like [`Self::text`], and no `${`, which Robust
    /// would try to expand as a reference there.
    pub(super) fn plain_text(&mut self, loc: &Locator, path: &[&str], s: &str, what: &str) {
        if self.text(loc, path, s, what) && s.contains("${") {
            self.bad(
                loc.value(path),
                format!("{what} holds `${{`: `{}`", esc(s)),
                "Robust would expand it as a reference",
                None,
            );
        }
    }

    /// A value written inside INI quotes or an nginx/INI comment. True when it is fine.
    pub(super) fn text(&mut self, loc: &Locator, path: &[&str], s: &str, what: &str) -> bool {
        match ini_text_problem(s) {
            None => true,
            Some(why) => {
                self.bad(
                    loc.value(path),
                    format!("{what} has a character it cannot hold: `{}`", esc(s)),
                    why,
                    None,
                );
                false
            }
        }
    }

    /// A path that is written into INI values (inside quotes) and comments.
    pub(super) fn path(&mut self, loc: &Locator, path: &[&str], p: &std::path::Path, what: &str) {
        let s = p.to_string_lossy();
        if let Some(why) = ini_text_problem(&s) {
            self.bad(
                loc.value(path),
                format!("`{what}` has a character it cannot hold: `{}`", esc(&s)),
                why,
                Some("gridctl writes this path into the rendered INI files"),
            );
        }
    }

    pub(super) fn identifier(&mut self, loc: &Locator, path: &[&str], s: &str, what: &str) -> bool {
        match identifier_problem(s) {
            None => true,
            Some(why) => {
                self.bad(
                    loc.key(path),
                    format!("{what} `{}` is not an identifier", esc(s)),
                    why,
                    None,
                );
                false
            }
        }
    }

    pub(super) fn arg(&mut self, loc: &Locator, path: &[&str], s: &str, what: &str) {
        if let Some(why) = arg_problem(s) {
            self.bad(
                loc.value(path),
                format!("{what} has an argument it cannot pass: `{}`", esc(s)),
                why,
                None,
            );
        }
    }

    pub(super) fn env(
        &mut self,
        loc: &Locator,
        base: &[&str],
        env: &indexmap::IndexMap<String, String>,
    ) {
        for (k, v) in env {
            let path: Vec<&str> = base.iter().copied().chain([k.as_str()]).collect();
            if let Some(why) = env_name_problem(k) {
                self.bad(
                    loc.key(&path),
                    format!("environment variable name `{}` is not usable", esc(k)),
                    why,
                    None,
                );
            } else if k == crate::plan::DB_ENV || k == "TERM" {
                self.bad(
                    loc.key(&path),
                    format!("environment variable `{k}` is set by gridctl"),
                    "would override gridctl's own value",
                    Some(if k == "TERM" {
                        "set [robust] term instead"
                    } else {
                        "set [database] connection instead"
                    }),
                );
            }
            if let Some(why) = arg_problem(v) {
                self.bad(
                    loc.value(&path),
                    format!(
                        "environment variable `{}` has a value it cannot hold",
                        esc(k)
                    ),
                    why,
                    None,
                );
            }
        }
    }

    pub(super) fn dns(&mut self, s: &str, span: Range<usize>, what: &str) {
        self.dns_opt(s, (!span.is_empty()).then_some(span), what);
    }

    pub(super) fn dns_opt(&mut self, s: &str, span: Option<Range<usize>>, what: &str) {
        if let Some(why) = dns_name_problem(s) {
            self.bad(
                span,
                format!("{what} `{}` is not a DNS name", esc(s)),
                &why,
                Some("nginx reads a space or `;` in a name as the end of it; use letters, digits, `-` and dots"),
            );
        }
    }

    /// An error at `span` when there is one, else at the start of the manifest (a
    /// default value has no span; every diagnostic about the manifest names the file).
    pub(super) fn bad(
        &mut self,
        span: Option<Range<usize>>,
        msg: String,
        label: &str,
        help: Option<&str>,
    ) {
        let d = self.at(msg, span.unwrap_or(0..0), label);
        self.err(match help {
            Some(h) => d.help(h),
            None => d,
        });
    }
}

fn esc(s: &str) -> String {
    crate::diagnostic::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners() {
        let l = |s| parse_listen(s).unwrap();
        assert!(listeners_overlap(l("80"), l("127.0.0.1:80")));
        assert!(listeners_overlap(l("[::]:80"), l("127.0.0.1:80")));
        assert!(listeners_overlap(
            l("[::ffff:127.0.0.1]:80"),
            l("127.0.0.1:80")
        ));
        assert!(!listeners_overlap(l("127.0.0.1:80"), l("127.0.0.2:80")));
        assert!(!listeners_overlap(l("127.0.0.1:80"), l("127.0.0.1:81")));
        for bad in [
            "localhost:80",
            "80 default_server",
            "8003 ; listen 80",
            "0",
            "70000",
            "",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns_names() {
        for ok in ["grid.test", "a-b.c", "127.0.0.1", "x"] {
            assert_eq!(dns_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "a b",
            "a;b",
            "*.grid.test",
            "a..b",
            "-a.b",
            "",
            "a\nb",
            "~.*",
            "Grid.Localhost",
        ] {
            assert!(dns_name_problem(bad).is_some(), "{bad}");
        }
    }
}
