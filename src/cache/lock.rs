//! A per-key lock file so that N processes missing the cache at once make one API call.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LockError {
    #[error("another docker-credential-ecr process has held the cache lock {path} for {waited:?}")]
    TimedOut { path: String, waited: Duration },
    #[error("cannot open the cache lock {path}")]
    Open {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// Holds an exclusive `flock` on the key's lock file until dropped. The lock dies with
/// the process, so a holder killed with SIGKILL never wedges the others.
#[derive(Debug)]
pub struct KeyLock {
    _file: Option<File>,
}

impl KeyLock {
    /// Tries first (the common, uncontended case costs no thread), then waits at most
    /// `wait` for the holder; a filesystem without locks gets no lock, as cargo does.
    pub fn acquire(path: &Path, wait: Duration) -> Result<KeyLock, LockError> {
        let display = || path.display().to_string();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| LockError::Open {
                path: display(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => return Ok(KeyLock { _file: Some(file) }),
            Err(TryLockError::Error(err)) if err.kind() == io::ErrorKind::Unsupported => {
                return Ok(KeyLock { _file: None });
            }
            Err(TryLockError::Error(source)) => {
                return Err(LockError::Open {
                    path: display(),
                    source,
                });
            }
            Err(TryLockError::WouldBlock) => {}
        }
        // std offers no timed lock: block in a helper thread and stop waiting for it at
        // the deadline. The clone shares the open file, so its lock is ours.
        let waiter = file.try_clone().map_err(|source| LockError::Open {
            path: display(),
            source,
        })?;
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(waiter.lock());
        });
        match receiver.recv_timeout(wait) {
            Ok(Ok(())) => Ok(KeyLock { _file: Some(file) }),
            Ok(Err(source)) => Err(LockError::Open {
                path: display(),
                source,
            }),
            Err(_) => Err(LockError::TimedOut {
                path: display(),
                waited: wait,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.lock");
        let first = KeyLock::acquire(&path, Duration::from_secs(1)).unwrap();
        let second = KeyLock::acquire(&path, Duration::from_millis(50));
        assert!(
            matches!(second, Err(LockError::TimedOut { .. })),
            "{second:?}"
        );
        drop(first);
        KeyLock::acquire(&path, Duration::from_millis(50)).expect("free after drop");
    }
}
