//! Man pages and shell completions, generated from the clap definitions so they can
//! never drift from the real CLI (a test fails when the committed copies are stale).

use crate::cli::Cli;
use clap::CommandFactory;
use std::io;
use std::path::Path;

/// Every generated file: (path relative to the docs dir, contents).
pub fn files() -> io::Result<Vec<(String, Vec<u8>)>> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    out.push(("gridctl.1".to_string(), page));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("gridctl-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(Box::leak(name.clone().into_boxed_str()) as &str);
        let mut page = Vec::new();
        clap_mangen::Man::new(sub).render(&mut page)?;
        out.push((format!("{name}.1"), page));
    }
    for (shell, file) in [
        (clap_complete::Shell::Bash, "completions/gridctl.bash"),
        (clap_complete::Shell::Zsh, "completions/_gridctl"),
        (clap_complete::Shell::Fish, "completions/gridctl.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "gridctl", &mut buf);
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
