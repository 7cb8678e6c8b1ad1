//! Decoding a push body (`{"ops": [...]}`) within its limits, while it is decoded, so that
//! what a push makes the server hold stays within a small multiple of its body.
//!
//! Decoding a body into JSON values first and counting after (what the server once did) costs
//! about 30 bytes of memory per value: a body of 4 million `0,` pairs, 8 MiB, became 130 MB
//! before the count of operations was even looked at. Here:
//!
//! 1. The body is scanned once; each element of `ops` is kept as a slice of the body
//!    ([`RawValue`]), nothing decoded. Past [`MAX_PUSH_OPS`] elements the rest is only counted,
//!    allocating nothing, and the push is refused whole (413 `too_many_ops`).
//! 2. Each operation's slice is checked before it is decoded: at most [`MAX_OP_BYTES`] bytes
//!    and [`MAX_OP_VALUES`] JSON values (strings, numbers, lists, objects… counted by walking
//!    the slice without allocating), else that one operation is rejected `malformed`, as one
//!    that does not decode is; and at most [`MAX_PUSH_VALUES`] values in the whole push, else the
//!    push is refused whole (413 `too_many_values`).
//! 3. Only then is each operation decoded into an [`Op`].
//!
//! A real push of 500 operations holds a few dozen values per operation, far under every
//! limit (see the tests).

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use axum::http::StatusCode;
use gridwork_domain::ids::Id;
use gridwork_domain::op::Op;
use gridwork_domain::sync::{MAX_PUSH_OPS, PushOutcome, PushResult, RejectCode};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::{ApiError, json_body};

/// The largest operation, in bytes of JSON: a record written whole with long notes fits many
/// times over.
pub const MAX_OP_BYTES: usize = 64 * 1024;

/// The most JSON values in one operation (a household written whole has about 60).
pub const MAX_OP_VALUES: usize = 2_000;

/// The most JSON values in one push: 500 operations of 200 values each.
pub const MAX_PUSH_VALUES: usize = 100_000;

/// A push body decoded: an answer already made for each operation that did not decode (in
/// request order, `None` for the others), and the operations that did, in order.
#[derive(Debug, Default)]
pub struct DecodedPush {
    pub answers: Vec<Option<PushResult>>,
    pub ops: Vec<Op>,
}

/// Decodes `body` as a push within the limits of this module.
pub fn decode(body: &[u8]) -> Result<DecodedPush, ApiError> {
    let raw: RawPush<'_> = serde_json::from_slice(body).map_err(|e| json_body::json_error(&e))?;
    if raw.ops.total > MAX_PUSH_OPS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_ops",
            format!(
                "a push carries at most {MAX_PUSH_OPS} operations (this one {}); send the rest in another",
                raw.ops.total
            ),
        ));
    }
    let mut decoded = DecodedPush {
        answers: Vec::with_capacity(raw.ops.kept.len()),
        ops: Vec::with_capacity(raw.ops.kept.len()),
    };
    let mut values = 0usize;
    for (i, op) in raw.ops.kept.into_iter().enumerate() {
        let text = op.get();
        let refused = match count_values(text, MAX_OP_VALUES) {
            // Nested deeper than serde_json's recursion limit: not JSON we read, as before.
            Err(Uncountable::Invalid(e)) => return Err(json_body::json_error(&e)),
            Err(Uncountable::TooMany) => Some(format!(
                "the operation holds more than {MAX_OP_VALUES} JSON values"
            )),
            Ok(_) if text.len() > MAX_OP_BYTES => Some(format!(
                "the operation is larger than {MAX_OP_BYTES} bytes of JSON"
            )),
            Ok(n) => {
                values += n;
                if values > MAX_PUSH_VALUES {
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too_many_values",
                        format!(
                            "a push carries at most {MAX_PUSH_VALUES} JSON values; send fewer operations at once"
                        ),
                    ));
                }
                None
            }
        };
        let outcome = match refused {
            Some(message) => Err(message),
            None => serde_json::from_str::<Op>(text).map_err(|e| {
                format!(
                    "the operation does not decode as a v1 operation: {}",
                    json_body::redact(&e)
                )
            }),
        };
        match outcome {
            Ok(op) => {
                decoded.answers.push(None);
                decoded.ops.push(op);
            }
            Err(message) => {
                let Some(op_id) = op_id(text) else {
                    return Err(ApiError::bad_request(
                        "invalid_body",
                        format!("operation {i} has no valid id: {message}"),
                    ));
                };
                decoded.answers.push(Some(PushResult {
                    op_id,
                    outcome: PushOutcome::Rejected {
                        code: RejectCode::Malformed,
                        message,
                    },
                }));
            }
        }
    }
    Ok(decoded)
}

/// `PushRequest` with its operations left as slices of the body.
#[derive(Deserialize)]
struct RawPush<'a> {
    #[serde(borrow)]
    ops: BoundedOps<'a>,
}

/// The first [`MAX_PUSH_OPS`] + 1 elements of `ops`, and how many there were in all.
struct BoundedOps<'a> {
    kept: Vec<&'a RawValue>,
    total: usize,
}

impl<'de: 'a, 'a> Deserialize<'de> for BoundedOps<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Elements;
        impl<'de> Visitor<'de> for Elements {
            type Value = BoundedOps<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of operations")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut kept = Vec::new();
                while kept.len() <= MAX_PUSH_OPS {
                    match seq.next_element::<&'de RawValue>()? {
                        Some(op) => kept.push(op),
                        None => {
                            let total = kept.len();
                            return Ok(BoundedOps { kept, total });
                        }
                    }
                }
                // Too many: count the rest without keeping (or allocating for) any of it.
                let mut total = kept.len();
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    total += 1;
                }
                Ok(BoundedOps { kept, total })
            }
        }
        deserializer.deserialize_seq(Elements)
    }
}

/// The id of an operation that did not decode, when it has a readable one.
fn op_id(text: &str) -> Option<Id> {
    #[derive(Deserialize)]
    struct IdOnly<'a> {
        #[serde(borrow)]
        id: Cow<'a, str>,
    }
    let only: IdOnly<'_> = serde_json::from_str(text).ok()?;
    only.id.parse().ok()
}

/// Why values could not be counted.
#[derive(Debug)]
pub enum Uncountable {
    /// More than the most asked for.
    TooMany,
    /// Not JSON, or nested deeper than serde_json's recursion limit (128).
    Invalid(serde_json::Error),
}

/// The number of JSON values in `text` (every string, number, literal, list and object,
/// object keys not counted), unless there are more than `most` or it is not JSON.
/// Allocates nothing but serde_json's buffer for strings with escapes.
pub fn count_values(text: &str, most: usize) -> Result<usize, Uncountable> {
    let budget = Cell::new(most);
    let exceeded = Cell::new(false);
    let mut de = serde_json::Deserializer::from_str(text);
    let counted = Counter {
        left: &budget,
        exceeded: &exceeded,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    match counted {
        Ok(()) => Ok(most - budget.get()),
        Err(_) if exceeded.get() => Err(Uncountable::TooMany),
        Err(e) => Err(Uncountable::Invalid(e)),
    }
}

/// Counts the values it walks, failing past its budget.
#[derive(Clone, Copy)]
struct Counter<'b> {
    left: &'b Cell<usize>,
    exceeded: &'b Cell<bool>,
}

impl Counter<'_> {
    fn tick<E: de::Error>(self) -> Result<(), E> {
        match self.left.get().checked_sub(1) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => {
                self.exceeded.set(true);
                Err(E::custom("too many values"))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Counter<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Counter<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.tick()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.tick()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.tick()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.tick()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.tick()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.tick()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.tick()?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.tick()?;
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_counted_without_keys() {
        assert_eq!(count_values("0", 10).unwrap(), 1);
        assert_eq!(count_values("[]", 10).unwrap(), 1);
        let doc = r#"{"a":[1,"x",null,true],"b":{}}"#;
        assert_eq!(count_values(doc, 10).unwrap(), 7);
        assert!(matches!(count_values(doc, 6), Err(Uncountable::TooMany)));
        assert!(matches!(
            count_values("[1,2", 10),
            Err(Uncountable::Invalid(_))
        ));
        assert!(matches!(
            count_values("[1] 2", 10),
            Err(Uncountable::Invalid(_))
        ));
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(
            count_values(&deep, 10_000),
            Err(Uncountable::Invalid(_))
        ));
    }

    #[test]
    fn a_list_of_millions_of_tiny_elements_is_refused_by_count() {
        // 4.2 million elements in 8.4 MB: the count is taken, nothing kept.
        let mut body = b"{\"ops\":[".to_vec();
        for _ in 0..4_200_000 {
            body.extend_from_slice(b"0,");
        }
        body.extend_from_slice(b"0]}");
        let err = decode(&body).unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (413, "too_many_ops"));
        assert!(err.message.contains("4200001"), "{}", err.message);
    }

    #[test]
    fn an_operation_over_its_limits_is_rejected_alone() {
        let id = "0190b5b4-7c2a-7000-8000-000000000001";
        let huge_list = format!(
            r#"{{"id":"{id}","value":[{}0]}}"#,
            "0,".repeat(MAX_OP_VALUES)
        );
        let long_note = format!(r#"{{"id":"{id}","note":"{}"}}"#, "x".repeat(MAX_OP_BYTES));
        for op in [huge_list, long_note] {
            let body = format!(r#"{{"ops":[{op}]}}"#);
            let decoded = decode(body.as_bytes()).unwrap();
            assert!(decoded.ops.is_empty());
            let Some(PushResult {
                op_id,
                outcome: PushOutcome::Rejected { code, message },
            }) = &decoded.answers[0]
            else {
                panic!("{:?}", decoded.answers);
            };
            assert_eq!(op_id.to_string(), id);
            assert_eq!(*code, RejectCode::Malformed);
            assert!(message.contains("more than") || message.contains("larger than"));
        }
    }

    #[test]
    fn a_push_over_the_value_budget_is_refused_whole() {
        let id = "0190b5b4-7c2a-7000-8000-000000000001";
        let op = format!(
            r#"{{"id":"{id}","value":[{}0]}}"#,
            "0,".repeat(MAX_OP_VALUES - 10)
        );
        let ops = vec![op; MAX_PUSH_VALUES / MAX_OP_VALUES + 1];
        let body = format!(r#"{{"ops":[{}]}}"#, ops.join(","));
        let err = decode(body.as_bytes()).unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (413, "too_many_values"));
    }
}
