//! The fence (`--fence`): for the duration of a leak response, a service control policy
//! on the user's account that denies every action to the leaked user and to the
//! principals CloudTrail shows it made (`aws:PrincipalArn`). IAM's changes take seconds
//! to hold everywhere, and a deleted key still works for a few; an SCP is the one
//! control the fenced principals cannot remove. It is signed in the organization's
//! management account (`--org-via`), raised right after the old key's deletion (so the
//! response's own IAM calls must be signed by an administrator, never by the fenced
//! user: its new key is fenced too while it stands), widened once the trail is read,
//! and taken down after the proof and the containment (`--keep-fence` leaves it).
//! SCPs do not restrict the management account itself: a user there cannot be fenced.

use crate::aws::{Aws, Caller};
use crate::engine::error::{Cause, ErrorKind};

/// A fence standing.
pub(crate) struct Fence {
    /// Signs in the management account.
    org: Caller,
    /// The SCP's id.
    pub(crate) policy_id: String,
    /// The account it is attached to.
    pub(crate) account: String,
    /// The principals it denies.
    pub(crate) principals: Vec<String>,
}

/// Raises the fence around `user_arn` in `account`, signed as the profile `org_via`.
pub(crate) async fn raise(
    aws: &Aws,
    org_via: &str,
    account: &str,
    user_arn: &str,
) -> Result<Fence, Cause> {
    let org = aws.via(org_via).await?;
    let management = aws.management_account(&org).await.map_err(|e| {
        Cause::from(e).context("cannot fence: the account's organization could not be read (a fence is a service control policy of AWS Organizations)")
    })?;
    if management == account {
        return Err(Cause::new(
            ErrorKind::Other,
            format!("cannot fence: {account} is the organization's management account, which service control policies do not restrict"),
        ));
    }
    let principals = vec![user_arn.to_owned()];
    let stamp = crate::time::rfc3339(aws.clock().now()).replace([':', '-'], "");
    let name = format!("rekey-fence-{stamp}");
    let description =
        format!("rekey leak response: denies everything to {user_arn} and what it made");
    let content = content(&principals);
    let policy_id = aws
        .attach_new_scp(&org, (&name, &description, &content), account)
        .await?;
    Ok(Fence {
        org,
        policy_id,
        account: account.to_owned(),
        principals,
    })
}

impl Fence {
    /// Adds `principals` (ARNs of what the leaked key made) to the fence.
    pub(crate) async fn widen(&mut self, aws: &Aws, principals: Vec<String>) -> Result<(), Cause> {
        let before = self.principals.len();
        for principal in principals {
            if !self.principals.contains(&principal) {
                self.principals.push(principal);
            }
        }
        if self.principals.len() > before {
            let content = content(&self.principals);
            aws.update_scp(&self.org, &self.policy_id, &content).await?;
        }
        Ok(())
    }

    /// Takes the fence down: detached and deleted.
    pub(crate) async fn lower(&self, aws: &Aws) -> Result<(), Cause> {
        aws.remove_scp(&self.org, &self.policy_id, &self.account)
            .await
            .map_err(Cause::from)
    }

    /// What takes it down by hand.
    pub(crate) fn removal(&self) -> String {
        format!(
            "aws organizations detach-policy --policy-id {id} --target-id {account} && aws organizations delete-policy --policy-id {id}",
            id = self.policy_id,
            account = self.account
        )
    }
}

/// The SCP denying everything to `principals`.
fn content(principals: &[String]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "RekeyLeakFence",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"ArnLike": {"aws:PrincipalArn": principals}}
        }]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fence_denies_everything_to_exactly_its_principals() {
        let principals = [
            "arn:aws:iam::1:user/dev".to_owned(),
            "arn:aws:iam::1:role/backdoor".to_owned(),
        ];
        let doc: serde_json::Value = serde_json::from_str(&super::content(&principals)).unwrap();
        let statement = &doc["Statement"][0];
        assert_eq!(statement["Effect"], "Deny");
        assert_eq!(statement["Action"], "*");
        assert_eq!(
            statement["Condition"]["ArnLike"]["aws:PrincipalArn"],
            serde_json::json!(principals)
        );
    }
}
