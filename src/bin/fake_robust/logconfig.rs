//! The log4net configuration, read the way log4net 2.0.8 in Robust 0.9.2.2 reads it
//! (robust.md 0d, §7): `-logconfig FILE`, else `Robust.exe.config` in the cwd; an appender
//! is created only when something references it, from `type="Class, Assembly"` resolved in
//! the cwd. One that does not load is reported on the console in log4net's words and
//! then gets no lines at all; without the `Console` appender the console stays silent.
//!
//! The real runtime probes appender assemblies in Robust.exe's directory; the fake has no
//! such directory, so it probes its cwd, which is the same place when run as intended.

use std::path::{Path, PathBuf};

use gridctl::log4net::{self, Element, TypeName, Unresolved};

/// Where log lines go.
#[derive(Debug, Default)]
pub struct Sinks {
    /// The `Console` appender was created: log lines reach the console.
    pub console: bool,
    /// The file of `LogFileAppender` (or `-logfile`, which Robust swaps in).
    pub file: Option<PathBuf>,
    /// Every file a created file appender opened (log4net opens them at once).
    pub opened: Vec<PathBuf>,
    /// What log4net and Robust printed while configuring, in order.
    pub messages: Vec<String>,
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
    let path = match logconfig {
        Some(lc) => cwd.join(lc),
        None => cwd.join("Robust.exe.config"),
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
        created.push(name.to_string());
        if CONSOLE_CLASSES.contains(&ty.class.as_str()) {
            sinks.console |= name == "Console";
        } else if let Some(file) = file_of(&elements, at) {
            let file = cwd.join(file);
            sinks.opened.push(file.clone());
            if name == "LogFileAppender" || sinks.file.is_none() && is_root_ref(&elements, i) {
                sinks.file = Some(file);
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

/// The `<file value>` among the children of the element at `at`.
fn file_of(elements: &[Element], at: usize) -> Option<&str> {
    let depth = elements.get(at)?.depth;
    elements[at + 1..]
        .iter()
        .take_while(|e| e.depth > depth)
        .find(|e| e.tag == "file")
        .and_then(|e| e.attr("value"))
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
}
