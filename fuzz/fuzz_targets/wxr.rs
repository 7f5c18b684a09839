//! The WordPress export (WXR) reader and the markup it hands to the importer: every input
//! ends in records or an error, never a panic or a hang.
#![no_main]

use folio_domain::wordpress::markup::{comment_paragraphs, post_source};
use folio_domain::wordpress::{AttachmentIndex, WxrReader, WxrRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = WxrReader::with_text_limit(data, 64 * 1024);
    let attachments = AttachmentIndex::default();
    // A reader that keeps answering without reading on would loop: bound the records.
    for _ in 0..10_000 {
        match reader.next_record() {
            Ok(Some(WxrRecord::Item(item))) => {
                let _ = post_source(&item.content, item.id, &attachments);
                for comment in &item.comments {
                    let _ = comment_paragraphs(&comment.content);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
});
