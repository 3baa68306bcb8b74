//! Who may call the gateway, and which project serves them.
//!
//! The self-hosted gateway has one key pair and one project (the user's own grant);
//! the hosted one looks both up per access key id. Either way SigV4 is verified by the
//! protocol layer with the secret returned here, and the handler asks [`Tenants`] for
//! the project of the verified caller.

use std::sync::Arc;

use s3s::auth::{Credentials, S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use crate::client::Project;

/// Picks the project that serves a verified caller.
#[async_trait::async_trait]
pub trait Tenants: Send + Sync + 'static {
    async fn project(&self, credentials: Option<&Credentials>) -> S3Result<Project>;

    /// The project whose bucket CORS rules apply to a request naming `access_key`
    /// (unverified: preflights are never signed), if that can be told. Used only to
    /// decide which pages may read answers, never to serve data.
    async fn project_for_cors(&self, access_key: Option<&str>) -> Option<Project>;
}

/// One access key, one project: the self-hosted gateway.
#[derive(Clone)]
pub struct SingleTenant {
    access_key: String,
    secret: SecretKey,
    project: Project,
}

impl std::fmt::Debug for SingleTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleTenant")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl SingleTenant {
    pub fn new(access_key: String, secret: String, project: Project) -> Arc<Self> {
        Arc::new(Self {
            access_key,
            secret: SecretKey::from(secret),
            project,
        })
    }
}

#[async_trait::async_trait]
impl S3Auth for SingleTenant {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let known =
            subtle::ConstantTimeEq::ct_eq(access_key.as_bytes(), self.access_key.as_bytes());
        if bool::from(known) {
            return Ok(self.secret.clone());
        }
        Err(s3_error!(
            InvalidAccessKeyId,
            "The AWS access key Id you provided does not exist in our records."
        ))
    }
}

#[async_trait::async_trait]
impl Tenants for SingleTenant {
    async fn project(&self, credentials: Option<&Credentials>) -> S3Result<Project> {
        match credentials {
            Some(c) if c.access_key == self.access_key => Ok(self.project.clone()),
            _ => Err(s3_error!(AccessDenied, "Signature is required")),
        }
    }

    async fn project_for_cors(&self, _access_key: Option<&str>) -> Option<Project> {
        Some(self.project.clone())
    }
}

/// S3Auth for an `Arc` of an implementation (the builder takes values).
pub(crate) struct SharedAuth<A>(pub Arc<A>);

#[async_trait::async_trait]
impl<A: S3Auth> S3Auth for SharedAuth<A> {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        self.0.get_secret_key(access_key).await
    }
}
