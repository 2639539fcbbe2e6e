//! The cache codec through the store's own read path: any bytes at an entry's path are a
//! miss or an entry, never a panic; an entry that decodes is written back and read back
//! unchanged. Files live in /dev/shm, so the fsyncs of a write cost little.
#![no_main]

use docker_credential_ecr::cache::{CacheKey, Store};
use docker_credential_ecr::credential_source::CredentialSource;
use docker_credential_ecr::env::OsEnv;
use docker_credential_ecr::registry::Registry;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Fixture {
    _dir: std::path::PathBuf,
    store: Store,
    planted: std::path::PathBuf,
    key: CacheKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::path::PathBuf::from(format!("/dev/shm/dce-fuzz-{}", std::process::id()));
        let store = Store::open(&dir).unwrap();
        let key = CacheKey::new(
            &Registry::parse("public.ecr.aws").unwrap(),
            &CredentialSource::detect(&OsEnv),
        );
        Fixture {
            planted: dir.join("planted.json"),
            _dir: dir,
            store,
            key,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    std::fs::write(&f.planted, data).unwrap();
    let decoded = f.store.entries().unwrap();
    std::fs::remove_file(&f.planted).unwrap();
    for (_, entry) in decoded {
        f.store.write(&f.key, &entry).unwrap();
        assert_eq!(f.store.read(&f.key), Some(entry));
        let _ = f
            .store
            .remove_registry(&f.store.read(&f.key).unwrap().registry);
    }
});
