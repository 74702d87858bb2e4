//! Command-line switches parsed the way Nini's `ArgvParser` does (robust.md §1).
//!
//! An argument is a switch when it matches `^([/-]|--)(\w+)([:=])?(.+)?$`; anything
//! else is the value of the previous switch (or ignored when there is none). So a value
//! starting with `/` or `-` is read as a new switch: `-inifile /x.ini` leaves `inifile`
//! empty and defines a switch `x`, exactly the pitfall real Robust has.

use std::collections::HashMap;

/// Robust's five switches as `(long, short)`; each becomes a `[Startup]` key.
pub const SWITCHES: [(&str, &str); 5] = [
    ("console", "c"),
    ("logfile", "l"),
    ("inifile", "i"),
    ("prompt", "p"),
    ("logconfig", "g"),
];

/// Switch names (lowercased, as Nini's dictionary is case-insensitive) to values.
#[derive(Debug, Default)]
pub struct Switches(HashMap<String, String>);

impl Switches {
    pub fn parse(args: &[String]) -> Switches {
        let mut map = HashMap::new();
        let mut last: Option<String> = None;
        for arg in args {
            match split_switch(arg) {
                Some((name, value)) => {
                    map.insert(name.clone(), trim_quotes(&value));
                    last = Some(name);
                }
                None => {
                    if let Some(name) = &last {
                        map.insert(name.clone(), trim_quotes(arg));
                    }
                }
            }
        }
        Switches(map)
    }

    /// The value of a Robust switch; the long name wins over the short one.
    pub fn get(&self, long: &str, short: &str) -> Option<&str> {
        self.0
            .get(long)
            .or_else(|| self.0.get(short))
            .map(String::as_str)
    }

    /// `(name, value)` for every switch of `names` given (switches without a short form,
    /// as the simulator declares them: simulator.md §2).
    pub fn given(&self, names: &[&'static str]) -> Vec<(&'static str, String)> {
        names
            .iter()
            .filter_map(|&n| self.0.get(n).map(|v| (n, v.clone())))
            .collect()
    }

    /// `(long name, value)` for every Robust switch given.
    pub fn startup_overrides(&self) -> Vec<(&'static str, String)> {
        SWITCHES
            .iter()
            .filter_map(|&(long, short)| self.get(long, short).map(|v| (long, v.to_string())))
            .collect()
    }
}

fn trim_quotes(v: &str) -> String {
    v.trim_matches(|c| c == '"' || c == '\'').to_string()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `Some((lowercased name, value))` when `arg` is a switch.
fn split_switch(arg: &str) -> Option<(String, String)> {
    let body = arg
        .strip_prefix("--")
        .filter(|r| r.starts_with(is_word))
        .or_else(|| arg.strip_prefix('-'))
        .or_else(|| arg.strip_prefix('/'))?;
    let name_len: usize = body
        .chars()
        .take_while(|&c| is_word(c))
        .map(char::len_utf8)
        .sum();
    if name_len == 0 {
        return None;
    }
    let (name, rest) = body.split_at(name_len);
    let value = rest
        .strip_prefix(':')
        .or_else(|| rest.strip_prefix('='))
        .unwrap_or(rest);
    Some((name.to_lowercase(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sw(args: &[&str]) -> Switches {
        Switches::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn all_forms() {
        for args in [
            vec!["-inifile", "r.ini"],
            vec!["-inifile=r.ini"],
            vec!["--inifile=r.ini"],
            vec!["/inifile:r.ini"],
            vec!["-i", "r.ini"],
            vec!["-I=\"r.ini\""],
            vec!["Robust.dll", "-inifile:r.ini"],
        ] {
            assert_eq!(sw(&args).get("inifile", "i"), Some("r.ini"), "{args:?}");
        }
    }

    #[test]
    fn absolute_value_after_space_is_a_new_switch() {
        let s = sw(&["-inifile", "/etc/x.ini", "-logfile=/var/log/r.log"]);
        assert_eq!(s.get("inifile", "i"), Some(""));
        assert_eq!(s.0.get("etc").map(String::as_str), Some("/x.ini"));
        assert_eq!(s.get("logfile", "l"), Some("/var/log/r.log"));
        let s = sw(&["-inifile=/etc/x.ini"]);
        assert_eq!(s.get("inifile", "i"), Some("/etc/x.ini"));
    }

    #[test]
    fn long_wins_and_unknown_are_kept_but_unused() {
        let s = sw(&["-i=a.ini", "-inifile=b.ini", "-background", "true"]);
        assert_eq!(s.get("inifile", "i"), Some("b.ini"));
        assert_eq!(
            s.startup_overrides(),
            vec![("inifile", "b.ini".to_string())]
        );
    }

    #[test]
    fn bare_dashes_are_values() {
        let s = sw(&["-prompt", "-"]);
        assert_eq!(s.get("prompt", "p"), Some("-"));
    }
}
