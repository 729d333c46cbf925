//! The lease's races, on the in-memory S3 of [`crate::aws::fake`]: another machine is
//! the test writing the lease object directly. The same rules run against the
//! emulator's S3, with real processes paused by SIGSTOP, in
//! `tests/integration/fencing.rs` and `shared_state.rs`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::aws::fake::{self, FakeIam};
use crate::engine::error::ErrorKind;

const BUCKET: &str = "team-state";
const LEASE: &str = "team/locks/123456789012/dev.json";

struct Setup {
    iam: Arc<FakeIam>,
    aws: Aws,
    caller: Caller,
    state: SharedState,
    owner: Owner,
}

fn setup() -> Setup {
    let iam = FakeIam::new();
    let key = iam.add_key("dev");
    let aws = Aws::fake(iam.clone());
    let caller = aws.caller(&key);
    let state = SharedState {
        bucket: BUCKET.to_owned(),
        prefix: "team".to_owned(),
        lease: Duration::from_secs(60),
        kms_key_id: None,
        bucket_owner: None,
    };
    let owner = Owner {
        profile: "dev".to_owned(),
        also: Vec::new(),
        account: fake::ACCOUNT.to_owned(),
        user_arn: fake::arn("dev"),
        user_name: "dev".to_owned(),
    };
    Setup {
        iam,
        aws,
        caller,
        state,
        owner,
    }
}

impl Setup {
    async fn acquire(&self, timeout: Duration) -> Result<Lease, Cause> {
        let fleet_key = Arc::new(FleetKey::for_tests());
        let (state, caller, clock) = (&self.state, &self.caller, self.aws.clock());
        Lease::acquire(
            state,
            caller,
            clock,
            &self.owner,
            "apply",
            timeout,
            fleet_key,
        )
        .await
    }

    /// The lease object as another machine's rekey writes it.
    fn plant(&self, host: &str, pid: u32, expires: SystemTime) {
        let body = format!(
            "{{\"holder\":\"{host}:{pid}:00ff\",\"host\":\"{host}\",\"pid\":{pid},\"command\":\"apply\",\"expires\":\"{}\"}}",
            time::rfc3339_exact(expires)
        );
        self.iam.set_object(BUCKET, LEASE, Some(body.as_bytes()));
    }

    fn lease_object(&self) -> Option<serde_json::Value> {
        let bytes = self.iam.object(BUCKET, LEASE)?;
        Some(serde_json::from_slice(&bytes).expect("JSON"))
    }
}

/// What a pause past the confirmed deadline looks like to the holder.
fn paused_past_its_deadline(lease: &Lease) {
    *lease.shared.confirmed_until.lock().unwrap() = SystemTime::UNIX_EPOCH;
}

#[tokio::test]
async fn a_held_lease_makes_another_run_wait_then_name_its_holder() {
    let s = setup();
    s.plant(
        "ci-runner-7",
        4242,
        SystemTime::now() + Duration::from_secs(600),
    );
    let Err(cause) = s.acquire(Duration::ZERO).await else {
        panic!("acquired a held lease");
    };
    assert_eq!(cause.kind, ErrorKind::Busy);
    assert!(
        cause
            .message
            .contains("locked by rekey apply on ci-runner-7 (pid 4242)"),
        "{}",
        cause.message
    );
}

#[tokio::test]
async fn a_holder_paused_while_its_lease_was_taken_over_stops_at_its_next_check() {
    let s = setup();
    let lease = s.acquire(Duration::ZERO).await.unwrap();
    lease.check().await.expect("held");
    // Another machine took it over (its own version replaces ours).
    s.plant(
        "ci-runner-7",
        4242,
        SystemTime::now() + Duration::from_secs(600),
    );
    paused_past_its_deadline(&lease);
    let cause = lease.check().await.expect_err("taken over");
    assert!(cause.message.contains("took it over"), "{}", cause.message);
    // And from then on without asking S3 again.
    assert!(lease.check().await.is_err());
}

#[tokio::test]
async fn a_lease_taken_over_and_released_meanwhile_is_lost_not_unreachable() {
    let s = setup();
    let lease = s.acquire(Duration::ZERO).await.unwrap();
    s.iam.set_object(BUCKET, LEASE, None);
    paused_past_its_deadline(&lease);
    let cause = lease.check().await.expect_err("lost");
    assert!(cause.message.contains("took it over"), "{}", cause.message);
}

#[tokio::test]
async fn a_check_past_the_deadline_renews_and_goes_on_once_s3_confirms() {
    let s = setup();
    let lease = s.acquire(Duration::ZERO).await.unwrap();
    paused_past_its_deadline(&lease);
    lease.check().await.expect("renewed");
    assert!(lease.shared.confirmed_until() > SystemTime::now());
}

#[tokio::test]
async fn a_check_past_the_deadline_that_s3_does_not_confirm_refuses() {
    let s = setup();
    let lease = s.acquire(Duration::ZERO).await.unwrap();
    paused_past_its_deadline(&lease);
    s.iam.deny("s3:PutObject");
    let cause = lease.check().await.expect_err("unconfirmed");
    assert!(
        cause
            .message
            .contains("no renewal of the lease was confirmed"),
        "{}",
        cause.message
    );
}

#[tokio::test]
async fn a_holder_that_may_only_be_paused_is_carried_until_two_lease_periods_pass() {
    let s = setup();
    // Expired a moment ago, on another host: it may only be paused.
    s.plant(
        "ci-runner-7",
        4242,
        SystemTime::now() - Duration::from_secs(1),
    );
    let lease = s.acquire(Duration::ZERO).await.unwrap();
    let paused = lease.paused_holder().expect("carried");
    assert!(paused.contains("ci-runner-7, pid 4242"), "{paused}");
    lease.release().await;
    // Given back expired, still naming it; the next run knows too.
    let left = s.lease_object().expect("left expired");
    assert_eq!(left["paused"]["host"], "ci-runner-7", "{left}");
    let next = s.acquire(Duration::ZERO).await.unwrap();
    assert!(next.paused_holder().is_some());
}

#[tokio::test]
async fn a_holder_of_this_host_that_is_gone_was_killed_not_paused() {
    let s = setup();
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    // No process has this pid (above Linux's pid_max).
    s.plant(&host, 4_194_305, SystemTime::now() - Duration::from_secs(1));
    let lease = s.acquire(Duration::ZERO).await.unwrap();
    assert_eq!(lease.paused_holder(), None);
    lease.release().await;
    assert!(s.lease_object().is_none(), "released: deleted");
}

#[tokio::test]
async fn a_lease_given_back_is_deleted_only_if_it_is_still_ours() {
    let s = setup();
    let lease = s.acquire(Duration::ZERO).await.unwrap();
    s.plant(
        "ci-runner-7",
        4242,
        SystemTime::now() + Duration::from_secs(600),
    );
    lease.release().await;
    let left = s.lease_object().expect("the other machine's lease stays");
    assert_eq!(left["host"], "ci-runner-7");
}

#[tokio::test]
async fn a_lease_given_back_counts_as_done_not_paused_but_carries_the_paused_one() {
    let s = setup();
    s.plant(
        "ci-runner-7",
        4242,
        SystemTime::now() - Duration::from_secs(1),
    );
    let first = s.acquire(Duration::ZERO).await.unwrap();
    first.release().await;
    let left = s.lease_object().expect("left expired");
    assert_eq!(left["released"], true, "{left}");
    // Another host's run takes it over next: the paused one is still ci-runner-7, not
    // the run that gave the lease back.
    let mut body = left.clone();
    body["host"] = "laptop".into();
    s.iam
        .set_object(BUCKET, LEASE, Some(body.to_string().as_bytes()));
    let next = s.acquire(Duration::ZERO).await.unwrap();
    let paused = next.paused_holder().expect("still carried");
    assert!(paused.contains("ci-runner-7"), "{paused}");
}
