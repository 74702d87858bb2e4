//! Issue 10, part 3: no input makes gridctl panic. Mutated copies of the shipped example
//! manifests (byte flips, line deletes and duplicates, numbers made huge, negative or
//! fractional, strings made hostile, keys renamed, tables duplicated, UTF-8 broken) go
//! through everything `check` does, in process under `catch_unwind` (manifest → plan →
//! templates → render → checks → nginx), and a smaller number through the real binary,
//! whose exit code must be 0, 1 or 3, never 101.
//!
//! Deterministic: case N always uses seed N. Bounded: it stops after
//! `GRIDCTL_FUZZ_SECS` seconds (default 20) or `GRIDCTL_FUZZ_CASES` cases, whichever is
//! first, so CI time is fixed while a longer run (`GRIDCTL_FUZZ_SECS=600`) finds more.
//! Figures are printed (run with `--nocapture` to see them).

mod common;

use gridctl::diagnostic::Diagnostic;
use gridctl::{check, manifest, planner};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The examples with their relative paths made absolute, so a mutated copy can live in
/// any scratch directory and still reach the fake bin/ and the fake Robust.
fn seeds() -> Vec<(String, Vec<u8>)> {
    common::EXAMPLES
        .iter()
        .map(|name| {
            let path = common::repo().join("examples").join(name).join("grid.toml");
            let text = std::fs::read_to_string(&path).expect("read example");
            let text = text
                .replace(
                    "\"../fake-bin\"",
                    &format!("{:?}", common::fake_bin_dir().display().to_string()),
                )
                .replace(
                    "\"../../target/release/fake-robust\"",
                    &format!("{:?}", common::fake_robust_bin().display().to_string()),
                );
            (name.to_string(), text.into_bytes())
        })
        .collect()
}

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1.5",
    "-0.0",
    "1e309",
    "nan",
    "inf",
    "65535",
    "65536",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "100000000",
    "\"1e300h\"",
    "\"-5s\"",
    "\"99999999999h\"",
    "\"0ms\"",
    "\"99999999999999999999s\"",
    "\"184467440737095516160ms\"",
    "\"1000000000000h\"",
    "\"0.0000000001ms\"",
];

/// Keys of `[supervise]` (and `[roles.X.supervise]`) and `[nginx]` that take numbers or
/// durations: inserted with a hostile value right under their table's header.
const BOUNDED_KEYS: &[&str] = &[
    "stop_timeout",
    "sigint_timeout",
    "sigterm_timeout",
    "ready_timeout",
    "backoff_initial",
    "backoff_max",
    "stable_after",
    "crash_loop_count",
    "crash_loop_window",
    "scrollback_lines",
    "log_max_bytes",
    "log_keep",
    "console_rows",
    "console_cols",
];

const STRINGS: &[&str] = &[
    "",
    " ",
    "a b",
    "a;b",
    "x\\ny",
    "\\u001b[2J",
    "\\u0000",
    "\\u009b31m",
    "\\\"",
    "*",
    "*.grid.localhost",
    "~.*",
    "${Const|Nope}",
    "${",
    "Include-x",
    "../../../../../../etc",
    "/dev/zero",
    "/dev/null",
    "/proc/self/fd/0",
    ".",
    "/",
    "localhost:80",
    "[::]:18081",
    "127.0.0.1:18080",
    "18081 ; listen 127.0.0.1:18080",
    "env:",
    "env:GRIDCTL_FUZZ_UNSET",
    "file:",
    "file:/dev/zero",
    "file:.",
    "file:/nonexistent",
    "http://",
    "javascript:x",
    "ünïcødé",
    "\\u202e",
    "asset.robust.internal",
    "login.grid.localhost",
    "robust.internal",
    "grid.localhost",
    "asset",
    "login",
    "core",
];

const LINES: &[&str] = &[
    "log_keep = 100000000",
    "scrollback_lines = 99999999999",
    "log_max_bytes = 18446744073709551615",
    "stop_timeout = 1e300",
    "instances = 1000",
    "instances = -1",
    "port = 65535",
    "templates = \"/proc/self/cwd\"",
    "templates = \"/dev/null\"",
    "templates = \".\"",
    "state_dir = \"/\"",
    "connection = \"file:/dev/zero\"",
    "connection = \"file:/proc/self/fd/0\"",
    "[grid.hostnames]\nasset = \"login.grid.localhost\"",
    "[grid.hostnames]\nlogin = \"asset.robust.internal\"",
    "[hosts.far]\naddress = \"10.0.0.1\"",
    "host = \"far\"",
    "hostname = \"x.y\"",
    "allow_unsafe_copies = true",
    "[roles.extra]\nservices = [\"presence\"]\nport = 18300",
    "[roles.x.settings.\"A B\"]\nk = 1",
    "[supervise]\nbackoff_initial = \"1h\"\nbackoff_max = \"1s\"",
    "public_port = 0",
    "[nginx]\noutput = \"/dev/null\"",
];

/// One random edit of `text`. Half the cases use only edits that keep the TOML valid
/// (values, hostile lines), so as many reach the planner and the renderer as stop in
/// the parser.
fn mutate(rng: &mut fastrand::Rng, text: &mut Vec<u8>, keep_toml: bool) {
    let lines =
        |t: &[u8]| -> Vec<Vec<u8>> { t.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect() };
    const VALUE_EDITS: [u8; 5] = [3, 4, 5, 8, 10];
    let pick = if keep_toml {
        VALUE_EDITS[rng.usize(0..VALUE_EDITS.len())]
    } else {
        rng.u8(0..11)
    };
    match pick {
        // A bounded key with a hostile number or duration, under [supervise].
        10 => {
            let key = BOUNDED_KEYS[rng.usize(0..BOUNDED_KEYS.len())];
            let n = NUMBERS[rng.usize(0..NUMBERS.len())];
            let line = format!("{key} = {n}");
            let s = String::from_utf8_lossy(text).into_owned();
            *text = match s.find("[supervise]\n") {
                Some(i) => {
                    let at = i + "[supervise]\n".len();
                    format!("{}{line}\n{}", &s[..at], &s[at..])
                }
                None => format!("{s}\n[supervise]\n{line}\n"),
            }
            .into_bytes();
        }
        // Byte flip (also breaks UTF-8 when the new byte is >= 0x80).
        0 if !text.is_empty() => {
            let i = rng.usize(0..text.len());
            text[i] = rng.u8(..);
        }
        // Delete or duplicate a line.
        1 | 2 => {
            let mut ls = lines(text);
            if ls.is_empty() {
                return;
            }
            let i = rng.usize(0..ls.len());
            if rng.bool() {
                ls.remove(i);
            } else {
                let l = ls[i].clone();
                ls.insert(i, l);
            }
            *text = ls.join(&b'\n');
        }
        // A number → a hostile number.
        3 => {
            let s = String::from_utf8_lossy(text).into_owned();
            let spans: Vec<(usize, usize)> = number_spans(&s);
            if let Some(&(a, b)) = spans.get(rng.usize(0..spans.len().max(1))) {
                let n = NUMBERS[rng.usize(0..NUMBERS.len())];
                *text = format!("{}{n}{}", &s[..a], &s[b..]).into_bytes();
            }
        }
        // A string → a hostile string.
        4 | 5 => {
            let s = String::from_utf8_lossy(text).into_owned();
            let spans = string_spans(&s);
            if let Some(&(a, b)) = spans.get(rng.usize(0..spans.len().max(1))) {
                let v = if rng.u8(0..20) == 0 {
                    "x".repeat(rng.usize(100..20000))
                } else {
                    STRINGS[rng.usize(0..STRINGS.len())].to_string()
                };
                *text = format!("{}{v}{}", &s[..a], &s[b..]).into_bytes();
            }
        }
        // Rename a key (a typo, or another key's name).
        6 => {
            let mut ls = lines(text);
            let keys: Vec<usize> = (0..ls.len())
                .filter(|i| {
                    ls[*i]
                        .iter()
                        .position(|b| *b == b'=')
                        .is_some_and(|p| p > 0)
                })
                .collect();
            if let Some(&i) = keys.get(rng.usize(0..keys.len().max(1))) {
                let eq = ls[i].iter().position(|b| *b == b'=').unwrap_or(0);
                let names = [
                    "port",
                    "instances",
                    "services",
                    "name",
                    "domain",
                    "connection",
                    "output",
                    "x-y",
                    "\"a b\"",
                    "public_listen",
                    "log_keep",
                ];
                let mut new = names[rng.usize(0..names.len())].as_bytes().to_vec();
                new.push(b' ');
                new.extend_from_slice(&ls[i][eq..]);
                ls[i] = new;
                *text = ls.join(&b'\n');
            }
        }
        // Duplicate a table (header and body) at the end.
        7 => {
            let ls = lines(text);
            let headers: Vec<usize> = (0..ls.len()).filter(|i| ls[*i].starts_with(b"[")).collect();
            if let Some(&h) = headers.get(rng.usize(0..headers.len().max(1))) {
                let end = (h + 1..ls.len())
                    .find(|i| ls[*i].starts_with(b"["))
                    .unwrap_or(ls.len());
                let mut block = ls[h..end].join(&b'\n');
                text.push(b'\n');
                text.append(&mut block);
            }
        }
        // Insert a hostile line after a random line.
        8 => {
            let mut ls = lines(text);
            let i = rng.usize(0..=ls.len());
            ls.insert(i, LINES[rng.usize(0..LINES.len())].as_bytes().to_vec());
            *text = ls.join(&b'\n');
        }
        // Break UTF-8: a lone lead byte, or a multi-byte character cut short.
        _ => {
            let i = rng.usize(0..=text.len());
            let bad: &[u8] = match rng.u8(0..3) {
                0 => &[0xC3],
                1 => &[0xE2, 0x82],
                _ => &[0xFF, 0xFE],
            };
            text.splice(i..i, bad.iter().copied());
        }
    }
}

/// Byte ranges of bare numbers (after `= ` or in arrays), on char boundaries.
fn number_spans(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || matches!(b[i - 1], b' ' | b'=' | b'[' | b',')) {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                i += 1;
            }
            out.push((start, i));
        }
        i += 1;
    }
    out
}

/// Byte ranges of the contents of basic strings `"..."` (no escapes inside).
fn string_spans(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (c, start) {
            ('"', None) => start = Some(i + 1),
            ('"', Some(a)) => {
                out.push((a, i));
                start = None;
            }
            ('\n', _) => start = None,
            _ => {}
        }
    }
    out
}

#[derive(Default)]
struct Figures {
    cases: u64,
    panics: Vec<String>,
    diagnostics: u64,
    unlocated_manifest: u64,
    /// Cases by how far they got: parse error, refused by the planner, planned.
    stages: [u64; 3],
    unsafe_shown: Vec<String>,
    scratch_shown: Vec<String>,
}

/// Everything `gridctl check` runs, except the DNS lookups (network, and time).
/// Also says how far the case got: 0 refused while reading (TOML syntax, types), 1 refused by the planner,
/// 2 planned (and so rendered and checked).
fn check_path(path: &Path) -> (Vec<Diagnostic>, usize) {
    let loaded = match manifest::load(path) {
        Ok(l) => l,
        Err(d) => return (vec![d], 0),
    };
    let plan = match planner::build(&loaded) {
        Ok(p) => p,
        Err(ds) => return (ds, 1),
    };
    (checks(&plan), 2)
}

/// `check`'s own checks (`check::all`), without the DNS lookups; a template that does not
/// load or render ends the list as `check` stops there.
fn checks(plan: &gridctl::plan::Plan) -> Vec<Diagnostic> {
    check::all(plan, None).unwrap_or_else(|d| vec![d])
}

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

#[test]
fn mutated_manifests_never_panic_in_process() {
    let secs = env_num("GRIDCTL_FUZZ_SECS", 20);
    let max_cases = env_num("GRIDCTL_FUZZ_CASES", u64::MAX);
    let seeds = seeds();
    let tmp = tempfile::tempdir().expect("scratch");
    let path = tmp.path().join("grid.toml");
    std::env::set_var("ROBUST_DB", common::DB_SECRET);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut p) = LAST_PANIC.lock() {
            *p = Some(format!("{info} ({at})"));
        }
    }));
    let start = Instant::now();
    let mut f = Figures::default();
    while f.cases < max_cases && start.elapsed() < Duration::from_secs(secs) {
        let seed = f.cases;
        let mut rng = fastrand::Rng::with_seed(seed);
        let (name, base) = &seeds[rng.usize(0..seeds.len())];
        let mut text = base.clone();
        let keep_toml = rng.bool();
        for _ in 0..rng.usize(1..4) {
            mutate(&mut rng, &mut text, keep_toml);
        }
        std::fs::write(&path, &text).expect("write case");
        f.cases += 1;
        match catch_unwind(AssertUnwindSafe(|| check_path(&path))) {
            Err(_) => {
                let msg = LAST_PANIC
                    .lock()
                    .ok()
                    .and_then(|mut p| p.take())
                    .unwrap_or_default();
                f.panics.push(format!("seed {seed} ({name}): {msg}"));
            }
            Ok((ds, stage)) => {
                f.stages[stage] += 1;
                for d in ds {
                    f.diagnostics += 1;
                    let shown = d.to_string();
                    // Diagnostics from reading and planning the manifest point into it.
                    let about_manifest = d.location.as_ref().is_none_or(|l| l.0.path == path);
                    if d.location.is_none() && about_manifest && is_manifest_stage(&d) {
                        f.unlocated_manifest += 1;
                        if f.unlocated_manifest <= 5 {
                            eprintln!("unlocated (seed {seed}): {shown}");
                        }
                    }
                    if shown
                        .chars()
                        .any(|c| c.is_control() && c != '\n' && c != '\t')
                    {
                        f.unsafe_shown.push(format!("seed {seed}: {shown:?}"));
                    }
                    if shown.contains("gridctl-check-") {
                        f.scratch_shown.push(format!("seed {seed}: {shown}"));
                    }
                }
            }
        }
    }
    std::panic::set_hook(previous);
    eprintln!(
        "fuzz: {} cases in {:.1}s ({} refused while reading: TOML syntax or types, {} refused by the planner, {} planned, rendered and checked), {} panics, {} diagnostics, {} manifest diagnostics without a location",
        f.cases,
        start.elapsed().as_secs_f64(),
        f.stages[0],
        f.stages[1],
        f.stages[2],
        f.panics.len(),
        f.diagnostics,
        f.unlocated_manifest
    );
    assert!(f.panics.is_empty(), "panics:\n{}", f.panics.join("\n"));
    assert!(
        f.unsafe_shown.is_empty(),
        "raw control characters shown:\n{}",
        f.unsafe_shown.join("\n")
    );
    assert!(
        f.scratch_shown.is_empty(),
        "scratch paths shown:\n{}",
        f.scratch_shown.join("\n")
    );
    assert_eq!(
        f.unlocated_manifest, 0,
        "manifest diagnostics without file:line:col"
    );
    assert!(f.cases >= 50, "too few cases ran: {}", f.cases);
}

/// Diagnostics from reading or planning the manifest (not from the machine: bin_dir,
/// templates, the rendered tree). Those must carry file:line:col.
fn is_manifest_stage(d: &Diagnostic) -> bool {
    let m = &d.message;
    !(m.starts_with("cannot read template")
        || m.starts_with("cannot read templates")
        || m.starts_with("templates directory")
        || m.starts_with("template ")
        || m.starts_with("cannot read `")
        || m.contains("is not in bin_dir")
        || m.contains("does not resolve")
        || m.starts_with("rendered config of")
        || m.starts_with("log4net type")
        || m.starts_with("cannot create a scratch")
        || m.starts_with("cannot write a scratch"))
}

#[test]
fn mutated_manifests_never_panic_the_binary() {
    let cases = env_num("GRIDCTL_FUZZ_BIN_CASES", 40);
    let seeds = seeds();
    let mut bad = Vec::new();
    let start = Instant::now();
    for i in 0..cases {
        let seed = 1_000_000 + i;
        let mut rng = fastrand::Rng::with_seed(seed);
        let (name, base) = &seeds[rng.usize(0..seeds.len())];
        let mut text = base.clone();
        let keep_toml = rng.bool();
        for _ in 0..rng.usize(1..4) {
            mutate(&mut rng, &mut text, keep_toml);
        }
        let tmp = tempfile::tempdir().expect("scratch");
        std::fs::write(tmp.path().join("grid.toml"), &text).expect("write case");
        // Mostly `check`; also the commands that print the plan and the nginx config.
        let args: &[&str] = match i % 4 {
            1 => &["plan", "--json"],
            2 => &["render-nginx"],
            _ => &["check"],
        };
        let out = assert_cmd::Command::new(common::gridctl_bin())
            .current_dir(tmp.path())
            .env("ROBUST_DB", common::DB_SECRET)
            .args(args)
            .timeout(Duration::from_secs(30))
            .output()
            .expect("run gridctl");
        let code = out.status.code();
        if !matches!(code, Some(0 | 1 | 3)) {
            bad.push(format!(
                "seed {seed} ({name}, {args:?}): exit {code:?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    eprintln!(
        "fuzz (binary): {cases} cases in {:.1}s, {} bad exits",
        start.elapsed().as_secs_f64(),
        bad.len()
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
