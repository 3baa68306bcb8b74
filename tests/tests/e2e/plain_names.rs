//! Buckets that keep their object names in clear: listed by the satellite as S3 lists,
//! shared with grants that know it, and never a way for a satellite to learn the names
//! of an encrypted bucket.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use tests::TestNetwork;
use tests::satellite::db::entities::{bucket, object};
use tests::uplink_core::access::Caveat;
use tests::uplink_core::client::error::{Subject, UplinkError};
use tests::uplink_core::client::{ClientConfig, ListOptions, Project};
use tests::uplink_core::crypto::names::NameMode;
use tests::uplink_core::protocol::ErrorCode;
use tests::uplink_core::protocol::metainfo::{ListObjectsRequest, NAMES_HEADER, OBJECT_LIST_PATH};

async fn stored_keys(net: &TestNetwork, bucket_name: &str) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = object::Entity::find()
        .filter(object::Column::BucketName.eq(bucket_name))
        .all(&net.network.satellite.db)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.object_key)
        .collect();
    keys.sort();
    keys
}

fn names(page: &[tests::uplink_core::client::ObjectEntry]) -> Vec<String> {
    page.iter().map(|e| e.key.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_with_names_in_clear_lists_like_s3_and_keeps_content_encrypted() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket_with_plain_names("nft").await.unwrap();
    project.create_bucket("private").await.unwrap();
    let keys = ["a/1.json", "a/2.json", "ab/c.png", "b.json", "b.png"];
    for key in keys {
        for bucket in ["nft", "private"] {
            project
                .upload(
                    bucket,
                    key,
                    format!("body of {key}").as_bytes(),
                    Default::default(),
                )
                .await
                .unwrap();
        }
    }
    // The satellite holds the names as they are in one bucket, encrypted in the other.
    let mut plain: Vec<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
    plain.sort();
    assert_eq!(stored_keys(&net, "nft").await, plain);
    for stored in stored_keys(&net, "private").await {
        assert!(!plain.contains(&stored), "{stored:?} is in clear");
    }
    let mut got = Vec::new();
    project
        .download("nft", "ab/c.png", None, &mut got, None)
        .await
        .unwrap();
    assert_eq!(got, b"body of ab/c.png");

    // Any prefix and any delimiter, in S3's order, on the satellite.
    let list = |prefix: &str, delimiter: Option<&str>| ListOptions {
        prefix: prefix.to_string(),
        delimiter: delimiter.map(str::to_string),
        recursive: delimiter.is_none(),
        ..Default::default()
    };
    let page = project
        .list_objects_page("nft", &list("a", Some("/")))
        .await
        .unwrap();
    assert_eq!(names(&page.items), ["a/", "ab/"]);
    assert!(page.items.iter().all(|e| e.is_prefix));
    let page = project
        .list_objects_page("nft", &list("b", None))
        .await
        .unwrap();
    assert_eq!(names(&page.items), ["b.json", "b.png"]);
    let page = project
        .list_objects_page("nft", &list("", Some(".")))
        .await
        .unwrap();
    assert_eq!(names(&page.items), ["a/1.", "a/2.", "ab/c.", "b."]);
    // Paged one at a time, every entry exactly once.
    let mut seen = Vec::new();
    let mut options = ListOptions {
        limit: Some(1),
        ..list("", Some("/"))
    };
    loop {
        let page = project.list_objects_page("nft", &options).await.unwrap();
        seen.extend(names(&page.items));
        match page.next_cursor {
            Some(c) => options.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ["a/", "ab/", "b.json", "b.png"]);

    // An encrypted bucket refuses what it cannot answer, here and on the satellite.
    let err = project
        .list_objects_page("private", &list("", Some(".")))
        .await
        .unwrap_err();
    assert!(matches!(err, UplinkError::InvalidArgument(_)), "{err}");
    let metainfo = net.metainfo(project.access());
    let raw = |bucket: &str, prefix: &str, delimiter: Option<&str>| ListObjectsRequest {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        delimiter: delimiter.map(str::to_string),
        cursor: None,
        recursive: false,
        limit: None,
        include_metadata: false,
        pending: false,
    };
    for req in [raw("private", "", Some(".")), raw("private", "ab", None)] {
        match metainfo
            .list_objects(&req, &Subject::bucket("private"))
            .await
        {
            Err(UplinkError::Satellite {
                code: ErrorCode::BadRequest,
                ..
            }) => {}
            other => panic!("{req:?}: {other:?}"),
        }
    }
    // Malformed requests change nothing: a tag of the wrong shape, a names header with
    // another value.
    for tag in ["zz", "00", &"0".repeat(63), &"g".repeat(64)] {
        match metainfo
            .create_bucket_with("badtag", Some(tag.to_string()))
            .await
        {
            Err(UplinkError::Satellite {
                code: ErrorCode::BadRequest,
                ..
            }) => {}
            other => panic!("tag {tag:?}: {other:?}"),
        }
    }
    assert!(matches!(
        project.bucket("badtag").await,
        Err(UplinkError::BucketNotFound(_))
    ));
    let resp = net
        .http()
        .post(format!(
            "{}{OBJECT_LIST_PATH}",
            net.console_url().trim_end_matches('/')
        ))
        .bearer_auth(project.access().api_key.serialize())
        .header(NAMES_HEADER, "PLAIN")
        .json(&raw("nft", "", None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body = resp.text().await.unwrap();
    assert!(body.contains(NAMES_HEADER), "{body}");

    // A request that writes names the other way than its bucket keeps them is refused.
    for (bucket, names) in [("private", NameMode::Plain), ("nft", NameMode::Encrypted)] {
        let subject = Subject::bucket(bucket).with_names(names);
        match metainfo
            .list_objects(&raw(bucket, "", None), &subject)
            .await
        {
            Err(UplinkError::NameModeMismatch { .. }) => {}
            other => panic!("{bucket}: {other:?}"),
        }
    }
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_of_a_bucket_with_names_in_clear_knows_it_and_reaches_only_its_prefix() {
    let net = TestNetwork::start(10).await;
    let owner = net.project().await;
    owner.create_bucket_with_plain_names("nft").await.unwrap();
    for key in ["drop1/1.json", "drop1/2.json", "drop2/1.json"] {
        owner
            .upload("nft", key, key.as_bytes(), Default::default())
            .await
            .unwrap();
    }
    let paths = [("nft".to_string(), "drop1/".to_string())];
    let shared = owner
        .access()
        .restrict_in(
            Caveat {
                disallow_writes: true,
                disallow_deletes: true,
                ..Caveat::new()
            },
            &paths,
            &["nft".to_string()],
        )
        .unwrap();
    assert!(shared.encryption.entries.iter().all(|e| e.plain_names));
    let reader = Project::open(shared.clone(), ClientConfig::default()).unwrap();
    assert_eq!(reader.bucket_names("nft").await.unwrap(), NameMode::Plain);
    let mut got = Vec::new();
    reader
        .download("nft", "drop1/2.json", None, &mut got, None)
        .await
        .unwrap();
    assert_eq!(got, b"drop1/2.json");
    let listed = reader.list_objects("nft", "drop1/", true).await.unwrap();
    assert_eq!(names(&listed), ["drop1/1.json", "drop1/2.json"]);
    // Beside the prefix: no key to name it with, and no permission either.
    let err = reader
        .download("nft", "drop2/1.json", None, &mut Vec::new(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, UplinkError::Crypto(_)), "{err}");
    // Content keys chain the same way in both modes: the share reads what the owner wrote.
    let err = reader
        .upload("nft", "drop1/3.json", &b"x"[..], Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, UplinkError::PermissionDenied(_)), "{err}");
    net.stop().await;
}

/// The satellite cannot switch a bucket to names in clear: without a tag made with the
/// bucket's key the client refuses to send a name, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_satellite_cannot_talk_a_client_into_sending_names_in_clear() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("secret").await.unwrap();
    let db = &net.network.satellite.db;
    let row = bucket::Entity::find()
        .filter(bucket::Column::Name.eq("secret"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut forged: bucket::ActiveModel = row.into();
    forged.plain_names_tag = Set(Some(vec![7; 32]));
    forged.update(db).await.unwrap();

    let fresh = Project::open(project.access().clone(), ClientConfig::default()).unwrap();
    let err = fresh
        .upload(
            "secret",
            "diary/2026.txt",
            &b"dear diary"[..],
            Default::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, UplinkError::UnprovenPlainNames(_)), "{err}");
    let err = fresh.list_objects("secret", "", true).await.unwrap_err();
    assert!(matches!(err, UplinkError::UnprovenPlainNames(_)), "{err}");
    assert!(stored_keys(&net, "secret").await.is_empty());
    net.stop().await;
}

/// A client that learnt a bucket's mode, then the bucket is made again the other way:
/// the satellite refuses the stale request (nothing stored the wrong way), and the
/// client's next request writes names the new way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_made_again_the_other_way_is_never_written_the_old_way() {
    let net = TestNetwork::start(10).await;
    let first = net.project().await;
    first.create_bucket_with_plain_names("flip").await.unwrap();
    first
        .upload("flip", "one.txt", &b"1"[..], Default::default())
        .await
        .unwrap();
    let second = Project::open(first.access().clone(), ClientConfig::default()).unwrap();
    second.delete_bucket("flip", true).await.unwrap();
    second.create_bucket("flip").await.unwrap();

    let err = first
        .upload("flip", "two.txt", &b"2"[..], Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, UplinkError::NameModeMismatch { .. }), "{err}");
    assert!(stored_keys(&net, "flip").await.is_empty());
    first
        .upload("flip", "two.txt", &b"2"[..], Default::default())
        .await
        .unwrap();
    let stored = stored_keys(&net, "flip").await;
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], b"two.txt".to_vec(), "the name went encrypted");
    assert_eq!(
        names(&second.list_objects("flip", "", true).await.unwrap()),
        ["two.txt"]
    );
    net.stop().await;
}
