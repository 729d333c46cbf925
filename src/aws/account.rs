//! Reaching accounts for `rekey audit`: the SDK's default credential chain, roles
//! assumed in other accounts (each paced on its own: IAM's rate limit is per account),
//! an organization's accounts, and IAM's credential report.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_sdk_iam::types::{ReportStateType, StatusType};
use aws_sdk_organizations::types::AccountStatus;

use super::{Aws, AwsError, AwsErrorKind, Caller};

/// How long to wait for IAM to generate a credential report (it takes seconds; AWS
/// keeps one for four hours, so most audits find it ready).
const REPORT_WAIT: Duration = Duration::from_secs(120);

/// Between two `GenerateCredentialReport` calls while it is being made.
const REPORT_POLL: Duration = Duration::from_secs(2);

/// An account of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrgAccount {
    /// The 12-digit id.
    pub(crate) id: String,
    /// Its name.
    pub(crate) name: String,
    /// Whether it is ACTIVE (not suspended, not being closed).
    pub(crate) active: bool,
}

impl Aws {
    /// Clients signing as the SDK's default credential chain (environment, shared
    /// files' default profile, SSO, web identity, container and instance roles).
    pub(crate) async fn default_chain(&self) -> Result<Caller, AwsError> {
        // The run's region (see [`Aws::load`]): the SDK's own lookup would ask the
        // instance metadata service for one.
        let chain = aws_config::defaults(BehaviorVersion::latest())
            .region(self.base.region().cloned())
            .load()
            .await;
        let provider = chain.credentials_provider().ok_or_else(|| AwsError {
            operation: "load credentials",
            kind: AwsErrorKind::InvalidCredentials,
            message:
                "the AWS SDK's default credential chain found no credentials: pass --via PROFILE"
                    .to_owned(),
        })?;
        Ok(self.clients(provider))
    }

    /// Clients signing as `role_arn` assumed by `caller` (`sts:AssumeRole`), paced on
    /// their own, as another account's.
    pub(crate) async fn assume_role(
        &self,
        caller: &Caller,
        role_arn: &str,
        account: &str,
    ) -> Result<Caller, AwsError> {
        let out = caller
            .paced(|| async {
                caller
                    .sts
                    .assume_role()
                    .role_arn(role_arn)
                    .role_session_name("rekey-audit")
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("sts:AssumeRole", e))
            })
            .await?;
        let c = out
            .credentials
            .ok_or_else(|| AwsError::malformed("sts:AssumeRole"))?;
        let credentials = Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            None,
            "rekey-assumed",
        );
        let pacing = Arc::new(self.pacing.for_account(account));
        Ok(self.clients_paced(credentials, pacing))
    }

    /// Every account of the organization `caller`'s account manages
    /// (`organizations:ListAccounts`, every page).
    pub(crate) async fn org_accounts(&self, caller: &Caller) -> Result<Vec<OrgAccount>, AwsError> {
        let client = self.organizations(caller);
        let mut accounts = Vec::new();
        let mut token = None;
        loop {
            let page = client
                .list_accounts()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("organizations:ListAccounts", e))?;
            accounts.extend(page.accounts().iter().filter_map(|a| {
                Some(OrgAccount {
                    id: a.id()?.to_owned(),
                    name: a.name().unwrap_or_default().to_owned(),
                    active: a.status() == Some(&AccountStatus::Active),
                })
            }));
            match page.next_token() {
                Some(next) => token = Some(next.to_owned()),
                None => return Ok(accounts),
            }
        }
    }
}

impl Caller {
    /// IAM's credential report of the caller's account, as CSV: generated if there is
    /// none younger than four hours, waited for within a bound.
    pub(crate) async fn credential_report(&self) -> Result<Vec<u8>, AwsError> {
        let started = tokio::time::Instant::now();
        loop {
            let state = self
                .paced(|| async {
                    self.iam
                        .generate_credential_report()
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("iam:GenerateCredentialReport", e))
                })
                .await?
                .state;
            if state == Some(ReportStateType::Complete) {
                break;
            }
            if started.elapsed() >= REPORT_WAIT {
                return Err(AwsError {
                    operation: "iam:GenerateCredentialReport",
                    kind: AwsErrorKind::Other,
                    message: format!(
                        "IAM had not finished the credential report after {} s",
                        REPORT_WAIT.as_secs()
                    ),
                });
            }
            tokio::time::sleep(REPORT_POLL).await; // poll interval, bounded by REPORT_WAIT
        }
        let out = self
            .paced(|| async {
                self.iam
                    .get_credential_report()
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:GetCredentialReport", e))
            })
            .await?;
        let content = out
            .content
            .ok_or_else(|| AwsError::malformed("iam:GetCredentialReport"))?;
        Ok(content.into_inner())
    }

    /// `iam:ListSigningCertificates` for `user`: each certificate's id, status and
    /// upload (the certificate's body is not kept).
    pub(crate) async fn signing_certificates(
        &self,
        user: &str,
    ) -> Result<Vec<UserCredential>, AwsError> {
        let out = self
            .paced(|| async {
                self.iam
                    .list_signing_certificates()
                    .user_name(user)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:ListSigningCertificates", e))
            })
            .await?;
        Ok((out.certificates.into_iter())
            .map(|c| UserCredential {
                id: c.certificate_id,
                active: c.status == StatusType::Active,
                created: c.upload_date.and_then(|d| SystemTime::try_from(d).ok()),
                service: None,
            })
            .collect())
    }

    /// `iam:ListSSHPublicKeys` for `user` (CodeCommit's SSH access; the key's body is
    /// not read).
    pub(crate) async fn ssh_public_keys(
        &self,
        user: &str,
    ) -> Result<Vec<UserCredential>, AwsError> {
        let out = self
            .paced(|| async {
                self.iam
                    .list_ssh_public_keys()
                    .user_name(user)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:ListSSHPublicKeys", e))
            })
            .await?;
        Ok((out.ssh_public_keys.unwrap_or_default().into_iter())
            .map(|k| UserCredential {
                id: k.ssh_public_key_id,
                active: k.status == StatusType::Active,
                created: SystemTime::try_from(k.upload_date).ok(),
                service: None,
            })
            .collect())
    }

    /// `iam:ListServiceSpecificCredentials` for `user`: CodeCommit HTTPS passwords,
    /// Amazon Bedrock API keys, … (the list never returns the password).
    pub(crate) async fn service_credentials(
        &self,
        user: &str,
    ) -> Result<Vec<UserCredential>, AwsError> {
        let out = self
            .paced(|| async {
                self.iam
                    .list_service_specific_credentials()
                    .user_name(user)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:ListServiceSpecificCredentials", e))
            })
            .await?;
        Ok((out
            .service_specific_credentials
            .unwrap_or_default()
            .into_iter())
        .map(|c| UserCredential {
            id: c.service_specific_credential_id,
            active: c.status == StatusType::Active,
            created: SystemTime::try_from(c.create_date).ok(),
            service: Some(c.service_name),
        })
        .collect())
    }
}

/// A user's credential other than an access key or a password, as IAM lists it: a
/// signing certificate, an SSH public key, a service-specific credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserCredential {
    /// Its id.
    pub(crate) id: String,
    /// Whether it is Active.
    pub(crate) active: bool,
    /// When it was uploaded or created.
    pub(crate) created: Option<SystemTime>,
    /// For a service-specific credential: the service (`codecommit.amazonaws.com`).
    pub(crate) service: Option<String>,
}
