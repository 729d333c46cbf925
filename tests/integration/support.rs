//! Test support: a real IAM/STS emulator (moto) and a throwaway home to run rekey in.
//!
//! `Home::new().rekey(&["apply", "--yes"]).success()` runs the real binary with HOME, the
//! AWS shared files and the state dir inside a temp folder, against moto on 127.0.0.1.
//! Every `Home` checks, when dropped, that no secret it saw ever appeared in rekey's
//! output.
//!
//! Facts about moto 5.2 these tests rely on: it accepts any signature (auth is not
//! enforced), so `GetCallerIdentity` answers for whichever key signed the request; it
//! does not reject Inactive keys, so key status is asserted with `ListAccessKeys`; and
//! it enforces IAM's two-keys-per-user limit.

#![allow(dead_code)]

use std::cell::RefCell;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;

const MISSING_MOTO: &str = "moto (the IAM emulator the tests need) is not installed.\n\
    Run the test command from the README, which installs it:  ./scripts/test\n\
    or install it by hand:  python3 -m venv target/moto-venv && target/moto-venv/bin/pip install -r tests/requirements.txt\n\
    (set REKEY_TEST_PYTHON to use another Python that has moto[server] installed)";

/// A moto server shared by every test of this binary; it exits when the tests do
/// (its stdin is a pipe held here, and it stops when the pipe closes).
pub struct Moto {
    pub endpoint: String,
    _child: Child,
    _stdin: ChildStdin,
}

pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| start_moto(&[]).0)
}

/// A second moto, started `--checked`: AWS's managed policies loaded, every request's
/// signature checked and its action evaluated against the signer's policies (an
/// explicit Deny wins, a deleted key is refused), as AWS does. Its one administrator's
/// key (AdministratorAccess) signs the tests' own calls. Shared by the tests that need
/// AWS's quarantine policy enforced; the others keep the first, unchecked one.
pub struct CheckedMoto {
    pub moto: Moto,
    pub admin: TestKey,
}

pub fn checked_moto() -> &'static CheckedMoto {
    static CHECKED: OnceLock<CheckedMoto> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let (moto, admin) = start_moto(&["--checked"]);
        let admin = admin.expect("moto --checked prints its administrator's key");
        CheckedMoto { moto, admin }
    })
}

impl CheckedMoto {
    /// An IAM client signing as the administrator.
    pub fn iam(&self) -> aws_sdk_iam::Client {
        let config = block_on(async {
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(&self.moto.endpoint)
                .credentials_provider(Credentials::new(
                    &self.admin.id,
                    &self.admin.secret,
                    None,
                    None,
                    "test",
                ))
                .load()
                .await
        });
        aws_sdk_iam::Client::new(&config)
    }

    /// A user allowed everything (an inline `*` policy, as a user managing its own
    /// keys might have), with one key.
    pub fn create_user(&self, name: &str) -> TestKey {
        let iam = self.iam();
        block_on(iam.create_user().user_name(name).send()).unwrap();
        let everything = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let put = iam
            .put_user_policy()
            .user_name(name)
            .policy_name("everything")
            .policy_document(everything);
        block_on(put.send()).unwrap();
        let key = block_on(iam.create_access_key().user_name(name).send())
            .unwrap()
            .access_key
            .unwrap();
        TestKey {
            id: key.access_key_id,
            secret: key.secret_access_key,
        }
    }

    /// Attaches the AWS-managed policy `name` to `user`, as AWS does on a leak.
    pub fn attach(&self, user: &str, name: &str) {
        let arn = format!("arn:aws:iam::aws:policy/{name}");
        let attach = self
            .iam()
            .attach_user_policy()
            .user_name(user)
            .policy_arn(arn);
        block_on(attach.send()).unwrap();
    }

    /// The names of the managed policies attached to `user`.
    pub fn attached(&self, user: &str) -> Vec<String> {
        let out = block_on(
            self.iam()
                .list_attached_user_policies()
                .user_name(user)
                .send(),
        )
        .unwrap();
        out.attached_policies()
            .iter()
            .filter_map(|p| p.policy_name().map(str::to_owned))
            .collect()
    }

    /// The user's keys as (id, active), sorted by id.
    pub fn keys(&self, user: &str) -> Vec<(String, bool)> {
        let out = block_on(self.iam().list_access_keys().user_name(user).send()).unwrap();
        let mut keys: Vec<(String, bool)> = out
            .access_key_metadata()
            .iter()
            .map(|k| {
                let active = k.status() == Some(&aws_sdk_iam::types::StatusType::Active);
                (k.access_key_id().unwrap_or_default().to_owned(), active)
            })
            .collect();
        keys.sort();
        keys
    }
}

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The test virtualenv's Python (moto, python-dotenv).
pub fn python() -> PathBuf {
    let python = std::env::var_os("REKEY_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/moto-venv/bin/python"));
    assert!(
        python.exists(),
        "{MISSING_MOTO}\n(looked for {})",
        python.display()
    );
    python
}

/// Runs the test virtualenv's Python on `script` with `args` (and `env` added); its
/// stdout. It must succeed (its stderr is shown if it does not).
pub fn run_python(script: &str, args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new(python())
        .args(["-c", script])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts moto_server.py with `args`; with `--checked`, also the administrator's key
/// it prints on its second line.
fn start_moto(args: &[&str]) -> (Moto, Option<TestKey>) {
    let python = python();
    let mut child = Command::new(&python)
        .arg(repo().join("tests/support/moto_server.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}\n{MISSING_MOTO}", python.display()));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || tx.send(line).is_err() {
                return;
            }
        }
    });
    let line = || {
        rx.recv_timeout(Duration::from_secs(90))
            .expect("moto did not report within 90s")
    };
    let port = line()
        .trim()
        .parse::<u16>()
        .unwrap_or_else(|_| panic!("moto did not start\n{MISSING_MOTO}"));
    let admin = args.contains(&"--checked").then(|| {
        let line = line();
        let (id, secret) = line.trim().split_once(' ').expect("id and secret");
        TestKey {
            id: id.to_owned(),
            secret: secret.to_owned(),
        }
    });
    let moto = Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        _stdin: child.stdin.take().unwrap(),
        _child: child,
    };
    (moto, admin)
}

const MISSING_SECRET_SERVICE: &str =
    "the keyring tests need a real Secret Service: dbus-daemon, gnome-keyring and secret-tool.\n\
    Run the test command from the README, which installs them:  ./scripts/test\n\
    or install them by hand:  sudo apt-get install dbus-daemon gnome-keyring libsecret-tools";

/// A private D-Bus session with gnome-keyring's Secret Service, shared by the keyring
/// tests and stopped when they exit. Its address is also set in this process's
/// environment, so the keyring crate used in-process finds it too.
pub struct SecretService {
    pub address: String,
    _child: Child,
    _stdin: ChildStdin,
}

pub fn secret_service() -> &'static SecretService {
    static SERVICE: OnceLock<SecretService> = OnceLock::new();
    SERVICE.get_or_init(|| {
        for tool in ["dbus-daemon", "gnome-keyring-daemon", "secret-tool"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .unwrap();
            assert!(
                found.status.success(),
                "`{tool}` is missing.\n{MISSING_SECRET_SERVICE}"
            );
        }
        let mut child = Command::new(repo().join("tests/support/secret_service.sh"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start the Secret Service: {e}\n{MISSING_SECRET_SERVICE}")
            });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("address=") {
                    let _ = tx.send(address.to_owned());
                    break;
                }
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!("the Secret Service did not start within 30s\n{MISSING_SECRET_SERVICE}")
            });
        // Set once, before any keyring use in this process (the keyring crate reads it
        // when it first connects); every thread sees the same value.
        std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &address);
        SecretService {
            address,
            _stdin: child.stdin.take().unwrap(),
            _child: child,
        }
    })
}

impl SecretService {
    /// What the Secret Service holds for (service, account), read with `secret-tool`
    /// (libsecret), not through rekey or the keyring crate.
    pub fn lookup(&self, service: &str, account: &str) -> Option<String> {
        let out = Command::new("secret-tool")
            .args(["lookup", "service", service, "username", account])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap())
    }

    /// Stores `value` for (service, account) with `secret-tool`.
    pub fn store(&self, service: &str, account: &str, value: &str) {
        use std::io::Write;
        let mut child = Command::new("secret-tool")
            .args([
                "store",
                "--label=rekey test",
                "service",
                service,
                "username",
                account,
            ])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(value.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Runtime::new().unwrap())
}

/// Runs a future to completion on the shared test runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    runtime().block_on(f)
}

/// An access key as the tests see it (secrets are plain strings here on purpose).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestKey {
    pub id: String,
    pub secret: String,
}

/// A name no other test uses (tests share one moto).
pub fn unique(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{name}-{}", N.fetch_add(1, Ordering::SeqCst))
}

async fn config(key: &TestKey) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto().endpoint)
        .credentials_provider(Credentials::new(&key.id, &key.secret, None, None, "test"))
        .load()
        .await
}

/// An IAM client signing with `key` at `endpoint` (a proxy), as a program holding the
/// key would call: an attacker's, in the leak response's tests.
pub fn iam_as(key: &TestKey, endpoint: &str) -> aws_sdk_iam::Client {
    let config = block_on(async {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(&key.id, &key.secret, None, None, "test"))
            .load()
            .await
    });
    aws_sdk_iam::Client::new(&config)
}

fn admin() -> aws_sdk_iam::Client {
    let key = TestKey {
        id: "AKIAADMIN0000000000".into(),
        secret: "admin".into(),
    };
    aws_sdk_iam::Client::new(&block_on(config(&key)))
}

fn admin_s3() -> aws_sdk_s3::Client {
    let key = TestKey {
        id: "AKIAADMIN0000000000".into(),
        secret: "admin".into(),
    };
    let sdk = block_on(config(&key));
    let config = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

impl Moto {
    /// Creates an S3 bucket (for `state: s3://…`).
    pub fn create_bucket(&self, bucket: &str) {
        block_on(admin_s3().create_bucket().bucket(bucket).send()).unwrap();
    }

    /// The text of an S3 object, if it exists.
    pub fn object(&self, bucket: &str, key: &str) -> Option<String> {
        let out = block_on(admin_s3().get_object().bucket(bucket).key(key).send()).ok()?;
        let bytes = block_on(out.body.collect()).unwrap().into_bytes();
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// How S3 says the object is encrypted at rest (`aws:kms`, `AES256`) and with which
    /// KMS key, if it exists.
    pub fn object_encryption(&self, bucket: &str, key: &str) -> Option<(String, Option<String>)> {
        let out = block_on(admin_s3().head_object().bucket(bucket).key(key).send()).ok()?;
        let how = out.server_side_encryption?.as_str().to_owned();
        Some((how, out.ssekms_key_id))
    }

    /// Writes an S3 object (as another machine would).
    pub fn put_object(&self, bucket: &str, key: &str, text: &str) {
        self.put_tagged_object(bucket, key, text, None);
    }

    /// Writes an S3 object with a journal copy's `rekey-tag` metadata.
    pub fn put_tagged_object(&self, bucket: &str, key: &str, text: &str, tag: Option<&str>) {
        let body = aws_sdk_s3::primitives::ByteStream::from(text.as_bytes().to_vec());
        let request = admin_s3().put_object().bucket(bucket).key(key).body(body);
        let request = match tag {
            Some(tag) => request.metadata("rekey-tag", tag),
            None => request,
        };
        block_on(request.send()).unwrap();
    }

    /// An S3 object's `rekey-tag` metadata, if it exists and has one.
    pub fn object_tag(&self, bucket: &str, key: &str) -> Option<String> {
        let out = block_on(admin_s3().head_object().bucket(bucket).key(key).send()).ok()?;
        out.metadata()?.get("rekey-tag").cloned()
    }

    /// Creates a user with one access key.
    pub fn create_user(&self, name: &str) -> TestKey {
        block_on(admin().create_user().user_name(name).send()).unwrap();
        self.create_key(name)
    }

    /// Creates another access key for `user`.
    pub fn create_key(&self, user: &str) -> TestKey {
        let out = block_on(admin().create_access_key().user_name(user).send()).unwrap();
        let key = out.access_key.unwrap();
        TestKey {
            id: key.access_key_id,
            secret: key.secret_access_key,
        }
    }

    /// The user's keys as (id, active), sorted by id.
    pub fn keys(&self, user: &str) -> Vec<(String, bool)> {
        let out = block_on(admin().list_access_keys().user_name(user).send()).unwrap();
        let mut keys: Vec<_> = out
            .access_key_metadata
            .into_iter()
            .map(|k| {
                (
                    k.access_key_id.unwrap(),
                    k.status == Some(aws_sdk_iam::types::StatusType::Active),
                )
            })
            .collect();
        keys.sort();
        keys
    }

    /// The ids of `user`'s Active keys.
    pub fn active_keys(&self, user: &str) -> Vec<String> {
        let keys = self.keys(user).into_iter();
        keys.filter(|(_, active)| *active)
            .map(|(id, _)| id)
            .collect()
    }

    pub fn set_active(&self, user: &str, key_id: &str, active: bool) {
        let status = if active { "Active" } else { "Inactive" };
        block_on(
            admin()
                .update_access_key()
                .user_name(user)
                .access_key_id(key_id)
                .status(status.into())
                .send(),
        )
        .unwrap();
    }

    /// Deletes one of `user`'s keys (as a person would in the console).
    pub fn delete_key(&self, user: &str, key_id: &str) {
        block_on(
            admin()
                .delete_access_key()
                .user_name(user)
                .access_key_id(key_id)
                .send(),
        )
        .unwrap();
    }

    /// The user a key belongs to (IAM's answer with its last use), if it exists.
    pub fn user_of_key(&self, key_id: &str) -> Option<String> {
        let out = block_on(
            admin()
                .get_access_key_last_used()
                .access_key_id(key_id)
                .send(),
        )
        .ok()?;
        out.user_name
    }

    /// Whether role `name` exists in `account` (moto lets anyone assume any role, so
    /// the fault proxy asks this before it lets an AssumeRole through, as AWS would).
    pub fn role_exists(&self, account: &str, name: &str) -> bool {
        let key = TestKey {
            id: "AKIAADMIN0000000000".into(),
            secret: "admin".into(),
        };
        let sts = aws_sdk_sts::Client::new(&block_on(config(&key)));
        let probe = format!("arn:aws:iam::{account}:role/rekey-test-probe");
        let out = block_on(
            sts.assume_role()
                .role_arn(probe)
                .role_session_name("probe")
                .send(),
        )
        .unwrap();
        let c = out.credentials.unwrap();
        let credentials = Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            None,
            "probe",
        );
        let iam = aws_sdk_iam::Client::new(&block_on(config_at(&self.endpoint, credentials)));
        block_on(iam.get_role().role_name(name).send()).is_ok()
    }

    /// The names of the user's inline policies, sorted.
    pub fn policy_names(&self, user: &str) -> Vec<String> {
        self.user_policies(user)
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// The role's inline policies' names, sorted.
    pub fn role_policy_names(&self, role: &str) -> Vec<String> {
        let out = block_on(admin().list_role_policies().role_name(role).send()).unwrap();
        let mut names = out.policy_names;
        names.sort();
        names
    }

    /// Whether `user` has a console password (a login profile).
    pub fn has_login_profile(&self, user: &str) -> bool {
        block_on(admin().get_login_profile().user_name(user).send()).is_ok()
    }

    /// The user's inline policies as (name, document), sorted by name.
    pub fn user_policies(&self, user: &str) -> Vec<(String, String)> {
        let names = block_on(admin().list_user_policies().user_name(user).send()).unwrap();
        let mut policies: Vec<_> = names
            .policy_names
            .into_iter()
            .map(|name| {
                let out = block_on(
                    admin()
                        .get_user_policy()
                        .user_name(user)
                        .policy_name(&name)
                        .send(),
                )
                .unwrap();
                // IAM answers the document URL-encoded.
                (name, crate::proxy::form_decode(&out.policy_document))
            })
            .collect();
        policies.sort();
        policies
    }

    /// The user's tags as (key, value), sorted.
    pub fn tags(&self, user: &str) -> Vec<(String, String)> {
        let out = block_on(admin().list_user_tags().user_name(user).send()).unwrap();
        let mut tags: Vec<_> = out.tags.into_iter().map(|t| (t.key, t.value)).collect();
        tags.sort();
        tags
    }

    /// Tags `user` (as another machine, or an operator, would).
    pub fn tag_user(&self, user: &str, key: &str, value: &str) {
        let tag = aws_sdk_iam::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .unwrap();
        block_on(admin().tag_user().user_name(user).tags(tag).send()).unwrap();
    }

    /// An IAM call signed with `key` (ListAccessKeys of `user`), as a machine still
    /// using it would make: IAM records it as the key's last use.
    pub fn use_key(&self, key: &TestKey, user: &str) {
        let iam = aws_sdk_iam::Client::new(&block_on(config(key)));
        block_on(iam.list_access_keys().user_name(user).send()).unwrap();
    }

    /// Creates (or overwrites) a Secrets Manager secret holding `value`.
    pub fn put_secret(&self, name: &str, value: &str) {
        let script = "import boto3, sys\nc = boto3.client('secretsmanager')\ntry:\n    c.create_secret(Name=sys.argv[1], SecretString=sys.argv[2])\nexcept c.exceptions.ResourceExistsException:\n    c.put_secret_value(SecretId=sys.argv[1], SecretString=sys.argv[2])";
        run_python(script, &[name.as_ref(), value.as_ref()], &self.boto3_env());
    }

    /// The current value of a Secrets Manager secret.
    pub fn secret(&self, name: &str) -> String {
        self.secret_at(name, "AWSCURRENT")
            .expect("the secret has a current version")
    }

    /// The value of secret `name`'s version staged `stage`, if one is.
    pub fn secret_at(&self, name: &str, stage: &str) -> Option<String> {
        let script = "import boto3, sys\ntry: print(boto3.client('secretsmanager').get_secret_value(SecretId=sys.argv[1], VersionStage=sys.argv[2])['SecretString'])\nexcept boto3.client('secretsmanager').exceptions.ResourceNotFoundException: print('')";
        let value = run_python(script, &[name.as_ref(), stage.as_ref()], &self.boto3_env());
        Some(value.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// The environment boto3 needs to reach this moto.
    pub fn boto3_env(&self) -> [(&str, &str); 4] {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIATEST000000000000"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ]
    }

    /// The ARN STS reports for a request signed with `key`.
    pub fn whoami(&self, key: &TestKey) -> String {
        let sts = aws_sdk_sts::Client::new(&block_on(config(key)));
        block_on(sts.get_caller_identity().send())
            .unwrap()
            .arn
            .unwrap()
    }

    pub fn user_arn(&self, user: &str) -> String {
        format!("arn:aws:iam::123456789012:user/{user}")
    }
}

/// Temporary credentials from `GetSessionToken`, asked with `key` through `endpoint`
/// (as a script holding a leaked key would open them).
pub fn session_with(endpoint: &str, key: &TestKey) -> Credentials {
    let sts = aws_sdk_sts::Client::new(&block_on(config_at(endpoint, key_credentials(key))));
    let out = block_on(sts.get_session_token().send()).unwrap();
    let c = out.credentials.unwrap();
    Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        None,
        "test-session",
    )
}

/// `iam:ListAccessKeys` of `user` signed with `credentials` through `endpoint`: the
/// error's code and message if refused.
pub fn list_keys_as(endpoint: &str, credentials: Credentials, user: &str) -> Result<(), String> {
    let iam = aws_sdk_iam::Client::new(&block_on(config_at(endpoint, credentials)));
    block_on(iam.list_access_keys().user_name(user).send())
        .map(drop)
        .map_err(|e| aws_sdk_iam::error::DisplayErrorContext(e).to_string())
}

fn key_credentials(key: &TestKey) -> Credentials {
    Credentials::new(&key.id, &key.secret, None, None, "test")
}

async fn config_at(endpoint: &str, credentials: Credentials) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

/// A user's keys as `Moto::keys` lists them (sorted), from (id, active) pairs.
pub fn key_set(keys: &[(&str, bool)]) -> Vec<(String, bool)> {
    let mut set: Vec<(String, bool)> = keys
        .iter()
        .map(|(id, active)| (id.to_string(), *active))
        .collect();
    set.sort();
    set
}

/// A credentials-file section holding `key`.
pub fn section(name: &str, key: &TestKey) -> String {
    format!(
        "[{name}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        key.id, key.secret
    )
}

/// A `.env` holding `key` in the default variables.
pub fn env_text(key: &TestKey) -> String {
    format!(
        "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
        key.id, key.secret
    )
}

/// The access key id a `.env` text holds.
pub fn env_key_id(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("AWS_ACCESS_KEY_ID="))
        .expect("the .env holds a key id")
        .to_owned()
}

/// The key in `[section]` of credentials-file `text` (simple `k = v` lines only).
pub fn key_in(text: &str, section: &str) -> Option<TestKey> {
    let mut current = None;
    let (mut id, mut secret) = (None, None);
    for line in text.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            current = header
                .split_once(']')
                .map(|(name, _)| name.trim().to_owned());
            continue;
        }
        if current.as_deref() != Some(section) {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            // Keys hold no whitespace; anything after it is an inline comment.
            let value = v.split_whitespace().next().unwrap_or_default().to_owned();
            match k.trim() {
                "aws_access_key_id" => id = Some(value),
                "aws_secret_access_key" => secret = Some(value),
                _ => {}
            }
        }
    }
    Some(TestKey {
        id: id?,
        secret: secret?,
    })
}

/// The fleet key every `Home` runs with (`REKEY_FLEET_KEY`): the tests' homes are the
/// machines of one fleet, unless a test gives one another key.
pub const FLEET_KEY: &str = "rekey-tests-fleet-key-0123456789abcdef";

/// The tag a machine with the fleet key `key` gives the journal copy `name` (relative
/// to the shared state's `state/` folder) holding `text`: HMAC-SHA256, as rekey makes it.
pub fn fleet_tag(key: &str, name: &str, text: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("rekey journal copy v1\n{name}\n").as_bytes());
    mac.update(text.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A temporary home: `~/.aws/credentials`, `~/.aws/config`, a state dir, a project dir.
pub struct Home {
    dir: tempfile::TempDir,
    /// Where rekey sends AWS requests (moto, or a fault proxy in front of it).
    endpoint: RefCell<Option<String>>,
    outputs: RefCell<Vec<String>>,
    secrets: RefCell<Vec<String>>,
}

impl Home {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".aws")).unwrap();
        std::fs::create_dir_all(dir.path().join("project")).unwrap();
        Self {
            dir,
            endpoint: RefCell::default(),
            outputs: RefCell::default(),
            secrets: RefCell::default(),
        }
    }

    /// Sends rekey's AWS requests to `endpoint` (a fault proxy) instead of moto.
    pub fn via(self, endpoint: &str) -> Self {
        *self.endpoint.borrow_mut() = Some(endpoint.to_owned());
        self
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn credentials_path(&self) -> PathBuf {
        self.path(".aws/credentials")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    /// Writes the shared credentials file (mode 0600), remembering its secrets.
    pub fn write_credentials(&self, text: &str) {
        self.write(".aws/credentials", text);
    }

    /// Writes a file under the home (mode 0600), remembering any secrets in it. A
    /// manifest (a `.yaml` file with `profiles:`) is trusted as the user would after
    /// reading it (`rekey trust`): the tests of what an untrusted one does use
    /// [`Home::write_untrusted`].
    pub fn write(&self, relative: &str, text: &str) {
        self.write_untrusted(relative, text);
        let manifest = relative.ends_with(".yaml") && text.contains("profiles:");
        if manifest {
            // A malformed manifest cannot be trusted; the run that reads it says why.
            let path = self.path(relative);
            self.command(Command::new(env!("CARGO_BIN_EXE_rekey")))
                .args(["trust", path.to_str().unwrap()])
                .stdin(Stdio::null())
                .output()
                .unwrap();
        }
    }

    /// Writes a file under the home (mode 0600), remembering any secrets in it, and
    /// trusts nothing.
    pub fn write_untrusted(&self, relative: &str, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        self.remember_secrets_in(text);
    }

    pub fn read(&self, relative: &str) -> String {
        let text = std::fs::read_to_string(self.path(relative)).unwrap();
        self.remember_secrets_in(&text);
        text
    }

    pub fn credentials(&self) -> String {
        self.read(".aws/credentials")
    }

    fn remember_secrets_in(&self, text: &str) {
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                let value = v.split_whitespace().next().unwrap_or_default();
                if k.trim().eq_ignore_ascii_case("aws_secret_access_key") && value.len() >= 8 {
                    self.secrets.borrow_mut().push(value.to_owned());
                }
            }
        }
    }

    /// A run of `rekey ARGS` in `~/project` with this home's environment, to adjust
    /// (another folder, more variables, the test clock, stdin) before it runs: the one
    /// place a test's rekey command is built.
    pub fn run<'h>(&'h self, args: &[&str]) -> RekeyRun<'h> {
        RekeyRun {
            home: self,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: Vec::new(),
            dir: None,
            program: None,
        }
    }

    /// Runs `rekey ARGS` in `~/project` with this home's environment and no terminal.
    pub fn rekey(&self, args: &[&str]) -> Run {
        self.run(args).output()
    }

    /// Runs `command` (`args`, as recorded) with `input` on its stdin, a pipe;
    /// `needs` says what to install if it cannot start.
    fn run_fed(&self, command: &mut Command, input: &str, args: &[&str], needs: &str) -> Run {
        use std::io::Write;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {needs}: {e}"));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        self.record(Run::from(output, args))
    }

    /// Runs `bash -c SCRIPT` in `~/project` with this home's environment and the rekey
    /// under test first on PATH, as a user's shell would find it.
    pub fn bash(&self, script: &str) -> Run {
        let mut command = self.command(Command::new("bash"));
        let bin = Path::new(env!("CARGO_BIN_EXE_rekey")).parent().unwrap();
        let mut path = std::ffi::OsString::from(bin);
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        command.env("PATH", path).args(["-c", script]);
        let output = command
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot start bash (install it): {e}"));
        self.record(Run::from(output, &["bash", "-c", script]))
    }

    /// `rekey ARGS` as if `hours` had passed, for rekey and for AWS alike (the
    /// `test-clock` feature's `REKEY_TEST_CLOCK_OFFSET`): grace and overlap periods end
    /// without being waited out.
    pub fn rekey_later(&self, hours: u64, args: &[&str]) -> Run {
        let run = self.run(args).later(hours).output();
        assert!(
            run.code.is_some(),
            "build with --features rekey/test-clock (./scripts/test does)"
        );
        run
    }

    /// `rekey ARGS` without the capabilities that let root read any file
    /// (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH; util-linux's `setpriv`): the tests run as
    /// root, for whom a mode-000 folder is otherwise readable.
    pub fn rekey_without_dac_override(&self, args: &[&str]) -> Run {
        let setpriv = [
            "setpriv",
            "--inh-caps=-all",
            "--bounding-set=-dac_override,-dac_read_search",
        ];
        self.run(args).through(&setpriv).output()
    }

    /// Waits for a run [`RekeyRun::start`] started (`args`, as recorded).
    pub fn finish(&self, child: Child, args: &[&str]) -> Run {
        self.record(Run::from(child.wait_with_output().unwrap(), args))
    }

    /// A run [`RekeyRun::start`] started whose output the test collected
    /// itself (`args`, as recorded).
    pub fn finish_output(&self, output: std::process::Output, args: &[&str]) -> Run {
        self.record(Run::from(output, args))
    }

    /// Runs `rekey ARGS` whose stdout is a secret by design (`credential-process`): the
    /// output is not added to what `Home` checks for leaked secrets.
    pub fn rekey_revealing(&self, args: &[&str]) -> Run {
        let output = self
            .run(args)
            .command()
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let run = Run::from(output, args);
        self.outputs.borrow_mut().push(run.stderr.clone());
        run
    }

    /// Runs `rekey ARGS` on a pseudo-terminal (util-linux `script`), typing `input`.
    /// The terminal echoes the input and merges stderr into stdout.
    pub fn rekey_on_terminal(&self, args: &[&str], input: &str) -> Run {
        self.rekey_on_terminal_with_env(&[], args, input)
    }

    /// [`Home::rekey_on_terminal`] with extra environment variables.
    pub fn rekey_on_terminal_with_env(
        &self,
        env: &[(&str, &str)],
        args: &[&str],
        input: &str,
    ) -> Run {
        let line = std::iter::once(env!("CARGO_BIN_EXE_rekey"))
            .chain(args.iter().copied())
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut command = self.command(Command::new("script"));
        command.envs(env.iter().copied());
        command.args(["--quiet", "--return", "--command", &line, "/dev/null"]);
        self.run_fed(
            &mut command,
            input,
            args,
            "`script` (util-linux), which runs rekey on a terminal: apt-get install bsdutils",
        )
    }

    fn record(&self, run: Run) -> Run {
        self.outputs
            .borrow_mut()
            .push(format!("{}\n{}", run.stdout, run.stderr));
        run
    }

    fn command(&self, mut command: Command) -> Command {
        command
            .current_dir(self.path("project"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_SHARED_CREDENTIALS_FILE", self.credentials_path())
            .env("AWS_CONFIG_FILE", self.path(".aws/config"))
            .env("REKEY_STATE_DIR", self.state_dir())
            // Every home is a machine of one fleet: their journal copies verify.
            .env("REKEY_FLEET_KEY", FLEET_KEY)
            .env(
                "AWS_ENDPOINT_URL",
                self.endpoint
                    .borrow()
                    .clone()
                    .unwrap_or_else(|| moto().endpoint.clone()),
            );
        if let Ok(address) = std::env::var("DBUS_SESSION_BUS_ADDRESS") {
            command.env("DBUS_SESSION_BUS_ADDRESS", address);
        }
        command
    }

    /// The state of each sink of the first profile, as `rekey plan --output json` says.
    pub fn sink_states(&self) -> Vec<String> {
        let json = self.rekey(&["plan", "--output", "json"]).success().json();
        json["profiles"][0]["sinks"]
            .as_array()
            .expect("plan lists the sinks")
            .iter()
            .map(|s| {
                s["state"]
                    .as_str()
                    .expect("each sink has a state")
                    .to_owned()
            })
            .collect()
    }

    /// Every regular file under the state dir, relative, sorted; without the
    /// `rotated/` records, which name the manifest of each key in use and live as long
    /// as the key (see `rotated_by_records`).
    pub fn state_files(&self) -> Vec<String> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    out.push(path.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.state_dir(), &self.state_dir(), &mut out);
        // Lock files persist by design and hold only a pid.
        out.retain(|f| !f.starts_with("locks/"));
        out.retain(|f| !f.starts_with("rotated/"));
        // What rekey deleted is remembered (no secret) for find and status.
        out.retain(|f| !f.starts_with("deleted/"));
        // The manifests the user trusts (no secret).
        out.retain(|f| !f.starts_with("trusted/"));
        // Whose each key is, as STS answered `find` (no secret).
        out.retain(|f| f != "key-owners.json");
        out.sort();
        out
    }

    /// The key ids the state dir records a manifest for (`rotated/<key-id>.json`).
    pub fn rotated_by_records(&self) -> Vec<String> {
        let dir = self.state_dir().join("rotated");
        let mut ids: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".json").map(str::to_owned)
            })
            .collect();
        ids.sort();
        ids
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        // Pick up secrets rekey wrote since the test last looked.
        if let Ok(text) = std::fs::read_to_string(self.credentials_path()) {
            self.remember_secrets_in(&text);
        }
        for output in self.outputs.borrow().iter() {
            for secret in self.secrets.borrow().iter() {
                assert!(
                    !output.contains(secret.as_str()),
                    "a secret access key appeared in rekey's output:\n{output}"
                );
            }
        }
    }
}

/// A finished rekey run.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    args: String,
}

impl Run {
    fn from(output: Output, args: &[&str]) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            args: args.join(" "),
        }
    }

    fn show(&self) -> String {
        format!(
            "rekey {} exited {:?}\n--- stdout\n{}--- stderr\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }

    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, Some(0), "{}", self.show());
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(self.code, Some(code), "{}", self.show());
        self
    }

    #[track_caller]
    pub fn stdout_has(self, text: &str) -> Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}\n{}",
            self.show()
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n{}",
            self.show()
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e})\n{}", self.show()))
    }
}

/// Polls `rekey prune --yes --output json` until it reports an outcome for `key_id`.
pub fn prune_outcome(home: &Home, key_id: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["prune", "--yes", "--output", "json"];
    args.extend(extra);
    let mut found = serde_json::Value::Null;
    eventually(Duration::from_secs(15), "prune acts on the old key", || {
        let json = home.rekey(&args).success().json();
        let entry = json["pruned"]
            .as_array()
            .and_then(|all| all.iter().find(|p| p["key_id"] == key_id).cloned());
        found = entry.unwrap_or_default();
        !found.is_null()
    });
    found
}

/// A time as rekey's records and tags write it (RFC 3339, UTC).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    use aws_smithy_types::date_time::{DateTime, Format};
    DateTime::from(t).fmt(Format::DateTime).unwrap()
}

/// The time an RFC 3339 text names.
pub fn parse_rfc3339(text: &str) -> std::time::SystemTime {
    use aws_smithy_types::date_time::{DateTime, Format};
    let time = DateTime::from_str(text, Format::DateTime).expect("an RFC 3339 time");
    std::time::SystemTime::try_from(time).unwrap()
}

/// Polls `condition` every 100 ms until it holds or `limit` passes (then panics).
#[track_caller]
pub fn eventually(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < limit, "{what}: not true within {limit:?}");
        std::thread::sleep(Duration::from_millis(100)); // poll interval, bounded by `limit`
    }
}

/// A tiny tmpfs mounted for the test's duration (unmounted even if the test fails).
pub struct TinyDisk(std::path::PathBuf);

impl TinyDisk {
    pub fn mount(dir: std::path::PathBuf, size: &str) -> Self {
        std::fs::create_dir_all(&dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the disk-full test mounts a tiny tmpfs and needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(dir)
    }

    /// Remounts it read-only (as a read-only file system the user cannot write).
    pub fn make_read_only(&self) {
        let status = std::process::Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount read-only");
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A manifest built in code rather than written as escaped YAML:
/// `Manifest::new().defaults("grace: 1d").profile(Profile::new(&user).sink(sink::dotenv(".env")))`.
#[derive(Default)]
pub struct Manifest {
    top: Vec<String>,
    defaults: Vec<String>,
    profiles: Vec<Profile>,
}

/// One profile of a [`Manifest`]: settings as YAML lines (`verify: { command: [x] }`)
/// and sinks as one-line YAML mappings (see [`sink`]).
pub struct Profile {
    name: String,
    settings: Vec<String>,
    sinks: Vec<String>,
}

impl Manifest {
    pub fn new() -> Self {
        Self::default()
    }

    /// A top-level line, e.g. `state: iam`.
    pub fn top(mut self, line: &str) -> Self {
        self.top.push(line.to_owned());
        self
    }

    /// A line under `defaults:`, e.g. `grace: 1d`.
    pub fn defaults(mut self, line: &str) -> Self {
        self.defaults.push(line.to_owned());
        self
    }

    pub fn profile(mut self, profile: Profile) -> Self {
        self.profiles.push(profile);
        self
    }

    pub fn yaml(&self) -> String {
        let mut out = String::from("version: 1\n");
        for line in &self.top {
            out.push_str(&format!("{line}\n"));
        }
        if !self.defaults.is_empty() {
            out.push_str("defaults:\n");
            for line in &self.defaults {
                out.push_str(&format!("  {line}\n"));
            }
        }
        out.push_str("profiles:\n");
        for profile in &self.profiles {
            if profile.settings.is_empty() && profile.sinks.is_empty() {
                out.push_str(&format!("  {}: {{}}\n", profile.name));
                continue;
            }
            out.push_str(&format!("  {}:\n", profile.name));
            for line in &profile.settings {
                out.push_str(&format!("    {line}\n"));
            }
            if !profile.sinks.is_empty() {
                out.push_str("    sinks:\n");
                for sink in &profile.sinks {
                    out.push_str(&format!("      - {sink}\n"));
                }
            }
        }
        out
    }
}

impl Profile {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            settings: Vec::new(),
            sinks: Vec::new(),
        }
    }

    /// A setting line, e.g. `verify: { command: ["false"] }`.
    pub fn set(mut self, line: &str) -> Self {
        self.settings.push(line.to_owned());
        self
    }

    /// A sink (see [`sink`]).
    pub fn sink(mut self, yaml: String) -> Self {
        self.sinks.push(yaml);
        self
    }
}

/// Sink entries of a [`Profile`], as one-line YAML mappings.
pub mod sink {
    pub fn credentials_file() -> String {
        "{ type: credentials_file }".to_owned()
    }

    pub fn dotenv(path: &str) -> String {
        format!("{{ type: dotenv, path: '{path}' }}")
    }

    pub fn file(path: &str, id: &str, secret: &str) -> String {
        format!("{{ type: file, path: '{path}', access_key_id: '{id}', secret_access_key: '{secret}' }}")
    }

    pub fn keyring(service: &str) -> String {
        format!("{{ type: keyring, service: '{service}' }}")
    }

    pub fn exec(command: &[&str]) -> String {
        let quoted: Vec<String> = command.iter().map(|c| format!("'{c}'")).collect();
        format!("{{ type: exec, command: [{}] }}", quoted.join(", "))
    }
}

impl Home {
    /// Writes `manifest` as the project's `rekey.yaml`.
    pub fn manifest(&self, manifest: &Manifest) {
        self.write("project/rekey.yaml", &manifest.yaml());
    }

    /// A new IAM user (named after `name`) whose key is the credentials file's one
    /// section.
    pub fn user_in_credentials(&self, name: &str) -> (String, TestKey) {
        let user = unique(name);
        let key = moto().create_user(&user);
        self.write_credentials(&section(&user, &key));
        (user, key)
    }

    /// New IAM users (named after `names`), each with its key in its own section of the
    /// credentials file.
    pub fn users_in_credentials(&self, names: &[&str]) -> Vec<(String, TestKey)> {
        let users: Vec<(String, TestKey)> = names
            .iter()
            .map(|name| {
                let user = unique(name);
                let key = moto().create_user(&user);
                (user, key)
            })
            .collect();
        self.write_credentials(&users.iter().map(|(u, k)| section(u, k)).collect::<String>());
        users
    }

    /// [`Home::user_in_credentials`], whose key also sits in the project's `.env`: a
    /// manifest with both places (the credentials file first).
    pub fn user_in_credentials_and_dotenv(&self, name: &str) -> (String, TestKey) {
        let (user, key) = self.user_in_credentials(name);
        self.write("project/.env", &env_text(&key));
        self.manifest(
            &Manifest::new().profile(
                Profile::new(&user)
                    .sink(sink::credentials_file())
                    .sink(sink::dotenv(".env")),
            ),
        );
        (user, key)
    }
}

/// The SHA-256 of `bytes`, as `sha256sum` prints it (coreutils).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils)");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// A run of the rekey under test being set up ([`Home::run`]): by default in `~/project`,
/// with the home's environment, no terminal, its output recorded for the secret check.
pub struct RekeyRun<'h> {
    home: &'h Home,
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: Option<PathBuf>,
    /// A program rekey runs under (`setpriv …`), with its arguments.
    program: Option<Vec<String>>,
}

impl RekeyRun<'_> {
    /// With the variable `name` set to `value`.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// With every variable of `env` set.
    pub fn envs(self, env: &[(&str, &str)]) -> Self {
        env.iter()
            .fold(self, |run, (name, value)| run.env(name, value))
    }

    /// As if `hours` had passed, for rekey and AWS (the `test-clock` feature).
    pub fn later(self, hours: u64) -> Self {
        let offset = (hours * 3600 + 1).to_string();
        self.env("REKEY_TEST_CLOCK_OFFSET", &offset)
    }

    /// In the folder `dir` instead of `~/project`.
    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_owned());
        self
    }

    /// Under `program` (its name, then its arguments before rekey's path).
    pub fn through(mut self, program: &[&str]) -> Self {
        self.program = Some(program.iter().map(|a| (*a).to_owned()).collect());
        self
    }

    /// The command, ready but for stdio.
    fn command(&self) -> Command {
        let rekey = env!("CARGO_BIN_EXE_rekey");
        let mut command = match &self.program {
            Some(program) => {
                let mut command = self.home.command(Command::new(&program[0]));
                command.args(&program[1..]).arg(rekey);
                command
            }
            None => self.home.command(Command::new(rekey)),
        };
        command.args(&self.args);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        command
    }

    fn recorded_args(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }

    /// Runs it with no stdin and waits; its output is recorded.
    pub fn output(self) -> Run {
        let needs = match &self.program {
            Some(program) => format!("{} (./scripts/setup-system installs it)", program[0]),
            None => "the rekey binary".to_owned(),
        };
        let output = self
            .command()
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot start {needs}: {e}"));
        self.home.record(Run::from(output, &self.recorded_args()))
    }

    /// Runs it with `input` on its stdin (a pipe); `needs` says what to install if it
    /// cannot start.
    pub fn fed(self, input: &str, needs: &str) -> Run {
        let mut command = self.command();
        self.home
            .run_fed(&mut command, input, &self.recorded_args(), needs)
    }

    /// Starts it without waiting, its stdout and stderr kept for [`Home::finish`] if
    /// `keep_output`, else discarded.
    pub fn start(self, keep_output: bool) -> Child {
        let out = || match keep_output {
            true => Stdio::piped(),
            false => Stdio::null(),
        };
        let mut command = self.command();
        command.stdin(Stdio::null()).stdout(out()).stderr(out());
        command.spawn().unwrap()
    }
}
