//! Service control policies, as a leak response's fence uses them: made, attached to an
//! account, widened, detached and deleted, signed in the organization's management
//! account. Only an organization-level control holds during IAM's consistency window:
//! the principals it denies cannot remove it.

use super::{Aws, AwsError, AwsErrorKind, Caller};

impl Aws {
    /// An Organizations client signing as `caller`.
    pub(super) fn organizations(&self, caller: &Caller) -> aws_sdk_organizations::Client {
        let config = aws_sdk_organizations::config::Builder::from(&self.base)
            .credentials_provider(caller.credentials.clone())
            .interceptor(self.clock.clone())
            .interceptor(rekey_sinks::call_log::CallLog)
            .build();
        aws_sdk_organizations::Client::from_conf(config)
    }

    /// The organization's management account (`organizations:DescribeOrganization`),
    /// signed as `caller`. An account in no organization is an error saying so.
    pub(crate) async fn management_account(&self, caller: &Caller) -> Result<String, AwsError> {
        let out = self
            .organizations(caller)
            .describe_organization()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("organizations:DescribeOrganization", e))?;
        out.organization()
            .and_then(|o| o.master_account_id())
            .map(str::to_owned)
            .ok_or_else(|| AwsError {
                operation: "organizations:DescribeOrganization",
                kind: AwsErrorKind::Other,
                message: "AWS named no management account".to_owned(),
            })
    }

    /// Makes the service control policy `name` with `content` and attaches it to
    /// `account`; returns its id.
    pub(crate) async fn attach_new_scp(
        &self,
        caller: &Caller,
        (name, description, content): (&str, &str, &str),
        account: &str,
    ) -> Result<String, AwsError> {
        let client = self.organizations(caller);
        let made = client
            .create_policy()
            .name(name)
            .description(description)
            .content(content)
            .r#type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("organizations:CreatePolicy", e))?;
        let id = (made.policy().and_then(|p| p.policy_summary()))
            .and_then(|s| s.id())
            .unwrap_or_default()
            .to_owned();
        client
            .attach_policy()
            .policy_id(&id)
            .target_id(account)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("organizations:AttachPolicy", e))?;
        Ok(id)
    }

    /// Replaces the content of the service control policy `id`.
    pub(crate) async fn update_scp(
        &self,
        caller: &Caller,
        id: &str,
        content: &str,
    ) -> Result<(), AwsError> {
        self.organizations(caller)
            .update_policy()
            .policy_id(id)
            .content(content)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("organizations:UpdatePolicy", e))?;
        Ok(())
    }

    /// Detaches the service control policy `id` from `account` and deletes it.
    pub(crate) async fn remove_scp(
        &self,
        caller: &Caller,
        id: &str,
        account: &str,
    ) -> Result<(), AwsError> {
        let client = self.organizations(caller);
        client
            .detach_policy()
            .policy_id(id)
            .target_id(account)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("organizations:DetachPolicy", e))?;
        client
            .delete_policy()
            .policy_id(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("organizations:DeletePolicy", e))?;
        Ok(())
    }
}
