//! The auth service of the hosted edge: a grant in, S3 credentials out.

use serde::{Deserialize, Serialize};

pub const EDGE_REGISTER_PATH: &str = "/v1/edge/register";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// The serialized access grant to host (the satellite can read what it can).
    pub access_grant: String,
    /// Also usable without the secret, by share links (read-only grants only).
    #[serde(default)]
    pub public: bool,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    pub access_key_id: String,
    pub secret_key: String,
    /// The hosted S3 gateway's URL, if this satellite serves one.
    pub endpoint: Option<String>,
    /// When the credentials stop working (the grant's own not-after), if ever.
    pub not_after: Option<i64>,
    /// For a public registration: the base URL of share links (`{links_url}/s/{access
    /// key id}/{bucket}/{key}`), if this satellite serves them.
    #[serde(default)]
    pub links_url: Option<String>,
}

impl std::fmt::Debug for RegisterResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterResponse")
            .field("access_key_id", &self.access_key_id)
            .field("endpoint", &self.endpoint)
            .field("not_after", &self.not_after)
            .field("links_url", &self.links_url)
            .finish_non_exhaustive()
    }
}
