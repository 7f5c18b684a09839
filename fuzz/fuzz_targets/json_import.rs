//! `folio import FILE.json` into a fresh SQLite database: a summary or an error, and a
//! failed import leaves the database empty.
#![no_main]

use std::sync::LazyLock;

use folio_storage::Store;
use libfuzzer_sys::fuzz_target;

struct Target {
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

static TARGET: LazyLock<Target> = LazyLock::new(|| Target {
    runtime: tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap(),
    dir: tempfile::tempdir().unwrap(),
});

fuzz_target!(|data: &[u8]| {
    let target = &*TARGET;
    let path = target.dir.path().join("fuzz.db");
    let _ = std::fs::remove_file(&path);
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let input = data.to_vec();
    target.runtime.block_on(async move {
        let store = Store::connect(&url).await.unwrap();
        if store
            .import_json(std::io::Cursor::new(input))
            .await
            .is_err()
        {
            assert!(
                store
                    .import_json(std::io::Cursor::new(Vec::new()))
                    .await
                    .is_err()
            );
        }
    });
});
