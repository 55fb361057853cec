//! The `auth` stage: the configured identity files in order (an encrypted
//! one through the agent when it holds it, else with a passphrase typed
//! once per run), then the agent's other keys unless `IdentitiesOnly`.
//! Every key tried is kept as an [`Offer`] for the report.

use std::sync::Arc;

use crate::ssh_client;
use crate::ssh_client::client::{AuthResult, Handle};
use crate::ssh_client::keys::PrivateKeyWithHashAlg;
use crate::ssh_client::keys::agent::AgentIdentity;
use ssh_key::{HashAlg, PublicKey};

use crate::client::{Verifier, connect_agent, hash_for};

use super::{Offer, Options, Target};

/// Try the identity files in order, then the agent unless IdentitiesOnly.
/// `Ok(true)` when a key was accepted.
pub(super) async fn authenticate(
    handle: &mut Handle<Verifier>,
    t: &Target,
    opts: &Options,
    offers: &mut Vec<Offer>,
) -> Result<bool, ssh_client::Error> {
    // Only RSA keys need the server's hash choice, and asking can wait up
    // to a second on a server that sends no EXT_INFO: ask once, lazily.
    let mut rsa_hash: Option<Option<HashAlg>> = None;
    let sock = match &t.identity_agent {
        Some(choice) => choice.as_ref(),
        None => opts.agent.as_ref(),
    };
    let mut agent = match sock {
        Some(sock) => connect_agent(sock).await,
        None => None,
    };
    let agent_ids = match agent.as_mut() {
        Some(a) => a.request_identities().await.unwrap_or_default(),
        None => Vec::new(),
    };
    let mut tried: Vec<PublicKey> = Vec::new();

    for (raw, path) in &t.identity_files {
        if !path.is_file() {
            if t.identities_configured {
                offers.push(Offer {
                    key: raw.clone(),
                    fingerprint: None,
                    result: "missing".into(),
                });
            }
            continue;
        }
        let key = match ssh_client::keys::load_secret_key(path, None) {
            Ok(k) => k,
            Err(ssh_client::keys::Error::KeyIsEncrypted) => {
                // The agent may hold it already; else ask for the passphrase.
                let public = ssh_key::PublicKey::read_openssh_file(path.with_extension("pub")).ok();
                if let (Some(p), Some(a)) = (&public, agent.as_mut())
                    && let Some(id) = agent_ids
                        .iter()
                        .find(|i| i.public_key().key_data() == p.key_data())
                {
                    let hash = rsa_hash_for(handle, &p.algorithm(), &mut rsa_hash).await;
                    let res = handle
                        .authenticate_publickey_with(&t.user, id.public_key().into_owned(), hash, a)
                        .await;
                    tried.push(p.clone());
                    let ok = matches!(res, Ok(AuthResult::Success));
                    offers.push(Offer {
                        key: format!("{raw} (via agent)"),
                        fingerprint: Some(p.fingerprint(HashAlg::Sha256).to_string()),
                        result: if ok { "accepted" } else { "rejected" }.into(),
                    });
                    if ok {
                        return Ok(true);
                    }
                    continue;
                }
                match passphrase_key(path, opts).await {
                    Some(Ok(k)) => k,
                    Some(Err(())) => {
                        offers.push(Offer {
                            key: raw.clone(),
                            fingerprint: None,
                            result: "wrong passphrase".into(),
                        });
                        continue;
                    }
                    None => {
                        offers.push(Offer {
                            key: raw.clone(),
                            fingerprint: public.map(|p| p.fingerprint(HashAlg::Sha256).to_string()),
                            result: "encrypted".into(),
                        });
                        continue;
                    }
                }
            }
            Err(e) => {
                offers.push(Offer {
                    key: raw.clone(),
                    fingerprint: None,
                    result: format!("unreadable ({e})"),
                });
                continue;
            }
        };
        let public = key.public_key().clone();
        let fp = public.fingerprint(HashAlg::Sha256).to_string();
        let hash = rsa_hash_for(handle, &public.algorithm(), &mut rsa_hash).await;
        let res = handle
            .authenticate_publickey(&t.user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await?;
        tried.push(public);
        let ok = res.success();
        offers.push(Offer {
            key: raw.clone(),
            fingerprint: Some(fp),
            result: if ok { "accepted" } else { "rejected" }.into(),
        });
        if ok {
            return Ok(true);
        }
    }

    if !t.identities_only
        && let Some(a) = agent.as_mut()
        && try_agent_keys(handle, t, a, &agent_ids, &tried, offers, &mut rsa_hash).await
    {
        return Ok(true);
    }
    Ok(false)
}

/// The agent's keys not tried already, in its order. `true` when one was
/// accepted.
async fn try_agent_keys<S: ssh_client::Signer>(
    handle: &mut Handle<Verifier>,
    t: &Target,
    agent: &mut S,
    agent_ids: &[AgentIdentity],
    tried: &[PublicKey],
    offers: &mut Vec<Offer>,
    rsa_hash: &mut Option<Option<HashAlg>>,
) -> bool {
    for id in agent_ids {
        let public = id.public_key().into_owned();
        if tried.iter().any(|k| k.key_data() == public.key_data()) {
            continue;
        }
        let hash = rsa_hash_for(handle, &public.algorithm(), rsa_hash).await;
        let res = handle
            .authenticate_publickey_with(&t.user, public.clone(), hash, agent)
            .await;
        let ok = matches!(res, Ok(AuthResult::Success));
        let comment = match id {
            AgentIdentity::PublicKey { comment, .. } => comment.clone(),
            _ => String::new(),
        };
        offers.push(Offer {
            key: format!("agent: {comment}"),
            fingerprint: Some(public.fingerprint(HashAlg::Sha256).to_string()),
            result: if ok { "accepted" } else { "rejected" }.into(),
        });
        if ok {
            return true;
        }
    }
    false
}

/// The signature hash for a key of type `alg`: `None` unless RSA; the
/// server's choice is asked once (`cache`).
async fn rsa_hash_for(
    handle: &Handle<Verifier>,
    alg: &ssh_key::Algorithm,
    cache: &mut Option<Option<HashAlg>>,
) -> Option<HashAlg> {
    if !matches!(alg, ssh_key::Algorithm::Rsa { .. }) {
        return None;
    }
    if cache.is_none() {
        *cache = Some(
            handle
                .best_supported_rsa_hash()
                .await
                .ok()
                .flatten()
                .flatten(),
        );
    }
    hash_for(alg, cache.flatten())
}

/// Ask for the passphrase of an encrypted key on the terminal, once per
/// key. `None` without a terminal; `Some(Err)` for a wrong passphrase.
async fn passphrase_key(
    path: &std::path::Path,
    opts: &Options,
) -> Option<Result<ssh_key::PrivateKey, ()>> {
    if !opts.interactive {
        return None;
    }
    let mut cache = opts.passphrases.lock().await;
    let known = cache
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, pass)| pass.clone());
    let pass = match known {
        Some(p) => p,
        None => {
            let prompt = format!("Passphrase for {}: ", path.display());
            let p = tokio::task::spawn_blocking(move || rpassword::prompt_password(prompt).ok())
                .await
                .ok()
                .flatten();
            cache.push((path.to_path_buf(), p.clone()));
            p
        }
    };
    let pass = pass?;
    Some(ssh_client::keys::load_secret_key(path, Some(&pass)).map_err(|_| ()))
}
