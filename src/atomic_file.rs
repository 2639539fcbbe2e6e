//! Replacing a file so that a reader, or a crash, sees the old contents or the new ones,
//! never a torn mix: the cache entries and docker's config.json are both written this way.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `bytes` to `temp` (a new file in `path`'s directory, created with `mode`, so
/// there is no moment at which it is more open than that), syncs it and renames it over
/// `path`. On failure the temp file is removed.
pub fn replace(path: &Path, temp: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let result = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(temp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(temp, path));
    if result.is_err() {
        let _ = fs::remove_file(temp);
    }
    result
}
