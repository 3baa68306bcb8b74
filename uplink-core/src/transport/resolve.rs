//! Resolves peer names (see [`super::names`]) to the address they encode; any other
//! name through the system resolver.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::names::{Target, parse_peer_host};

#[derive(Debug)]
pub(super) struct PeerResolver;

impl Resolve for PeerResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let lookup = match parse_peer_host(&host) {
                Some((_, Target::Ip(ip))) => {
                    let addrs: Addrs = Box::new(std::iter::once(SocketAddr::new(ip, 0)));
                    return Ok(addrs);
                }
                Some((_, Target::Dns(dns))) => dns,
                None => host,
            };
            // The port is the URL's; hyper sets it on every address returned.
            let found: Vec<SocketAddr> = tokio::net::lookup_host((lookup.as_str(), 0))
                .await?
                .collect();
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}
