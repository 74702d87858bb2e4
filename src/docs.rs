//! Man pages and shell completions, generated from the clap definitions so they can
//! never drift from the real CLI (a test fails when the committed copies are stale).
//! Each page also gets an EXAMPLES section, written against the shipped
//! `examples/blog-split` grid (core-1, asset-1..3, inventory-1..2).

use crate::cli::Cli;
use clap::CommandFactory;
use std::io;
use std::path::Path;

/// Every generated file: (path relative to the docs dir, contents).
pub fn files() -> io::Result<Vec<(String, Vec<u8>)>> {
    // Built first, so every subcommand's page shows the global options (`-f FILE`) and
    // its synopsis reads as typed (`gridctl up ...`).
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = Vec::new();
    out.push((
        "gridctl.1".to_string(),
        page(cmd.clone(), examples("gridctl"))?,
    ));
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = format!("gridctl-{}", sub.get_name());
        let own_examples = examples(sub.get_name());
        // A command's own subcommands (`export kubernetes`, `pod run`) get pages too,
        // which the parent's SUBCOMMANDS section names; their options are only there.
        for nested in sub
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            let nested_name = format!("{name}-{}", nested.get_name());
            let key = format!("{}-{}", sub.get_name(), nested.get_name());
            let nested = nested.clone().display_name(nested_name.clone());
            out.push((format!("{nested_name}.1"), page(nested, examples(&key))?));
        }
        let sub = sub.clone().display_name(name.clone());
        out.push((format!("{name}.1"), page(sub, own_examples)?));
    }
    for (shell, file) in [
        (clap_complete::Shell::Bash, "completions/gridctl.bash"),
        (clap_complete::Shell::Zsh, "completions/_gridctl"),
        (clap_complete::Shell::Fish, "completions/gridctl.fish"),
    ] {
        let mut buf = Vec::new();
        // Without the hidden commands: the generators would offer them.
        let mut cmd = crate::cli::completion_command();
        clap_complete::generate(shell, &mut cmd, "gridctl", &mut buf);
        out.push((file.to_string(), buf));
    }
    Ok(out)
}

pub fn generate(dir: &Path) -> io::Result<()> {
    for (rel, bytes) in files()? {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        crate::atomic::write_file(&path, &bytes, 0o644)?;
    }
    Ok(())
}

/// clap_mangen's page with an EXAMPLES section before VERSION (where man-pages(7) puts it,
/// after the options). clap_mangen has no hook for a section of our own, so it is spliced
/// into the rendered text.
fn page(cmd: clap::Command, examples: &[Example]) -> io::Result<Vec<u8>> {
    let mut page = Vec::new();
    // The footer names the program and its version on every page, subcommands included.
    clap_mangen::Man::new(cmd)
        .source(concat!("gridctl ", env!("CARGO_PKG_VERSION")))
        .render(&mut page)?;
    if examples.is_empty() {
        return Ok(page);
    }
    let text = String::from_utf8(page).map_err(io::Error::other)?;
    let mut section = String::from(".SH EXAMPLES\n");
    for (command, what) in examples {
        section.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", roff(command), roff(what)));
    }
    let at = text.find("\n.SH VERSION").map_or(text.len(), |i| i + 1);
    let mut text = text;
    text.insert_str(at, &section);
    Ok(text.into_bytes())
}

/// Text escaped for one roff line: backslashes, minus signs (a plain `-` may be typeset as
/// a hyphen, and a copied command would then fail), apostrophes (the page's preamble
/// defines `\*(Aq`), and a leading `.` that would read as a request.
fn roff(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            '\'' => out.push_str("\\*(Aq"),
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    if out.starts_with('.') {
        out.insert_str(0, "\\&");
    }
    out
}

/// A command line and what it does.
type Example = (&'static str, &'static str);

/// The examples of one page (`gridctl` for the main page, else a subcommand's name).
/// Names are those of `examples/blog-split/grid.toml`; tests/docs.rs checks them against
/// its plan.
fn examples(page: &str) -> &'static [Example] {
    match page {
        "gridctl" => &[
            (
                "gridctl -f examples/blog-split/grid.toml up --wait",
                "Start the example grid (core-1, asset-1..3, inventory-1..2) and wait until every copy is ready.",
            ),
            (
                "export GRIDCTL_FILE=/etc/gridctl/grid.toml",
                "Name the manifest once for the shell; -f FILE (before or after the command) overrides it.",
            ),
            ("gridctl status", "State, pid, ports, restarts, uptime, CPU and memory of every copy."),
            ("gridctl attach core-1", "The live console of core-1; Ctrl-] detaches."),
            ("gridctl scale asset=4", "Run four asset copies: only asset-4 starts."),
            ("gridctl down", "Stop the whole grid gracefully, dependants first."),
        ],
        "init" => &[
            (
                "gridctl init --bin-dir /opt/opensim/bin --domain grid.example.org",
                "Write ./grid.toml for the OpenSim install in /opt/opensim/bin, services on <service>.grid.example.org.",
            ),
            (
                "gridctl -f /etc/gridctl/grid.toml init --bin-dir /opt/opensim/bin --name \"My Grid\" --force",
                "Write (overwriting) the manifest at another path.",
            ),
            (
                "gridctl init --bin-dir /opt/opensim/bin --simulators 2 --estate-owner \"Ada Lovelace\"",
                "The whole grid: the split Robust and two region simulators (sim1, sim2, one region each), their estate owned by Ada Lovelace.",
            ),
        ],
        "check" => &[(
            "gridctl -f examples/blog-split/grid.toml check",
            "Validate the manifest and everything it renders; exit 3 with file:line:col diagnostics when something is wrong.",
        )],
        "plan" => &[
            (
                "gridctl -f examples/blog-split/grid.toml plan",
                "The six instances of the example, their roles, ports and hostnames.",
            ),
            (
                "gridctl plan --json",
                "The same as JSON, with each instance's exact command line (secrets redacted).",
            ),
        ],
        "render" => &[(
            "gridctl -f examples/blog-split/grid.toml render",
            "Write every instance's config tree under examples/blog-split/.gridctl/instances/ (only changed files are rewritten).",
        )],
        "render-nginx" => &[
            ("gridctl render-nginx", "Print the nginx config of the grid."),
            (
                "gridctl render-nginx -o /etc/nginx/gridctl.conf",
                "Write it atomically; include it in nginx's http { } block.",
            ),
        ],
        "render-simulator" => &[(
            "gridctl render-simulator > GridCommon.ini",
            "The GridCommon.ini for simulators gridctl does not run (region store, asset cache, every service URL): save it as their bin/config-include/GridCommon.ini.",
        )],
        "up" => &[
            (
                "gridctl up --wait",
                "Start what is missing (the first copy of each role alone, then the rest) and wait until ready.",
            ),
            ("gridctl up asset", "Start only the copies of the asset role."),
            ("gridctl up inventory-2", "Start only inventory-2."),
            ("gridctl up --dry-run", "Print the steps up would take, each with its reason."),
        ],
        "down" => &[
            ("gridctl down", "Stop every copy gracefully (console shutdown, then signals), dependants first."),
            ("gridctl down asset-3", "Stop only asset-3."),
            ("gridctl down --dry-run inventory", "Show how the inventory copies would be stopped."),
        ],
        "status" => &[
            ("gridctl status", "One line per instance: state, pid, ports, restarts, uptime, CPU%, RSS; a grid with simulators adds a KIND column."),
            ("gridctl status --json", "The same, machine-readable."),
        ],
        "attach" => &[
            ("gridctl attach inventory-2", "The live console of inventory-2; Ctrl-] detaches, pressed twice it is sent."),
            ("gridctl attach --read-only core-1", "Watch core-1's console without typing into it."),
            ("gridctl attach --detach-key 'ctrl-a d' asset-1", "Detach with Ctrl-A d, as in screen."),
        ],
        "send" => &[
            ("gridctl send core-1 show uptime", "Type `show uptime` into core-1's console and print the answer."),
            ("gridctl send --role asset show info", "The same line to every asset copy."),
            (
                "gridctl send core-1 \"create user Ada Lovelace s3cret ada@example.org\" -a \"\" -a \"\"",
                "A command that asks two more questions (user id, model): each -a answers one; \"\" takes the default.",
            ),
        ],
        "logs" => &[
            ("gridctl logs asset-2", "The last 50 lines of asset-2's console log."),
            ("gridctl logs -f -n 200 core-1", "The last 200 lines of core-1's, then follow new ones."),
            (
                "gridctl logs --file examples/blog-split/grid.toml asset-1",
                "After logs, -f is --follow: name the manifest with --file (or before the command).",
            ),
        ],
        "restart" => &[
            ("gridctl restart asset-2", "Graceful stop and start of asset-2."),
            (
                "gridctl restart --rolling asset",
                "One asset copy at a time: out of its upstream, drained, restarted, ready, back in.",
            ),
            (
                "gridctl restart --notify 5m mainland",
                "Tell the users in simulator mainland's regions (OpenSim's alert, at 5m, 2m, 1m, 30s and 10s left), then restart it.",
            ),
        ],
        "scale" => &[
            ("gridctl scale asset=4 inventory=3", "Write the counts into grid.toml and start asset-4 and inventory-3."),
            ("gridctl scale asset=2", "From three copies: asset-3 leaves its upstream, drains and stops."),
            ("gridctl scale --dry-run inventory=1", "Show the steps without acting or writing grid.toml."),
        ],
        "top" => &[("gridctl -f examples/blog-split/grid.toml top", "The live dashboard of the example grid.")],
        "nginx" | "nginx-reload" => &[(
            "gridctl nginx reload",
            "Render the nginx config, test it, install it (keeping the previous one) and reload nginx.",
        )],
        "pod" | "pod-run" => &[
            (
                "gridctl -f /etc/gridctl/grid.toml pod run core-1",
                "A container's command: render core-1 only and become its holder (PID 1); the console goes to stdout, SIGTERM stops Robust gracefully.",
            ),
            (
                "gridctl pod run",
                "The same, the instance named by $POD_NAME (else the hostname).",
            ),
        ],
        "export" | "export-kubernetes" => &[
            (
                "gridctl -f examples/blog-split/grid.toml export kubernetes -o k8s/",
                "Write k8s/: the ConfigMap, a StatefulSet and two Services per role (core, asset, inventory), the Ingress and a Containerfile.",
            ),
            (
                "gridctl export kubernetes -o k8s/ --namespace grid --image registry.example/opensim-robust:0.9.2.2",
                "The same in namespace grid, with the image pushed there; then `kubectl apply -f k8s/`.",
            ),
        ],
        "probe" => &[(
            "gridctl probe core-1",
            "A readiness probe: exit 0 when core-1 is ready, 1 otherwise, within 2 s.",
        )],
        _ => &[],
    }
}
