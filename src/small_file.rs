//! Reading the small files a roster names or is (roster files, token and webhook files,
//! CA bundles): never more than a given size, whatever the file's metadata says. A
//! FIFO, a device, a file in /proc or a file still growing reports a size of 0 or a
//! stale one, and would otherwise be read whole or block.

use std::io::Read;
use std::path::Path;

/// Why a small file could not be had. The callers say it in their own terms.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(std::io::Error),
    /// Refused by [`read_regular`]: a FIFO or a device would block or never end.
    NotRegular,
    /// More than the limit: `size` is what the metadata claimed, or what came back.
    TooLarge {
        size: u64,
    },
}

/// Reads at most `max` bytes from `path`, which may be a FIFO (more is `TooLarge`).
pub(crate) fn read(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let claimed = std::fs::metadata(path).map_err(ReadError::Io)?.len();
    if claimed > max {
        return Err(ReadError::TooLarge { size: claimed });
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .map_err(ReadError::Io)?;
    match bytes.len() as u64 {
        size if size > max => Err(ReadError::TooLarge { size }),
        _ => Ok(bytes),
    }
}

/// Reads a regular file of at most `max` bytes.
pub(crate) fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    if !std::fs::metadata(path).map_err(ReadError::Io)?.is_file() {
        return Err(ReadError::NotRegular);
    }
    read(path, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_and_only_regular_files_pass_read_regular() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "12345").unwrap();
        assert_eq!(read_regular(&file, 5).unwrap(), b"12345");
        assert!(matches!(
            read(&file, 4),
            Err(ReadError::TooLarge { size: 5 })
        ));
        assert!(matches!(
            read_regular(dir.path(), 5),
            Err(ReadError::NotRegular)
        ));
        assert!(matches!(
            read(&dir.path().join("missing"), 5),
            Err(ReadError::Io(_))
        ));
    }
}
