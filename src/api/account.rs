//! The account's SSH keys (`/v2/account/ssh-keys`): the list a pod's
//! `authorized_keys` is made from when it starts.

use serde::{Deserialize, Serialize};

use super::ApiError;
use super::client::Client;

#[derive(Serialize, Deserialize)]
struct Keys {
    keys: Vec<String>,
}

impl Client {
    /// `GET /v2/account/ssh-keys`.
    pub fn ssh_keys(&self) -> Result<Vec<String>, ApiError> {
        let a = self.request("GET", "/v2/account/ssh-keys", None)?;
        if a.status != 200 {
            return Err(self.status_error(&a, "the account's SSH keys", "reading the account"));
        }
        Ok(Self::parse::<Keys>(&a, "GET /v2/account/ssh-keys")?.keys)
    }

    /// `PUT /v2/account/ssh-keys`: replaces the whole set.
    pub fn put_ssh_keys(&self, keys: &[String]) -> Result<(), ApiError> {
        let body = serde_json::to_string(&Keys {
            keys: keys.to_vec(),
        })
        .map_err(|e| ApiError::Malformed {
            what: "the key list".into(),
            reason: e.to_string(),
        })?;
        let a = self.request("PUT", "/v2/account/ssh-keys", Some(&body))?;
        if !(200..300).contains(&a.status) {
            return Err(self.status_error(
                &a,
                "the account's SSH keys",
                "changing the account's SSH keys (a read-only key cannot)",
            ));
        }
        Ok(())
    }
}
