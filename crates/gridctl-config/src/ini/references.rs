//! `${Section|Key}` and `${Key}` references: expanded after every file is merged,
//! as Nini's `ReplaceKeyValues` does, with unresolvable ones reported by cause.

use super::Ini;

/// Why a `${...}` reference could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnresolvedReason {
    /// `${Section|Key}` names a section that does not exist.
    MissingSection(String),
    /// The referenced key does not exist in the (existing) section.
    MissingKey { section: String, key: String },
    /// The reference leads back to a key that is being expanded.
    Cycle(Vec<String>),
}

/// A `${...}` reference that cannot be expanded; real Robust aborts at startup on this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct UnresolvedReference {
    /// Section of the value that contains the reference.
    pub section: String,
    /// Key of the value that contains the reference.
    pub key: String,
    /// The reference text, e.g. `${Const|BaseURL}`.
    pub reference: String,
    pub reason: UnresolvedReason,
}

impl UnresolvedReference {
    fn render(&self) -> String {
        let why = match &self.reason {
            UnresolvedReason::MissingSection(s) => format!("section `[{s}]` does not exist"),
            UnresolvedReason::MissingKey { section, key } => {
                format!("key `{key}` does not exist in section `[{section}]`")
            }
            UnresolvedReason::Cycle(chain) => {
                format!("reference cycle: {}", chain.join(" -> "))
            }
        };
        format!(
            "[{}] {}: cannot expand `{}`: {}",
            self.section, self.key, self.reference, why
        )
    }
}

impl Ini {
    /// Expands every `${Section|Key}` and `${Key}` (same section) in place, as Nini's
    /// `ReplaceKeyValues` does after all sources are merged. Stops at the first value
    /// that cannot be expanded, which is where Robust aborts.
    ///
    /// Difference from Nini, on purpose: a short `${Key}` found inside a referenced
    /// value resolves in that value's own section (Nini re-reads it in the section of
    /// the outer key), and every cycle is reported instead of looping.
    pub fn resolve_references(&mut self) -> Result<(), UnresolvedReference> {
        let mut resolver = Resolver::new(self);
        let mut resolved = Vec::new();
        for (si, s) in self.sections.iter().enumerate() {
            for ki in 0..s.entries.len() {
                resolved.push((si, ki, resolver.resolve(si, ki)?));
            }
        }
        for (si, ki, v) in resolved {
            self.sections[si].entries[ki].1 = v;
        }
        Ok(())
    }

    /// Every reference that cannot be expanded (each root cause once), for diagnostics.
    pub fn unresolved_references(&self) -> Vec<UnresolvedReference> {
        let mut resolver = Resolver::new(self);
        let mut out: Vec<UnresolvedReference> = Vec::new();
        for (si, s) in self.sections.iter().enumerate() {
            for ki in 0..s.entries.len() {
                if let Err(e) = resolver.resolve(si, ki) {
                    if !out.contains(&e) {
                        out.push(e);
                    }
                }
            }
        }
        out
    }
}

/// Memoizing `${}` expander; `stack` holds the keys being expanded, to find cycles.
struct Resolver<'a> {
    ini: &'a Ini,
    memo: Vec<Vec<Option<Result<String, UnresolvedReference>>>>,
    stack: Vec<(usize, usize)>,
}

impl<'a> Resolver<'a> {
    fn new(ini: &'a Ini) -> Self {
        let memo = ini
            .sections
            .iter()
            .map(|s| vec![None; s.entries.len()])
            .collect();
        Resolver {
            ini,
            memo,
            stack: Vec::new(),
        }
    }

    fn name(&self, si: usize, ki: usize) -> String {
        let s = &self.ini.sections[si];
        format!("[{}] {}", s.name, s.entries[ki].0)
    }

    fn resolve(&mut self, si: usize, ki: usize) -> Result<String, UnresolvedReference> {
        if let Some(done) = &self.memo[si][ki] {
            return done.clone();
        }
        self.stack.push((si, ki));
        let result = self.expand(si, ki);
        self.stack.pop();
        self.memo[si][ki] = Some(result.clone());
        result
    }

    fn expand(&mut self, si: usize, ki: usize) -> Result<String, UnresolvedReference> {
        // Copy the `&'a Ini` out so borrows of it do not hold `self`.
        let ini = self.ini;
        let section = &ini.sections[si];
        let (key, value) = &section.entries[ki];
        let mut out = String::new();
        let mut rest = value.as_str();
        // Like Nini: a reference is `${` up to the first `}`; an unclosed `${` is literal.
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start + 2..].find('}') else {
                break;
            };
            let inner = &rest[start + 2..start + 2 + len];
            let reference = format!("${{{inner}}}");
            let fail = |reason| UnresolvedReference {
                section: section.name.clone(),
                key: key.clone(),
                reference: reference.clone(),
                reason,
            };
            let (tsec, tkey) = match inner.split_once('|') {
                // Nini ignores anything after a second `|`.
                Some((s, k)) => (s, k.split('|').next().unwrap_or(k)),
                None => (section.name.as_str(), inner),
            };
            let Some(tsi) = ini.section_index(tsec) else {
                return Err(fail(UnresolvedReason::MissingSection(tsec.to_string())));
            };
            let Some(tki) = ini.sections[tsi].position(tkey) else {
                return Err(fail(UnresolvedReason::MissingKey {
                    section: ini.sections[tsi].name.clone(),
                    key: tkey.to_string(),
                }));
            };
            if let Some(pos) = self.stack.iter().position(|&p| p == (tsi, tki)) {
                let mut chain: Vec<String> = self.stack[pos..]
                    .iter()
                    .map(|&(a, b)| self.name(a, b))
                    .collect();
                chain.push(self.name(tsi, tki));
                return Err(fail(UnresolvedReason::Cycle(chain)));
            }
            let replacement = self.resolve(tsi, tki)?;
            out.push_str(&rest[..start]);
            out.push_str(&replacement);
            rest = &rest[start + 2 + len + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini::parse;
    use std::path::Path;

    fn p(text: &str) -> Ini {
        parse(text, Path::new("t.ini")).expect("parse")
    }

    #[test]
    fn references_expand_long_short_and_nested() {
        let mut ini = p(concat!(
            "[Const]\nBaseHostname = grid.example\nBaseURL = http://${Const|BaseHostname}\n",
            "PublicPort = 8002\n",
            "[GridInfoService]\nlogin = ${Const|BaseURL}:${Const|PublicPort}/\n",
            "a = ${b}\nb = x${const|publicport}\n",
        ));
        ini.resolve_references().expect("resolves");
        assert_eq!(
            ini.get("GridInfoService", "login"),
            Some("http://grid.example:8002/")
        );
        assert_eq!(ini.get("GridInfoService", "a"), Some("x8002"));
        assert!(ini.unresolved_references().is_empty());
    }

    #[test]
    fn unclosed_reference_is_literal() {
        let mut ini = p("[A]\nk = ${oops\n");
        ini.resolve_references().expect("literal");
        assert_eq!(ini.get("A", "k"), Some("${oops"));
    }

    #[test]
    fn missing_section_and_key_are_named() {
        let mut ini = p("[A]\nk = ${Nope|x}\n[B]\nm = ${A|missing}\nn = ${alsomissing}\n");
        let e = ini.clone().resolve_references().unwrap_err();
        assert_eq!(e.section, "A");
        assert_eq!(e.key, "k");
        assert_eq!(e.reference, "${Nope|x}");
        assert_eq!(e.reason, UnresolvedReason::MissingSection("Nope".into()));
        assert_eq!(
            e.to_string(),
            "[A] k: cannot expand `${Nope|x}`: section `[Nope]` does not exist"
        );
        let all = ini.unresolved_references();
        assert_eq!(all.len(), 3);
        assert_eq!(
            all[1].reason,
            UnresolvedReason::MissingKey {
                section: "A".into(),
                key: "missing".into()
            }
        );
        assert_eq!(all[2].reference, "${alsomissing}");
        // Nothing is changed on failure.
        assert!(ini.resolve_references().is_err());
        assert_eq!(ini.get("A", "k"), Some("${Nope|x}"));
    }

    #[test]
    fn nested_failure_reports_the_root_cause_once() {
        let ini = p("[A]\nx = ${y}\ny = ${z}\n");
        let all = ini.unresolved_references();
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].key.as_str(), all[0].reference.as_str()),
            ("y", "${z}")
        );
    }

    #[test]
    fn self_and_cyclic_references_are_errors() {
        let mut ini = p("[A]\nself = ${self}\n");
        let e = ini.resolve_references().unwrap_err();
        assert!(matches!(e.reason, UnresolvedReason::Cycle(_)));
        let ini = p("[A]\nx = ${B|y}\n[B]\ny = ${A|x}\nz = ${y}\n");
        let all = ini.unresolved_references();
        assert!(!all.is_empty());
        assert!(all
            .iter()
            .all(|e| matches!(e.reason, UnresolvedReason::Cycle(_))));
        let msg = all[0].to_string();
        assert!(msg.contains("[A] x -> [B] y -> [A] x"), "{msg}");
    }
}
