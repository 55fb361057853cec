//! Any bytes parse, and emit gives back the same bytes; an edit on any
//! block leaves the lines before and after it untouched.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runpod_ssh::config::Document;

fuzz_target!(|data: &[u8]| {
    let doc = Document::parse(data);
    assert_eq!(doc.to_bytes(), data);

    let blocks = doc.blocks();
    let Some(last) = blocks.len().checked_sub(1) else { return };
    let bi = data.first().map_or(0, |b| *b as usize % (last + 1));
    let block = blocks[bi].clone();
    let mut edited = doc.clone();
    if edited.set_option(bi, "Port", "40123").is_ok() {
        let before = doc.lines();
        let after = edited.lines();
        assert_eq!(&after[..block.lines.start], &before[..block.lines.start]);
        let tail = before.len() - block.lines.end;
        let (a, b) = (&after[after.len() - tail..], &before[before.len() - tail..]);
        assert_eq!(a, b);
    }
});
