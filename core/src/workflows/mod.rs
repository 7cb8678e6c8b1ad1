//! The field workflows on the device (issue 5): the API a gridworker, a building head and a
//! fire crew use every day, offline, on top of the pure rules in
//! [`gridwork_domain::workflow`].
//!
//! - [`work_queue`]: my open cases and the device's, most urgent first (红黄绿); the next steps
//!   of a case;
//! - [`alarms`]: raising a fire alarm dispatched to a micro fire station in one transaction;
//!   arrival times against the policy's target;
//! - [`incidents`]: events the command centre dispatches on minute-level response times;
//! - [`hotline`]: 12345 intake with an assignee;
//! - [`registrations`]: tenant check-in and check-out by the ledger rules; expiring and overdue
//!   stays; registration rate per person and per room; the rooms and people to register;
//! - [`response_policy`]: the subdistrict's response policy (1-3-10, Wulin 1/5/30, custom),
//!   set by an admin on the area record and applied offline to alarms and incidents;
//! - [`patrols`]: patrols, building check-ins, findings linked to the patrol;
//! - [`key_groups`]: visits to 一老一小 and who is overdue;
//! - [`brief`]: the weekly brief (周二例会 / 工作简报) of an area.
//!
//! Each file adds methods to [`Gridwork`](crate::Gridwork); every action is one transaction
//! through the same write path as [`Gridwork::create`](crate::Gridwork::create). The decisions
//! taken here are recorded in `docs/adr/0008-workflow-rules.md`; the device API is described in
//! `docs/workflows.md`.

pub mod alarms;
pub mod brief;
pub mod hotline;
pub mod incidents;
pub mod key_groups;
pub(crate) mod new_record;
pub mod patrols;
pub mod registrations;
pub mod response_policy;
pub mod work_queue;

pub use alarms::{AreaArrivals, ArrivalFigure, DEFAULT_ALARM_SEVERITY};
pub use hotline::HotlineAssignment;
pub use key_groups::OverdueVisit;
pub use patrols::PatrolSummary;
pub use registrations::{
    BuildingRegistration, GridRegistration, RegistrationReport, StayView, UnregisteredRoom,
    UnregisteredTenant,
};
