//! Support for `tests/kube_play_real.rs`: the same pod as `tests/kube_play.rs`, but the
//! image holds the real OpenSim Robust 0.9.2.2 and the host's Mono, and the grid's
//! manifest plans one real asset copy for the cluster.
//!
//! The image is built from the Containerfile the export writes, with its build context
//! as that file's header describes (`bin/` = the unpacked Robust, `gridctl`,
//! `gridctl-holder`: they land in [`IMAGE_BIN_DIR`] and /usr/local/bin), and with
//! [`BASE_IMAGE`] standing in for its `FROM debian:bookworm-slim` + `apt-get install
//! mono-complete` (no registry or mirror here; a stub `apt-get` takes the RUN line).
//! The base (`FROM scratch`) holds Debian's Mono as installed on this host: `/usr/bin/mono` and the libraries `ldd`
//! names, the class libraries Mono loads at run time (`/usr/lib/mono/4.5` — mostly links
//! into the GAC — and `/usr/lib/mono/gac`), `/etc/mono` (its dllmap and machine.config),
//! and the native helpers Mono P/Invokes through that dllmap
//! ([`MONO_NATIVE_LIBS`]). The compile-time reference assemblies (`*-api`), xbuild,
//! the AOT cache, the SDK tools and the compiler, build and GUI assemblies are left out
//! (`mono_left_out`). The test prints what Mono really mapped, for the record; the image
//! keeps the whole runtime rather than that list, which depends on the code path.
//!
//! Everything is staged as hard links into the build context (same file system as the
//! scratch directory), symlinks copied as symlinks.

use super::{place, shared_libraries, Podman, IMAGE, IMAGE_BIN_DIR};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The Mono runtime the image's Robust runs with (Debian's mono-complete).
pub const MONO: &str = "/usr/bin/mono";

/// Mono's class libraries, as directories copied whole (symlinks kept).
pub const MONO_TREES: &[&str] = &["/usr/lib/mono/4.5", "/usr/lib/mono/gac", "/etc/mono"];

/// What of [`MONO_TREES`] a runtime never loads, left out of the image: the SDK's tools
/// (`*.exe` and their configs beside the class libraries, xbuild's files) and the
/// compiler, build and GUI assemblies of the GAC. Robust compiles nothing and opens no
/// window.
fn mono_left_out(path: &Path) -> bool {
    const GAC_LEFT_OUT: &[&str] = &[
        "Microsoft.Build",
        "Mono.CSharp",
        "Mono.XBuild.Tasks",
        "monodoc",
        "System.Windows.Forms",
        "System.Reactive.Windows.Forms",
    ];
    let text = path.to_string_lossy();
    if let Some(rest) = text.split("/gac/").nth(1) {
        let assembly = rest.split('/').next().unwrap_or(rest);
        return GAC_LEFT_OUT.iter().any(|g| assembly.starts_with(g));
    }
    let Some(name) = text.strip_prefix("/usr/lib/mono/4.5/") else {
        return false;
    };
    !name.contains('/')
        && (name.ends_with(".exe")
            || name.ends_with(".exe.config")
            || name.ends_with(".targets")
            || name.ends_with(".tasks")
            || name.ends_with(".xsd")
            || name.ends_with(".rsp"))
        || name == "MSBuild"
}

/// Native libraries Mono loads by `dlopen` (the `$mono_libdir` entries of
/// `/etc/mono/config`), not visible to `ldd /usr/bin/mono`.
pub const MONO_NATIVE_LIBS: &[&str] = &[
    "/usr/lib/libMonoPosixHelper.so",
    "/usr/lib/libmono-native.so",
    "/usr/lib/libmono-native.so.0",
];

/// Why the real-Robust pod cannot run here, if it cannot: the shared archive, Mono or
/// MariaDB is missing (podman is checked by [`super::podman_or_skip`]).
pub fn missing_real_prerequisite(shared_robust: &Path) -> Option<String> {
    if !shared_robust.join("install.sh").is_file() {
        return Some(format!(
            "{} is missing (a plain clone has no ../shared)",
            shared_robust.display()
        ));
    }
    for (tool, package) in [
        ("mono", "mono-complete"),
        ("mariadbd", "mariadb-server"),
        ("mariadb-install-db", "mariadb-server"),
        ("mariadb", "mariadb-client"),
    ] {
        let found = super::which(tool)
            .or_else(|| Some(Path::new("/usr/sbin").join(tool)).filter(|p| p.is_file()));
        if found.is_none() {
            return Some(format!(
                "`{tool}` is not installed (Debian package {package}; `bash .ci/deps.sh` installs it)"
            ));
        }
    }
    for f in [MONO].iter().chain(MONO_TREES).chain(MONO_NATIVE_LIBS) {
        if !Path::new(f).exists() {
            return Some(format!(
                "{f} is missing (Debian's mono-complete installs it)"
            ));
        }
    }
    None
}

/// Whether a missing prerequisite is a failure: under `require_env` (set by `.ci/run`),
/// as for `tests/real_robust.rs` — a plain clone without `../shared` skips even in CI.
pub fn must_run(require_env: &str) -> bool {
    std::env::var_os(require_env).is_some()
}

/// What goes into the real image.
pub struct RealImageFiles {
    pub gridctl: PathBuf,
    pub holder: PathBuf,
    /// The unpacked Robust `bin/`: copied to [`IMAGE_BIN_DIR`].
    pub robust_bin: PathBuf,
}

/// The image's build time, its size and how many files its context held.
pub struct Built {
    pub took: Duration,
    pub size_bytes: u64,
    pub files: usize,
}

/// Puts the tree `src` at `ctx/dest`: files as hard links (copies across file systems),
/// symlinks as the same symlinks, directories recreated; paths (or link targets) that
/// `left_out` names are skipped. Returns the files placed.
fn place_tree(src: &Path, ctx: &Path, dest: &Path, left_out: &dyn Fn(&Path) -> bool) -> usize {
    let to = ctx.join(dest.strip_prefix("/").unwrap_or(dest));
    std::fs::create_dir_all(&to).expect("mkdir in the context");
    let mut n = 0;
    for e in std::fs::read_dir(src).unwrap_or_else(|e| panic!("read {}: {e}", src.display())) {
        let e = e.expect("dir entry");
        let from = e.path();
        let meta = std::fs::symlink_metadata(&from).expect("lstat");
        let there = dest.join(e.file_name());
        if left_out(&there) {
            continue;
        }
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&from).expect("readlink");
            // A link into a left-out directory would dangle.
            if left_out(&dest.join(&target)) {
                continue;
            }
            let link = ctx.join(there.strip_prefix("/").unwrap_or(&there));
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&target, &link).expect("symlink in the context");
            n += 1;
        } else if meta.is_dir() {
            n += place_tree(&from, ctx, &there, left_out);
        } else {
            let link = ctx.join(there.strip_prefix("/").unwrap_or(&there));
            if std::fs::hard_link(&from, &link).is_err() {
                std::fs::copy(&from, &link).unwrap_or_else(|e| {
                    panic!("copy {} to {}: {e}", from.display(), link.display())
                });
            }
            n += 1;
        }
    }
    n
}

/// The stand-in for the exported Containerfile's `FROM debian:bookworm-slim` plus its
/// `apt-get install mono-complete …` (no registry, no archive mirror here): this host's
/// Mono runtime, a shell and `rm`, and an `apt-get` that only says what it was asked.
pub const BASE_IMAGE: &str = "localhost/gridctl-e2e-base:test";

/// The stub `apt-get` of [`BASE_IMAGE`]: the real one would install what the
/// Containerfile names; this host's Mono is already in the base.
const APT_GET_STUB: &str = "#!/bin/sh\necho \"apt-get (stub, Mono is in the base image): $*\"\n";

/// Builds [`IMAGE`] the way an operator does: `podman build` of the Containerfile
/// `gridctl export kubernetes` wrote (`containerfile`), from a build context laid out as
/// its header says (`bin/`, `gridctl`, `gridctl-holder`), with [`BASE_IMAGE`] in place
/// of its `FROM` (`--from`). Everything in `p`'s private storage. Returns the build time
/// (staging both images included) and the image's size.
pub fn build_real_image(p: &Podman, files: &RealImageFiles, containerfile: &str) -> Built {
    let t0 = Instant::now();
    // 1. The base: Mono, /bin/sh, rm, the apt-get stub.
    let ctx = p.base.join("base-context");
    std::fs::create_dir_all(&ctx).expect("mkdir context");
    let mut count = 0;
    let bins = [
        // mono is a link to mono-sgen: the image gets the binary under the name.
        (PathBuf::from(MONO), PathBuf::from(MONO)),
        // The Containerfile's RUN line: `apt-get … && rm -rf …` through /bin/sh.
        (PathBuf::from("/bin/sh"), PathBuf::from("/bin/sh")),
        (PathBuf::from("/bin/rm"), PathBuf::from("/bin/rm")),
    ];
    for (src, dest) in &bins {
        assert!(src.is_file(), "{} is missing", src.display());
        place(src, &ctx, dest);
        count += 1;
        for lib in shared_libraries(src) {
            place(&lib, &ctx, &lib);
            count += 1;
        }
    }
    for lib in MONO_NATIVE_LIBS {
        let lib = Path::new(lib);
        place(lib, &ctx, lib);
        count += 1;
        for dep in shared_libraries(lib) {
            place(&dep, &ctx, &dep);
        }
    }
    for tree in MONO_TREES {
        count += place_tree(Path::new(tree), &ctx, Path::new(tree), &mono_left_out);
    }
    use std::os::unix::fs::PermissionsExt;
    let apt_get = ctx.join("usr/bin/apt-get");
    std::fs::create_dir_all(ctx.join("usr/bin")).expect("mkdir usr/bin");
    std::fs::write(&apt_get, APT_GET_STUB).expect("apt-get stub");
    std::fs::set_permissions(&apt_get, std::fs::Permissions::from_mode(0o755))
        .expect("chmod apt-get");
    let etc = ctx.join("etc");
    std::fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/nonexistent\n").expect("passwd");
    std::fs::write(etc.join("group"), "root:x:0:\n").expect("group");
    for d in ["tmp", "root", "var/lib/apt/lists"] {
        std::fs::create_dir_all(ctx.join(d)).expect("mkdir");
    }
    std::fs::set_permissions(ctx.join("tmp"), std::fs::Permissions::from_mode(0o1777))
        .expect("chmod /tmp");
    let base_file = p.base.join("Containerfile.base");
    std::fs::write(&base_file, "FROM scratch\nCOPY . /\n").expect("Containerfile.base");
    let build = |args: &[&str]| {
        let out = p.run_with(args, Duration::from_secs(240));
        assert!(out.ok(), "podman {}: {out}", args.join(" "));
        out
    };
    build(&[
        "build",
        "--quiet",
        "--network",
        "none",
        "--tag",
        BASE_IMAGE,
        "--file",
        &base_file.display().to_string(),
        &ctx.display().to_string(),
    ]);
    let _ = std::fs::remove_dir_all(&ctx);

    // 2. The exported Containerfile, its context as its header describes.
    let ctx = p.base.join("context");
    std::fs::create_dir_all(&ctx).expect("mkdir context");
    count += place_tree(&files.robust_bin, &ctx, Path::new("/bin"), &|_| false);
    for (src, name) in [
        (&files.gridctl, "gridctl"),
        (&files.holder, "gridctl-holder"),
    ] {
        assert!(src.is_file(), "{} is missing", src.display());
        place(src, &ctx, Path::new(name));
        count += 1;
    }
    std::fs::write(ctx.join("Containerfile"), containerfile).expect("Containerfile");
    let out = build(&[
        "build",
        "--network",
        "none",
        "--from",
        BASE_IMAGE,
        "--tag",
        IMAGE,
        "--file",
        &ctx.join("Containerfile").display().to_string(),
        &ctx.display().to_string(),
    ]);
    assert!(
        out.stdout
            .contains("apt-get (stub, Mono is in the base image): install"),
        "the Containerfile's RUN line did not run: {out}"
    );
    let took = t0.elapsed();
    // The contexts (hard links) are in the images now.
    let _ = std::fs::remove_dir_all(&ctx);
    let size = p.ok(&["image", "inspect", "--format", "{{.Size}}", IMAGE]);
    Built {
        took,
        size_bytes: size.stdout.trim().parse().unwrap_or(0),
        files: count,
    }
}

/// The grid: `asset` (needs no other role), `accounts` (user accounts) and `profiles`,
/// whose UserAccount connector names the `accounts` Service, one copy each. Robust
/// runs from the cluster plan's defaults (`[kubernetes]` bin_dir /opt/opensim/bin,
/// `mono Robust.exe`); `[robust]` is the host side's, only there to be valid. The
/// database connection is `env:ROBUST_DB`, which the pod fills from the Secret.
pub fn real_grid_toml(ports: &RealPorts) -> String {
    let RealPorts {
        asset,
        accounts,
        profiles,
        profiles_public,
    } = ports;
    format!(
        r#"[grid]
name = "Kube Play Real Grid"
domain = "grid.localhost"

[robust]
bin_dir = "{IMAGE_BIN_DIR}"
command = ["mono", "Robust.exe"]

[database]
provider = "mysql"
connection = "env:ROBUST_DB"

[supervise]
ready_timeout = "60s"

[roles.asset]
services = ["asset"]
instances = 1
port = {asset}

[roles.accounts]
services = ["useraccount"]
instances = 1
port = {accounts}

# Calls accounts through its Service's name: the UserAccount connector resolves it
# once, at start-up (robust.md §2).
[roles.profiles]
services = ["profiles"]
instances = 1
port = {profiles}
public_port = {profiles_public}

[kubernetes]
image = "{IMAGE}"
"#
    )
}

/// The ports of the real grid's roles (each pod on the host network).
pub struct RealPorts {
    pub asset: u16,
    pub accounts: u16,
    pub profiles: u16,
    pub profiles_public: u16,
}

/// The names the pods' connectors use, as a cluster's DNS would answer them: here a
/// marked block of /etc/hosts (the pods share the host's network and its hosts file).
pub const SERVICE_NAMES: [&str; 3] = [
    "asset.default.svc.cluster.local",
    "accounts.default.svc.cluster.local",
    "profiles.default.svc.cluster.local",
];

/// `du`-like total of the regular files under `dir` (hard links counted once per path).
pub fn tree_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    for e in entries.flatten() {
        match std::fs::symlink_metadata(e.path()) {
            Ok(m) if m.is_dir() => total += tree_bytes(&e.path()),
            Ok(m) if m.is_file() => total += m.len(),
            _ => {}
        }
    }
    total
}

/// The files a running process has mapped (assemblies and native libraries), from
/// `/proc/PID/maps`: what a Mono process really loaded.
pub fn mapped_files(pid: u32) -> Vec<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let mut out: Vec<String> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/'))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}
