//! `rekey audit`: an organization of three member accounts on the emulator (moto's
//! Organizations, and AssumeRole across accounts), behind the fault proxy, which
//! refuses to assume a role that does not exist, as AWS does. Keys of every finding;
//! an account whose role is missing; the CSV read back by Python's csv module; IAM
//! calls counted per user.

use std::time::SystemTime;

use crate::json_schemas::passes;
use crate::proxy::FaultProxy;
use crate::support::*;

const ROLE: &str = "OrganizationAccountAccessRole";

/// Builds the organization in a fresh management account (boto3, straight to moto):
/// members `prod` and `dev` with the role CreateAccount makes, `norole` without it; users in `prod` with
/// keys of each finding. Prints what it made as JSON.
const SETUP: &str = r#"
import boto3, json, sys, datetime
management = sys.argv[1]
sts = boto3.client("sts")

def session(account):
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/setup", RoleSessionName="setup")["Credentials"]
    return dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])

mgmt = session(management)
org = boto3.client("organizations", **mgmt)
org.create_organization(FeatureSet="ALL")
members = {}
for name in ["prod", "dev", "norole"]:
    status = org.create_account(Email=f"{name}-{management}@example.com", AccountName=name)
    members[name] = status["CreateAccountStatus"]["AccountId"]
# CreateAccount makes the role in each new account, as AWS does: `norole` loses it.
norole = boto3.client("iam", **session(members["norole"]))
role = "OrganizationAccountAccessRole"
for policy in norole.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
    norole.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
for name in norole.list_role_policies(RoleName=role)["PolicyNames"]:
    norole.delete_role_policy(RoleName=role, PolicyName=name)
norole.delete_role(RoleName=role)

iam = boto3.client("iam", **session(members["prod"]))
keys = {}
def user(name, n=1):
    iam.create_user(UserName=name)
    return [iam.create_access_key(UserName=name)["AccessKey"] for _ in range(n)]
def use(key, name):
    boto3.client("iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]).list_access_keys(UserName=name)

[k] = user("in-use"); use(k, "in-use"); keys["in_use"] = k["AccessKeyId"]
[k] = user("never-used"); keys["never_used"] = k["AccessKeyId"]
a, b = user("two-active", 2); use(a, "two-active"); use(b, "two-active"); keys["two_active"] = [a["AccessKeyId"], b["AccessKeyId"]]
a, b = user("inactive", 2); use(b, "inactive")
iam.update_access_key(UserName="inactive", AccessKeyId=a["AccessKeyId"], Status="Inactive")
keys["inactive"] = a["AccessKeyId"]; keys["inactive_partner"] = b["AccessKeyId"]
# Two users whose old key rekey deactivated (a tag of rekey's): one due for deletion in a
# week, one a day overdue.
def stamp(days):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
for name, delete_in in [("pending", 7), ("overdue", -1)]:
    old, new = user(name, 2); use(new, name)
    iam.update_access_key(UserName=name, AccessKeyId=old["AccessKeyId"], Status="Inactive")
    iam.tag_user(UserName=name, Tags=[{"Key": "rekey:pending:" + old["AccessKeyId"], "Value": stamp(-2) + "/" + stamp(delete_in) + "/-/" + new["AccessKeyId"]}])
    keys[name] = old["AccessKeyId"]; keys[name + "_new"] = new["AccessKeyId"]
# Other long-lived credentials: a console password without MFA, a signing certificate
# (self-signed, made here).
iam.create_user(UserName="console")
iam.create_login_profile(UserName="console", Password="a-Long-passw0rd!")
iam.create_user(UserName="signer")
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
private = ec.generate_private_key(ec.SECP256R1())
subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")])
start = datetime.datetime.now(datetime.timezone.utc)
certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
    .public_key(private.public_key()).serial_number(1).not_valid_before(start)
    .not_valid_after(start + datetime.timedelta(days=800)).sign(private, hashes.SHA256()))
pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
keys["certificate"] = iam.upload_signing_certificate(UserName="signer", CertificateBody=pem)["Certificate"]["CertificateId"]
ssh = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
keys["ssh"] = iam.upload_ssh_public_key(UserName="signer", SSHPublicKeyBody=ssh)["SSHPublicKey"]["SSHPublicKeyId"]
dev = boto3.client("iam", **session(members["dev"]))
dev.create_user(UserName="dev-user")
keys["dev"] = dev.create_access_key(UserName="dev-user")["AccessKey"]["AccessKeyId"]
print(json.dumps({"management": mgmt, "members": members, "keys": keys}))
"#;

/// What [`SETUP`] made.
struct Org {
    home: Home,
    proxy: FaultProxy,
    /// The management account's session credentials (boto3's names).
    management: serde_json::Value,
    members: serde_json::Value,
    keys: serde_json::Value,
}

/// A fresh organization, and a home whose profile `mgmt` signs as its management
/// account, through the proxy.
fn organization() -> Org {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    // A fresh 12-digit account id: the organization must be the only one of its account.
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let management = format!("{:012}", (nanos / 1000) % 1_000_000_000_000);
    let made: serde_json::Value = serde_json::from_str(&run_python(
        SETUP,
        &[management.as_ref()],
        &moto().boto3_env(),
    ))
    .unwrap();
    let m = &made["management"];
    home.write_credentials(&format!(
        "[mgmt]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n",
        m["aws_access_key_id"].as_str().unwrap(),
        m["aws_secret_access_key"].as_str().unwrap(),
        m["aws_session_token"].as_str().unwrap()
    ));
    Org {
        home,
        proxy,
        management: made["management"].clone(),
        members: made["members"].clone(),
        keys: made["keys"].clone(),
    }
}

impl Org {
    fn member(&self, name: &str) -> &str {
        self.members[name].as_str().unwrap()
    }

    fn key(&self, name: &str) -> &str {
        self.keys[name].as_str().unwrap()
    }
}

/// Every other credential (`credentials`) of an audit document's accounts.
fn credentials(json: &serde_json::Value) -> impl Iterator<Item = &serde_json::Value> {
    (json["accounts"].as_array().unwrap().iter())
        .flat_map(|a| a["credentials"].as_array().into_iter().flatten())
}

/// The first credential of `kind` in an audit document.
fn credential(json: &serde_json::Value, kind: &str) -> serde_json::Value {
    credentials(json)
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {json}"))
        .clone()
}

/// The findings of key `id` in an audit document.
fn findings_of(json: &serde_json::Value, id: &str) -> Vec<String> {
    let key = json["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["keys"].as_array().unwrap())
        .find(|k| k["key_id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {json}"));
    key["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect()
}

fn audit_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    [
        &["audit", "--via", "mgmt", "--org", "--role", ROLE][..],
        extra,
    ]
    .concat()
}

#[test]
fn an_organization_is_audited_with_every_finding_and_a_missing_role_reported() {
    let org = organization();
    let run = org.home.rekey(&audit_args(&["--output", "json"])).code(1);
    assert!(
        run.stderr.contains(org.member("norole")) && run.stderr.contains("could not be audited"),
        "{}",
        run.stderr
    );
    passes(&org.home, "audit", &run);
    let json = run.json();
    let accounts = json["accounts"].as_array().unwrap();
    assert_eq!(
        accounts.len(),
        4,
        "the management account and three members: {json}"
    );
    let norole = accounts
        .iter()
        .find(|a| a["account"] == org.member("norole"))
        .unwrap();
    assert_eq!(norole["error_kind"], "access_denied", "{norole}");
    // The CSV has a row for it too (issue 35 (b)).
    let csv = org
        .home
        .rekey(&audit_args(&["--output", "csv"]))
        .code(1)
        .stdout;
    let row = format!("{},,,,,,,,,,not_audited,", org.member("norole"));
    assert!(csv.lines().any(|l| l.starts_with(&row)), "{csv}");
    assert_eq!(norole["name"], "norole");
    let error = norole["error"].as_str().unwrap();
    assert!(error.contains(ROLE), "{norole}");
    assert!(
        error.contains("must exist in that account and trust the signer"),
        "{error}"
    );

    // Today: the keys' states.
    let none: Vec<String> = Vec::new();
    assert_eq!(findings_of(&json, org.key("in_use")), none);
    assert_eq!(
        findings_of(&json, org.key("never_used")),
        none,
        "a day to be used"
    );
    let two = org.keys["two_active"].as_array().unwrap();
    for key in two {
        assert_eq!(
            findings_of(&json, key.as_str().unwrap()),
            ["two_active_keys"]
        );
    }
    assert_eq!(
        findings_of(&json, org.key("inactive")),
        ["inactive_not_deleted"]
    );
    assert_eq!(
        findings_of(&json, org.key("pending")),
        none,
        "deleted in a week"
    );
    assert_eq!(findings_of(&json, org.key("overdue")), ["overdue_deletion"]);
    assert_eq!(findings_of(&json, org.key("dev")), none);
    let managed = |id: &str| {
        accounts
            .iter()
            .flat_map(|a| a["keys"].as_array().unwrap())
            .find(|k| k["key_id"] == id)
            .unwrap()["managed"]
            .clone()
    };
    assert_eq!(managed(org.key("pending")), true);
    assert_eq!(
        managed(org.key("pending_new")),
        true,
        "the key that replaced it"
    );
    assert_eq!(managed(org.key("in_use")), false);
    let used = accounts
        .iter()
        .flat_map(|a| a["keys"].as_array().unwrap())
        .find(|k| k["key_id"] == org.key("in_use"))
        .unwrap();
    assert!(used["last_used"]["date"].is_string(), "{used}");

    // A hundred days later: every active key is past 90 days, unused, or never used.
    let later = org
        .home
        .rekey_later(2400, &audit_args(&["--output", "json"]))
        .code(1)
        .json();
    assert_eq!(
        findings_of(&later, org.key("in_use")),
        ["past_max_age", "unused"]
    );
    assert_eq!(
        findings_of(&later, org.key("never_used")),
        ["past_max_age", "never_used"]
    );
    assert_eq!(
        findings_of(&later, org.key("pending")),
        ["overdue_deletion"],
        "its week is over"
    );
    // The other credentials, judged as keys are (issue 35, point 2).
    let password = credential(&later, "console_password");
    assert_eq!(password["user"], "console");
    assert_eq!(
        password["findings"],
        serde_json::json!(["password_without_mfa", "never_used"])
    );
    let controls = password["controls"].to_string();
    assert!(
        controls.contains("CIS-3.0-1.10") && controls.contains("FSBP-IAM.8"),
        "{password}"
    );
    let certificate = credential(&later, "signing_certificate");
    assert_eq!(certificate["id"], org.keys["certificate"]);
    assert_eq!(certificate["findings"], serde_json::json!(["past_max_age"]));
    assert!(
        credentials(&later).all(|c| c["kind"] != "ssh_public_key"),
        "SSH keys only with --all-credentials"
    );
    // With --all-credentials, every user's SSH public keys and service-specific
    // credentials (the proxy answers those as IAM does: moto has none).
    org.proxy.set(|f| {
        let made = ("ACCAEXAMPLE1".into(), "codecommit.amazonaws.com".into());
        let (id, service) = made;
        let old = (id, service, "Active".into(), "2026-01-05T00:00:00Z".into());
        f.service_credentials.insert("console".into(), vec![old]);
    });
    let before = org.proxy.count("ListSSHPublicKeys");
    let all = (org.home)
        .rekey_later(
            2400,
            &audit_args(&["--output", "json", "--all-credentials"]),
        )
        .code(1)
        .json();
    let users: usize = (all["accounts"].as_array().unwrap().iter())
        .filter(|a| a["error"].is_null())
        .map(|a| {
            let keys = a["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["user"].as_str());
            let others =
                (a["credentials"].as_array().into_iter().flatten()).map(|c| c["user"].as_str());
            keys.chain(others)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        })
        .sum();
    assert!(
        org.proxy.count("ListSSHPublicKeys") - before >= users,
        "every user asked"
    );
    let ssh = credential(&all, "ssh_public_key");
    assert_eq!(
        (&ssh["id"], &ssh["user"]),
        (&org.keys["ssh"], &"signer".into())
    );
    assert_eq!(ssh["findings"], serde_json::json!(["past_max_age"]));
    let codecommit = credential(&all, "service_specific_credential");
    assert_eq!(codecommit["service"], "codecommit.amazonaws.com");
    assert_eq!(
        codecommit["findings"],
        serde_json::json!(["past_max_age"]),
        "{codecommit}"
    );

    // By CIS's thresholds, with a verdict per control per account (issue 35, point 1).
    let cis = org
        .home
        .rekey_later(
            2400,
            &audit_args(&["--output", "json", "--benchmark", "cis"]),
        )
        .code(1);
    passes(&org.home, "audit", &cis);
    let cis = cis.json();
    assert_eq!(
        (&cis["benchmark"], &cis["unused_days"]),
        (&"cis".into(), &45.into())
    );
    let prod = (cis["accounts"].as_array().unwrap().iter())
        .find(|a| a["account"] == org.member("prod"))
        .unwrap();
    let verdict = |control: &str| {
        (prod["compliance"].as_array().unwrap().iter())
            .find(|v| v["control"] == control)
            .unwrap_or_else(|| panic!("{control} not in {prod}"))
            .clone()
    };
    assert_eq!(prod["compliance"].as_array().unwrap().len(), 8, "{prod}");
    let mfa = verdict("CIS-3.0-1.10");
    assert_eq!(mfa["failing"], serde_json::json!(["console"]), "{mfa}");
    assert_eq!(verdict("CIS-3.0-1.4")["status"], "pass", "no root key");
    let two = verdict("CIS-3.0-1.13");
    assert_eq!(two["status"], "fail");
    assert_eq!(
        two["failing"],
        serde_json::json!(org.keys["two_active"]),
        "{two}"
    );
    let old = verdict("CIS-7.0-2.12");
    assert_eq!(old["status"], "fail");
    assert!(
        old["failing"]
            .as_array()
            .unwrap()
            .contains(&org.keys["in_use"]),
        "{old}"
    );
    let table = (org.home)
        .rekey_later(2400, &audit_args(&["--benchmark", "cis"]))
        .code(1)
        .stdout;
    let summary = format!("account {} CIS AWS Foundations: ", org.member("prod"));
    assert!(
        table.contains(&summary) && table.contains("  FAIL CIS-3.0-1.13 "),
        "{table}"
    );
    // The benchmark's thresholds are its own: not mixed with --unused.
    let mixed = org
        .home
        .rekey(&audit_args(&["--benchmark", "fsbp", "--unused", "10d"]))
        .code(2);
    assert!(
        mixed.stderr.contains("cannot be used with"),
        "{}",
        mixed.stderr
    );
}

/// Per account, one credential report, then two calls per user with keys; every
/// account reachable and --detailed-exitcode: exit 2 on findings. The table puts the
/// most severe first; the CSV reads back with Python's csv module.
#[test]
fn calls_per_user_the_table_and_the_csv() {
    let org = organization();
    let accounts = format!("{},{}", org.member("prod"), org.member("dev"));
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "audit",
            "--via",
            "mgmt",
            "--accounts",
            &accounts,
            "--role",
            ROLE,
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run = |extra: &[&'static str]| {
        let args = args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        org.home.rekey(&args)
    };
    let before = |action: &str| org.proxy.count(action);
    let (lists, tags, last_used) = (
        before("ListAccessKeys"),
        before("ListUserTags"),
        before("GetAccessKeyLastUsed"),
    );
    let table = run(&["--detailed-exitcode"]).code(2);
    // prod: 6 users with keys, dev: 1.
    assert_eq!(org.proxy.count("ListAccessKeys") - lists, 7);
    assert_eq!(org.proxy.count("ListUserTags") - tags, 7);
    let asked_last_use = org.proxy.count("GetAccessKeyLastUsed") - last_used;
    assert_eq!(org.proxy.count("GetCredentialReport"), 2, "one per account");

    let rows: Vec<&str> = table.stdout.lines().collect();
    assert!(rows[0].starts_with("ACCOUNT"), "{}", table.stdout);
    assert!(rows[1].contains("two active keys"), "{}", table.stdout);
    assert!(
        table
            .stdout
            .contains("2 accounts, 11 keys, 4 with findings"),
        "{}",
        table.stdout
    );

    let csv = run(&["--output", "csv"]).success();
    let json = run(&["--output", "json"]).success().json();
    // Last uses come from the report, except for a user's two keys made in the same
    // second, which the report cannot tell apart: IAM is asked for each (issue 35 (a)).
    let keys: Vec<&serde_json::Value> = (json["accounts"].as_array().unwrap().iter())
        .flat_map(|a| a["keys"].as_array().unwrap())
        .collect();
    let second = |k: &serde_json::Value| k["created"].as_str().unwrap()[..19].to_owned();
    let twins = keys
        .iter()
        .filter(|k| {
            keys.iter().any(|o| {
                o["key_id"] != k["key_id"]
                    && o["user"] == k["user"]
                    && o["account"] == k["account"]
                    && second(o) == second(k)
            })
        })
        .count();
    assert_eq!(asked_last_use, twins, "{json}");
    let read_back = "import csv, json, sys\nprint(json.dumps(list(csv.DictReader(sys.stdin))))";
    let path = org.home.path("audit.csv");
    std::fs::write(&path, &csv.stdout).unwrap();
    let script = format!("import sys; sys.stdin = open(sys.argv[1])\n{read_back}");
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&run_python(&script, &[path.as_os_str()], &[])).unwrap();
    let (keys, others): (Vec<_>, Vec<_>) =
        rows.iter().partition(|r| r["credential"] == "access_key");
    assert_eq!(keys.len(), 11);
    let kinds: Vec<&str> = others
        .iter()
        .map(|r| r["credential"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["console_password", "signing_certificate"],
        "{others:?}"
    );
    assert_eq!(
        others[0]["findings"], "password_without_mfa",
        "not a day old yet"
    );
    for row in keys {
        let id = row["key_id"].as_str().unwrap();
        let expected = findings_of(&json, id).join(";");
        assert_eq!(row["findings"], expected.as_str(), "{row}");
        assert!(row["account"] == org.member("prod") || row["account"] == org.member("dev"));
    }
    let overdue = rows
        .iter()
        .find(|r| r["key_id"] == org.key("overdue"))
        .unwrap();
    assert_eq!(overdue["status"], "Inactive");
    assert_eq!(overdue["managed"], "true");
}

#[test]
fn without_accounts_the_signers_own_account_is_audited() {
    let proxy = FaultProxy::start();
    // As AWS's report always has, a root user's row: here with an active key.
    proxy.set(|f| f.root_active_keys = Some(1));
    let home = Home::new().via(&proxy.endpoint);
    let (user, key) = home.user_in_credentials("auditor");
    let json = home
        .rekey(&["audit", "--via", &user, "--output", "json"])
        .success()
        .json();
    let accounts = json["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["account"], "123456789012");
    assert_eq!(accounts[0]["root_active_keys"], 1, "a finding of its own");
    home.rekey(&["audit", "--via", &user, "--detailed-exitcode"])
        .code(2)
        .stdout_has("account 123456789012 ROOT USER HAS 1 active access key (made ")
        .stdout_has("; root access keys in 1 account");
    // Its age and last use, from the report's root row (issue 35 (d)), and a CSV row of
    // its own (35 (b)).
    assert!(accounts[0]["root_keys"][0]["age_days"].is_u64(), "{json}");
    let csv = home
        .rekey(&["audit", "--via", &user, "--output", "csv"])
        .success()
        .stdout;
    assert!(
        csv.lines()
            .any(|l| l.starts_with("123456789012,<root_account>,,Active,")
                && l.contains(",root_active_key,")),
        "{csv}"
    );
    assert!(
        accounts[0]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["key_id"] == key.id.as_str()),
        "{json}"
    );
}

/// Issue 29, point 6: IAM lets a user name start with `=`; the CSV must not hand a
/// spreadsheet a formula, and the JSON keeps the name exact.
#[test]
fn a_user_name_a_spreadsheet_would_run_is_inert_in_the_csv() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("auditor");
    let formula = unique("=HYPERLINK");
    let key = moto().create_user(&formula);
    let csv = home
        .rekey(&["audit", "--via", &user, "--output", "csv"])
        .success();
    let row = csv
        .stdout
        .lines()
        .find(|l| l.contains(&key.id))
        .unwrap_or_else(|| panic!("{}", csv.stdout));
    assert!(row.contains(&format!(",'{formula},")), "{row}");
    let json = home
        .rekey(&["audit", "--via", &user, "--output", "json"])
        .success()
        .json();
    let users: Vec<&str> = json["accounts"][0]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["key_id"] == key.id.as_str())
        .map(|k| k["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, [formula.as_str()]);
}

/// Issue 31, point 6: `audit` agrees with rekey's own records. After a rotation with a
/// grace period (this machine's state dir), the new key is managed, and the old one is
/// managed and scheduled for deletion: not "inactive, not deleted" until that date.
/// And `--org` where the signer's account is in no organization is an error naming AWS
/// Organizations, not an audit of 0 accounts.
#[test]
fn audit_agrees_with_rekeys_records_and_says_when_there_is_no_organization() {
    let home = Home::new();
    let (user, old) = home.user_in_credentials("auditedrotation");
    home.rekey(&["apply", "--yes", "--grace", "7d"]).success();
    let new = key_in(&home.credentials(), &user).unwrap();
    let json = home
        .rekey(&["audit", "--via", &user, "--output", "json"])
        .success()
        .json();
    let keys: Vec<&serde_json::Value> = json["accounts"][0]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["user"] == user.as_str())
        .collect();
    let of = |id: &str| *keys.iter().find(|k| k["key_id"] == id).expect("audited");
    assert_eq!(of(&new.id)["managed"], true, "{json}");
    let old_key = of(&old.id);
    assert_eq!(old_key["managed"], true, "{json}");
    assert!(old_key["deletion_scheduled"].is_string(), "{json}");
    assert_eq!(old_key["findings"], serde_json::json!([]), "{json}");

    home.rekey(&["audit", "--via", &user, "--org", "--role", ROLE])
        .code(1)
        .stderr_has("in no AWS Organizations organization");
}

/// Issue 35, point 3: a suppression hides a reviewed finding from the count (it stays
/// in the JSON and CSV as suppressed); an expired one suppresses nothing and is a
/// finding of its own.
#[test]
fn suppressions_move_findings_aside_until_they_expire() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("breakglass");
    moto().create_key(&user);
    let ignore = |expires: &str| {
        format!("- user: {user}\n  finding: two_active_keys\n  reason: break-glass, reviewed quarterly\n  expires: {expires}\n")
    };
    home.write("ignore.yaml", &ignore("2999-12-31"));
    let file = home.path("ignore.yaml");
    let args = ["audit", "--via", &user, "--ignore", file.to_str().unwrap()];
    let json = home
        .rekey(&[&args[..], &["--output", "json"]].concat())
        .success()
        .json();
    let keys = json["accounts"][0]["keys"].as_array().unwrap();
    let mine: Vec<&serde_json::Value> =
        keys.iter().filter(|k| k["user"] == user.as_str()).collect();
    assert_eq!(mine.len(), 2);
    for key in &mine {
        assert_eq!(key["findings"], serde_json::json!([]), "{key}");
        assert_eq!(key["suppressed"][0]["finding"], "two_active_keys", "{key}");
        assert_eq!(
            key["suppressed"][0]["reason"],
            "break-glass, reviewed quarterly"
        );
        // The benchmark's verdict is a fact: a suppression does not change it (issue 35,
        // point 1: CIS v3.0 1.13, one active key per user).
        assert_eq!(
            key["controls"],
            serde_json::json!(["CIS-3.0-1.13"]),
            "{key}"
        );
    }
    let csv = home
        .rekey(&[&args[..], &["--output", "csv"]].concat())
        .success()
        .stdout;
    assert!(
        csv.lines()
            .any(|l| l.contains(&user) && l.ends_with(",two_active_keys,CIS-3.0-1.13,access_key")),
        "{csv}"
    );

    home.write("ignore.yaml", &ignore("2020-01-01"));
    let json = home
        .rekey(&[&args[..], &["--output", "json"]].concat())
        .success()
        .json();
    let keys = json["accounts"][0]["keys"].as_array().unwrap();
    let key = keys.iter().find(|k| k["user"] == user.as_str()).unwrap();
    assert_eq!(
        key["findings"],
        serde_json::json!(["two_active_keys", "expired_suppression"]),
        "{key}"
    );

    // A suppression that names nothing to match is refused before anything is read.
    home.write(
        "ignore.yaml",
        "- reason: everything\n  expires: 2999-01-01\n",
    );
    home.rekey(&args)
        .code(1)
        .stderr_has("names no account, user or key_id");
}

/// Security Hub's side of the test: `enable` (the management account's hub), `check
/// FILE` (the ASFF findings against botocore's model of BatchImportFindings, AWS's own,
/// and the limits the ASFF documentation gives), `delete ACCOUNT USER KEY`, `hub` (the
/// hub's findings: id, record state, workflow, compliance).
const HUB: &str = r#"
import boto3, botocore.session, datetime, json, sys
from botocore.validate import ParamValidator
action, creds = sys.argv[1], json.loads(sys.argv[2])
hub = boto3.client("securityhub", **creds)
if action == "enable":
    hub.enable_security_hub(EnableDefaultStandards=False)
elif action == "check":
    findings = json.load(open(sys.argv[3]))
    shape = botocore.session.get_session().get_service_model("securityhub").operation_model("BatchImportFindings").input_shape
    report = ParamValidator().validate({"Findings": findings}, shape)
    assert not report.has_errors(), report.generate_report()
    namespaces = {"Software and Configuration Checks", "TTPs", "Effects", "Unusual Behaviors", "Sensitive Data Identifications"}
    for f in findings:
        assert len(f["Id"]) <= 512 and len(f["GeneratorId"]) <= 512, f["Id"]
        assert len(f["Title"]) <= 256 and len(f["Description"]) <= 1024, f["Id"]
        assert len(f["Remediation"]["Recommendation"]["Text"]) <= 512, f["Id"]
        assert f["SchemaVersion"] == "2018-10-08"
        assert f["Severity"]["Label"] in {"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}
        for t in f["Types"]:
            parts = t.split("/")
            assert 2 <= len(parts) <= 3 and parts[0] in namespaces, t
        for field in ("CreatedAt", "UpdatedAt"):
            datetime.datetime.fromisoformat(f[field].replace("Z", "+00:00"))
        assert f["CreatedAt"] <= f["UpdatedAt"], f["Id"]
        assert 1 <= len(f["Resources"]) <= 32 and len(f["Compliance"].get("RelatedRequirements", [])) <= 32
    assert len({f["Id"] for f in findings}) == len(findings), "ids are unique"
    print(len(findings))
elif action == "delete":
    sts = boto3.client("sts")
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{sys.argv[3]}:role/setup", RoleSessionName="setup")["Credentials"]
    iam = boto3.client("iam", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    iam.delete_access_key(UserName=sys.argv[4], AccessKeyId=sys.argv[5])
elif action == "ocsf":
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
    events = json.load(open(sys.argv[3]))
    for event in events:
        ComplianceFinding.model_validate(event)
        assert event["class_uid"] == 2003 and event["type_uid"] == 200301, event
        assert event["compliance"]["status_id"] == 3 and event["finding_info"]["created_time"] > 0
    print(json.dumps(sorted(e["finding_info"]["uid"] for e in events)))
elif action == "hub":
    found = [f for page in hub.get_paginator("get_findings").paginate() for f in page["Findings"]]
    print(json.dumps({f["Id"]: [f["RecordState"], f.get("Workflow", {}).get("Status"), f["Compliance"]["Status"]] for f in found}))
"#;

/// Issue 35, point 4: the findings in ASFF, checked against AWS's model, pushed to the
/// management account's Security Hub; after a fix, the next push resolves what no
/// longer holds, read back with GetFindings.
#[test]
fn findings_go_to_security_hub_and_what_was_fixed_is_resolved() {
    let org = organization();
    let creds = org.management.to_string();
    let hub = |args: &[&str]| {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        run_python(HUB, &args, &moto().boto3_env())
    };
    hub(&["enable", &creds]);
    let prod = org.member("prod").to_owned();
    let base = [
        "audit",
        "--via",
        "mgmt",
        "--accounts",
        &prod,
        "--role",
        ROLE,
    ];
    let audit = |extra: &[&str]| org.home.rekey(&[&base[..], extra].concat());
    let push = |output: &str| audit(&["--push", "security-hub", "--output", output]);
    let asked = org.proxy.count("GetCallerIdentity");
    let first = push("asff").code(0);
    // Whose the signer is, asked once: for the audit's account and the hub's.
    assert_eq!(org.proxy.count("GetCallerIdentity") - asked, 1);
    assert!(
        first.stderr.contains(":product/") && first.stderr.contains("of earlier runs resolved"),
        "{}",
        first.stderr
    );
    let file = org.home.path("findings.asff.json");
    std::fs::write(&file, &first.stdout).unwrap();
    let checked: usize = hub(&["check", &creds, file.to_str().unwrap()])
        .trim()
        .parse()
        .unwrap();
    let findings: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(findings.as_array().unwrap().len(), checked);
    let two = org.keys["two_active"].as_array().unwrap();
    let (kept, deleted) = (two[0].as_str().unwrap(), two[1].as_str().unwrap());
    let id = |key: &str, finding: &str| format!("rekey/audit/{prod}/{key}/{finding}");
    let finding = |key: &str| {
        (findings.as_array().unwrap().iter())
            .find(|f| f["Id"] == id(key, "two_active_keys"))
            .unwrap_or_else(|| panic!("no two_active_keys finding of {key}: {findings}"))
            .clone()
    };
    let told = finding(kept);
    assert_eq!(told["Severity"]["Label"], "MEDIUM");
    assert_eq!(told["Resources"][0]["Type"], "AwsIamAccessKey");
    assert_eq!(told["Compliance"]["Status"], "FAILED");
    let requirements = told["Compliance"]["RelatedRequirements"].to_string();
    assert!(
        requirements.contains("CIS AWS Foundations Benchmark v3.0.0/1.13"),
        "{told}"
    );
    let in_hub: serde_json::Value = serde_json::from_str(&hub(&["hub", &creds])).unwrap();
    assert_eq!(in_hub.as_object().unwrap().len(), checked, "{in_hub}");
    // The same findings as OCSF Compliance Findings, checked against OCSF 1.5's model.
    let ocsf = audit(&["--output", "ocsf"]).code(0);
    let file = org.home.path("findings.ocsf.json");
    std::fs::write(&file, &ocsf.stdout).unwrap();
    let uids: Vec<String> =
        serde_json::from_str(&hub(&["ocsf", &creds, file.to_str().unwrap()])).unwrap();
    let mut ids: Vec<String> = (findings.as_array().unwrap().iter())
        .map(|f| f["Id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(uids, ids);
    assert_eq!(in_hub[id(kept, "two_active_keys")][0], "ACTIVE");

    // The user keeps one key: both two_active_keys findings are over.
    hub(&["delete", &creds, &prod, "two-active", deleted]);
    let second = push("json").code(0).json();
    let pushed = &second["security_hub"];
    assert_eq!(pushed["resolved"], 2, "{pushed}");
    assert_eq!(pushed["imported"], checked - 2, "{pushed}");
    let in_hub: serde_json::Value = serde_json::from_str(&hub(&["hub", &creds])).unwrap();
    for key in [kept, deleted] {
        let state = &in_hub[id(key, "two_active_keys")];
        assert_eq!(
            state,
            &serde_json::json!(["ARCHIVED", "RESOLVED", "PASSED"]),
            "{in_hub}"
        );
    }
    let inactive = &in_hub[id(org.key("inactive"), "inactive_not_deleted")];
    assert_eq!(inactive[0], "ACTIVE", "still holds: {in_hub}");
    // A third run resolves nothing more: archived findings are not asked again.
    let third = push("json").code(0).json();
    assert_eq!(third["security_hub"]["resolved"], 0, "{third}");
}

/// Headless Chromium (Debian's `chromium`, installed by scripts/setup-system) run on
/// `address` with `args` (a profile of its own in `home`): what it printed.
fn chromium(home: &Home, args: &[&str], address: String) -> String {
    let out = std::process::Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .arg(format!(
            "--user-data-dir={}",
            home.path("chromium").display()
        ))
        .args(args)
        .arg(address)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run chromium ({e}): run ./scripts/setup-system (Debian's chromium)")
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page of `--output html` as the browser renders it after its script ran: the
/// DOM, with `hash` in the address (`filter=…&sort=…`).
fn rendered(page: &std::path::Path, hash: &str, home: &Home) -> String {
    chromium(
        home,
        &["--dump-dom"],
        format!("file://{}#{hash}", page.display()),
    )
}

/// The findings rows a rendered page shows (not hidden by the filter), in order.
fn shown_rows(dom: &str) -> Vec<&str> {
    (dom.split("<tr class=\"finding").skip(1))
        .filter(|row| !row[..row.find('>').unwrap()].contains("hidden"))
        .collect()
}

/// Issue 35, point 5: one self-contained page, loaded in a real browser: every finding a
/// row, the filter and the sort done by its script, the chart counting every active key,
/// nothing fetched from anywhere. `REKEY_BLESS=1` keeps its screenshot in docs/.
#[test]
fn the_html_report_opens_offline_in_a_browser_sorted_and_filtered() {
    let org = organization();
    let html = org
        .home
        .rekey_later(2400, &audit_args(&["--output", "html"]))
        .code(1)
        .stdout;
    let json = org
        .home
        .rekey_later(2400, &audit_args(&["--output", "json"]))
        .code(1)
        .json();
    assert!(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"));
    for outside in ["src=", "href=", "url(", "@import", "http://", "https://"] {
        assert!(
            !html.contains(outside),
            "the page refers outside ({outside})"
        );
    }
    assert!(html.contains(&format!(
        "{} (norole)</td><td colspan",
        org.member("norole")
    )));
    let page = org.home.path("audit.html");
    std::fs::write(&page, &html).unwrap();

    let dom = rendered(&page, "", &org.home);
    assert!(dom.contains("data-ready=\"yes\""), "the script ran");
    let keys: Vec<&serde_json::Value> = (json["accounts"].as_array().unwrap().iter())
        .flat_map(|a| a["keys"].as_array().unwrap())
        .collect();
    let findings: usize = (keys.iter().copied().chain(credentials(&json)))
        .map(|k| k["findings"].as_array().unwrap().len())
        .sum();
    assert_eq!(shown_rows(&dom).len(), findings, "a row per finding");
    let active = keys.iter().filter(|k| k["active"] == true).count();
    let charted: usize = (dom.split("data-count=\"").skip(1))
        .map(|s| s[..s.find('"').unwrap()].parse::<usize>().unwrap())
        .sum();
    assert_eq!(charted, active, "the chart counts every active key");

    let filtered = rendered(&page, "filter=two_active_keys", &org.home);
    let rows = shown_rows(&filtered);
    assert_eq!(rows.len(), 2, "the two keys of user two-active");
    assert!(rows.iter().all(|r| r.contains(">two-active<")));
    assert!(filtered.contains("<span id=\"shown\">2</span>"));
    // By age, oldest first: the first row is as old as the oldest key with a finding.
    let sorted = rendered(&page, "sort=5&desc", &org.home);
    let age = |row: &str| -> u64 {
        let cell = row.split("<td").nth(6).unwrap();
        let value = cell.split("data-sort=\"").nth(1).unwrap();
        value[..value.find('"').unwrap()].parse().unwrap()
    };
    let ages: Vec<u64> = shown_rows(&sorted).iter().map(|r| age(r)).collect();
    assert!(ages.windows(2).all(|w| w[0] >= w[1]), "{ages:?}");

    let shot = org.home.path("audit.png");
    let screenshot = format!("--screenshot={}", shot.display());
    let args = ["--hide-scrollbars", "--window-size=1280,1500", &screenshot];
    chromium(&org.home, &args, format!("file://{}", page.display()));
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    if std::env::var_os("REKEY_BLESS").is_some() {
        std::fs::write(repo().join("docs/audit-report.png"), &png).unwrap();
    }
}
