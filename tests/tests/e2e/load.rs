//! The load generator against an in-process network: several clients at once, every
//! operation kind, zero errors and zero mismatches. This is the suite's check that the
//! satellite holds up under concurrent writers (issue: "database is locked").

use std::time::Duration;

use tests::TestNetwork;
use tests::node_sim::sim::load::{self, LoadConfig, OpKind};
use tests::uplink_core::client::{ClientConfig, Project, UplinkError};

const SEED: u64 = 0x10ad_5eed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_see_no_errors_and_read_back_what_they_wrote() {
    let net = TestNetwork::start(10).await;
    let access = net.access().await;
    let mut config = LoadConfig::new(access.clone());
    config.bucket = "load".into();
    config.clients = 8;
    config.duration = Duration::from_secs(3);
    config.mix = "put=40,get=25,range=15,list=10,delete=10".parse().unwrap();
    config.sizes = "1KiB..1MiB".parse().unwrap();
    config.seed = SEED;
    config.cleanup = true;
    // Small segments, so that larger objects span several and ranges cross them.
    config.client = ClientConfig {
        segment_size: 256 << 10,
        ..ClientConfig::default()
    };
    println!("load seed {SEED}");
    let report = tokio::time::timeout(Duration::from_secs(300), load::run(config))
        .await
        .expect("the load run ends")
        .expect("the load run starts");
    println!("{report}");
    assert_eq!(report.seed, SEED);
    assert_eq!(report.error_count, 0, "errors: {:#?}", report.errors);
    assert_eq!(
        report.mismatches, 0,
        "mismatches: {:#?}",
        report.mismatch_samples
    );
    for op in OpKind::ALL {
        assert!(report.op(op).ops > 0, "no {op} ran: {report}");
    }
    // Reads compared real bytes (the check itself is tested in node-sim's unit tests).
    assert!(report.bytes_down > 0 && report.bytes_up > 0);
    // Cleanup removed every object the run left, and the bucket it created.
    assert!(report.cleaned_up.is_some());
    let project = Project::open(access, ClientConfig::default()).expect("project opens");
    let gone = project.bucket("load").await;
    assert!(
        matches!(gone, Err(UplinkError::BucketNotFound(_))),
        "the bucket the run created is still there: {gone:?}"
    );
    net.stop().await;
}
