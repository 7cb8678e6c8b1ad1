//! [`Permission`]: whether the user may make a change, as the app asks before showing a button.

use gridwork_domain::scope::Decision;

/// The answer to a `may_*` call: allowed, or refused with the rule's reason for the person
/// (it names the rule, never a stored value). The server runs the same rule on every push.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Permission {
    pub allowed: bool,
    pub reason: Option<String>,
}

impl From<Decision> for Permission {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Allow => Permission {
                allowed: true,
                reason: None,
            },
            Decision::Deny(reason) => Permission {
                allowed: false,
                reason: Some(reason),
            },
        }
    }
}
