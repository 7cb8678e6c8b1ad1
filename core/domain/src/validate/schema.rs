//! The schema of every record kind and of case steps, enforced the same way on the phone (before
//! a change is written) and on the server (before it is stored): [`check_op`].
//!
//! - A record carries only its kind's fields ([`fields`]): an unknown field (`owner_name`, a
//!   newer app's field) is refused, never stored or served.
//! - Every text has a length limit a real form would have ([`fields`], [`EVENT_TEXT_LIMITS`]),
//!   counted in characters (a Chinese character is one). Structured values (a position, a list
//!   of response policies or key groups) are bounded in encoded size
//!   ([`MAX_STRUCTURED_FIELD_BYTES`]).
//!
//! The limits are listed for people in `docs/sync-protocol.md` ("Record schemas and limits").
//! Messages name the field and the limit, never the value.

use serde_json::Value;

use super::ValidationError;
use crate::op::{EntityKind, Op, OpBody};
use crate::workflow::CaseAction;

/// A field of a record kind: its name and, for a text field, the most characters it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    /// `Some(n)`: a text of at most `n` characters (or null where the model allows it).
    pub max_chars: Option<usize>,
}

const fn text(name: &'static str, max_chars: usize) -> Field {
    Field {
        name,
        max_chars: Some(max_chars),
    }
}

const fn value(name: &'static str) -> Field {
    Field {
        name,
        max_chars: None,
    }
}

/// The most bytes (as JSON) a field that is not text may take: a position, a list of response
/// policies or key groups, an id, a date. Far above any real value; it only stops a record from
/// being inflated through a field the text limits do not cover.
pub const MAX_STRUCTURED_FIELD_BYTES: usize = 8 * 1024;

const AREA: &[Field] = &[
    value("level"),
    text("code", 18),
    text("name", 50),
    value("parent_id"),
    value("response_policies"),
];
const BUILDING: &[Field] = &[
    text("address_code", 19),
    text("address", 100),
    value("kind"),
    value("grid_id"),
    value("micro_grid_id"),
    value("head_user_id"),
    value("station_id"),
    value("position"),
];
const STATION: &[Field] = &[
    text("name", 50),
    value("area_id"),
    value("position"),
    text("phone", 20),
];
const HOUSEHOLD: &[Field] = &[
    value("building_id"),
    text("unit", 20),
    value("kind"),
    text("phone", 20),
    value("archived"),
];
const RESIDENT: &[Field] = &[
    value("household_id"),
    text("name", 50),
    text("id_number", 18),
    text("phone", 20),
    value("key_groups"),
    value("last_visit_ms"),
    value("archived"),
];
const REGISTRATION: &[Field] = &[
    value("resident_id"),
    value("household_id"),
    value("check_in"),
    value("expected_end"),
    value("check_out"),
];
const CASE: &[Field] = &[
    value("kind"),
    text("title", 100),
    text("category", 50),
    value("severity"),
    value("area_id"),
    value("building_id"),
    value("household_id"),
    value("position"),
    value("opened_at_ms"),
    value("patrol_id"),
];
const PATROL: &[Field] = &[
    value("user_id"),
    value("area_id"),
    value("started_at_ms"),
    value("ended_at_ms"),
    // A SHA-256 link in hex (`workflow::patrol_chain`).
    text("chain_head", 64),
];
const PATROL_VISIT: &[Field] = &[
    value("patrol_id"),
    value("building_id"),
    value("at_ms"),
    value("position"),
    text("note", 500),
    text("chain", 64),
];

/// The fields a record of `kind` may carry (its id aside).
pub fn fields(kind: EntityKind) -> &'static [Field] {
    match kind {
        EntityKind::Area => AREA,
        EntityKind::Building => BUILDING,
        EntityKind::Station => STATION,
        EntityKind::Household => HOUSEHOLD,
        EntityKind::Resident => RESIDENT,
        EntityKind::Registration => REGISTRATION,
        EntityKind::Case => CASE,
        EntityKind::Patrol => PATROL,
        EntityKind::PatrolVisit => PATROL_VISIT,
    }
}

/// The most characters of each text a case step carries: a note, a reason for sending a case
/// back or escalating it, a mediation agreement, a photo's address.
pub const EVENT_TEXT_LIMITS: &[(&str, usize)] = &[
    ("note", 1000),
    ("reason", 500),
    ("agreement", 2000),
    ("photo", 500),
];

fn event_limit(name: &str) -> usize {
    EVENT_TEXT_LIMITS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, max)| *max)
}

/// Checks one field written on a record of `kind`.
pub fn check_field(kind: EntityKind, name: &str, value: &Value) -> Result<(), ValidationError> {
    if crate::attachment::holds_photos(kind) && crate::attachment::is_photo_field(name) {
        return check_photo_field(kind, name, value);
    }
    let Some(field) = fields(kind).iter().find(|f| f.name == name) else {
        // The sender's key is not repeated: it is as much the sender's text as a value.
        return Err(ValidationError::new(
            kind.as_str(),
            format!("a {} has no such field", kind.as_str()),
        ));
    };
    let path = || format!("{}.{}", kind.as_str(), field.name);
    match (field.max_chars, value) {
        (Some(max), Value::String(s)) => {
            if s.chars().count() > max {
                return Err(ValidationError::new(
                    path(),
                    format!("must be at most {max} characters"),
                ));
            }
        }
        (Some(_), Value::Null) => {}
        (Some(_), _) => return Err(ValidationError::new(path(), "must be text")),
        (None, v) => {
            let size = serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
            if size > MAX_STRUCTURED_FIELD_BYTES {
                return Err(ValidationError::new(
                    path(),
                    format!("must be at most {MAX_STRUCTURED_FIELD_BYTES} bytes"),
                ));
            }
        }
    }
    Ok(())
}

/// Checks the texts of a case step against [`EVENT_TEXT_LIMITS`].
pub fn check_action(action: &CaseAction) -> Result<(), ValidationError> {
    let (name, text) = match action {
        CaseAction::Note { text } => ("note", text),
        CaseAction::Photo { attachment, uri } => {
            if let Some(a) = attachment {
                check_attachment(a)?;
            }
            match uri {
                Some(uri) => ("photo", uri),
                None if attachment.is_some() => return Ok(()),
                None => {
                    return Err(ValidationError::new(
                        "case_event.photo",
                        "a photo step names its picture",
                    ));
                }
            }
        }
        CaseAction::SendBack { reason }
        | CaseAction::Escalate { reason, .. }
        | CaseAction::NotSettled { reason, .. } => ("reason", reason),
        CaseAction::Settle { agreement, .. } => ("agreement", agreement),
        _ => return Ok(()),
    };
    let max = event_limit(name);
    if text.chars().count() > max {
        return Err(ValidationError::new(
            format!("case_event.{name}"),
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// The longest media type a photo may name (`image/jpeg` is 10).
pub const MEDIA_TYPE_MAX: usize = 64;

/// Checks a photo field of a record that holds photos (ADR 0043): named `photo_` and its
/// picture's hash, holding that picture's reference, or null (the photo removed).
pub fn check_photo_field(
    kind: EntityKind,
    name: &str,
    value: &Value,
) -> Result<(), ValidationError> {
    let path = format!("{}.photo", kind.as_str());
    let Some(hash) = crate::attachment::photo_field_hash(name) else {
        return Err(ValidationError::new(
            path,
            "a photo field is named photo_ and its picture's SHA-256 (64 lowercase hex digits)",
        ));
    };
    if value.is_null() {
        return Ok(());
    }
    let size = serde_json::to_vec(value).map_or(usize::MAX, |b| b.len());
    if size > MAX_STRUCTURED_FIELD_BYTES {
        return Err(ValidationError::new(
            path,
            format!("must be at most {MAX_STRUCTURED_FIELD_BYTES} bytes"),
        ));
    }
    let Ok(attachment) = serde_json::from_value::<crate::attachment::AttachmentRef>(value.clone())
    else {
        return Err(ValidationError::new(
            path,
            "must be a photo's reference (its blob, media type and thumbnail) or null",
        ));
    };
    if attachment.blob.hash != hash {
        return Err(ValidationError::new(
            path,
            "a photo field is named after the picture it holds",
        ));
    }
    check_attachment_at(&attachment, &path)
}

/// Checks a photo's reference: an image media type of sane length, sizes that are not zero.
pub fn check_attachment(a: &crate::attachment::AttachmentRef) -> Result<(), ValidationError> {
    check_attachment_at(a, "case_event.photo")
}

/// [`check_attachment`], its errors naming the field at `path` (`case_event.photo`,
/// `building.photo`, …).
pub fn check_attachment_at(
    a: &crate::attachment::AttachmentRef,
    path: &str,
) -> Result<(), ValidationError> {
    let media = &a.media_type;
    if media.len() > MEDIA_TYPE_MAX
        || !media.starts_with("image/")
        || !media
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/+-.".contains(&b))
    {
        return Err(ValidationError::new(
            format!("{path}.media_type"),
            "must be an image type such as image/jpeg",
        ));
    }
    if a.blobs().any(|b| b.size == 0) {
        return Err(ValidationError::new(
            format!("{path}.size"),
            "a picture is never empty",
        ));
    }
    Ok(())
}

/// Checks an operation against the schema of its record kind: every field it writes is one of
/// the kind's, within its limit; a case step's texts are within theirs.
pub fn check_op(op: &Op) -> Result<(), ValidationError> {
    match &op.body {
        OpBody::Set { fields } => fields
            .iter()
            .try_for_each(|(name, write)| check_field(op.entity, name, &write.value)),
        OpBody::CaseEvent { event } => check_action(&event.action),
        OpBody::Delete => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Every field the model writes is in its kind's schema: a field added to a record and
    /// forgotten here would be refused on the phone and on the server.
    #[test]
    fn the_chained_patrol_fields_are_in_the_schema() {
        use crate::ids::test_id as new_id;
        use crate::model::{Patrol, PatrolVisit};
        let patrol = Patrol {
            id: new_id(),
            user_id: new_id(),
            area_id: new_id(),
            started_at_ms: 1,
            ended_at_ms: Some(2),
            chain_head: Some("a".repeat(64)),
        };
        let visit = PatrolVisit {
            id: new_id(),
            patrol_id: patrol.id,
            building_id: new_id(),
            at_ms: 1,
            position: None,
            note: Some("消防通道畅通".into()),
            chain: Some("b".repeat(64)),
        };
        for (kind, record) in [
            (EntityKind::Patrol, serde_json::to_value(&patrol).unwrap()),
            (
                EntityKind::PatrolVisit,
                serde_json::to_value(&visit).unwrap(),
            ),
        ] {
            for (name, value) in record.as_object().unwrap() {
                if name != "id" {
                    check_field(kind, name, value).unwrap_or_else(|e| panic!("{name}: {e}"));
                }
            }
        }
    }

    #[test]
    fn an_unknown_field_is_refused_without_naming_it() {
        let e = check_field(EntityKind::Household, "owner_name", &json!("张三")).unwrap_err();
        assert!(!e.to_string().contains("owner_name"), "{e}");
        assert!(!e.to_string().contains("张三"), "{e}");
        assert!(check_field(EntityKind::Household, "unit", &json!("2-301")).is_ok());
    }

    #[test]
    fn every_text_has_a_limit_counted_in_characters() {
        let unit = "单".repeat(20);
        assert!(check_field(EntityKind::Household, "unit", &json!(unit)).is_ok());
        let long = "单".repeat(21);
        let e = check_field(EntityKind::Household, "unit", &json!(long)).unwrap_err();
        assert_eq!(e.field, "household.unit");
        assert!(e.problem.contains("20"), "{e}");
        let mb = "x".repeat(1 << 20);
        for kind in EntityKind::ALL {
            for f in fields(kind) {
                let err = check_field(kind, f.name, &json!(mb));
                assert!(err.is_err(), "{}.{} took 1 MB", kind.as_str(), f.name);
            }
        }
    }

    #[test]
    fn a_case_steps_texts_are_bounded() {
        let ok = CaseAction::Note {
            text: "看过".repeat(500),
        };
        assert!(check_action(&ok).is_ok());
        let long = CaseAction::Note {
            text: "x".repeat(1001),
        };
        assert_eq!(check_action(&long).unwrap_err().field, "case_event.note");
        assert!(check_action(&CaseAction::Close).is_ok());
    }

    #[test]
    fn buildings_and_households_hold_photos_one_field_each() {
        use crate::attachment::{AttachmentRef, BlobHash, BlobRef, photo_field};
        let picture = BlobHash::of(b"blocked exit");
        let good = AttachmentRef {
            blob: BlobRef {
                hash: picture,
                size: 2048,
            },
            media_type: "image/jpeg".into(),
            thumbnail: Some(BlobRef {
                hash: BlobHash::of(b"thumb"),
                size: 300,
            }),
            taken_at_ms: Some(1),
            position: None,
        };
        let field = photo_field(&picture);
        let value = serde_json::to_value(&good).unwrap();
        for kind in [EntityKind::Building, EntityKind::Household] {
            check_field(kind, &field, &value).unwrap();
            check_field(kind, &field, &Value::Null).unwrap();
            // Another picture's field, a bad name, a value that is no reference, an empty
            // picture, a type that is not an image: each refused, naming the record's photo.
            let other = photo_field(&BlobHash::of(b"other"));
            let e = check_field(kind, &other, &value).unwrap_err();
            assert_eq!(e.field, format!("{}.photo", kind.as_str()));
            assert!(check_field(kind, "photo_123", &value).is_err());
            assert!(check_field(kind, &field, &json!("a string")).is_err());
            let mut empty = good.clone();
            empty.blob.size = 0;
            let e = check_field(kind, &field, &serde_json::to_value(&empty).unwrap()).unwrap_err();
            assert_eq!(e.field, format!("{}.photo.size", kind.as_str()));
            let mut text = good.clone();
            text.media_type = "text/html".into();
            let e = check_field(kind, &field, &serde_json::to_value(&text).unwrap()).unwrap_err();
            assert_eq!(e.field, format!("{}.photo.media_type", kind.as_str()));
        }
        // Other kinds hold none.
        assert!(check_field(EntityKind::Resident, &field, &value).is_err());
        assert!(check_field(EntityKind::Case, &field, &value).is_err());
    }
}
