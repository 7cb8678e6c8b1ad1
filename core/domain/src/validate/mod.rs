//! Validation at the edge: every value typed by a user is checked here before it reaches the
//! store or the wire, and refused with a [`ValidationError`] that names the field.
//!
//! Messages never repeat the offending value: it may be a resident's ID number or phone.

pub mod address_code;
pub mod phone;
pub mod position;
pub mod resident_id;
pub mod schema;

pub use address_code::{AddressCode, check_area_code, check_child_code, code_len};
pub use phone::{Phone, PhoneKind};
pub use position::Position;
pub use resident_id::ResidentId;

/// A value refused at the edge. `field` names the field (e.g. `"resident.id_number"`);
/// `problem` says what is wrong in words a user can act on, without echoing the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    pub field: String,
    pub problem: String,
}

impl ValidationError {
    /// A refusal of `field` for `problem`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> ValidationError {
        ValidationError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}
