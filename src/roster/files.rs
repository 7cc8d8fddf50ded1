//! Where a roster is read from: one file, or a directory of files.
//!
//! A directory is every `*.yaml` (and `*.yml`) file in it, read in name order; names
//! starting with `.` are skipped, so a Kubernetes ConfigMap mounted as a directory
//! (its keys as symlinks into a hidden `..data` directory) reads as its keys. This
//! lets each community keep its own file, with its own reviewers.

use std::path::{Path, PathBuf};

use super::{MAX_ROSTER_BYTES, RosterError};
use crate::small_file::{self, ReadError};

/// At most this many files in a roster directory.
pub const MAX_FILES: usize = 1000;

/// The files of the roster at `path` with their bytes, in the order they are merged.
pub fn read(path: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, RosterError> {
    let read_err = |path: &Path| {
        let path = path.to_owned();
        move |source| RosterError::Read { path, source }
    };
    let meta = std::fs::metadata(path).map_err(read_err(path))?;
    if !meta.is_dir() {
        return Ok(vec![(path.to_owned(), read_bounded(path)?)]);
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path).map_err(read_err(path))? {
        let entry = entry.map_err(read_err(path))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if name.starts_with('.') || !yaml {
            continue;
        }
        let file = entry.path();
        // Follow symlinks (ConfigMap keys are links); a directory named *.yaml is not
        // a roster file.
        if std::fs::metadata(&file).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        names.push(file);
    }
    if names.is_empty() {
        return Err(RosterError::Empty {
            path: path.to_owned(),
        });
    }
    if names.len() > MAX_FILES {
        return Err(RosterError::TooManyFiles {
            path: path.to_owned(),
            count: names.len(),
        });
    }
    names.sort();
    let mut total = 0u64;
    let mut out = Vec::with_capacity(names.len());
    for file in names {
        let bytes = read_bounded(&file)?;
        total += bytes.len() as u64;
        if total > 4 * MAX_ROSTER_BYTES {
            return Err(RosterError::TooLarge {
                path: path.to_owned(),
                size: total,
            });
        }
        out.push((file, bytes));
    }
    Ok(out)
}

/// Reads one file, refusing more than [`MAX_ROSTER_BYTES`] (a FIFO is read, bounded).
fn read_bounded(path: &Path) -> Result<Vec<u8>, RosterError> {
    small_file::read(path, MAX_ROSTER_BYTES).map_err(|e| match e {
        ReadError::TooLarge { size } => RosterError::TooLarge {
            path: path.to_owned(),
            size,
        },
        ReadError::Io(source) => RosterError::Read {
            path: path.to_owned(),
            source,
        },
        // `small_file::read` reads FIFOs and devices too (bounded); never said.
        ReadError::NotRegular => RosterError::Read {
            path: path.to_owned(),
            source: std::io::Error::other("not a regular file"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_its_yaml_files_in_name_order_without_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("b.yaml"), "b").unwrap();
        std::fs::write(d.join("a.yml"), "a").unwrap();
        std::fs::write(d.join("notes.txt"), "x").unwrap();
        std::fs::create_dir(d.join("..2026_11_30")).unwrap();
        std::fs::write(d.join("..2026_11_30/c.yaml"), "c").unwrap();
        std::fs::write(d.join(".hidden.yaml"), "h").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("..2026_11_30/c.yaml", d.join("c.yaml")).unwrap();
        let files: Vec<String> = read(d)
            .unwrap()
            .into_iter()
            .map(|(p, b)| {
                format!(
                    "{}={}",
                    p.file_name().unwrap().to_string_lossy(),
                    String::from_utf8(b).unwrap()
                )
            })
            .collect();
        #[cfg(unix)]
        assert_eq!(files, ["a.yml=a", "b.yaml=b", "c.yaml=c"]);
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(read(empty.path()), Err(RosterError::Empty { .. })));
    }
}
