//! Bad manifests and what gridctl says about them: the exact text (file:line:column,
//! carets, help) and exit code 3. Each manifest is written inline into a scratch dir.

mod common;

use common::{code, manifest, stderr, stdout, Grid};

/// Lines 1–8 of every manifest below (so line numbers in the expectations are stable).
const HEAD: &str = "[grid]
name = \"Test Grid\"
domain = \"grid.test\"

[robust]
bin_dir = \"@BIN@\"
command = [\"@ROBUST@\", \"Robust.dll\"]

";

/// Lines 9–12.
const DB: &str = "[database]
provider = \"mysql\"
connection = \"env:ROBUST_DB\"

";

fn grid(text: &str) -> Grid {
    manifest(
        &text
            .replace("@BIN@", &common::fake_bin_dir().display().to_string())
            .replace("@ROBUST@", &common::fake_robust_bin().display().to_string()),
    )
}

/// Runs `gridctl ARGS` on `text`; asserts exit code 3 and nothing on stdout; returns the
/// normalised stderr.
fn fails(text: &str, args: &[&str]) -> String {
    let g = grid(text);
    let a = g.gridctl(args);
    assert_eq!(code(&a), Some(3), "stderr: {}", stderr(&a));
    assert_eq!(stdout(&a), "");
    g.normalize(&stderr(&a))
}

fn plan_fails(text: &str) -> String {
    fails(text, &["plan"])
}

#[test]
fn toml_syntax_error() {
    assert_eq!(
        plan_fails("[grid\nname = \"x\"\n"),
        "error: invalid manifest: unclosed table, expected `]`
 --> grid.toml:1:6
  |
1 | [grid
  |      ^

"
    );
}

#[test]
fn unknown_top_level_key_suggests_the_close_one() {
    let text = format!("{HEAD}{DB}[databse]\nprovider = \"mysql\"\n\n[roles.core]\nservices = [\"asset\"]\nport = 18100\n");
    assert_eq!(
        plan_fails(&text),
        "error: unknown key `databse`
  --> grid.toml:13:2
   |
13 | [databse]
   |  ^^^^^^^ not a known key here
help: did you mean `database`?

"
    );
}

#[test]
fn unknown_role_key() {
    let text =
        format!("{HEAD}{DB}[roles.core]\nservices = [\"asset\"]\ninstnces = 2\nport = 18100\n");
    assert_eq!(
        plan_fails(&text),
        "error: unknown key `instnces`
  --> grid.toml:15:1
   |
15 | instnces = 2
   | ^^^^^^^^ not a known key here
help: did you mean `instances`?

"
    );
}

#[test]
fn unknown_service_suggests_the_close_one() {
    let text =
        format!("{HEAD}{DB}[roles.core]\nservices = [\"asset\", \"presense\"]\nport = 18100\n");
    assert_eq!(
        plan_fails(&text),
        "error: unknown service `presense`
  --> grid.toml:14:22
   |
14 | services = [\"asset\", \"presense\"]
   |                      ^^^^^^^^^^ not in the service catalog
help: did you mean `presence`?

"
    );
}

#[test]
fn port_collision_names_both_instances() {
    let text = format!(
        "{HEAD}{DB}[roles.asset]\nservices = [\"asset\"]\ninstances = 3\nport = 18300\n\n\
         [roles.inventory]\nservices = [\"inventory\"]\nport = 18302\n"
    );
    assert_eq!(
        plan_fails(&text),
        "error: port 18302 is used by both asset-3 (port) and inventory-1 (port)
  --> grid.toml:20:8
   |
20 | port = 18302
   |        ^^^^^ role `inventory` derives port 18302 for copy 1
  ::: grid.toml:16:8
   |
16 | port = 18300
   |        ^^^^^ asset-3 (port) is derived from here
help: give the roles port bases far enough apart for all their copies (copy n uses base + n - 1)

"
    );
}

const PRESENCE_WHY: &str = "PresenceService keeps process-wide session caches (300 s sliding TTL) \
    with no off switch: a second copy serves stale online/region state";

#[test]
fn single_copy_service_with_two_instances() {
    let text =
        format!("{HEAD}{DB}[roles.core]\nservices = [\"presence\"]\ninstances = 2\nport = 18100\n");
    assert_eq!(
        plan_fails(&text),
        format!(
            "error: service `presence` cannot run as 2 copies (role `core`)
  --> grid.toml:15:13
   |
15 | instances = 2
   |             ^ more than one copy
help: {PRESENCE_WHY}. Keep `presence` in a role with instances = 1, or set allow_unsafe_copies = true in [roles.core] to run it anyway

"
        )
    );
}

#[test]
fn allow_unsafe_copies_turns_it_into_a_loud_success() {
    let g = grid(&format!(
        "{HEAD}{DB}[roles.core]\nservices = [\"presence\"]\ninstances = 2\nport = 18100\nallow_unsafe_copies = true\n"
    ));
    let a = g.gridctl(&["plan"]);
    assert_eq!(code(&a), Some(0), "{}", stderr(&a));
    assert!(stdout(&a).contains("core-2"));
    assert_eq!(
        stderr(&a),
        format!(
            "warning: role `core` runs 2 copies of single-copy service `presence` (allow_unsafe_copies)
  --> grid.toml:15:13
   |
15 | instances = 2
   |             ^ more than one copy
help: {PRESENCE_WHY}

"
        )
    );
}

#[test]
fn required_dependency_hosted_nowhere() {
    let text = format!(
        "{HEAD}{DB}[roles.core]\nservices = [\"grid\", \"auth\", \"useraccount\", \"avatar\", \"griduser\", \"inventory\", \"login\"]\nport = 18100\n"
    );
    assert_eq!(
        plan_fails(&text),
        "error: service `login` (role `core`) needs `presence`, which no role hosts
  --> grid.toml:14:79
   |
14 | services = [\"grid\", \"auth\", \"useraccount\", \"avatar\", \"griduser\", \"inventory\", \"login\"]
   |                                                                               ^^^^^^^ `login` needs `presence`
help: add \"presence\" to the services of a role

"
    );
}

#[test]
fn same_service_in_two_roles() {
    let text = format!(
        "{HEAD}{DB}[roles.core]\nservices = [\"asset\", \"auth\"]\nport = 18100\n\n\
         [roles.asset]\nservices = [\"asset\"]\nport = 18300\n"
    );
    assert_eq!(
        plan_fails(&text),
        "error: service `asset` is hosted by two roles, `core` and `asset`
  --> grid.toml:18:13
   |
18 | services = [\"asset\"]
   |             ^^^^^^^ second role hosting it
  ::: grid.toml:14:13
   |
14 | services = [\"asset\", \"auth\"]
   |             ^^^^^^^ first hosted by role `core`
help: a service lives in one role; raise that role's `instances` to run more copies

"
    );
}

#[test]
fn conflicting_services_in_one_role() {
    let text =
        format!("{HEAD}{DB}[roles.store]\nservices = [\"asset\", \"fsasset\"]\nport = 18300\n");
    assert_eq!(
        plan_fails(&text),
        "error: services `asset` and `fsasset` cannot share a process: both configure [AssetService]
  --> grid.toml:14:22
   |
14 | services = [\"asset\", \"fsasset\"]
   |                      ^^^^^^^^^ conflicts with an earlier service of this role
help: keep only one of them

"
    );
}

#[test]
fn sqlite_with_several_instances() {
    let text = format!(
        "{HEAD}[database]\nprovider = \"sqlite\"\nconnection = \"URI=file:robust.db\"\n\n\
         [roles.asset]\nservices = [\"asset\"]\ninstances = 2\nport = 18300\n"
    );
    assert_eq!(
        plan_fails(&text),
        "error: SQLite cannot serve 2 Robust processes
  --> grid.toml:10:12
   |
10 | provider = \"sqlite\"
   |            ^^^^^^^^ sqlite
help: several processes sharing SQLite files fail with UNIQUE constraint errors at start; use mysql or pgsql for a split grid

"
    );
}

#[test]
fn bad_database_provider() {
    let text = format!(
        "{HEAD}[database]\nprovider = \"oracle\"\nconnection = \"env:ROBUST_DB\"\n\n\
         [roles.asset]\nservices = [\"asset\"]\nport = 18300\n"
    );
    assert_eq!(
        plan_fails(&text),
        "error: unknown database provider `oracle`
  --> grid.toml:10:12
   |
10 | provider = \"oracle\"
   |            ^^^^^^^^ not a provider
help: use \"mysql\", \"pgsql\" or \"sqlite\"

"
    );
}

#[test]
fn unknown_host() {
    let text = format!(
        "{HEAD}{DB}[hosts.node-b]\naddress = \"10.0.0.2\"\n\n\
         [roles.asset]\nservices = [\"asset\"]\nport = 18300\nhost = \"node_b\"\n"
    );
    assert_eq!(
        plan_fails(&text),
        "error: unknown host `node_b`
  --> grid.toml:19:8
   |
19 | host = \"node_b\"
   |        ^^^^^^^^ not declared in [hosts]
help: did you mean `node-b`?

"
    );
}

#[test]
fn invalid_role_name() {
    let text = format!("{HEAD}{DB}[roles.Asset-Store]\nservices = [\"asset\"]\nport = 18300\n");
    assert_eq!(
        plan_fails(&text),
        "error: role name `Asset-Store` is not usable in instance names
  --> grid.toml:13:1
   |
13 | [roles.Asset-Store]
   | ^^^^^^^^^^^^^^^^^^^ this role
help: use lowercase letters, digits and `_` (instances are named `<role>-<n>`)

"
    );
}

#[test]
fn hostname_collision_in_grid_hostnames() {
    let text = format!(
        "{HEAD}[grid.hostnames]\nlogin = \"www.grid.test\"\ngridinfo = \"www.grid.test\"\n\n{DB}\
         [roles.core]\nservices = [\"grid\", \"gridinfo\", \"auth\", \"useraccount\", \"avatar\", \
         \"griduser\", \"presence\", \"inventory\", \"login\"]\nport = 18100\n"
    );
    assert_eq!(
        plan_fails(&text),
        "error: hostname `www.grid.test` is used by services `gridinfo` and `login` on the public listener
  --> grid.toml:10:9
   |
10 | login = \"www.grid.test\"
   |         ^^^^^^^^^^^^^^^ duplicate hostname
  ::: grid.toml:11:12
   |
11 | gridinfo = \"www.grid.test\"
   |            ^^^^^^^^^^^^^^^ already used by `gridinfo`
help: Robust services that answer on `/` can only be told apart by hostname: give each its own

"
    );
}

#[test]
fn hostname_collision_between_role_hostnames() {
    let text = format!(
        "{HEAD}{DB}[roles.asset]\nservices = [\"asset\"]\nport = 18300\nhostname = \"store.robust.internal\"\n\n\
         [roles.inventory]\nservices = [\"inventory\"]\nport = 18400\nhostname = \"store.robust.internal\"\n"
    );
    assert_eq!(
        plan_fails(&text),
        "error: hostname `store.robust.internal` is used by services `asset` and `inventory` on the private listener
  --> grid.toml:21:12
   |
21 | hostname = \"store.robust.internal\"
   |            ^^^^^^^^^^^^^^^^^^^^^^^ duplicate hostname
  ::: grid.toml:16:12
   |
16 | hostname = \"store.robust.internal\"
   |            ^^^^^^^^^^^^^^^^^^^^^^^ already used by `asset`
help: Robust services that answer on `/` can only be told apart by hostname: give each its own

"
    );
}

#[test]
fn missing_database_table() {
    let text = format!("{HEAD}[roles.asset]\nservices = [\"asset\"]\nport = 18300\n");
    assert_eq!(
        plan_fails(&text),
        "error: missing required table `[database]`
 --> grid.toml:5:1
  |
5 | [robust]
  | ^^^^^^^^ add `[database]` after this table
help: add [database] with provider = \"mysql\" and connection = \"env:ROBUST_DB\" (or \"sqlite\" for a single instance)

"
    );
}

#[test]
fn negative_instances() {
    let text =
        format!("{HEAD}{DB}[roles.asset]\nservices = [\"asset\"]\ninstances = -1\nport = 18300\n");
    assert_eq!(
        plan_fails(&text),
        "error: `instances` of role `asset` must be a whole number from 0 to 1000
  --> grid.toml:15:13
   |
15 | instances = -1
   |             ^^ out of range

"
    );
}

#[test]
fn port_out_of_range() {
    let text =
        format!("{HEAD}{DB}[roles.asset]\nservices = [\"asset\"]\ninstances = 2\nport = 65535\n");
    assert_eq!(
        plan_fails(&text),
        "error: `port` of role `asset` gives ports 65535..=65536, outside 1..=65535
  --> grid.toml:16:8
   |
16 | port = 65535
   |        ^^^^^ port base

"
    );
}

#[test]
fn private_listener_on_the_public_one() {
    let text = format!(
        "{HEAD}{DB}[nginx]\noutput = \"nginx.conf\"\npublic_listen = \"8080\"\nprivate_listen = \"127.0.0.1:8080\"\n\n\
         [roles.asset]\nservices = [\"asset\"]\nport = 18300\n"
    );
    assert_eq!(
        plan_fails(&text),
        "error: nginx `private_listen` (127.0.0.1:8080) overlaps `public_listen` (8080)
  --> grid.toml:16:18
   |
16 | private_listen = \"127.0.0.1:8080\"
   |                  ^^^^^^^^^^^^^^^^ private services would be published on the public listener
  ::: grid.toml:15:17
   |
15 | public_listen = \"8080\"
   |                 ^^^^^^ public listener
help: give the private listener its own port, on an address not reachable from outside (e.g. 127.0.0.1:8003)

"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = format!(
        "{HEAD}{DB}[roles.core]\nservices = [\"presense\"]\nport = 18100\n\n\
         [roles.asset]\nservices = [\"asset\"]\ninstances = -1\nport = 18300\n"
    );
    let err = plan_fails(&text);
    assert_eq!(err.matches("error: ").count(), 2, "{err}");
    assert!(err.contains("error: unknown service `presense`"));
    assert!(err.contains("error: `instances` of role `asset`"));
}

// ---------------------------------------------------------------- `check`: the machine

/// A valid manifest whose only hostname (`localhost`) resolves everywhere, so `check` adds
/// no machine-dependent warning.
fn checkable(robust: &str) -> String {
    format!(
        "[grid]\nname = \"Test Grid\"\ndomain = \"grid.test\"\n\n[grid.hostnames]\nasset = \"localhost\"\n\n\
         {robust}\n{DB}[roles.asset]\nservices = [\"asset\"]\nport = 18300\n"
    )
}

#[test]
fn check_passes_on_a_good_manifest() {
    let g = grid(&checkable(
        "[robust]\nbin_dir = \"@BIN@\"\ncommand = [\"@ROBUST@\", \"Robust.dll\"]\n",
    ));
    let a = g.gridctl(&["check"]);
    assert_eq!(code(&a), Some(0), "{}", stderr(&a));
    assert_eq!(stderr(&a), "");
    assert_eq!(
        stdout(&a),
        "ok: grid.toml (1 instance(s) in 1 role(s), 0 warning(s))\n"
    );
}

#[test]
fn check_missing_bin_dir() {
    let err = fails(
        &checkable(
            "[robust]\nbin_dir = \"no-such-bin\"\ncommand = [\"@ROBUST@\", \"Robust.dll\"]\n",
        ),
        &["check"],
    );
    assert_eq!(
        err,
        "error: bin_dir `$DIR/grid/no-such-bin` is not a directory
 --> grid.toml:9:11
  |
9 | bin_dir = \"no-such-bin\"
  |           ^^^^^^^^^^^^^ relative paths start at grid.toml's directory
help: point [robust] bin_dir at the bin/ directory of your OpenSim install

error: `grid.toml` has 1 error(s) and 0 warning(s)

"
    );
}

#[test]
fn check_missing_command_program() {
    let err = fails(
        &checkable(
            "[robust]\nbin_dir = \"@BIN@\"\ncommand = [\"./no-such-robust\", \"Robust.dll\"]\n",
        ),
        &["check"],
    );
    assert_eq!(
        err,
        "error: the Robust command `$DIR/grid/no-such-robust` was not found
  --> grid.toml:10:12
   |
10 | command = [\"./no-such-robust\", \"Robust.dll\"]
   |            ^^^^^^^^^^^^^^^^^^ no such file
help: install it, or set [robust] command (e.g. [\"dotnet\", \"Robust.dll\"] or [\"mono\", \"Robust.exe\"])

error: `grid.toml` has 1 error(s) and 0 warning(s)

"
    );
}

#[test]
fn check_unset_database_secret() {
    let g = grid(&checkable(
        "[robust]\nbin_dir = \"@BIN@\"\ncommand = [\"@ROBUST@\", \"Robust.dll\"]\n",
    ));
    let a = common::gridctl_without_db(&g.dir, &["check"]);
    assert_eq!(code(&a), Some(3));
    assert_eq!(
        stderr(&a),
        "error: the database connection string (env:ROBUST_DB) is not available
  --> grid.toml:14:14
   |
14 | connection = \"env:ROBUST_DB\"
   |              ^^^^^^^^^^^^^^^ not set
help: export ROBUST_DB=... before running gridctl (it is passed to each instance as GRIDCTL_DATABASE_CONNECTION)

error: `grid.toml` has 1 error(s) and 0 warning(s)

"
    );
}

/// The console appender named with the assembly gridctl once rendered (the type is not in
/// `OpenSim.Framework.dll`, which exists): real log4net drops the appender and Robust's
/// console shows no log line (robust.md 0d). `check` names the type, the template and the fix.
#[test]
fn check_log4net_type_from_the_wrong_assembly() {
    let text =
        checkable("[robust]\nbin_dir = \"@BIN@\"\ncommand = [\"@ROBUST@\", \"Robust.dll\"]\n")
            .replace(
                "domain = \"grid.test\"\n",
                "domain = \"grid.test\"\ntemplates = \"tpl\"\n",
            );
    let g = grid(&text);
    let builtin = include_str!("../templates/log4net.xml");
    let wrong = builtin.replace(
        "OpenSimAppender, OpenSim.Framework.Console\"",
        "OpenSimAppender, OpenSim.Framework\"",
    );
    assert_ne!(wrong, builtin);
    std::fs::create_dir_all(g.dir.join("tpl")).unwrap();
    std::fs::write(g.dir.join("tpl/log4net.xml"), wrong).unwrap();
    let a = g.gridctl(&["check"]);
    assert_eq!(code(&a), Some(3), "{}", stderr(&a));
    assert_eq!(
        g.normalize(&stderr(&a)),
        "error: log4net type `OpenSim.Framework.Console.OpenSimAppender, OpenSim.Framework` does not resolve: `OpenSim.Framework.Console.OpenSimAppender` is in assembly `OpenSim.Framework.Console`, not `OpenSim.Framework` (bin_dir `$REPO/examples/fake-bin`)
 --> $DIR/grid/tpl/log4net.xml:7:34
  |
7 |   <appender name=\"Console\" type=\"OpenSim.Framework.Console.OpenSimAppender, OpenSim.Framework\">
  |                                  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ rendered into the log4net config of `asset-1`
help: name it `OpenSim.Framework.Console.OpenSimAppender, OpenSim.Framework.Console` in your templates directory's `log4net.xml` ([grid] templates); log4net drops an appender it cannot load, and without the console appender Robust's console shows no log line

error: `grid.toml` has 1 error(s) and 0 warning(s)

"
    );
    // Several copies: one diagnostic for the type, labelled for all of them.
    let manifest = std::fs::read_to_string(&g.manifest).unwrap();
    std::fs::write(
        &g.manifest,
        manifest.replace("port = 18300", "instances = 2\nport = 18300"),
    )
    .unwrap();
    let err = stderr(&g.gridctl(&["check"]));
    assert_eq!(err.matches("error: log4net type").count(), 1, "{err}");
    assert!(
        err.contains("^ rendered into the log4net config of every instance\n"),
        "{err}"
    );
}

/// The built-in template is right, but bin_dir lacks the appender's assembly.
#[test]
fn check_log4net_assembly_missing_from_bin_dir() {
    let bin = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(common::fake_bin_dir()).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "OpenSim.Framework.Console.dll" {
            std::fs::copy(e.path(), bin.path().join(e.file_name())).unwrap();
        }
    }
    let g = manifest(
        &checkable("[robust]\nbin_dir = \"@BIN@\"\ncommand = [\"@ROBUST@\", \"Robust.dll\"]\n")
            .replace("@BIN@", &bin.path().display().to_string())
            .replace("@ROBUST@", &common::fake_robust_bin().display().to_string()),
    );
    let a = g.gridctl(&["check"]);
    assert_eq!(code(&a), Some(3), "{}", stderr(&a));
    let bin = bin.path().display().to_string();
    assert_eq!(
        g.normalize(&stderr(&a)).replace(&bin, "@BIN@"),
        "error: log4net type `OpenSim.Framework.Console.OpenSimAppender, OpenSim.Framework.Console` does not resolve: neither `OpenSim.Framework.Console.dll` nor `OpenSim.Framework.Console.exe` is in bin_dir `@BIN@`
 --> (built-in templates)/log4net.xml:7:34
  |
7 |   <appender name=\"Console\" type=\"OpenSim.Framework.Console.OpenSimAppender, OpenSim.Framework.Console\">
  |                                  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ rendered into the log4net config of `asset-1`
help: put `OpenSim.Framework.Console.dll` into bin_dir, or fix the assembly name in the built-in `log4net.xml`; log4net drops an appender it cannot load, and without the console appender Robust's console shows no log line

error: `grid.toml` has 1 error(s) and 0 warning(s)

"
    );
}

#[test]
fn missing_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let a = common::gridctl(tmp.path(), &["plan"]);
    assert_eq!(code(&a), Some(3));
    assert_eq!(
        stderr(&a),
        "error: cannot read manifest `grid.toml`: No such file or directory (os error 2)
help: create one with `gridctl init`, or name another with `-f FILE`

"
    );
}

// Issue 10: hostile values, bounds, unreadable inputs (the whole table is in injection.rs).

/// Lines 13–17: an nginx front on two loopback listeners.
const NGINX: &str = "[nginx]
output = \"nginx.conf\"
public_listen = \"127.0.0.1:18080\"
private_listen = \"127.0.0.1:18081\"

";

/// The finding: `;` in a hostname ended nginx's `server_name` and added a `listen` on
/// the public listener to a private service's server block.
#[test]
fn hostname_with_a_semicolon_is_not_a_dns_name() {
    let text = format!(
        "{HEAD}{DB}{NGINX}[grid.hostnames]\nasset = \"asset.robust.internal; listen 127.0.0.1:18080\"\n\n[roles.asset]\nservices = [\"asset\"]\nport = 18300\n"
    );
    assert_eq!(plan_fails(&text), "error: hostname of `asset` in [grid.hostnames] `asset.robust.internal; listen 127.0.0.1:18080` is not a DNS name
  --> grid.toml:19:9
   |
19 | asset = \"asset.robust.internal; listen 127.0.0.1:18080\"
   |         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ `;` is not allowed in a DNS name (letters, digits, `-` and dots only)
help: nginx reads a space or `;` in a name as the end of it; use letters, digits, `-` and dots

");
}

#[test]
fn private_listen_with_a_second_directive() {
    let text = format!(
        "{HEAD}{DB}{}[roles.asset]\nservices = [\"asset\"]\nport = 18300\n",
        NGINX.replace("\"127.0.0.1:18081\"", "\"18081 ; listen 127.0.0.1:18080\"")
    );
    assert_eq!(plan_fails(&text), "error: `private_listen` of [nginx] is `18081 ; listen 127.0.0.1:18080`: spaces, `;`, quotes and braces are not allowed (nginx would read the rest as more parameters or directives)
  --> grid.toml:16:18
   |
16 | private_listen = \"18081 ; listen 127.0.0.1:18080\"
   |                  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ expected ADDRESS:PORT or PORT
help: e.g. \"127.0.0.1:8003\", \"[::1]:8003\" or \"80\"

");
}

#[test]
fn private_listen_by_name_cannot_be_compared() {
    let text = format!(
        "{HEAD}{DB}{}[roles.asset]\nservices = [\"asset\"]\nport = 18300\n",
        NGINX.replace("\"127.0.0.1:18081\"", "\"localhost:18080\"")
    );
    assert_eq!(plan_fails(&text), "error: `private_listen` of [nginx] is `localhost:18080`: `localhost` is not an IP address (names such as `localhost` are not allowed: only a parsed address can be told apart from the other listener)
  --> grid.toml:16:18
   |
16 | private_listen = \"localhost:18080\"
   |                  ^^^^^^^^^^^^^^^^^ expected ADDRESS:PORT or PORT
help: e.g. \"127.0.0.1:8003\", \"[::1]:8003\" or \"80\"

");
}

#[test]
fn log_keep_out_of_bounds() {
    let text = format!(
        "{HEAD}{DB}[supervise]\nlog_keep = 100000000\n\n[roles.asset]\nservices = [\"asset\"]\nport = 18300\n"
    );
    assert_eq!(
        plan_fails(&text),
        "error: `log_keep` of [supervise] is 100000000, outside 0..=100
  --> grid.toml:14:12
   |
14 | log_keep = 100000000
   |            ^^^^^^^^^ out of range

"
    );
}

#[test]
fn duration_that_overflows() {
    let text = format!(
        "{HEAD}{DB}[supervise]\nstop_timeout = \"99999999999999999999h\"\n\n[roles.asset]\nservices = [\"asset\"]\nport = 18300\n"
    );
    assert_eq!(
        plan_fails(&text),
        "error: invalid manifest: duration `99999999999999999999h` is longer than a day (24h)
  --> grid.toml:14:16
   |
14 | stop_timeout = \"99999999999999999999h\"
   |                ^^^^^^^^^^^^^^^^^^^^^^^

"
    );
}

/// A terminal escape in a value is shown escaped, never sent to the terminal.
#[test]
fn terminal_escape_in_a_value_is_shown_escaped() {
    let text = format!(
        "{}{DB}[roles.asset]\nservices = [\"asset\"]\nport = 18300\n",
        HEAD.replace("\"Test Grid\"", "\"\\u001b[2JTest\"")
    );
    let err = plan_fails(&text);
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert_eq!(
        err,
        "error: `name` of [grid] has a character it cannot hold: `\\u{1b}[2JTest`
 --> grid.toml:2:8
  |
2 | name = \"\\u001b[2JTest\"
  |        ^^^^^^^^^^^^^^^ control characters are not allowed

"
    );
}

#[test]
fn setting_value_with_a_quote() {
    let text = format!(
        "{HEAD}{DB}[roles.asset]\nservices = [\"asset\"]\nport = 18300\n\n[roles.asset.settings.AssetService]\nDefaultAssetLoader = 'x\" ; injected'\n"
    );
    assert_eq!(plan_fails(&text), "error: `DefaultAssetLoader` in settings has a character it cannot hold: `x\" ; injected`
  --> grid.toml:18:22
   |
18 | DefaultAssetLoader = 'x\" ; injected'
   |                      ^^^^^^^^^^^^^^^ a `\"` would end the quoted INI value early (Robust's reader has no escapes)

");
}

#[test]
fn manifest_that_is_not_utf8() {
    let g = grid("");
    std::fs::write(&g.manifest, b"[grid]\nname = \"Gr\xffid\"\n").unwrap();
    let a = g.gridctl(&["plan"]);
    assert_eq!(code(&a), Some(3));
    assert_eq!(
        stderr(&a),
        "error: the manifest is not valid UTF-8
 --> grid.toml:2:11
  |
2 | name = \"Gr�id\"
  |           ^ invalid byte here
help: TOML files are UTF-8; re-save grid.toml as UTF-8

"
    );
}

#[test]
fn manifest_that_is_a_directory_or_a_fifo() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("dir.toml")).unwrap();
    nix::unistd::mkfifo(&tmp.path().join("fifo.toml"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let a = common::gridctl(tmp.path(), &["-f", "dir.toml", "plan"]);
    assert_eq!(code(&a), Some(3));
    assert_eq!(
        stderr(&a),
        "error: cannot read manifest `dir.toml`: it is a directory

"
    );
    // A FIFO without a writer: refused at once, never a hang.
    let a = common::gridctl(tmp.path(), &["-f", "fifo.toml", "plan"]);
    assert_eq!(code(&a), Some(3));
    assert_eq!(stderr(&a), "error: cannot read manifest `fifo.toml`: it is not a regular file (a FIFO, socket or device)

");
}

#[test]
fn database_secret_file_that_is_a_fifo() {
    let text = format!(
        "{HEAD}[database]\nprovider = \"mysql\"\nconnection = \"file:secret\"\n\n[roles.asset]\nservices = [\"asset\"]\nport = 18300\n"
    );
    let g = grid(&text);
    nix::unistd::mkfifo(&g.dir.join("secret"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let a = g.gridctl(&["plan"]);
    assert_eq!(code(&a), Some(3));
    assert_eq!(g.normalize(&stderr(&a)), "error: cannot read the connection string from `$DIR/grid/secret`: it is not a regular file (a FIFO, socket or device)
  --> grid.toml:11:14
   |
11 | connection = \"file:secret\"
   |              ^^^^^^^^^^^^^ secret file

");
}
