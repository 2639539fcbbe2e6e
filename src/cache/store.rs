//! Entries on disk: one file per key in a 0700 directory, each 0600 from the moment it
//! exists, replaced atomically (temp file, fsync, rename) so a reader sees the old entry
//! or the new one, never half of either. The format is versioned; a file that does not
//! decode is a miss, and the next write replaces it.

use super::entry::{Entry, from_unix_seconds, unix_seconds};
use super::key::CacheKey;
use crate::atomic_file;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::fs::{self, DirBuilder, File};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use thiserror::Error;

const FORMAT_VERSION: u32 = 1;
const ENTRY_SUFFIX: &str = ".json";
/// No real entry comes near this; a bigger file is garbage and is not read whole.
const MAX_ENTRY_BYTES: u64 = 64 * 1024;

#[derive(Debug, Error)]
#[error("cannot {action} {path}")]
pub struct StoreError {
    action: &'static str,
    path: String,
    #[source]
    source: io::Error,
}

impl StoreError {
    fn new(action: &'static str, path: &Path, source: io::Error) -> StoreError {
        StoreError {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}

/// The on-disk shape of an entry, version 1.
#[derive(Serialize, Deserialize)]
struct EntryFile {
    version: u32,
    key: String,
    registry: String,
    token: String,
    proxy_endpoint: String,
    requested_at: u64,
    expires_at: u64,
}

#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Creates the directory (0700) if needed; reading needs nothing more.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|err| StoreError::new("create the cache directory", dir, err))?;
        Ok(Store {
            dir: dir.to_owned(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn lock_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.lock", key.stem()))
    }

    fn entry_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}{ENTRY_SUFFIX}", key.stem()))
    }

    /// The entry for `key`, or `None` when there is none or it does not decode as one.
    pub fn read(&self, key: &CacheKey) -> Option<Entry> {
        let bytes = read_bounded(&self.entry_path(key))?;
        decode(&bytes)
            .filter(|(stored_key, _)| stored_key == key.full())
            .map(|(_, e)| e)
    }

    /// Called with the key's lock held (see `KeyLock`).
    pub fn write(&self, key: &CacheKey, entry: &Entry) -> Result<(), StoreError> {
        self.remove_dead_writers_temp_files(key);
        let path = self.entry_path(key);
        let temp = self.dir.join(format!(
            "{}{}.{}{TEMP_SUFFIX}",
            temp_prefix(key),
            std::process::id(),
            unix_nanos()
        ));
        // 0600 from creation: no other user can ever open an entry.
        atomic_file::replace(&path, &temp, &encode(key, entry), 0o600)
            .map_err(|err| StoreError::new("write the cache entry", &path, err))?;
        // The rename is durable only once the directory is synced; failing that, a crash
        // loses the new entry but never leaves a torn one, so it is not an error.
        let _ = File::open(&self.dir).and_then(|dir| dir.sync_all());
        Ok(())
    }

    /// A writer killed between creating its temp file and renaming it leaves the file
    /// behind. Writers of a key hold its lock, so every temp file of this key found now
    /// is such a leftover: without this, a CI cache dir would collect them forever.
    fn remove_dead_writers_temp_files(&self, key: &CacheKey) {
        let prefix = temp_prefix(key);
        let Ok(listing) = fs::read_dir(&self.dir) else {
            return;
        };
        for dirent in listing.filter_map(Result::ok) {
            let name = dirent.file_name();
            if name
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(TEMP_SUFFIX))
            {
                let _ = fs::remove_file(dirent.path());
            }
        }
    }

    /// Removes every entry fetched for `host`, whoever's credentials fetched it.
    pub fn remove_registry(&self, host: &str) -> Result<usize, StoreError> {
        let mut removed = 0;
        for (path, entry) in self.entries()? {
            if entry.registry == host {
                fs::remove_file(&path).map_err(|err| StoreError::new("remove", &path, err))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Every entry that decodes, with its path.
    pub fn entries(&self) -> Result<Vec<(PathBuf, Entry)>, StoreError> {
        let listing = match fs::read_dir(&self.dir) {
            Ok(listing) => listing,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(StoreError::new("list", &self.dir, err)),
        };
        Ok(listing
            .filter_map(Result::ok)
            .map(|dirent| dirent.path())
            .filter(|path| {
                path.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(ENTRY_SUFFIX) && !n.starts_with('.'))
            })
            .filter_map(|path| {
                let (_, entry) = decode(&read_bounded(&path)?)?;
                Some((path, entry))
            })
            .collect())
    }
}

/// A writer's temp file: hidden, named after its key, then the writer's pid and a time.
fn temp_prefix(key: &CacheKey) -> String {
    format!(".{}.", key.stem())
}

const TEMP_SUFFIX: &str = ".tmp";

const ENTRY_READ_CAPACITY: usize = 4096;

fn read_bounded(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    // An entry is a few hundred bytes: room for it up front makes the hit one read (and
    // the end-of-file read) instead of a read per doubling of the buffer.
    let mut bytes = Vec::with_capacity(ENTRY_READ_CAPACITY);
    File::open(path)
        .ok()?
        .take(MAX_ENTRY_BYTES + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= MAX_ENTRY_BYTES).then_some(bytes)
}

fn encode(key: &CacheKey, entry: &Entry) -> Vec<u8> {
    let file = EntryFile {
        version: FORMAT_VERSION,
        key: key.full().to_owned(),
        registry: entry.registry.clone(),
        token: entry.token.expose().clone(),
        proxy_endpoint: entry.proxy_endpoint.clone(),
        requested_at: unix_seconds(entry.requested_at),
        expires_at: unix_seconds(entry.expires_at),
    };
    serde_json::to_vec(&file).expect("entry fields are plain strings and numbers")
}

fn decode(bytes: &[u8]) -> Option<(String, Entry)> {
    let file: EntryFile = serde_json::from_slice(bytes).ok()?;
    if file.version != FORMAT_VERSION {
        return None;
    }
    let entry = Entry {
        registry: file.registry,
        token: Secret::new(file.token),
        proxy_endpoint: file.proxy_endpoint,
        requested_at: from_unix_seconds(file.requested_at)?,
        expires_at: from_unix_seconds(file.expires_at)?,
    };
    Some((file.key, entry))
}

fn unix_nanos() -> u128 {
    // Only to make temp names unique next to the pid; never compared with the injected clock.
    #[allow(clippy::disallowed_methods)]
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential_source::CredentialSource;
    use crate::env::FakeEnv;
    use crate::registry::Registry;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    fn key(host: &str, key_id: &str) -> CacheKey {
        let env = FakeEnv::new().var("AWS_ACCESS_KEY_ID", key_id);
        CacheKey::new(
            &Registry::parse(host).unwrap(),
            &CredentialSource::detect(&env),
        )
    }

    fn entry(host: &str) -> Entry {
        Entry {
            registry: host.to_owned(),
            token: Secret::new("QVdTOnB3".into()),
            proxy_endpoint: format!("https://{host}"),
            requested_at: from_unix_seconds(1_800_000_000).unwrap(),
            expires_at: from_unix_seconds(1_800_000_000).unwrap() + Duration::from_secs(43_200),
        }
    }

    const A: &str = "111111111111.dkr.ecr.us-east-1.amazonaws.com";
    const B: &str = "222222222222.dkr.ecr.eu-west-1.amazonaws.com";

    #[test]
    fn round_trips_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c")).unwrap();
        store.write(&key(A, "k1"), &entry(A)).unwrap();
        assert_eq!(store.read(&key(A, "k1")), Some(entry(A)));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.dir()), 0o700);
        for (path, _) in store.entries().unwrap() {
            assert_eq!(mode(&path), 0o600);
        }
    }

    #[test]
    fn an_entry_for_another_key_is_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.write(&key(A, "k1"), &entry(A)).unwrap();
        let planted = store.entry_path(&key(A, "k1"));
        fs::rename(&planted, store.entry_path(&key(A, "k2"))).unwrap();
        assert_eq!(store.read(&key(A, "k2")), None);
    }

    #[test]
    fn an_unknown_version_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.write(&key(A, "k1"), &entry(A)).unwrap();
        let path = store.entry_path(&key(A, "k1"));
        let text = fs::read_to_string(&path)
            .unwrap()
            .replace("\"version\":1", "\"version\":2");
        fs::write(&path, text).unwrap();
        assert_eq!(store.read(&key(A, "k1")), None);
    }

    #[test]
    fn remove_registry_drops_every_identity_of_that_host_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.write(&key(A, "k1"), &entry(A)).unwrap();
        store.write(&key(A, "k2"), &entry(A)).unwrap();
        store.write(&key(B, "k1"), &entry(B)).unwrap();
        assert_eq!(store.remove_registry(A).unwrap(), 2);
        let left: Vec<_> = store
            .entries()
            .unwrap()
            .into_iter()
            .map(|(_, e)| e.registry)
            .collect();
        assert_eq!(left, vec![B.to_owned()]);
    }

    #[test]
    fn a_write_removes_the_temp_files_its_key_left_behind_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (a, b) = (key(A, "k1"), key(B, "k1"));
        let dead = dir.path().join(format!(".{}.4242.17.tmp", a.stem()));
        let other = dir.path().join(format!(".{}.4242.17.tmp", b.stem()));
        fs::write(&dead, b"{\"version\":1,").unwrap();
        fs::write(&other, b"{").unwrap();
        store.write(&a, &entry(A)).unwrap();
        assert!(!dead.exists());
        assert!(other.exists(), "another key's writer may still be at work");
        assert_eq!(store.read(&a), Some(entry(A)));
    }

    #[test]
    fn leftover_temp_files_and_oversized_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        fs::write(dir.path().join(".x.1.2.tmp"), b"{}").unwrap();
        let huge = store.entry_path(&key(A, "k1"));
        fs::write(&huge, vec![b' '; MAX_ENTRY_BYTES as usize + 10]).unwrap();
        assert_eq!(store.read(&key(A, "k1")), None);
        assert!(store.entries().unwrap().is_empty());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_entry() -> impl Strategy<Value = Entry> {
            (
                any::<String>(),
                any::<String>(),
                any::<String>(),
                any::<u32>(),
                any::<u32>(),
            )
                .prop_map(|(registry, token, proxy_endpoint, requested, lifetime)| {
                    Entry {
                        registry,
                        token: Secret::new(token),
                        proxy_endpoint,
                        requested_at: from_unix_seconds(u64::from(requested)).unwrap(),
                        expires_at: from_unix_seconds(u64::from(requested) + u64::from(lifetime))
                            .unwrap(),
                    }
                })
        }

        proptest! {
            #[test]
            fn entries_round_trip(entry in any_entry(), key_id in "[A-Z0-9]{1,20}") {
                let key = key(A, &key_id);
                let (stored_key, decoded) = decode(&encode(&key, &entry)).unwrap();
                prop_assert_eq!(stored_key, key.full());
                prop_assert_eq!(decoded, entry);
            }

            /// A write cut short anywhere (the torn file the rename exists to prevent)
            /// never decodes, let alone as some other entry.
            #[test]
            fn no_strict_prefix_decodes(entry in any_entry(), cut in any::<prop::sample::Index>()) {
                let bytes = encode(&key(A, "k"), &entry);
                let cut = cut.index(bytes.len());
                prop_assert!(decode(&bytes[..cut]).is_none());
            }

            /// Well-formed files with any numbers in them, up to times no clock can hold.
            #[test]
            fn any_times_decode_or_miss_without_panic(requested: u64, expires: u64, version: u32) {
                let text = serde_json::json!({
                    "version": version, "key": "k", "registry": "r", "token": "t",
                    "proxy_endpoint": "p", "requested_at": requested, "expires_at": expires,
                })
                .to_string();
                if let Some((_, entry)) = decode(text.as_bytes()) {
                    let _ = entry.is_fresh_at(SystemTime::UNIX_EPOCH);
                    let _ = entry.is_valid_at(SystemTime::UNIX_EPOCH);
                }
            }

            #[test]
            fn decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
                let _ = decode(&bytes);
            }

            /// A flipped bit (a bad disk, a bad copy) is a miss or some entry, never a panic.
            #[test]
            fn a_flipped_byte_never_panics(entry in any_entry(), at in any::<prop::sample::Index>(), bit in 0..8u8) {
                let mut bytes = encode(&key(A, "k"), &entry);
                let at = at.index(bytes.len());
                bytes[at] ^= 1 << bit;
                let _ = decode(&bytes);
            }
        }
    }
}
