//! The log4net configuration, read the way log4net 2.0.8 in Robust 0.9.2.2 reads it
//! (robust.md 0d, §7): `-logconfig FILE`, else `Robust.exe.config` in the cwd; an appender
//! is created only when something references it, from `type="Class, Assembly"` resolved in
//! the cwd. One that does not load is reported on the console in log4net's words and
//! then gets no lines at all; without the `Console` appender the console stays silent.
//!
//! The real runtime probes appender assemblies in Robust.exe's directory; the fake has no
//! such directory, so it probes its cwd, which is the same place when run as intended.
//!
//! `RollingFileAppender` parameters are read as log4net 2.0.8 on Mono reads them (measured
//! on 0.9.2.2): names case-insensitively; `maximumFileSize` as a long with an optional
//! KB/MB/GB suffix, a bad one only logged (the 10 MB default stays); `maxSizeRollBackups`
//! as an Int32 and `rollingStyle` as the enum, a bad one costing the whole appender.
//! Unknown parameters are ignored without a word. The fake rolls by size for the `Size`
//! and `Composite` styles and never by date.

use std::path::{Path, PathBuf};

use gridctl::log4net::{self, Element, TypeName, Unresolved};

/// Where log lines go.
#[derive(Debug, Default)]
pub struct Sinks {
    /// The `Console` appender was created: log lines reach the console.
    pub console: bool,
    /// The file of `LogFileAppender` (or `-logfile`, which Robust swaps in).
    pub file: Option<PathBuf>,
    /// How that file rolls, when its appender is a size-rolling one.
    pub roll: Option<Roll>,
    /// Every file a created file appender opened (log4net opens them at once).
    pub opened: Vec<PathBuf>,
    /// What log4net and Robust printed while configuring, in order.
    pub messages: Vec<String>,
}

/// A size-rolling file: at `max_bytes` the file becomes `.1`, `.1` becomes `.2`, ... up
/// to `.keep` (`keep` 0: truncated, no backup; negative: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roll {
    pub max_bytes: i64,
    pub keep: i32,
}

/// log4net's own appenders the fake knows; any other `log4net.*` class does not load.
const LOG4NET_APPENDERS: &[&str] = &[
    "log4net.Appender.FileAppender",
    "log4net.Appender.RollingFileAppender",
    "log4net.Appender.ConsoleAppender",
    "log4net.Appender.ColoredConsoleAppender",
    "log4net.Appender.ManagedColoredConsoleAppender",
    "log4net.Appender.AnsiColorTerminalAppender",
];

/// Appender classes that write to the console.
const CONSOLE_CLASSES: &[&str] = &[
    "OpenSim.Framework.Console.OpenSimAppender",
    "log4net.Appender.ConsoleAppender",
    "log4net.Appender.ColoredConsoleAppender",
    "log4net.Appender.ManagedColoredConsoleAppender",
    "log4net.Appender.AnsiColorTerminalAppender",
];

/// Reads the config named by `-logconfig` (`logconfig`, relative to `cwd`), else
/// `cwd/Robust.exe.config`; `logfile` is `-logfile` / `[Startup] logfile`.
pub fn load(logconfig: Option<&str>, logfile: Option<&str>, cwd: &Path) -> Sinks {
    load_for("Robust.exe.config", logconfig, logfile, cwd)
}

/// [`load`] for an executable whose own config is `default_config` (the simulator's is
/// `OpenSim.exe.config`).
pub fn load_for(
    default_config: &str,
    logconfig: Option<&str>,
    logfile: Option<&str>,
    cwd: &Path,
) -> Sinks {
    let path = match logconfig {
        Some(lc) => cwd.join(lc),
        None => cwd.join(default_config),
    };
    let mut sinks = match std::fs::read_to_string(&path) {
        Ok(xml) => configure(&xml, cwd),
        // No config: log4net has no appender, so nothing reaches the console or a file.
        Err(_) if logconfig.is_none() => Sinks::default(),
        Err(e) => Sinks {
            messages: vec![format!(
                "log4net:ERROR XmlConfigurator: Failed to read configuration file [{}]: {e}",
                path.display()
            )],
            ..Sinks::default()
        },
    };
    if !sinks.console {
        // ServicesServerBase looks the console appender up by name.
        sinks.messages.push(
            "No appender named Console found (see the log4net config file for this executable)!"
                .into(),
        );
    }
    if let (Some(lf), Some(_)) = (logfile.filter(|l| !l.is_empty()), &sinks.file) {
        let p = cwd.join(lf);
        sinks.opened.push(p.clone());
        sinks.file = Some(p);
    }
    sinks
}

/// Creates every referenced appender of `xml`, in reference order.
fn configure(xml: &str, cwd: &Path) -> Sinks {
    let elements = log4net::elements(xml);
    let mut sinks = Sinks::default();
    let mut created: Vec<String> = Vec::new();
    for (i, e) in elements.iter().enumerate() {
        if e.tag != "appender-ref" {
            continue;
        }
        let Some(name) = e.attr("ref") else { continue };
        if created.iter().any(|c| c == name) {
            continue;
        }
        let Some((at, appender)) = elements
            .iter()
            .enumerate()
            .find(|(_, a)| a.tag == "appender" && a.attr("name") == Some(name))
        else {
            sinks
                .messages
                .push(format!("log4net:ERROR Appender named [{name}] not found."));
            continue;
        };
        let value = appender.attr("type").unwrap_or_default();
        let ty = TypeName::parse(value);
        if let Err(exception) = load_type(&ty, cwd) {
            sinks.messages.push(format!(
                "log4net:ERROR Could not create Appender [{name}] of type [{value}]. Reported error follows."
            ));
            sinks.messages.push(exception);
            sinks.messages.push(
                "  at log4net.Repository.Hierarchy.XmlHierarchyConfigurator.ParseAppender (System.Xml.XmlElement appenderElement) [0x0004d] in <fake-robust>:0 ".into(),
            );
            sinks
                .messages
                .push(format!("log4net:ERROR Appender named [{name}] not found."));
            continue;
        }
        let roll = if ty.class == "log4net.Appender.RollingFileAppender" {
            match rolling(&elements, at, &mut sinks.messages) {
                Ok(roll) => roll,
                Err(exception) => {
                    sinks.messages.push(format!(
                        "log4net:ERROR Could not create Appender [{name}] of type [{value}]. Reported error follows."
                    ));
                    sinks.messages.push(exception);
                    sinks
                        .messages
                        .push(format!("log4net:ERROR Appender named [{name}] not found."));
                    continue;
                }
            }
        } else {
            None
        };
        created.push(name.to_string());
        if CONSOLE_CLASSES.contains(&ty.class.as_str()) {
            sinks.console |= name == "Console";
        } else if let Some(file) = param(&elements, at, "file") {
            let file = cwd.join(file);
            sinks.opened.push(file.clone());
            if name == "LogFileAppender" || sinks.file.is_none() && is_root_ref(&elements, i) {
                sinks.file = Some(file);
                sinks.roll = roll;
            }
        }
    }
    sinks
}

/// What loading the type throws, in Mono's words (measured on 0.9.2.2).
fn load_type(ty: &TypeName, cwd: &Path) -> Result<(), String> {
    match (&ty.assembly, log4net::resolve(ty, cwd)) {
        (None, Ok(_)) if !LOG4NET_APPENDERS.contains(&ty.class.as_str()) => Err(format!(
            "System.TypeLoadException: Could not load type [{}]. Tried assembly [log4net, Version=2.0.8.0, Culture=neutral, PublicKeyToken=null] and all loaded assemblies",
            ty.class
        )),
        (_, Ok(_)) => Ok(()),
        (_, Err(Unresolved::MissingAssembly { assembly }))
        | (_, Err(Unresolved::WrongAssembly { assembly, .. })) => Err(format!(
            "System.TypeLoadException: Could not load type '{}' from assembly '{assembly}, Version=0.0.0.0, Culture=neutral, PublicKeyToken=null'.",
            ty.class
        )),
    }
}

/// The `<NAME value>` among the children of the element at `at` (log4net finds the
/// property case-insensitively; the last one set wins).
fn param<'a>(elements: &'a [Element], at: usize, name: &str) -> Option<&'a str> {
    let depth = elements.get(at)?.depth;
    elements[at + 1..]
        .iter()
        .take_while(|e| e.depth > depth)
        .filter(|e| e.depth == depth + 1 && e.tag.eq_ignore_ascii_case(name))
        .filter_map(|e| e.attr("value"))
        .last()
}

/// The rolling of the `RollingFileAppender` at `at`: `Ok(None)` when it does not roll by
/// size, `Err` with Mono's exception when a parameter costs the appender. A bad size is
/// only logged into `messages`.
fn rolling(
    elements: &[Element],
    at: usize,
    messages: &mut Vec<String>,
) -> Result<Option<Roll>, String> {
    // log4net's defaults: Composite style, 10 MB, no backups.
    let style = match param(elements, at, "rollingStyle").map(str::trim) {
        None => "composite".to_string(),
        Some(v) if v.parse::<i64>().is_ok() => v.to_string(),
        Some(v) => {
            let lower = v.to_ascii_lowercase();
            if !["once", "size", "date", "composite"].contains(&lower.as_str()) {
                return Err(format!(
                    "System.ArgumentException: Requested value '{v}' was not found."
                ));
            }
            lower
        }
    };
    let keep = match param(elements, at, "maxSizeRollBackups") {
        None => 0,
        Some(v) => parse_int32(v)?,
    };
    let max_bytes = param(elements, at, "maximumFileSize")
        .and_then(|v| file_size(v, messages))
        .unwrap_or(10 * 1024 * 1024);
    let by_size = matches!(style.as_str(), "size" | "composite" | "1" | "3");
    Ok(by_size.then_some(Roll { max_bytes, keep }))
}

/// `Int32.Parse` on Mono: blanks around and a sign allowed, with its two exceptions.
fn parse_int32(v: &str) -> Result<i32, String> {
    let t = v.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("System.Reflection.TargetInvocationException: Exception has been thrown by the target of an invocation. ---> System.FormatException: Input string was not in a correct format.".into());
    }
    t.parse::<i32>().map_err(|_| {
        "System.OverflowException: Value was either too large or too small for an Int32.".into()
    })
}

/// `OptionConverter.ToFileSize`: upper-cased, a KB/MB/GB suffix cut off, the rest a long;
/// otherwise logged in its words (with the cut, upper-cased text) and the default kept.
fn file_size(v: &str, messages: &mut Vec<String>) -> Option<i64> {
    let upper = v.trim().to_ascii_uppercase();
    let (number, multiplier) = [
        ("KB", 1024),
        ("MB", 1024 * 1024),
        ("GB", 1024 * 1024 * 1024),
    ]
    .iter()
    .find_map(|(suffix, m)| upper.find(suffix).map(|i| (&upper[..i], *m)))
    .unwrap_or((upper.as_str(), 1));
    let number = number.trim();
    match number.parse::<i64>() {
        Ok(n) => Some(n.saturating_mul(multiplier)),
        Err(_) => {
            messages.push(format!(
                "log4net:ERROR OptionConverter: [{number}] is not in the correct file size syntax."
            ));
            None
        }
    }
}

/// Whether the reference at `at` sits inside `<root>`.
fn is_root_ref(elements: &[Element], at: usize) -> bool {
    let depth = elements[at].depth;
    elements[..at]
        .iter()
        .rev()
        .find(|e| e.depth < depth)
        .is_some_and(|e| e.tag == "root")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"<log4net>
  <appender name="Console" type="OpenSim.Framework.Console.OpenSimAppender, OpenSim.Framework">
    <layout type="log4net.Layout.PatternLayout"/>
  </appender>
  <!-- <appender name="Old" type="log4net.Appender.FileAppender"><file value="old.log"/></appender> -->
  <appender name="LogFileAppender" type="log4net.Appender.FileAppender">
    <file value="r.log" />
  </appender>
  <appender name="Unused" type="log4net.Appender.FileAppender"><file value="unused.log"/></appender>
  <root><appender-ref ref="Console" /><appender-ref ref="LogFileAppender" /></root>
</log4net>"#;

    #[test]
    fn wrong_assembly_silences_the_console_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["OpenSim.Framework.dll", "log4net.dll"] {
            std::fs::write(dir.path().join(f), b"").expect("write");
        }
        let s = configure(CONFIG, dir.path());
        assert!(!s.console);
        assert_eq!(s.file, Some(dir.path().join("r.log")));
        assert_eq!(s.opened, vec![dir.path().join("r.log")]);
        assert_eq!(
            s.messages[..2],
            [
                "log4net:ERROR Could not create Appender [Console] of type [OpenSim.Framework.Console.OpenSimAppender, OpenSim.Framework]. Reported error follows.".to_string(),
                "System.TypeLoadException: Could not load type 'OpenSim.Framework.Console.OpenSimAppender' from assembly 'OpenSim.Framework, Version=0.0.0.0, Culture=neutral, PublicKeyToken=null'.".to_string(),
            ]
        );
        assert_eq!(
            s.messages[3],
            "log4net:ERROR Appender named [Console] not found."
        );
        let fixed = CONFIG.replace(", OpenSim.Framework\"", ", OpenSim.Framework.Console\"");
        assert!(
            !configure(&fixed, dir.path()).console,
            "no DLL, no appender"
        );
        std::fs::write(dir.path().join("OpenSim.Framework.Console.dll"), b"").expect("write");
        let s = configure(&fixed, dir.path());
        assert!(s.console);
        assert!(s.messages.is_empty());
    }

    fn rolling_config(params: &str) -> String {
        format!(
            r#"<log4net>
  <appender name="LogFileAppender" type="log4net.Appender.RollingFileAppender">
    <file value="r.log" />{params}
  </appender>
  <root><appender-ref ref="LogFileAppender" /></root>
</log4net>"#
        )
    }

    /// What log4net 2.0.8 on Mono (Robust 0.9.2.2) said to each value, measured.
    #[test]
    fn rolling_parameters_as_real_log4net_reads_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("log4net.dll"), b"").expect("write");
        let roll = |params: &str| {
            let s = configure(&rolling_config(params), dir.path());
            (s.file.is_some(), s.roll, s.messages)
        };
        let ok = |max_bytes, keep| (true, Some(Roll { max_bytes, keep }), Vec::<String>::new());
        assert_eq!(
            roll(
                r#"<rollingStyle value="Size"/><maximumFileSize value="2000"/><maxSizeRollBackups value="3"/>"#
            ),
            ok(2000, 3)
        );
        assert_eq!(
            roll(
                r#"<rollingstyle value="size"/><maximumFileSize value=" 1kb "/><MaxSizeRollBackups value="0"/>"#
            ),
            ok(1024, 0)
        );
        // Defaults: Composite (rolls by size too), 10 MB, no backups.
        assert_eq!(roll(""), ok(10 * 1024 * 1024, 0));
        assert_eq!(
            roll(r#"<rollingStyle value="Date"/>"#),
            (true, None, Vec::new())
        );
        // Unknown parameters are ignored without a word.
        assert_eq!(
            roll(r#"<maxFileSize value="2000"/>"#),
            ok(10 * 1024 * 1024, 0)
        );
        let (file, r, messages) = roll(r#"<maximumFileSize value="abc"/>"#);
        assert!(file);
        assert_eq!(
            r,
            Some(Roll {
                max_bytes: 10 * 1024 * 1024,
                keep: 0
            })
        );
        assert_eq!(
            messages,
            ["log4net:ERROR OptionConverter: [ABC] is not in the correct file size syntax."]
        );
        for (params, exception) in [
            (r#"<maxSizeRollBackups value="three"/>"#, "System.Reflection.TargetInvocationException: Exception has been thrown by the target of an invocation. ---> System.FormatException: Input string was not in a correct format."),
            (r#"<maxSizeRollBackups value="99999999999"/>"#, "System.OverflowException: Value was either too large or too small for an Int32."),
            (r#"<rollingStyle value="Sized"/>"#, "System.ArgumentException: Requested value 'Sized' was not found."),
        ] {
            let (file, _, messages) = roll(params);
            assert!(!file, "{params}: the appender is not created");
            assert_eq!(
                messages,
                [
                    "log4net:ERROR Could not create Appender [LogFileAppender] of type [log4net.Appender.RollingFileAppender]. Reported error follows.",
                    exception,
                    "log4net:ERROR Appender named [LogFileAppender] not found.",
                ],
                "{params}"
            );
        }
    }
}
