//! The token cache: files, locks and freshness; nothing about AWS. A hit is one small
//! file read. A miss takes the key's lock, reads again (another process may have just
//! filled the entry), and only then lets the caller fetch.

mod entry;
mod key;
mod lock;
mod store;

pub use entry::{Entry, MalformedToken};
pub use key::CacheKey;
pub use lock::{KeyLock, LockError};
pub use store::{Store, StoreError};
