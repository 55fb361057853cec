//! [`Resolved::into_row`] (`list`'s one pass) against the accessors it
//! replaces, on generated configs.

use super::{Context, Resolver, RowValues, resolve};
use crate::config::Document;
use proptest::prelude::*;

fn config() -> impl Strategy<Value = String> {
    let line = prop::sample::select(vec![
        "Host web db\n",
        "Host *\n",
        "Match host web.x\n",
        "HostName %h.x\n",
        "HostName WEB.Example\n",
        "HostName 1.2.3.4\n",
        "HostName FE80::1\n",
        "hostname second\n",
        "User root\n",
        "User Other\n",
        "Port 2222\n",
        "Port 22\n",
        "IdentityFile ~/a\n",
        "IdentityFile ~/b\n",
        "LocalForward 1 h:2\n",
        "Host a%hb\n",
        "Match host a%hb\n",
        "Match host aa%hbb\n",
        "HostName x%hy\n",
        // Lines the values-only plan passes over, or must not.
        "# c\n",
        "\n",
        "SendEnv A\n",
        "SendEnv -A\n",
        "IgnoreUnknown Foo*\n",
        "FooBar 1\n",
        "Match originalhost web\n",
        "Match final host web\n",
        "CanonicalizeHostname yes\n",
        "Match exec true\n",
        "Compression yes\n",
    ]);
    prop::collection::vec(line, 0..14).prop_map(|l| l.concat())
}

proptest! {
    #[test]
    fn into_row_is_the_accessors(text in config()) {
        let doc = Document::parse(text.as_bytes());
        let empty = std::env::temp_dir().join("runpod-ssh-row-empty-home");
        let ctx = Context { home: empty.clone(), user_home: empty, ..Context::current() };
        let path = std::path::Path::new("/tmp/x");
        let keep: &[&str] = &["hostname", "port", "user", "identityfile"];
        let resolver = Resolver::for_values(&doc, path, &ctx, keep);
        let narrow = Resolver::for_values(&doc, path, &ctx, &["port", "identityfile"]);
        for host in ["web", "db", "WEB", "1.2.3.4", "other", "a%hb"] {
            let one = resolve(&doc, path, host, &ctx);
            let want = RowValues {
                hostname: one.hostname_value(),
                port: one.port_value(),
                user: one.user_value().to_string(),
                identity_file: one.get("identityfile").map(|s| s.args[0].clone()),
            };
            prop_assert_eq!(&resolver.resolve_values(host).into_row(), &want, "host {}", host);
            // The row moved out of the evaluation, and the evaluator's
            // allocations reused for the next host.
            prop_assert_eq!(resolver.resolve_row(host), want, "row of host {}", host);
            // What a narrower keep leaves out is left out of both.
            prop_assert_eq!(
                narrow.resolve_row(host),
                narrow.resolve_values(host).into_row(),
                "narrow row of host {}", host
            );
        }
    }
}

/// A host with `%` in its own name is looked up as given, not expanded
/// (only a HostName value is): `ssh -G 'a%hb'` on this config says port 2.
#[test]
fn a_percent_in_the_host_itself_is_not_expanded_for_match_host() {
    let text = "Host a%hb\n  User u\nMatch host a%hb\n  Port 2\n";
    let doc = Document::parse(text.as_bytes());
    let empty = std::env::temp_dir().join("runpod-ssh-row-empty-home");
    let ctx = Context {
        home: empty.clone(),
        user_home: empty,
        ..Context::current()
    };
    let path = std::path::Path::new("/tmp/x");
    let resolver = Resolver::for_values(
        &doc,
        path,
        &ctx,
        &["hostname", "port", "user", "identityfile"],
    );
    let row = resolver.resolve_values("a%hb").into_row();
    assert_eq!(row.port, 2, "{row:?}");
    assert_eq!(resolve(&doc, path, "a%hb", &ctx).port_value(), 2);
}
