//! Post files with TOML or YAML front matter (`folio post new --file`): a post or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = folio_domain::front_matter::parse_post_file(text);
    }
});
