//! A config file (`folio --config FILE`) read over the built-in defaults: settings or an
//! error naming the key, never a panic.
#![no_main]

use figment::providers::Env;
use folio_server::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let file = dir.path().join("folio.toml");
    if std::fs::write(&file, data).is_err() {
        return;
    }
    // No environment: the file alone decides.
    let _ = Settings::load_with_env(Some(&file), Env::prefixed("FOLIO_FUZZ_NOTHING__"));
});
