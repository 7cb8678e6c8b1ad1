//! [`Permission`]: whether the user may make a change, as the app asks before showing a button;
//! and the stable code of a refusal, which `Permission` and the `NotAllowed` error carry for the
//! app to put in its own words (ADR 0046).

use std::collections::HashMap;

use gridwork_domain::scope::{Decision, Denial};
use gridwork_domain::workflow::TransitionError;

/// The code of a refusal no rule of this version names (a reason the server gave that this
/// library does not know): the app shows the English `reason` as given.
pub const UNKNOWN_RULE: &str = "not_allowed";

/// The answer to a `may_*` call: allowed, or refused with the rule's stable `code` (the
/// permission rule's: `outside_reach`, `command_centre_only`, `no_delete`…) and its `args`, each
/// a stable code too (`role`: `gridworker`; `kind`: `household`; `step`: `accept`), for the app
/// to put in its own words. `reason` is the rule's English sentence (for logs and support; it
/// names the rule, never a stored value). The server runs the same rule on every push.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Permission {
    pub allowed: bool,
    /// `None` when allowed.
    pub code: Option<String>,
    /// Empty when allowed or when the rule has no parts.
    pub args: HashMap<String, String>,
    /// `None` when allowed.
    pub reason: Option<String>,
}

impl From<Decision> for Permission {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Allow => Permission {
                allowed: true,
                code: None,
                args: HashMap::new(),
                reason: None,
            },
            Decision::Deny(reason) => {
                let (code, args) = denial_code(&reason);
                Permission {
                    allowed: false,
                    code: Some(code),
                    args,
                    reason: Some(reason),
                }
            }
        }
    }
}

/// The code and arguments of a permission rule's reason (the English sentence the domain's
/// `Decision::Deny` carries): the rule's [`Denial`] found again from it, else
/// [`UNKNOWN_RULE`] with no arguments.
pub(crate) fn denial_code(reason: &str) -> (String, HashMap<String, String>) {
    match Denial::parse(reason) {
        Some(denial) => (denial.code().to_string(), owned(denial.args())),
        None => (UNKNOWN_RULE.to_string(), HashMap::new()),
    }
}

/// The code and arguments of a refused case step (`step_wrong_state` with `kind`, `state`,
/// `step`…).
pub(crate) fn transition_code(e: &TransitionError) -> (String, HashMap<String, String>) {
    (e.code().to_string(), owned(e.args()))
}

fn owned(args: Vec<(&str, &str)>) -> HashMap<String, String> {
    args.into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denial_carries_its_rules_code_and_parts() {
        for denial in Denial::all() {
            let p = Permission::from(Decision::Deny(denial.to_string()));
            assert!(!p.allowed);
            assert_eq!(p.code.as_deref(), Some(denial.code()), "{denial:?}");
            assert_eq!(p.args, owned(denial.args()), "{denial:?}");
            assert_eq!(p.reason, Some(denial.to_string()));
        }
        let p = Permission::from(Decision::Deny(
            "a gridworker may not change a station".into(),
        ));
        assert_eq!(p.code.as_deref(), Some("role_may_not_change"));
        assert_eq!(p.args.get("role").map(String::as_str), Some("gridworker"));
        assert_eq!(p.args.get("kind").map(String::as_str), Some("station"));
        let odd = Permission::from(Decision::Deny("a rule of a newer server".into()));
        assert_eq!(odd.code.as_deref(), Some(UNKNOWN_RULE));
        assert!(odd.args.is_empty());
        let yes = Permission::from(Decision::Allow);
        assert!(yes.allowed && yes.code.is_none() && yes.reason.is_none() && yes.args.is_empty());
    }
}
