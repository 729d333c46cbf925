//! `--fence` (issue 33, point 4): for a leak response's duration, a service control
//! policy on the user's account denying everything to the user and to what the leaked
//! key made, signed in the organization's management account. On moto's Organizations
//! (a fresh organization per test, a member account holding the user), through the
//! fault proxy, which counts the calls; the fence is read back from Organizations.
//! (moto does not enforce SCPs: what is tested is that the fence stands and falls.)

use std::time::SystemTime;

use crate::proxy::FaultProxy;
use crate::support::*;

/// A fresh organization with one member account, a user there with a key, and an
/// administrator of that account; printed as JSON.
const SETUP: &str = r#"
import boto3, json, sys
management = sys.argv[1]
sts = boto3.client("sts")
def session(account, role="setup"):
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="setup")["Credentials"]
    return dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
mgmt = session(management)
org = boto3.client("organizations", **mgmt)
org.create_organization(FeatureSet="ALL")
member = org.create_account(Email=f"prod-{management}@example.com", AccountName="prod")["CreateAccountStatus"]["AccountId"]
iam = boto3.client("iam", **session(member))
iam.create_user(UserName="leaky")
leaked = iam.create_access_key(UserName="leaky")["AccessKey"]
iam.create_user(UserName="responder")
admin = iam.create_access_key(UserName="responder")["AccessKey"]
print(json.dumps({"management": mgmt, "member": member,
    "leaked": [leaked["AccessKeyId"], leaked["SecretAccessKey"]],
    "admin": [admin["AccessKeyId"], admin["SecretAccessKey"]]}))
"#;

/// The service control policies attached to `account`, as (name, content), read as the
/// management account's session `mgmt`.
const READ_BACK: &str = r#"
import boto3, json, sys
mgmt = json.loads(sys.argv[1])
org = boto3.client("organizations", **mgmt)
found = []
for p in org.list_policies_for_target(TargetId=sys.argv[2], Filter="SERVICE_CONTROL_POLICY")["Policies"]:
    content = org.describe_policy(PolicyId=p["Id"])["Policy"]["Content"]
    found.append([p["Name"], content])
print(json.dumps(found))
"#;

struct Org {
    home: Home,
    proxy: FaultProxy,
    made: serde_json::Value,
}

impl Org {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let management = format!("{:012}", (nanos / 1000 + 7) % 1_000_000_000_000);
        let made: serde_json::Value = serde_json::from_str(&run_python(
            SETUP,
            &[management.as_ref()],
            &moto().boto3_env(),
        ))
        .unwrap();
        let proxy = FaultProxy::start();
        let home = Home::new().via(&proxy.endpoint);
        let key = |name: &str| TestKey {
            id: made[name][0].as_str().unwrap().to_owned(),
            secret: made[name][1].as_str().unwrap().to_owned(),
        };
        let m = &made["management"];
        home.write_credentials(&format!(
            "{}\n{}\n[mgmt]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n",
            section("leaky", &key("leaked")),
            section("admin", &key("admin")),
            m["aws_access_key_id"].as_str().unwrap(),
            m["aws_secret_access_key"].as_str().unwrap(),
            m["aws_session_token"].as_str().unwrap()
        ));
        let fixture = format!(
            "{}/tests/fixtures/events/aws-health-credentials-exposed.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let alert = std::fs::read_to_string(fixture)
            .unwrap()
            .replace("AKIAIOSFODNN7EXAMPLE", &key("leaked").id);
        home.write("alert.json", &alert);
        Org { home, proxy, made }
    }

    fn member(&self) -> &str {
        self.made["member"].as_str().unwrap()
    }

    /// The SCPs attached to the member account, as (name, content).
    fn fences(&self) -> Vec<(String, String)> {
        let mgmt = self.made["management"].to_string();
        let out = run_python(
            READ_BACK,
            &[mgmt.as_ref(), self.member().as_ref()],
            &moto().boto3_env(),
        );
        serde_json::from_str(&out).unwrap()
    }

    fn respond(&self, extra: &[&str]) -> Run {
        let alert = self.home.path("alert.json");
        let mut args = vec!["respond", "--event", alert.to_str().unwrap()];
        args.extend(extra);
        self.home.rekey(&args)
    }
}

#[test]
fn a_kept_fence_stands_on_the_account_and_denies_the_user_everything() {
    let org = Org::new();
    let arn = format!("arn:aws:iam::{}:user/leaky", org.member());
    org.respond(&["--via", "admin", "--fence", "--org-via", "mgmt", "--keep-fence"])
        .success()
        .stdout_has("fenced: service control policy p-")
        .stdout_has(&format!("on account {} denies everything to {arn}", org.member()))
        .stdout_has("the fence stays (--keep-fence); take it down with: aws organizations detach-policy --policy-id p-");
    let fences = org.fences();
    let fence = fences
        .iter()
        .find(|(name, _)| name.starts_with("rekey-fence-"))
        .unwrap_or_else(|| panic!("{fences:?}"));
    let content: serde_json::Value = serde_json::from_str(&fence.1).unwrap();
    assert_eq!(content["Statement"][0]["Effect"], "Deny");
    assert_eq!(
        content["Statement"][0]["Condition"]["ArnLike"]["aws:PrincipalArn"][0],
        arn.as_str()
    );
}

#[test]
fn a_fence_is_taken_down_once_the_response_is_done() {
    let org = Org::new();
    org.respond(&["--via", "admin", "--fence", "--org-via", "mgmt"])
        .success()
        .stdout_has("fenced: service control policy p-")
        .stdout_has("took the fence down: service control policy p-");
    assert_eq!(org.proxy.count("AttachPolicy"), 1);
    assert_eq!(org.proxy.count("DeletePolicy"), 1);
    assert!(
        org.fences()
            .iter()
            .all(|(name, _)| !name.starts_with("rekey-fence-")),
        "{:?}",
        org.fences()
    );
}

#[test]
fn a_fence_needs_an_administrator_to_sign_and_changes_nothing_without_one() {
    let org = Org::new();
    let run = org.respond(&["--fence", "--org-via", "mgmt"]);
    assert_ne!(run.code, Some(0));
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("--fence needs an administrator to sign the response"),
        "{said}"
    );
    assert_eq!(org.proxy.count("CreateAccessKey"), 0, "{said}");
    assert_eq!(org.proxy.count("AttachPolicy"), 0);
}

/// An account in no organization cannot be fenced: the response says why and goes on.
#[test]
fn without_an_organization_the_response_says_it_cannot_fence_and_goes_on() {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let users = home.users_in_credentials(&["unfenced", "helper"]);
    let ((user, old), (helper, _)) = (&users[0], &users[1]);
    let fixture = format!(
        "{}/tests/fixtures/events/aws-health-credentials-exposed.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let alert = std::fs::read_to_string(fixture)
        .unwrap()
        .replace("AKIAIOSFODNN7EXAMPLE", &old.id);
    home.write("alert.json", &alert);
    let alert = home.path("alert.json");
    home.rekey(&[
        "respond",
        "--event",
        alert.to_str().unwrap(),
        "--via",
        helper,
        "--fence",
        "--org-via",
        helper,
    ])
    .success()
    .stdout_has("not fenced: cannot fence: the account's organization could not be read");
    let new = key_in(&home.credentials(), user).unwrap();
    assert_eq!(moto().keys(user), key_set(&[(&new.id, true)]));
    assert_eq!(proxy.count("AttachPolicy"), 0);
}
