//! `uplink gateway`: S3 on this machine, on top of the user's own grant. Encryption
//! keys never leave the process; S3 tools talk to it as to any S3 endpoint.
//!
//! Without configured credentials the gateway derives a key pair from the grant (the
//! same grant always gives the same pair, so tools stay configured across restarts)
//! and prints it; configured ones come from flags, the environment or a file, and the
//! secret is then never printed.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use uplink_core::client::Project;
use uplink_core::gateway::{Gateway, GatewayConfig, SingleTenant};

#[derive(clap::Args)]
pub struct GatewayArgs {
    /// Address to serve S3 on.
    #[arg(long, default_value = "127.0.0.1:7711")]
    listen: SocketAddr,
    /// S3 access key id to accept (default: derived from the grant).
    #[arg(long, env = "UPLINK_GATEWAY_ACCESS_KEY")]
    access_key: Option<String>,
    /// S3 secret key to accept (default: derived from the grant). Prefer
    /// --secret-key-file or the environment: flags show in process listings.
    #[arg(long, env = "UPLINK_GATEWAY_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// File holding the S3 secret key.
    #[arg(long, value_name = "FILE", env = "UPLINK_GATEWAY_SECRET_KEY_FILE")]
    secret_key_file: Option<PathBuf>,
    /// Domain for virtual-hosted-style requests (bucket.DOMAIN); repeatable.
    #[arg(long = "domain")]
    domains: Vec<String>,
    /// Most keys a listing that encrypted names cannot answer directly (a prefix not
    /// ending in '/', a delimiter other than '/') may read.
    #[arg(long, default_value_t = 100_000)]
    list_bound: usize,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// A key pair derived from the grant: stable for one grant, unrelated across grants.
fn derived_credentials(serialized_grant: &str) -> (String, String) {
    let digest = blake3::derive_key(
        "uplink gateway S3 credentials v1",
        serialized_grant.as_bytes(),
    );
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let access: String = digest[..20]
        .iter()
        .map(|b| alphabet[(*b as usize) % alphabet.len()] as char)
        .collect();
    let secret = hex::encode(&digest[12..32]);
    (format!("UP{}", &access[2..]), secret)
}

fn secret_from(args: &GatewayArgs) -> Result<Option<String>> {
    match (&args.secret_key, &args.secret_key_file) {
        (Some(_), Some(_)) => bail!("give the secret key once: --secret-key or --secret-key-file"),
        (Some(s), None) => Ok(Some(s.clone())),
        (None, Some(path)) => {
            let s = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the secret key file {}", path.display()))?;
            Ok(Some(s.trim().to_string()))
        }
        (None, None) => Ok(None),
    }
}

pub async fn run(project: Project, args: GatewayArgs) -> Result<()> {
    let (derived_access, derived_secret) = derived_credentials(&project.access().serialize());
    let configured = secret_from(&args)?;
    let (access_key, secret, show_secret) = match (&args.access_key, configured) {
        (Some(a), Some(s)) => (a.clone(), s, false),
        (None, None) => (derived_access, derived_secret, true),
        _ => bail!("configure both the access key and the secret key, or neither"),
    };
    if secret.len() < 16 {
        bail!("the S3 secret key must be at least 16 characters");
    }
    let mut config = GatewayConfig::new(args.listen);
    config.domains = args.domains;
    config.settings.list_bound = args.list_bound;
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        use uplink_core::transport::server::{OperatorCertificate, public_config};
        let certificate = OperatorCertificate::from_pem_files(cert, key)?;
        config.tls = Some(std::sync::Arc::new(public_config(&certificate)?));
    }
    let tenant = SingleTenant::new(access_key.clone(), secret.clone(), project.clone());
    let gateway = Gateway::start(&config, tenant.clone(), tenant).await?;
    let url = gateway.url();
    println!("S3 gateway listening on {url}");
    println!("Access key: {access_key}");
    if show_secret {
        println!("Secret key: {secret}");
    } else {
        println!("Secret key: (as configured)");
    }
    println!("Region: any (path-style requests; endpoint {url})");
    tokio::signal::ctrl_c().await.ok();
    eprintln!("stopping: letting requests in flight finish");
    gateway.stop().await;
    project.close(std::time::Duration::from_secs(10)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_credentials_are_stable_and_per_grant() {
        let (a1, s1) = derived_credentials("grant-one");
        let (a2, s2) = derived_credentials("grant-one");
        let (a3, s3) = derived_credentials("grant-two");
        assert_eq!((a1.as_str(), s1.as_str()), (a2.as_str(), s2.as_str()));
        assert_ne!(a1, a3);
        assert_ne!(s1, s3);
        assert_eq!(a1.len(), 20);
        assert!(a1.starts_with("UP"));
        assert_eq!(s1.len(), 40);
    }
}
