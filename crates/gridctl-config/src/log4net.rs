//! The types a log4net XML config names, and whether they resolve in a Robust bin/.
//!
//! log4net loads `type="Class, Assembly"` by the exact assembly name; a name that does not
//! resolve costs the whole appender, silently for the console one (robust.md 0d). Shared by
//! `gridctl check` and the fake Robust so both judge a config the same way.
//!
//! A careful scan, not an XML parser: the only things needed are the `type` attributes of
//! elements (plus `name` and `<file value>` for the fake), and the configs are small and
//! machine-written. The scan skips comments, CDATA, `<?...?>` and `<!...>` declarations and
//! honours both quote styles, which is what makes a naive `find("type=")` wrong (Robust's
//! own `Robust.exe.config` carries a commented-out appender). A new dependency for this
//! would buy nothing the tests below do not already pin down.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// One element of the config with its attributes (values unescaped only for `&quot;`-free
/// text, which is all log4net configs use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The tag name, e.g. `appender`.
    pub tag: String,
    /// `(name, value, byte range of the value in the text)`.
    pub attrs: Vec<(String, String, Range<usize>)>,
    /// How many elements enclose it.
    pub depth: usize,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v.as_str())
    }

    pub fn attr_span(&self, name: &str) -> Option<Range<usize>> {
        self.attrs
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, r)| r.clone())
    }
}

/// Every start (or empty) element of `xml`, in document order.
pub fn elements(xml: &str) -> Vec<Element> {
    let b = xml.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(off) = xml[i..].find('<') {
        let start = i + off;
        let rest = &xml[start..];
        // Markup whose content is never an element.
        let skip_to = |end: &str| rest.find(end).map(|e| start + e + end.len());
        let next = if rest.starts_with("<!--") {
            skip_to("-->")
        } else if rest.starts_with("<![CDATA[") {
            skip_to("]]>")
        } else if rest.starts_with("<?") {
            skip_to("?>")
        } else if rest.starts_with("<!") || rest.starts_with("</") {
            if rest.starts_with("</") {
                depth = depth.saturating_sub(1);
            }
            skip_to(">")
        } else {
            let (element, end, empty) = start_tag(xml, start + 1, depth);
            out.push(element);
            if !empty {
                depth += 1;
            }
            Some(end)
        };
        match next {
            Some(n) if n > i && n <= b.len() => i = n,
            _ => break,
        }
    }
    out
}

/// Parses the start tag whose name begins at `at`; returns the element, the index after
/// its `>`, and whether it was empty (`/>`).
fn start_tag(xml: &str, at: usize, depth: usize) -> (Element, usize, bool) {
    let b = xml.as_bytes();
    let is_name =
        |c: u8| !c.is_ascii_whitespace() && !matches!(c, b'=' | b'>' | b'/' | b'"' | b'\'');
    let mut i = at;
    while i < b.len() && is_name(b[i]) {
        i += 1;
    }
    let tag = xml[at..i].to_string();
    let mut attrs = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return (Element { tag, attrs, depth }, b.len(), false);
        }
        match b[i] {
            b'>' => return (Element { tag, attrs, depth }, i + 1, false),
            b'/' if b.get(i + 1) == Some(&b'>') => {
                return (Element { tag, attrs, depth }, i + 2, true)
            }
            c if is_name(c) => {
                let name_start = i;
                while i < b.len() && is_name(b[i]) {
                    i += 1;
                }
                let name = xml[name_start..i].to_string();
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if b.get(i) != Some(&b'=') {
                    continue;
                }
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                let Some(&quote) = b.get(i).filter(|q| matches!(q, b'"' | b'\'')) else {
                    continue;
                };
                let v_start = i + 1;
                let v_end = xml[v_start..]
                    .find(char::from(quote))
                    .map_or(b.len(), |e| v_start + e);
                attrs.push((name, xml[v_start..v_end].to_string(), v_start..v_end));
                i = (v_end + 1).min(b.len());
            }
            // Stray byte: skip it rather than loop.
            _ => i += 1,
        }
    }
}

/// A `type="..."` value split into its class and assembly (`None` when not given:
/// log4net then looks in its own assembly first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeName {
    pub class: String,
    pub assembly: Option<String>,
}

impl TypeName {
    pub fn parse(value: &str) -> TypeName {
        let mut parts = value.split(',').map(str::trim);
        let class = parts.next().unwrap_or_default().to_string();
        let assembly = parts.next().filter(|a| !a.is_empty()).map(str::to_string);
        TypeName { class, assembly }
    }

    /// The assembly log4net loads the type from: the named one, else `log4net`.
    pub fn assembly(&self) -> &str {
        self.assembly.as_deref().unwrap_or("log4net")
    }
}

/// OpenSim types a log4net config may name, with the assembly that really defines them
/// (0.9.2.2, 0.9.3.0 and master agree). A file check alone cannot catch
/// `OpenSimAppender, OpenSim.Framework`: `OpenSim.Framework.dll` exists, the type is not in it.
const KNOWN_TYPES: &[(&str, &str)] = &[(
    "OpenSim.Framework.Console.OpenSimAppender",
    "OpenSim.Framework.Console",
)];

/// Why a type does not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// No `<assembly>.dll` / `.exe` in bin/.
    MissingAssembly { assembly: String },
    /// The assembly exists but the type lives in another one.
    WrongAssembly { assembly: String, real: String },
}

/// Whether `ty` can be loaded by a Robust running in `bin_dir`.
pub fn resolve(ty: &TypeName, bin_dir: &Path) -> Result<PathBuf, Unresolved> {
    let assembly = ty.assembly();
    if let Some((_, real)) = KNOWN_TYPES.iter().find(|(c, _)| *c == ty.class) {
        if *real != assembly {
            return Err(Unresolved::WrongAssembly {
                assembly: assembly.to_string(),
                real: real.to_string(),
            });
        }
    }
    // log4net's own types live in log4net.dll whatever their namespace says.
    if ty.class.starts_with("log4net.") && assembly != "log4net" {
        return Err(Unresolved::WrongAssembly {
            assembly: assembly.to_string(),
            real: "log4net".to_string(),
        });
    }
    assembly_file(bin_dir, assembly).ok_or_else(|| Unresolved::MissingAssembly {
        assembly: assembly.to_string(),
    })
}

/// `<assembly>.dll` or `<assembly>.exe` in `bin_dir`, as the runtime probes the app base.
pub fn assembly_file(bin_dir: &Path, assembly: &str) -> Option<PathBuf> {
    ["dll", "exe"]
        .iter()
        .map(|ext| bin_dir.join(format!("{assembly}.{ext}")))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_skips_comments_and_reads_both_quotes() {
        let xml = r#"<?xml version="1.0"?>
<!-- <appender name="Old" type="Commented.Out, Nope"/> -->
<log4net>
  <appender name='Console' type = 'A.B, C.D'>
    <layout type="log4net.Layout.PatternLayout"><conversionPattern value="%date{HH:mm:ss} - %message"/></layout>
  </appender>
  <![CDATA[ <appender type="X"/> ]]>
  <root><appender-ref ref="Console"/></root>
</log4net>"#;
        let types: Vec<(String, usize)> = elements(xml)
            .iter()
            .filter_map(|e| e.attr("type").map(|t| (t.to_string(), e.depth)))
            .collect();
        assert_eq!(
            types,
            vec![
                ("A.B, C.D".to_string(), 1),
                ("log4net.Layout.PatternLayout".to_string(), 2)
            ]
        );
        let appender = &elements(xml)[1];
        assert_eq!(appender.attr("name"), Some("Console"));
        let span = appender.attr_span("type").unwrap_or_default();
        assert_eq!(&xml[span], "A.B, C.D");
    }

    #[test]
    fn type_names_and_resolution() {
        let t = TypeName::parse("OpenSim.Framework.Console.OpenSimAppender, OpenSim.Framework");
        assert_eq!(t.assembly(), "OpenSim.Framework");
        assert_eq!(
            TypeName::parse("log4net.Appender.FileAppender").assembly(),
            "log4net"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("OpenSim.Framework.dll"), b"").expect("write");
        assert_eq!(
            resolve(&t, dir.path()),
            Err(Unresolved::WrongAssembly {
                assembly: "OpenSim.Framework".into(),
                real: "OpenSim.Framework.Console".into()
            })
        );
        let good =
            TypeName::parse("OpenSim.Framework.Console.OpenSimAppender, OpenSim.Framework.Console");
        assert_eq!(
            resolve(&good, dir.path()),
            Err(Unresolved::MissingAssembly {
                assembly: "OpenSim.Framework.Console".into()
            })
        );
        std::fs::write(dir.path().join("OpenSim.Framework.Console.exe"), b"").expect("write");
        assert!(resolve(&good, dir.path()).is_ok());
        // The rolling appender and the filter of the rendered config live in log4net.dll.
        std::fs::write(dir.path().join("log4net.dll"), b"").expect("write");
        for ty in [
            "log4net.Appender.RollingFileAppender",
            "log4net.Filter.LoggerMatchFilter",
        ] {
            assert_eq!(
                resolve(&TypeName::parse(ty), dir.path()),
                Ok(dir.path().join("log4net.dll"))
            );
        }
        let file = TypeName::parse("log4net.Appender.FileAppender, OpenSim.Framework");
        assert!(matches!(
            resolve(&file, dir.path()),
            Err(Unresolved::WrongAssembly { .. })
        ));
    }
}
