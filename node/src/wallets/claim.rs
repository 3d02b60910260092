//! The credential a claim issues: the award's, signed again now and bound
//! to the DID that proved it holds its key.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::node::{Beside, IssueError, Issued, Node};
use crate::store::Award;

/// Why a claim did not issue a credential. (An award claimed, locked,
/// expired, revoked or suspended is refused by the store, under its write
/// lock, as `StoreError::Claimed` or `StoreError::Unclaimable`.)
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("the awarded credential {0} is gone")]
    Gone(String),
    /// The awarded credential's own validity has ended.
    #[error("the awarded credential has expired: it cannot be claimed")]
    Expired,
    /// The award names its earner by DID already, and another DID asks.
    #[error("this badge was issued to {0}: claim it with that DID")]
    OtherHolder(String),
    #[error("the awarded credential has no single subject to bind to a holder")]
    NoSubject,
    #[error(transparent)]
    Issue(#[from] IssueError),
}

impl Node {
    /// Issues the award's credential again, now, to `holder` (a DID that
    /// proved it holds its key), and marks the award claimed in the same
    /// write, which refuses an award that can no longer be claimed.
    pub async fn claim(self: &Arc<Self>, award: &Award, holder: &str) -> Result<Value, ClaimError> {
        let now = chrono::Utc::now().timestamp();
        let original = self
            .store
            .credential(&award.credential)
            .map_err(IssueError::from)?
            .ok_or_else(|| ClaimError::Gone(award.credential.clone()))?;
        if crate::store::valid_until(&original).is_some_and(|t| t <= now) {
            return Err(ClaimError::Expired);
        }
        let credential = self.bound_copy(original, holder)?;
        // The earner's address stays with the award: mail tells of the
        // badge once, not once per copy.
        let issued = self
            .issue(
                credential,
                None,
                Beside {
                    claims: Some(award.credential.clone()),
                    ..Beside::default()
                },
            )
            .await?;
        Ok(match issued {
            Issued::New(vc, _) | Issued::Replayed(vc) => vc,
        })
    }

    /// The awarded credential as it is issued to `holder`: the same
    /// achievement, dates and recipient details, with a new id, the node's
    /// status entries and refresh service made afresh, and the holder's
    /// DID as its subject. A badge issued to a DID is that DID's alone.
    fn bound_copy(&self, mut credential: Value, holder: &str) -> Result<Value, ClaimError> {
        let base = self.base_url().trim_end_matches('/').to_owned();
        let ours = |v: &Value| {
            ["id", "statusListCredential"].iter().any(|m| {
                v.get(*m)
                    .and_then(Value::as_str)
                    .is_some_and(|u| u.starts_with(&format!("{base}/")))
            })
        };
        let obj = credential.as_object_mut().ok_or(ClaimError::NoSubject)?;
        let Some(Value::Object(subject)) = obj.get_mut("credentialSubject") else {
            return Err(ClaimError::NoSubject);
        };
        match subject.get("id").and_then(Value::as_str) {
            Some(did) if did.starts_with("did:") && did != holder => {
                return Err(ClaimError::OtherHolder(did.to_owned()))
            }
            _ => {
                subject.insert("id".into(), json!(holder));
            }
        }
        for member in ["id", "proof"] {
            obj.remove(member);
        }
        if obj.get("refreshService").is_some_and(ours) {
            obj.remove("refreshService");
        }
        let theirs: Vec<Value> = match obj.remove("credentialStatus") {
            Some(Value::Array(a)) => a.into_iter().filter(|e| !ours(e)).collect(),
            Some(one) if !ours(&one) => vec![one],
            _ => Vec::new(),
        };
        if !theirs.is_empty() {
            obj.insert("credentialStatus".into(), Value::Array(theirs));
        }
        Ok(credential)
    }
}
