//! Pacing to IAM's rate limit (issue 19): the fault proxy admits a fixed number of IAM
//! calls per second and answers the rest `Throttling` ("Rate exceeded"), as IAM does
//! past an account's unpublished rate.

use crate::real_aws::users_through_proxy;
use crate::support::*;

#[test]
fn twenty_profiles_all_rotate_with_iam_admitting_eight_calls_a_second() {
    let (home, proxy, users) = users_through_proxy("paced", 20);
    proxy.set(|f| f.iam_rate = Some(8.0));
    let run = home.rekey(&["apply", "--yes", "--grace", "0", "--output", "json"]);
    let json = run.json();
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let results = json["results"].as_array().unwrap();
    let rotated = results.iter().filter(|r| r["status"] == "rotated").count();
    assert_eq!(rotated, 20, "{json}");
    let credentials = home.credentials();
    for (user, old) in &users {
        let new = key_in(&credentials, user).unwrap();
        assert_eq!(moto().keys(user), vec![(new.id.clone(), true)], "{user}");
        assert_ne!(&new, old);
    }
    // rekey counted every throttled answer the proxy gave (IAM's; STS is not limited).
    let throttled = proxy.throttled();
    let accepted = proxy.seen_service("iam") - throttled;
    eprintln!("IAM: {throttled} throttled, {accepted} accepted");
    assert!(throttled > 0, "the limit was reached");
    // One limiter for the whole run: it learns the rate, rather than every client
    // hammering the limit on its own.
    assert!(
        throttled * 2 <= accepted,
        "{throttled} throttled for {accepted} accepted"
    );
    assert_eq!(
        json["throttled"]["iam"], throttled as u64,
        "{}",
        json["throttled"]
    );

    // A log (text, off a terminal) says it too.
    proxy.set(|f| f.iam_rate = Some(2.0));
    home.rekey(&["apply", "--yes", "--grace", "0", "--profile", &users[0].0])
        .success()
        .stdout_has("throttled");
}
