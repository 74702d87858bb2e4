//! The rendered nginx config: accepted by the real `nginx -t` (in a scratch prefix with a
//! main config of our own, never the system one), and the routing rules of robust.md §0.

mod common;

use common::{example, stdout};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Examples with an `[nginx]` table.
const WITH_NGINX: &[&str] = &["blog-split", "hypergrid"];

fn nginx_binary() -> Option<PathBuf> {
    let candidates = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"];
    if let Some(p) = candidates.iter().map(PathBuf::from).find(|p| p.is_file()) {
        return Some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nginx"))
            .find(|p| p.is_file())
    })
}

/// nginx, or `None` when the environment explicitly allows skipping (GRIDCTL_SKIP_NGINX=1).
fn require_nginx() -> Option<PathBuf> {
    match nginx_binary() {
        Some(p) => Some(p),
        None if std::env::var("GRIDCTL_SKIP_NGINX").as_deref() == Ok("1") => {
            eprintln!("nginx not found; skipped because GRIDCTL_SKIP_NGINX=1");
            None
        }
        None => panic!(
            "nginx is not installed (looked in /usr/sbin, /usr/local/sbin, /usr/bin and PATH): \
             install it (apt-get install nginx-light) or set GRIDCTL_SKIP_NGINX=1 to skip this test"
        ),
    }
}

/// `nginx -t` on `rendered` inside a minimal main config whose every path is in `prefix`.
fn nginx_test(nginx: &Path, prefix: &Path, rendered: &Path) -> std::process::Output {
    for d in ["logs", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(prefix.join(d)).unwrap();
    }
    let p = prefix.display();
    let main = format!(
        "daemon off;
pid {p}/nginx.pid;
error_log {p}/logs/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {p}/client_body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    include {};
}}
",
        rendered.display()
    );
    let conf = prefix.join("nginx.conf");
    std::fs::write(&conf, main).unwrap();
    Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(&conf)
        .output()
        .expect("run nginx -t")
}

fn rendered_nginx(name: &str) -> (common::Grid, String) {
    let g = example(name);
    let text = stdout(&g.gridctl(&["render-nginx"]).success());
    (g, text)
}

#[test]
fn real_nginx_accepts_every_rendered_config() {
    let Some(nginx) = require_nginx() else { return };
    for name in WITH_NGINX {
        let g = example(name);
        g.gridctl(&["render-nginx", "-o", "out/gridctl.conf"])
            .success();
        let prefix = g.tmp.path().join("nginx-prefix");
        let out = nginx_test(&nginx, &prefix, &g.dir.join("out/gridctl.conf"));
        assert!(
            out.status.success(),
            "{name}: nginx -t failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("test is successful"));
    }
}

/// `server { ... }` blocks: (listen, server_name, body).
fn servers(conf: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut rest = conf;
    while let Some(i) = rest.find("\nserver {") {
        let body_start = i + "\nserver {".len();
        let end = rest[body_start..]
            .find("\n}\n")
            .map(|e| body_start + e)
            .unwrap_or(rest.len());
        let body = &rest[body_start..end];
        let value = |key: &str| {
            body.lines()
                .map(str::trim)
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim_end_matches(';').trim().to_string())
                .unwrap_or_default()
        };
        out.push((value("listen "), value("server_name "), body.to_string()));
        rest = &rest[end..];
    }
    out
}

/// `upstream NAME { ... }` blocks: (name, body).
fn upstreams(conf: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, _) in conf.match_indices("\nupstream ") {
        let rest = &conf[i + "\nupstream ".len()..];
        let name = rest.split_whitespace().next().unwrap().to_string();
        let body = &rest[..rest.find("\n}").unwrap()];
        out.push((name, body.to_string()));
    }
    out
}

#[test]
fn private_hostnames_never_reach_the_public_listener() {
    for (name, public, private) in [
        ("blog-split", "127.0.0.1:18080", "127.0.0.1:18081"),
        ("hypergrid", "127.0.0.1:19080", "127.0.0.1:19081"),
    ] {
        let (_g, conf) = rendered_nginx(name);
        let all = servers(&conf);
        assert!(all.len() > 5, "{name}");
        for (listen, host, _) in &all {
            assert!(
                listen == public || listen.starts_with(private),
                "{name}: unexpected listener {listen}"
            );
            if host.ends_with(".robust.internal") {
                assert_eq!(listen, private, "{name}: {host} published on {listen}");
            }
            if listen == public {
                assert!(!host.ends_with(".robust.internal"), "{name}: {host}");
                assert!(host != "_", "{name}: catch-all on the public listener");
            }
        }
        // Unknown hosts on the private listener are refused, not routed to a service.
        assert!(all
            .iter()
            .any(|(l, h, b)| *l == format!("{private} default_server")
                && h == "_"
                && b.contains("return 404;")));
    }
}

#[test]
fn every_upstream_lists_every_copy() {
    for (name, roles) in [
        (
            "blog-split",
            &[
                ("core", "private", 1, 18100),
                ("core", "public", 1, 18200),
                ("asset", "private", 3, 18300),
                ("inventory", "private", 2, 18400),
            ][..],
        ),
        (
            "hypergrid",
            &[
                ("core", "private", 1, 19100),
                ("hg", "public", 1, 19400),
                ("asset", "private", 2, 19500),
                ("inventory", "private", 2, 19600),
            ][..],
        ),
    ] {
        let (_g, conf) = rendered_nginx(name);
        let ups = upstreams(&conf);
        // The hg role hosts only public services: it has no private upstream.
        assert!(!ups.iter().any(|(n, _)| n == "gridctl_hg_private"));
        for (role, side, copies, port) in roles {
            let (_, body) = ups
                .iter()
                .find(|(n, _)| *n == format!("gridctl_{role}_{side}"))
                .unwrap_or_else(|| panic!("{name}: no {side} upstream for {role}"));
            let servers: Vec<&str> = body
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("server "))
                .collect();
            assert_eq!(servers.len(), *copies, "{name}/{role}: {body}");
            for n in 0..*copies {
                let want = format!("server 127.0.0.1:{} ", port + n as u16);
                assert!(
                    servers
                        .iter()
                        .any(|s| s.starts_with(&want) && !s.contains(" down")),
                    "{name}/{role}: {want} missing or down"
                );
                assert!(body.contains(&format!("# {role}-{}", n + 1)));
            }
            assert!(body.contains("keepalive "), "{name}/{role}: keepalive");
        }
    }
}

#[test]
fn proxying_is_safe_for_robust() {
    for name in WITH_NGINX {
        let (_g, conf) = rendered_nginx(name);
        for (listen, host, body) in servers(&conf) {
            if host == "_" {
                continue;
            }
            let has = |line: &str| body.lines().any(|l| l.trim() == line);
            let what = format!("{name}: {host} on {listen}");
            assert!(has("proxy_http_version 1.1;"), "{what}: HTTP/1.1 upstream");
            assert!(
                has("proxy_set_header Connection \"\";"),
                "{what}: keepalive"
            );
            assert!(
                has("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"),
                "{what}: X-Forwarded-For (HasProxy)"
            );
            assert!(has("proxy_set_header Host $host;"), "{what}");
            let next = body
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("proxy_next_upstream "))
                .unwrap_or_else(|| panic!("{what}: no proxy_next_upstream"));
            // Only XInventory's POSTs are safe to send again to another copy
            // (catalog::replays_posts); every other service's never are.
            let inventory = host.starts_with("inventory.");
            assert_eq!(next.contains("non_idempotent"), inventory, "{what}: {next}");
            // Callers (Mono) never reuse a connection a reload may close; map tiles do.
            assert_eq!(
                has("keepalive_timeout 0;"),
                !host.starts_with("map."),
                "{what}: keep-alive to callers"
            );
        }
    }
}

#[test]
fn one_server_per_service_hostname() {
    // Login, GridInfo, Gatekeeper, UserAgent and HG IM all answer on `/`: one hostname each.
    let (_g, conf) = rendered_nginx("hypergrid");
    let all = servers(&conf);
    for host in [
        "login.hg.localhost",
        "gridinfo.hg.localhost",
        "hg.localhost",
        "useragent.hg.localhost",
        "hgim.hg.localhost",
    ] {
        let n = all.iter().filter(|(_, h, _)| h == host).count();
        assert_eq!(n, 1, "{host}");
    }
    let mut names: Vec<(&str, &str)> = all
        .iter()
        .map(|(l, h, _)| (l.as_str(), h.as_str()))
        .collect();
    let before = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), before, "duplicate listen/server_name pairs");
}
