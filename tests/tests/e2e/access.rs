//! The satellite refuses wrong, forged and tampered API keys, and enforces caveats.

use tests::uplink_core::access::{AccessGrant, ApiKey, Caveat};
use tests::uplink_core::client::{ClientConfig, Project, UplinkError};
use tests::{TestNetwork, random_bytes};

/// Whether `err` says the grant holds no encryption key for a path in `bucket`.
fn no_key_for(err: &UplinkError, bucket: &str) -> bool {
    use tests::uplink_core::crypto::CryptoError;
    matches!(
        err,
        UplinkError::Crypto(CryptoError::NoKeyForPath { bucket: b, .. })
            | UplinkError::Access(tests::uplink_core::access::AccessError::Crypto(
                CryptoError::NoKeyForPath { bucket: b, .. }
            )) if b == bucket
    )
}

fn with_key(grant: &AccessGrant, key: ApiKey) -> Project {
    let mut g = grant.clone();
    g.api_key = key;
    Project::open(g, ClientConfig::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_and_tampered_keys_are_refused() {
    let net = TestNetwork::start(4).await;
    let grant = net.access().await;
    let good = Project::open(grant.clone(), ClientConfig::default()).unwrap();
    good.create_bucket("mine").await.unwrap();

    // A well-formed key the satellite never issued.
    let unknown = ApiKey::new(&[9u8; 32], &[1u8; 32]).unwrap();
    let err = with_key(&grant, unknown).list_buckets().await.unwrap_err();
    assert!(matches!(err, UplinkError::Unauthenticated(_)), "{err}");

    // The real head with a made-up secret: the signature chain does not verify.
    let forged = ApiKey::new(&grant.api_key.head(), &[2u8; 32]).unwrap();
    let err = with_key(&grant, forged).list_buckets().await.unwrap_err();
    assert!(matches!(err, UplinkError::Unauthenticated(_)), "{err}");

    // A read-only restriction whose caveat is stripped again: the macaroon signature
    // then belongs to the restricted key and no longer matches.
    let readonly = grant.api_key.restrict(&Caveat {
        disallow_writes: true,
        disallow_deletes: true,
        ..Caveat::default()
    });
    let stripped = ApiKey::parse(&strip_last_caveat(&readonly.serialize())).unwrap();
    assert!(stripped.caveats().unwrap().is_empty());
    let err = with_key(&grant, stripped)
        .create_bucket("other")
        .await
        .unwrap_err();
    assert!(matches!(err, UplinkError::Unauthenticated(_)), "{err}");

    // Garbage is refused with a clear message.
    let status = net
        .http()
        .post(format!("{}/v1/buckets/list", net.console_url()))
        .bearer_auth("definitely-not-a-key")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status().as_u16(), 401);
    let body: serde_json::Value = status.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");

    // The read-only key itself works for reading and is refused for writing.
    let ro = with_key(&grant, readonly);
    assert_eq!(ro.list_buckets().await.unwrap().len(), 1);
    let err = ro
        .upload("mine", "x", &random_bytes(10)[..], Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, UplinkError::PermissionDenied(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "permission denied: the access grant does not allow writes"
    );
    let err = ro.delete_bucket("mine", true).await.unwrap_err();
    assert!(matches!(err, UplinkError::PermissionDenied(_)), "{err}");
    net.stop().await;
}

/// Rebuilds a serialized key without its last caveat but with its signature.
fn strip_last_caveat(serialized: &str) -> String {
    use macaroon_v2::*;
    let bytes = decode(serialized);
    let (id, caveats, sig) = parse(&bytes);
    encode(&build(&id, &caveats[..caveats.len() - 1], &sig))
}

/// Just enough of the macaroon V2 binary format to tamper with a key in a test.
mod macaroon_v2 {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE;

    pub fn decode(s: &str) -> Vec<u8> {
        let padded = match s.len() % 4 {
            2 => format!("{s}=="),
            3 => format!("{s}="),
            _ => s.to_string(),
        };
        URL_SAFE
            .decode(padded.replace('+', "-").replace('/', "_"))
            .expect("macaroon base64")
    }

    pub fn encode(b: &[u8]) -> String {
        URL_SAFE.encode(b)
    }

    fn varint(buf: &[u8], pos: &mut usize) -> usize {
        let (mut v, mut shift) = (0usize, 0);
        loop {
            let b = buf[*pos];
            *pos += 1;
            v |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }

    fn field(buf: &[u8], pos: &mut usize) -> Option<(u8, Vec<u8>)> {
        let tag = buf[*pos];
        *pos += 1;
        if tag == 0 {
            return None;
        }
        let len = varint(buf, pos);
        let v = buf[*pos..*pos + len].to_vec();
        *pos += len;
        Some((tag, v))
    }

    /// (identifier, caveat identifiers, signature)
    pub fn parse(buf: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>, Vec<u8>) {
        assert_eq!(buf[0], 2, "V2 macaroon");
        let mut pos = 1;
        let mut id = Vec::new();
        while let Some((tag, v)) = field(buf, &mut pos) {
            if tag == 2 {
                id = v;
            }
        }
        let mut caveats = Vec::new();
        loop {
            if buf[pos] == 0 {
                pos += 1;
                break;
            }
            let mut cid = Vec::new();
            while let Some((tag, v)) = field(buf, &mut pos) {
                if tag == 2 {
                    cid = v;
                }
            }
            caveats.push(cid);
        }
        let (_, sig) = field(buf, &mut pos).expect("signature");
        (id, caveats, sig)
    }

    fn put(out: &mut Vec<u8>, tag: u8, v: &[u8]) {
        out.push(tag);
        let mut n = v.len();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
        out.extend_from_slice(v);
    }

    pub fn build(id: &[u8], caveats: &[Vec<u8>], sig: &[u8]) -> Vec<u8> {
        let mut out = vec![2];
        put(&mut out, 2, id);
        out.push(0);
        for c in caveats {
            put(&mut out, 2, c);
            out.push(0);
        }
        out.push(0);
        put(&mut out, 6, sig);
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_grants_reach_only_their_prefix_and_time_window() {
    let net = TestNetwork::start(10).await;
    let grant = net.access().await;
    let owner = Project::open(grant.clone(), ClientConfig::default()).unwrap();
    owner.create_bucket("shared").await.unwrap();
    owner.create_bucket("private").await.unwrap();
    let body = random_bytes(20_000);
    for key in ["photos/a.jpg", "photos/2024/b.jpg", "docs/secret.txt"] {
        owner
            .upload("shared", key, &body[..], Default::default())
            .await
            .unwrap();
    }
    owner
        .upload("private", "x", &body[..], Default::default())
        .await
        .unwrap();

    // Read-only access to sj://shared/photos/, derived offline from the owner's grant.
    let now = tests::uplink_core::protocol::now_unix();
    let shared = grant
        .restrict(
            Caveat {
                disallow_writes: true,
                disallow_deletes: true,
                not_after: Some(now + 3600),
                ..Caveat::default()
            },
            &[("shared".to_string(), "photos/".to_string())],
        )
        .unwrap();
    let shared = Project::open(
        AccessGrant::parse(&shared.serialize()).unwrap(),
        ClientConfig::default(),
    )
    .unwrap();
    assert!(tests::download(&shared, "shared", "photos/2024/b.jpg").await == body);
    let listed = shared
        .list_objects("shared", "photos/", true)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    let buckets = shared.list_buckets().await.unwrap();
    assert_eq!(
        buckets.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        ["shared"]
    );
    // Outside the prefix: the grant has no key to even name the object ...
    let mut out = Vec::new();
    for (bucket, key) in [("shared", "docs/secret.txt"), ("private", "x")] {
        let err = shared
            .download(bucket, key, None, &mut out, None)
            .await
            .unwrap_err();
        assert!(no_key_for(&err, bucket), "{bucket}/{key}: {err:?}");
    }
    assert!(out.is_empty());
    // ... and the satellite refuses it even with the right encrypted name.
    let mut widened = AccessGrant::parse(&grant.serialize()).unwrap();
    widened.api_key = AccessGrant::parse(&shared.access().serialize())
        .unwrap()
        .api_key;
    let sneaky = Project::open(widened, ClientConfig::default()).unwrap();
    let err = sneaky
        .download("shared", "docs/secret.txt", None, &mut out, None)
        .await
        .unwrap_err();
    assert!(matches!(err, UplinkError::PermissionDenied(_)), "{err}");
    let err = sneaky.list_objects("shared", "", true).await.unwrap_err();
    assert!(matches!(err, UplinkError::PermissionDenied(_)), "{err}");
    let err = sneaky
        .upload("shared", "photos/new.jpg", &body[..], Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, UplinkError::PermissionDenied(_)), "{err}");

    // A grant whose time window has passed is refused outright.
    let expired = grant
        .restrict(
            Caveat {
                not_after: Some(now - 10),
                ..Caveat::default()
            },
            &[],
        )
        .unwrap();
    let expired = Project::open(expired, ClientConfig::default()).unwrap();
    let err = expired.list_buckets().await.unwrap_err();
    assert!(matches!(err, UplinkError::PermissionDenied(_)), "{err}");
    assert!(
        err.to_string().contains("the access grant expired at"),
        "{err}"
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_delete_cannot_destroy_by_overwriting() {
    let net = TestNetwork::start(10).await;
    let grant = net.access().await;
    let owner = Project::open(grant.clone(), ClientConfig::default()).unwrap();
    owner.create_bucket("backups").await.unwrap();
    let original = random_bytes(50_000);
    owner
        .upload("backups", "db.dump", &original[..], Default::default())
        .await
        .unwrap();
    // The usual ransomware-proof backup grant: write new things, never delete.
    let backup = grant
        .restrict(
            Caveat {
                disallow_deletes: true,
                ..Caveat::default()
            },
            &[],
        )
        .unwrap();
    let backup = Project::open(backup, ClientConfig::default()).unwrap();
    backup
        .upload(
            "backups",
            "db.dump.2",
            &random_bytes(10)[..],
            Default::default(),
        )
        .await
        .expect("new keys are fine");
    for replacement in [random_bytes(0), random_bytes(3000), random_bytes(200_000)] {
        let err = backup
            .upload("backups", "db.dump", &replacement[..], Default::default())
            .await
            .unwrap_err();
        assert!(matches!(err, UplinkError::PermissionDenied(_)), "{err}");
    }
    assert!(tests::download(&owner, "backups", "db.dump").await == original);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_cors_rules_need_write_on_the_whole_bucket_and_valid_rules() {
    use tests::uplink_core::protocol::cors::CorsRule;
    let net = TestNetwork::start(4).await;
    let grant = net.access().await;
    let owner = Project::open(grant.clone(), ClientConfig::default()).unwrap();
    owner.create_bucket("site").await.unwrap();
    owner.create_bucket("other").await.unwrap();
    assert_eq!(owner.bucket_cors("site").await.unwrap(), None);
    let rules = vec![CorsRule {
        allowed_origins: vec!["https://app.example".into()],
        allowed_methods: vec!["GET".into(), "PUT".into()],
        max_age_seconds: Some(300),
        ..CorsRule::default()
    }];
    owner
        .set_bucket_cors("site", Some(rules.clone()))
        .await
        .unwrap();
    assert_eq!(
        owner.bucket_cors("site").await.unwrap(),
        Some(rules.clone())
    );
    assert_eq!(
        owner.bucket_cors("other").await.unwrap(),
        None,
        "per bucket"
    );

    // The satellite validates for every client, not only for the gateways.
    let bad = vec![CorsRule {
        allowed_origins: vec!["*".into()],
        allowed_methods: vec!["PATCH".into()],
        ..CorsRule::default()
    }];
    let err = owner.set_bucket_cors("site", Some(bad)).await.unwrap_err();
    assert!(
        matches!(&err, UplinkError::Satellite { message, .. } if message.contains("PATCH")),
        "{err}"
    );
    let err = owner
        .set_bucket_cors("missing", Some(rules.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, UplinkError::BucketNotFound(_)), "{err}");

    // Read-only, other-bucket and prefix-only grants may not change them; a grant
    // that can read the bucket may read them.
    let readonly = grant
        .restrict(
            Caveat {
                disallow_writes: true,
                disallow_deletes: true,
                ..Caveat::default()
            },
            &[],
        )
        .unwrap();
    let other_bucket = grant
        .restrict(Caveat::default(), &[("other".into(), String::new())])
        .unwrap();
    let prefix_only = grant
        .restrict(Caveat::default(), &[("site".into(), "photos/".into())])
        .unwrap();
    for (what, g) in [
        ("read-only", &readonly),
        ("other bucket", &other_bucket),
        ("prefix only", &prefix_only),
    ] {
        let p = Project::open(g.clone(), ClientConfig::default()).unwrap();
        let err = p.set_bucket_cors("site", None).await.unwrap_err();
        assert!(
            matches!(err, UplinkError::PermissionDenied(_)),
            "{what}: {err}"
        );
    }
    let reader = Project::open(readonly, ClientConfig::default()).unwrap();
    assert_eq!(
        reader.bucket_cors("site").await.unwrap(),
        Some(rules.clone())
    );
    assert_eq!(
        owner.bucket_cors("site").await.unwrap(),
        Some(rules),
        "refusals changed nothing"
    );
    owner.set_bucket_cors("site", None).await.unwrap();
    assert_eq!(owner.bucket_cors("site").await.unwrap(), None);
    net.stop().await;
}
