//! The field workflows as pure rules over plain data: case lifecycles folded from their events,
//! deadlines and the red/yellow/green supervision colours (红黄绿三色督办), fire-alarm dispatch
//! and arrival figures, tenant registration figures, key-group visits (一老一小) and the weekly
//! brief (周二例会 / 工作简报).
//!
//! Nothing here reads a clock, a disk or a socket: time comes in as `now_ms` (milliseconds since
//! the Unix epoch) or as a date, so every rule is tested without a database. The newcomer's
//! description of the rules is `docs/workflows.md`.

pub mod alarm;
pub mod case_event;
pub mod case_lifecycle;
pub mod deadline;
pub mod key_group;
pub mod patrol_chain;
pub mod registration;
pub mod response_policy;
pub mod weekly_brief;

#[cfg(test)]
pub(crate) mod test_support;

pub use alarm::{
    ARRIVAL_TARGET_MS, Arrival, ArrivalStats, arrival, arrival_minutes, arrival_stats,
    dispatch_target, nearest_station,
};
pub use case_event::{CaseAction, CaseEvent, DefenceLevel};
pub use case_lifecycle::{
    CaseFold, CaseState, FlaggedEvent, TransitionError, apply, available_actions,
    available_actions_where, fold, fold_until, initial_state,
};
pub use deadline::{
    Colour, Deadline, DeadlinePolicy, SeverityDurations, UrgencyKey, arrival_target, colour,
    is_live, next_deadline, sort_by_urgency, supervise, urgency_key, urgency_order, yellow_from_ms,
};
pub use key_group::{KeyGroupPolicy, VisitDue, overdue_visits, visit_due};
pub use registration::{
    Ledger, RegistrationRate, check_in_rules, check_out_rules, expiring_soon, household_rules,
    ledger_fields, overdue_stays, registration_rate, registration_rules, unit_key,
    unregistered_people, unregistered_rooms,
};
pub use response_policy::{ResponsePolicy, in_force_at, with_policy};
pub use weekly_brief::{BriefInput, FoldedCase, GridFacts, WeeklyBrief, weekly_brief};
