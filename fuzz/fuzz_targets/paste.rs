//! The paste parser's invariant: whatever `parse_paste` accepts, the host
//! entry `add` writes for it is a config `ssh -G` accepts (a refused config
//! breaks every host in the file). Input: the pasted line as one argument
//! (the common case), and the same bytes split on NUL as separate words
//! (how a shell hands them over). Needs `ssh` on PATH; without it only the
//! parser's own panics are found.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use runpod_ssh::config::Document;
use runpod_ssh::oracle::Oracle;
use runpod_ssh::runpod::{default_alias, entry_options, parse_paste};

fn check(words: &[String]) {
    let Ok(ep) = parse_paste(words) else { return };
    let alias = default_alias(&ep);
    let identity = ep
        .identity
        .clone()
        .unwrap_or_else(|| "~/.ssh/id_ed25519".into());
    let options = entry_options(&ep, &alias, &identity);
    let opts: Vec<(&str, &str)> = options
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut doc = Document::parse(b"Host other\n    Port 2222\n");
    // A value the writer cannot represent is refused by `add` (exit 2,
    // nothing written): not a violation.
    if doc.insert_host_block(0, &[alias.as_str()], &opts, &[]).is_err() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("config");
    std::fs::write(&file, doc.to_bytes()).expect("write");
    let Ok(oracle) = Oracle::for_config(&file, &doc, Path::new(dir.path())) else {
        return;
    };
    if let Err(e) = oracle.ssh_g(&file, &alias) {
        panic!(
            "accepted {words:?} but ssh refuses the written config:\n{e}\n{}",
            String::from_utf8_lossy(&doc.to_bytes())
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.len() > 4096 {
        return;
    }
    check(&[text.to_string()]);
    if text.contains('\0') {
        let words: Vec<String> = text.split('\0').map(str::to_string).collect();
        check(&words);
    }
});
