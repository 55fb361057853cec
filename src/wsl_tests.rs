use super::*;

const ENTRY: &str = "# managed by runpod-ssh\nHost runpod-a\n    HostName 203.0.113.7\n    Port 40123\n    User root\n    IdentityFile ~/.ssh/id_ed25519\n    IdentitiesOnly yes\n    HostKeyAlias runpod-a\n    UserKnownHostsFile ~/.ssh/known_hosts_runpod\n    StrictHostKeyChecking accept-new\n";

/// A WSL home with a key, and a Windows home `Users/홍길동` beside it.
struct Sides {
    _dir: tempfile::TempDir,
    wsl: Context,
    win: WindowsHome,
    key: Vec<u8>,
}

fn sides() -> Sides {
    let dir = tempfile::tempdir().unwrap();
    let wsl_home = dir.path().join("wsl");
    let win_home = dir.path().join("Users").join("홍길동");
    std::fs::create_dir_all(wsl_home.join(".ssh")).unwrap();
    std::fs::create_dir_all(&win_home).unwrap();
    let key = crate::keys::generate(crate::keys::KeyType::Ed25519, "t")
        .unwrap()
        .to_openssh(ssh_key::LineEnding::LF)
        .unwrap()
        .as_bytes()
        .to_vec();
    std::fs::write(wsl_home.join(".ssh/id_ed25519"), &key).unwrap();
    std::fs::write(
        wsl_home.join(".ssh/id_ed25519.pub"),
        b"ssh-ed25519 AAAA t\n",
    )
    .unwrap();
    let wsl = Context {
        home: wsl_home.clone(),
        user_home: wsl_home,
        ..Context::current()
    };
    Sides {
        _dir: dir,
        wsl,
        win: WindowsHome {
            windows: "C:\\Users\\홍길동".into(),
            path: win_home,
        },
        key,
    }
}

fn read(p: &Path) -> Option<Vec<u8>> {
    std::fs::read(p).ok()
}

#[test]
fn wsl_is_told_by_microsoft_in_the_kernel_release_either_case() {
    assert!(kernel_is_wsl("5.15.153.1-microsoft-standard-WSL2\n"));
    assert!(kernel_is_wsl("4.4.0-19041-Microsoft"));
    assert!(!kernel_is_wsl("6.1.0-18-amd64"));
    assert!(!kernel_is_wsl(""));
}

#[test]
fn cmd_output_is_read_as_utf16_and_an_unset_variable_is_refused() {
    let utf16: Vec<u8> = "C:\\Users\\홍길동\r\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_eq!(
        decode_cmd_output(&utf16).as_deref(),
        Some("C:\\Users\\홍길동")
    );
    assert_eq!(
        decode_cmd_output(b"C:\\Users\\hong\r\n").as_deref(),
        Some("C:\\Users\\hong")
    );
    // cmd echoes an unset variable back; a code-page byte stream is not guessed.
    assert_eq!(decode_cmd_output(b"%USERPROFILE%\r\n"), None);
    assert_eq!(decode_cmd_output(b"C:\\Users\\\xC8\xAB\r\n"), None);
    assert_eq!(decode_cmd_output(b""), None);
}

#[test]
fn windows_paths_are_spelled_from_the_home_both_ways() {
    let s = sides();
    let key = s.win.path.join(".ssh").join("id_ed25519");
    assert_eq!(
        s.win.windows_path(&key),
        "C:\\Users\\홍길동\\.ssh\\id_ed25519"
    );
    assert_eq!(
        s.win.to_linux("C:\\USERS\\홍길동\\ssh\\config"),
        Some(s.win.path.join("ssh").join("config"))
    );
    assert_eq!(
        s.win.to_linux("~/.ssh/alt"),
        Some(s.win.path.join(".ssh").join("alt"))
    );
    // A prefix that is not a whole folder name is another folder (never
    // mapped under this home).
    assert!(
        s.win
            .to_linux("C:\\Users\\홍길동2\\config")
            .is_none_or(|p| !p.starts_with(&s.win.path))
    );
}

#[test]
fn plan_gives_windows_side_paths_and_queues_the_key_and_its_pub() {
    let s = sides();
    let doc = Document::parse(ENTRY.as_bytes());
    let m = plan_entry(&doc, "runpod-a", &s.wsl, &s.win, &read).unwrap();
    let get = |k: &str| {
        m.options
            .iter()
            .find(|(x, _)| x == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("IdentityFile"), Some("~/.ssh/id_ed25519"));
    assert_eq!(get("UserKnownHostsFile"), Some("~/.ssh/known_hosts_runpod"));
    assert_eq!(get("Port"), Some("40123"));
    let private: Vec<&KeyCopy> = m.copies.iter().filter(|c| c.private).collect();
    assert_eq!(private.len(), 1);
    assert_eq!(private[0].to, s.win.path.join(".ssh/id_ed25519"));
    assert_eq!(private[0].bytes, s.key);
    assert!(!private[0].present);
    assert!(
        m.copies
            .iter()
            .any(|c| !c.private && c.to == s.win.path.join(".ssh/id_ed25519.pub"))
    );
}

#[test]
fn a_different_key_of_that_name_on_windows_is_never_overwritten() {
    let s = sides();
    let dir = s.win.path.join(".ssh");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("id_ed25519"), b"the Windows key\n").unwrap();
    let doc = Document::parse(ENTRY.as_bytes());
    let m = plan_entry(&doc, "runpod-a", &s.wsl, &s.win, &read).unwrap();
    let k = m.copies.iter().find(|c| c.private).unwrap();
    assert_eq!(k.to, dir.join("id_ed25519-wsl"));
    assert!(
        m.options
            .contains(&("IdentityFile".into(), "~/.ssh/id_ed25519-wsl".into()))
    );
    // The same key already there: used as it is, nothing to copy.
    std::fs::write(dir.join("id_ed25519-wsl"), &s.key).unwrap();
    let m = plan_entry(&doc, "runpod-a", &s.wsl, &s.win, &read).unwrap();
    assert!(m.copies.iter().find(|c| c.private).unwrap().present);
    // Both names hold other keys: refused, naming the Windows paths.
    std::fs::write(dir.join("id_ed25519-wsl"), b"another\n").unwrap();
    let e = plan_entry(&doc, "runpod-a", &s.wsl, &s.win, &read)
        .unwrap_err()
        .to_string();
    assert!(e.contains("C:\\Users\\홍길동\\.ssh\\id_ed25519"), "{e}");
    assert!(e.contains("never overwritten"), "{e}");
}

#[test]
fn entries_running_linux_commands_are_refused_and_control_lines_left_out() {
    let s = sides();
    let cmd = format!("{ENTRY}    ProxyCommand nc %h %p\n");
    let e = plan_entry(
        &Document::parse(cmd.as_bytes()),
        "runpod-a",
        &s.wsl,
        &s.win,
        &read,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.to_ascii_lowercase()
            .contains("proxycommand runs a linux command"),
        "{e}"
    );
    let ctl = format!("{ENTRY}    ControlMaster auto\n    ControlPath ~/.ssh/cm-%C\n");
    let m = plan_entry(
        &Document::parse(ctl.as_bytes()),
        "runpod-a",
        &s.wsl,
        &s.win,
        &read,
    )
    .unwrap();
    assert!(
        !m.options
            .iter()
            .any(|(k, _)| k.to_ascii_lowercase().starts_with("control"))
    );
    assert_eq!(m.notes.len(), 2);
}

#[test]
fn upsert_inserts_above_a_catch_all_and_updates_a_runpod_entry_in_place() {
    let s = sides();
    let doc = Document::parse(ENTRY.as_bytes());
    let m = plan_entry(&doc, "runpod-a", &s.wsl, &s.win, &read).unwrap();
    let win = Document::parse(b"Host work\n  HostName w.example\n\nHost *\n  User me\n");
    let (new, _) = upsert(&win, &m).unwrap();
    let text = String::from_utf8(new.to_bytes()).unwrap();
    let at = text.find("Host runpod-a").unwrap();
    assert!(at < text.find("Host *").unwrap(), "{text}");
    assert!(
        text.starts_with("Host work\n  HostName w.example\n"),
        "{text}"
    );
    assert!(text.contains("# managed by runpod-ssh"), "{text}");
    // Again after a restart (new port): the same block, updated; a line
    // the user added there on Windows stays.
    let with_own = String::from_utf8(new.to_bytes()).unwrap().replace(
        "    StrictHostKeyChecking accept-new\n",
        "    StrictHostKeyChecking accept-new\n    ForwardX11 no\n",
    );
    let moved = ENTRY.replace("40123", "40999");
    let m2 = plan_entry(
        &Document::parse(moved.as_bytes()),
        "runpod-a",
        &s.wsl,
        &s.win,
        &read,
    )
    .unwrap();
    let (again, _) = upsert(&Document::parse(with_own.as_bytes()), &m2).unwrap();
    let t2 = String::from_utf8(again.to_bytes()).unwrap();
    assert_eq!(t2.matches("Host runpod-a").count(), 1, "{t2}");
    assert!(t2.contains("Port 40999") && !t2.contains("40123"), "{t2}");
    assert!(t2.contains("ForwardX11 no"), "{t2}");
}

#[test]
fn upsert_leaves_a_hand_written_block_of_that_alias_alone() {
    let s = sides();
    let m = plan_entry(
        &Document::parse(ENTRY.as_bytes()),
        "runpod-a",
        &s.wsl,
        &s.win,
        &read,
    )
    .unwrap();
    let mine = MirrorEntry {
        alias: "gpu".into(),
        ..m
    };
    let win = Document::parse(b"Host gpu\n  HostName 10.0.0.5\n  User me\n");
    let e = upsert(&win, &mine).unwrap_err().to_string();
    assert!(e.contains("hand-written"), "{e}");
}

#[test]
fn missing_on_windows_lists_absent_and_stale_runpod_entries_only() {
    let wsl = format!(
        "{ENTRY}\nHost prod\n  HostName 10.0.0.5\n  User me\n\nHost runpod-b\n  HostName 203.0.113.8\n  Port 40001\n  User root\n"
    );
    let win = "Host runpod-b\n  HostName 203.0.113.8\n  Port 40002\n  User root\n";
    let got = missing_on_windows(
        &Document::parse(wsl.as_bytes()),
        &Document::parse(win.as_bytes()),
    );
    assert_eq!(
        got,
        vec![
            ("runpod-a".to_string(), false),
            ("runpod-b".to_string(), true)
        ]
    );
    let same = "Host runpod-b\n  HostName 203.0.113.8\n  Port 40001\n";
    let got = missing_on_windows(
        &Document::parse(wsl.as_bytes()),
        &Document::parse(same.as_bytes()),
    );
    assert_eq!(got, vec![("runpod-a".to_string(), false)]);
}

#[test]
fn the_icacls_line_names_system_and_administrators_by_sid() {
    let l = icacls_line("C:\\Users\\홍길동\\.ssh\\id_ed25519");
    assert_eq!(
        l,
        "icacls \"C:\\Users\\홍길동\\.ssh\\id_ed25519\" /inheritance:r /grant:r \"%USERNAME%\":F *S-1-5-18:F *S-1-5-32-544:F"
    );
}

/// Windows' ssh takes a key's public half from `NAME.pub`: a private key
/// copied beside another key's `.pub` made a pair that does not match
/// (the `.pub` was silently skipped). The name counts as taken.
#[test]
fn another_pub_of_that_name_on_windows_sends_the_key_to_name_wsl() {
    let s = sides();
    let dir = s.win.path.join(".ssh");
    std::fs::create_dir_all(&dir).unwrap();
    let other = crate::keys::generate(crate::keys::KeyType::Ed25519, "win")
        .unwrap()
        .public_key()
        .to_openssh()
        .unwrap();
    std::fs::write(dir.join("id_ed25519.pub"), format!("{other}\n")).unwrap();
    let doc = Document::parse(ENTRY.as_bytes());
    let m = plan_entry(&doc, "runpod-a", &s.wsl, &s.win, &read).unwrap();
    let k = m.copies.iter().find(|c| c.private).unwrap();
    assert_eq!(k.to, dir.join("id_ed25519-wsl"));
    assert!(m.copies.iter().all(|c| c.to != dir.join("id_ed25519.pub")));
    // The same public key there (another comment, CRLF): the pair fits.
    let mine = ssh_key::PrivateKey::from_openssh(&s.key)
        .unwrap()
        .public_key()
        .to_openssh()
        .unwrap();
    std::fs::write(dir.join("id_ed25519.pub"), format!("{mine} me@win\r\n")).unwrap();
    let m = plan_entry(&doc, "runpod-a", &s.wsl, &s.win, &read).unwrap();
    let k = m.copies.iter().find(|c| c.private).unwrap();
    assert_eq!(k.to, dir.join("id_ed25519"));
}

/// An `Include` in the entry names WSL's files; on Windows the same words
/// read whatever is at that path there. Refused, never copied.
#[test]
fn an_include_in_the_entry_is_refused_not_copied() {
    let s = sides();
    let text = format!("{ENTRY}    Include ~/.ssh/runpod-extra\n");
    let e = plan_entry(
        &Document::parse(text.as_bytes()),
        "runpod-a",
        &s.wsl,
        &s.win,
        &read,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("Include"), "{e}");
}

/// `%USERPROFILE%` ends up inside the quoted `icacls "…"` line the user
/// is told to paste into cmd.exe: an answer with a character no Windows
/// path holds (`"`, `<`, `>`, `|`, `?`, `*`, a control character) is not
/// a home, and would break out of the quotes.
#[test]
fn a_userprofile_no_windows_path_could_be_is_refused() {
    for bad in [
        "C:\\Users\\a\" & calc & \"",
        "C:\\Users\\a|b",
        "C:\\Users\\a<b>",
        "C:\\Users\\a\tb",
        "C:\\Users\\a?",
    ] {
        assert!(!looks_like_windows_path(bad), "{bad}");
    }
    assert!(looks_like_windows_path("C:\\Users\\Tom & Jerry"));
    assert!(looks_like_windows_path("C:\\Users\\홍길동"));
}
