//! `gridctl export kubernetes`: plan grid.toml for the cluster, let `gridctl-kube` turn
//! it into objects, and write the files into the output directory, all or nothing.

use crate::diagnostic::Diagnostic;
use crate::outcome::{print_diagnostics, Failure, Outcome};
use gridctl_config::cluster::Target;
use gridctl_config::manifest;
use gridctl_config::plan::absolutize;
use gridctl_config::planner;
use gridctl_kube::{is_export_file, written_by_export, Export, Options};
use std::path::{Path, PathBuf};

/// Writes the export of `file` into `out`; prints one line per file, the notes and a summary.
pub fn kubernetes(
    file: &Path,
    out: &Path,
    namespace: Option<&str>,
    image: Option<&str>,
    force: bool,
    quiet: bool,
) -> Outcome {
    let opts = Options {
        namespace: namespace.map(str::to_string),
        image: image.map(str::to_string),
    };
    // The overrides go into the manifest first: the pods plan from the ConfigMap's copy.
    let loaded = opts
        .onto(&manifest::load(file)?)
        .map_err(|d| Failure::invalid(vec![d]))?;
    let plan = planner::build_for(&loaded, Target::Cluster).map_err(Failure::invalid)?;
    print_diagnostics(&plan.warnings);
    // The plan names the templates' path inside the pod; they are read from here.
    let templates_on_disk: Option<PathBuf> = loaded
        .manifest
        .grid
        .templates
        .as_ref()
        .map(|t| absolutize(&loaded.dir, t.get_ref()));
    let export = gridctl_kube::export(&loaded, &plan, templates_on_disk.as_deref())
        .map_err(|d| Failure::invalid(vec![d]))?;
    let stale = write(out, &export, force)?;
    if !quiet {
        for (name, _) in &export.files {
            crate::outln!("wrote {}", out.join(name).display());
        }
        for name in &stale {
            crate::outln!(
                "removed {} (an earlier export's, for what grid.toml no longer has)",
                out.join(name).display()
            );
        }
        for note in &export.notes {
            crate::outln!("note: {note}");
        }
        crate::outln!("{}: {}, Containerfile", out.display(), export.counts);
    }
    Ok(())
}

/// Writes the files all or none (`atomic::write_files`), then removes the files of an
/// earlier export that this one no longer has (a role gone, no Ingress left). Returns the names removed.
fn write(out: &Path, export: &Export, force: bool) -> Result<Vec<String>, Failure> {
    let fail = |what: String, e: std::io::Error| {
        Failure::failed(Diagnostic::error(format!("{what}: {e}")))
    };
    match std::fs::metadata(out) {
        Ok(m) if !m.is_dir() => {
            return Err(Failure::failed(
                Diagnostic::error(format!("`{}` exists and is not a directory", out.display()))
                    .help("name a directory with -o"),
            ))
        }
        Ok(_) => {}
        Err(_) => std::fs::create_dir_all(out)
            .map_err(|e| fail(format!("cannot create `{}`", out.display()), e))?,
    }
    // A file of the same name that no export wrote is the user's (`-o .` in a
    // repository with its own Containerfile): never overwritten unless asked.
    if !force {
        for (name, _) in &export.files {
            let path = out.join(name);
            let theirs = match std::fs::symlink_metadata(&path) {
                Err(_) => false,
                Ok(_) => !manifest::read_text_file(&path).is_ok_and(|t| written_by_export(&t)),
            };
            if theirs {
                return Err(Failure::failed(
                    Diagnostic::error(format!(
                        "`{}` exists and was not written by an export; nothing was written",
                        path.display()
                    ))
                    .help("export into another directory with -o, or pass --force to overwrite it"),
                ));
            }
        }
    }
    // All files or none: a failed write leaves the previous export whole.
    let files: Vec<(PathBuf, Vec<u8>)> = export
        .files
        .iter()
        .map(|(name, text)| (out.join(name), text.as_bytes().to_vec()))
        .collect();
    crate::atomic::write_files(&files, 0o644).map_err(|e| {
        fail(
            format!("cannot write the export into `{}`", out.display()),
            e,
        )
    })?;
    let ours: Vec<&str> = export.files.iter().map(|(n, _)| n.as_str()).collect();
    let entries =
        std::fs::read_dir(out).map_err(|e| fail(format!("cannot read `{}`", out.display()), e))?;
    let mut stale: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| is_export_file(n) && !ours.contains(&n.as_str()))
        // Only what an export wrote (its header says so): never a file of the user's.
        .filter(|n| manifest::read_text_file(&out.join(n)).is_ok_and(|t| written_by_export(&t)))
        .collect();
    stale.sort();
    for name in &stale {
        let path = out.join(name);
        std::fs::remove_file(&path)
            .map_err(|e| fail(format!("cannot remove `{}`", path.display()), e))?;
    }
    Ok(stale)
}
