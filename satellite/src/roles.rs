//! Which of the satellite's services one process runs: `roles` in the configuration,
//! `SATELLITE_ROLES=api,edge`, or `satellite run --roles api,edge`.
//!
//! By default one process runs them all. Where several processes share one database
//! (PostgreSQL, with Redis for the caches), each runs what fits its machine: the API
//! behind a load balancer, the edge near its users and apart from the rest (it handles
//! the plaintext of hosted access), repair and audit close to the nodes. Every process
//! serves `/health` and `/metrics`, and uses the satellite's one identity: only a process
//! with the `api` role creates it; the others load it and refuse to start without it.
//!
//! | role | runs |
//! | --- | --- |
//! | `api` | metainfo, node check-in and graceful exit requests, console and its operator pages |
//! | `edge` | the auth service (`/v1/edge/register`), and the hosted S3 gateway and share links where `[edge]` configures listeners |
//! | `repair` | the repair checker, repair workers, graceful-exit progress |
//! | `audit` | the audit sampler and verifier |
//! | `gc` | garbage-collection filters, expiry of objects, queued piece deletions |

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One service of the satellite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Api,
    Edge,
    Repair,
    Audit,
    Gc,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Api, Role::Edge, Role::Repair, Role::Audit, Role::Gc];

    pub fn name(self) -> &'static str {
        match self {
            Role::Api => "api",
            Role::Edge => "edge",
            Role::Repair => "repair",
            Role::Audit => "audit",
            Role::Gc => "gc",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s.trim())
            .ok_or_else(|| {
                let names: Vec<_> = Role::ALL.iter().map(|r| r.name()).collect();
                format!("unknown role {s:?}: roles are {}", names.join(", "))
            })
    }
}

/// The roles of this process: a non-empty set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roles(BTreeSet<Role>);

impl Roles {
    pub fn all() -> Self {
        Self(Role::ALL.into_iter().collect())
    }

    pub fn has(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    /// Whether this process needs a current view of the nodes: every role but the
    /// edge selects or reaches nodes.
    pub fn keeps_nodes(&self) -> bool {
        self.has(Role::Api) || self.has(Role::Repair) || self.has(Role::Audit) || self.has(Role::Gc)
    }
}

impl Default for Roles {
    fn default() -> Self {
        Self::all()
    }
}

impl FromStr for Roles {
    type Err = String;

    /// A comma-separated list, e.g. `api,edge`; `all` for every role.
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim() == "all" {
            return Ok(Self::all());
        }
        let roles = s
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(Role::from_str)
            .collect::<Result<BTreeSet<_>, _>>()?;
        if roles.is_empty() {
            return Err("no roles given: name at least one, or `all`".into());
        }
        Ok(Self(roles))
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.0.iter().map(|r| r.name()).collect();
        f.write_str(&names.join(","))
    }
}

impl Serialize for Roles {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Either `"api,edge"` (as the environment gives it) or `["api", "edge"]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Text(String),
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for Roles {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = match Written::deserialize(d)? {
            Written::Text(t) => t,
            Written::List(l) => l.join(","),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_lists_and_refuse_unknown_names() {
        let roles: Roles = "edge, api".parse().unwrap();
        assert!(roles.has(Role::Api) && roles.has(Role::Edge) && !roles.has(Role::Repair));
        assert_eq!(roles.to_string(), "api,edge");
        assert_eq!("all".parse::<Roles>().unwrap(), Roles::all());
        let err = "api,repiar".parse::<Roles>().unwrap_err();
        assert!(
            err.contains("\"repiar\"") && err.contains("audit, gc"),
            "{err}"
        );
        assert!("".parse::<Roles>().is_err());
        assert!(" , ".parse::<Roles>().is_err());
        assert!(!"edge".parse::<Roles>().unwrap().keeps_nodes());
        assert!("gc".parse::<Roles>().unwrap().keeps_nodes());
    }

    #[test]
    fn roles_deserialise_from_text_or_a_list() {
        #[derive(Deserialize)]
        struct C {
            roles: Roles,
        }
        let c: C = serde_json::from_str(r#"{"roles": "edge"}"#).unwrap();
        assert_eq!(c.roles, "edge".parse().unwrap());
        let c: C = serde_json::from_str(r#"{"roles": ["gc", "audit"]}"#).unwrap();
        assert_eq!(c.roles.to_string(), "audit,gc");
        assert!(serde_json::from_str::<C>(r#"{"roles": ["nope"]}"#).is_err());
    }
}
