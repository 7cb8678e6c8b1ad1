//! Case events: the append-only history of a case, one [`CaseEvent`] per step someone took.
//!
//! A case's state is never stored; it is the fold of its events through the lifecycle (see
//! [`crate::workflow::case_lifecycle`]). Events are merged between devices by set union, so an
//! event must carry everything the fold needs: its own id (for de-duplication), its [`Stamp`]
//! (for the HLC order) and the action with its payload.
//!
//! Also here: [`DefenceLevel`], the three lines of defence (三道防线) against disputes, because
//! the dispute actions carry it.

use serde::{Deserialize, Serialize};

use crate::attachment::AttachmentRef;
use crate::hlc::Stamp;
use crate::ids::Id;
use crate::validate::Position;

/// Who works a dispute: the three lines of defence (三道防线) and, beyond the village, the
/// subdistrict. Ordered from the first line outwards, so `a < b` means `b` is higher up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefenceLevel {
    /// First line: micro-grid leader / villager group leader (微网格长、村民小组长).
    MicroGridLeader,
    /// Second line: gridworker or village cadre (网格员、村干部).
    Gridworker,
    /// Third line: the village (community) party secretary (村书记).
    VillageSecretary,
    /// Beyond the village: the subdistrict's mediation centre (街道调解中心).
    SubdistrictMediationCentre,
}

impl DefenceLevel {
    /// All levels, first line first.
    pub const ALL: [DefenceLevel; 4] = [
        DefenceLevel::MicroGridLeader,
        DefenceLevel::Gridworker,
        DefenceLevel::VillageSecretary,
        DefenceLevel::SubdistrictMediationCentre,
    ];

    /// The stable name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DefenceLevel::MicroGridLeader => "micro_grid_leader",
            DefenceLevel::Gridworker => "gridworker",
            DefenceLevel::VillageSecretary => "village_secretary",
            DefenceLevel::SubdistrictMediationCentre => "subdistrict_mediation_centre",
        }
    }

    /// Parses [`DefenceLevel::as_str`].
    pub fn parse(s: &str) -> Option<DefenceLevel> {
        DefenceLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The name the users use.
    pub fn label_zh(self) -> &'static str {
        match self {
            DefenceLevel::MicroGridLeader => "微网格长",
            DefenceLevel::Gridworker => "网格员/村干部",
            DefenceLevel::VillageSecretary => "村书记",
            DefenceLevel::SubdistrictMediationCentre => "街道调解中心",
        }
    }

    /// English words for messages ("the village secretary").
    pub fn words(self) -> &'static str {
        match self {
            DefenceLevel::MicroGridLeader => "micro-grid leader",
            DefenceLevel::Gridworker => "gridworker",
            DefenceLevel::VillageSecretary => "village secretary",
            DefenceLevel::SubdistrictMediationCentre => "subdistrict mediation centre",
        }
    }

    /// The next line up, where a dispute this line could not settle goes; `None` above the
    /// village (the subdistrict's mediation centre is the last).
    pub fn next(self) -> Option<DefenceLevel> {
        let all = DefenceLevel::ALL;
        let at = all.iter().position(|l| *l == self)?;
        all.get(at + 1).copied()
    }

    /// Settled here counts as "small matters stay in the grid" (小事不出网格): the micro-grid
    /// leader and the gridworker work inside the grid.
    pub fn is_inside_grid(self) -> bool {
        matches!(
            self,
            DefenceLevel::MicroGridLeader | DefenceLevel::Gridworker
        )
    }

    /// Settled here counts as "big matters stay in the village" (大事不出村社): all three lines
    /// of defence; only the subdistrict mediation centre is outside.
    pub fn is_inside_village(self) -> bool {
        self != DefenceLevel::SubdistrictMediationCentre
    }
}

/// One step taken on a case, by someone, at some time. Immutable once written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseEvent {
    /// The event's own id (UUID v7, made on the device): duplicates are recognised by it.
    pub id: Id,
    pub case_id: Id,
    /// When and by which device: `stamp.hlc.physical_ms()` is when it happened.
    pub stamp: Stamp,
    /// The user who took the step, when known (an import from the 12345 platform has none).
    pub actor: Option<Id>,
    pub action: CaseAction,
}

impl CaseEvent {
    /// Milliseconds since the epoch (corrected device time) when the step was taken.
    pub fn at_ms(&self) -> u64 {
        self.stamp.hlc.physical_ms()
    }
}

/// A step of a case lifecycle, with the data it carries.
///
/// One enum for all kinds: which steps a kind accepts, and from which state, is decided by
/// [`crate::workflow::apply`]. Notes and photos are accepted in every state, even closed,
/// and change nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CaseAction {
    // -- 12345 hotline ------------------------------------------------------------------------
    /// 签收: the command centre accepts the case from the hotline platform.
    Accept,
    /// 审核交办: reviewed and assigned to someone, optionally with a handling deadline.
    ReviewAssign {
        assignee: Option<Id>,
        deadline_ms: Option<u64>,
    },
    /// 审核办理: the assignee reports the case handled.
    Handle,
    /// 办结审核: the completion review is passed.
    CompletionReview,
    /// 退回: a review step refuses the work before it; the reason is required.
    SendBack { reason: String },
    /// 回访反馈: the resident was called back; were they satisfied?
    CallBack { satisfied: bool },
    /// Closes a hotline case, a settled (or unsettleable) dispute or a resolved patrol finding.
    Close,

    // -- fire alarm -----------------------------------------------------------------------------
    /// The command centre (or the gridworker) sends the alarm to a micro fire station.
    Dispatch { station_id: Id },
    /// The crew has received the alarm (接收).
    Acknowledge,
    /// The crew has set off (响应).
    EnRoute { position: Option<Position> },
    /// The crew is on scene (到达现场).
    Arrive { position: Option<Position> },
    /// The fire is out / the alarm is dealt with (also: a patrol finding dealt with).
    Resolve,
    /// The command centre has reviewed the crew's report; the alarm is closed.
    Review,

    // -- hazard (and patrol finding) ----------------------------------------------------------
    /// Assigned for rectification (整改), optionally with an explicit deadline.
    Assign {
        assignee: Option<Id>,
        deadline_ms: Option<u64>,
    },
    /// Reported rectified.
    Fix,
    /// 复查: the rectification was checked on site.
    Recheck { passed: bool },

    // -- dispute ------------------------------------------------------------------------------
    /// Mediation starts at a line of defence.
    Mediate { level: DefenceLevel },
    /// Handed up to a higher line; the reason is required.
    Escalate { to: DefenceLevel, reason: String },
    /// Settled at a level, with what was agreed.
    Settle {
        level: DefenceLevel,
        agreement: String,
    },
    /// Mediation at a level failed; the reason is required.
    NotSettled { level: DefenceLevel, reason: String },

    // -- any kind, any state ------------------------------------------------------------------
    /// A free note.
    Note { text: String },
    /// A photo: the reference to its blob (the bytes travel in their own lane, see
    /// [`crate::attachment`]).
    Photo {
        /// The picture, its thumbnail and what the record keeps of its metadata. Absent only in
        /// steps recorded before attachments existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attachment: Option<Box<AttachmentRef>>,
        /// The app's own URI, as steps recorded before attachments named a photo; kept so their
        /// histories still read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uri: Option<String>,
    },
}

impl CaseAction {
    /// The stable name of the step (the serde tag), e.g. `"review_assign"`.
    pub fn name(&self) -> &'static str {
        match self {
            CaseAction::Accept => "accept",
            CaseAction::ReviewAssign { .. } => "review_assign",
            CaseAction::Handle => "handle",
            CaseAction::CompletionReview => "completion_review",
            CaseAction::SendBack { .. } => "send_back",
            CaseAction::CallBack { .. } => "call_back",
            CaseAction::Close => "close",
            CaseAction::Dispatch { .. } => "dispatch",
            CaseAction::Acknowledge => "acknowledge",
            CaseAction::EnRoute { .. } => "en_route",
            CaseAction::Arrive { .. } => "arrive",
            CaseAction::Resolve => "resolve",
            CaseAction::Review => "review",
            CaseAction::Assign { .. } => "assign",
            CaseAction::Fix => "fix",
            CaseAction::Recheck { .. } => "recheck",
            CaseAction::Mediate { .. } => "mediate",
            CaseAction::Escalate { .. } => "escalate",
            CaseAction::Settle { .. } => "settle",
            CaseAction::NotSettled { .. } => "not_settled",
            CaseAction::Note { .. } => "note",
            CaseAction::Photo { .. } => "photo",
        }
    }

    /// The step as a verb for messages: "cannot {verb}: ...".
    pub fn verb(&self) -> &'static str {
        action_verb(self.name())
    }

    /// Notes and photos annotate a case without moving it.
    pub fn is_annotation(&self) -> bool {
        matches!(self, CaseAction::Note { .. } | CaseAction::Photo { .. })
    }

    /// The step as the users name it: 签收, 审核交办, 到达现场, 升级, 化解…
    pub fn label_zh(&self) -> &'static str {
        match self {
            CaseAction::Accept => "签收",
            CaseAction::ReviewAssign { .. } => "审核交办",
            CaseAction::Handle => "审核办理",
            CaseAction::CompletionReview => "办结审核",
            CaseAction::SendBack { .. } => "退回",
            CaseAction::CallBack { .. } => "回访反馈",
            CaseAction::Close => "办结",
            CaseAction::Dispatch { .. } => "派警",
            CaseAction::Acknowledge => "接收",
            CaseAction::EnRoute { .. } => "出发",
            CaseAction::Arrive { .. } => "到达现场",
            CaseAction::Resolve => "处置完毕",
            CaseAction::Review => "审核",
            CaseAction::Assign { .. } => "交办",
            CaseAction::Fix => "整改",
            CaseAction::Recheck { .. } => "复查",
            CaseAction::Mediate { .. } => "调解",
            CaseAction::Escalate { .. } => "升级",
            CaseAction::Settle { .. } => "化解",
            CaseAction::NotSettled { .. } => "调解未果",
            CaseAction::Note { .. } => "备注",
            CaseAction::Photo { .. } => "照片",
        }
    }

    /// What the step carries besides its name, as (what, value) pairs for a timeline: the line
    /// of defence, the reason, the agreement, the assignee and deadline (ms since the epoch),
    /// the station, the position, the resident's satisfaction, the recheck's result. Empty for
    /// steps that carry nothing.
    pub fn details(&self) -> Vec<(&'static str, String)> {
        let position =
            |p: &Option<Position>| p.map(|p| ("position", format!("{:.5},{:.5}", p.lat, p.lon)));
        let assignment = |assignee: &Option<Id>, deadline_ms: &Option<u64>| {
            let mut out = Vec::new();
            if let Some(a) = assignee {
                out.push(("assignee", a.to_string()));
            }
            if let Some(d) = deadline_ms {
                out.push(("due_ms", d.to_string()));
            }
            out
        };
        let level = |l: &DefenceLevel| ("level", format!("{} {}", l.label_zh(), l.words()));
        match self {
            CaseAction::ReviewAssign {
                assignee,
                deadline_ms,
            }
            | CaseAction::Assign {
                assignee,
                deadline_ms,
            } => assignment(assignee, deadline_ms),
            CaseAction::SendBack { reason } => vec![("reason", reason.clone())],
            CaseAction::CallBack { satisfied } => vec![(
                "satisfied",
                if *satisfied {
                    "满意 yes"
                } else {
                    "不满意 no"
                }
                .into(),
            )],
            CaseAction::Dispatch { station_id } => vec![("station", station_id.to_string())],
            CaseAction::EnRoute { position: p } | CaseAction::Arrive { position: p } => {
                position(p).into_iter().collect()
            }
            CaseAction::Recheck { passed } => vec![(
                "passed",
                if *passed {
                    "通过 yes"
                } else {
                    "未通过 no"
                }
                .into(),
            )],
            CaseAction::Mediate { level: l } => vec![level(l)],
            CaseAction::Escalate { to, reason } => vec![level(to), ("reason", reason.clone())],
            CaseAction::Settle {
                level: l,
                agreement,
            } => {
                vec![level(l), ("agreement", agreement.clone())]
            }
            CaseAction::NotSettled { level: l, reason } => {
                vec![level(l), ("reason", reason.clone())]
            }
            CaseAction::Note { text } => vec![("text", text.clone())],
            CaseAction::Photo { attachment, uri } => attachment
                .iter()
                .map(|a| ("photo", a.blob.hash.to_string()))
                .chain(uri.iter().map(|u| ("photo", u.clone())))
                .collect(),
            CaseAction::Accept
            | CaseAction::Handle
            | CaseAction::CompletionReview
            | CaseAction::Close
            | CaseAction::Acknowledge
            | CaseAction::Resolve
            | CaseAction::Review
            | CaseAction::Fix => vec![],
        }
    }
}

/// Every step's stable name ([`CaseAction::name`]).
pub const STEP_NAMES: [&str; 22] = [
    "accept",
    "review_assign",
    "handle",
    "completion_review",
    "send_back",
    "call_back",
    "close",
    "dispatch",
    "acknowledge",
    "en_route",
    "arrive",
    "resolve",
    "review",
    "assign",
    "fix",
    "recheck",
    "mediate",
    "escalate",
    "settle",
    "not_settled",
    "note",
    "photo",
];

/// The verb for a step named by [`CaseAction::name`], for messages ("cannot {verb}: ...").
pub(crate) fn action_verb(name: &str) -> &'static str {
    match name {
        "accept" => "accept",
        "review_assign" => "review and assign",
        "handle" => "handle",
        "completion_review" => "pass completion review",
        "send_back" => "send back",
        "call_back" => "call back",
        "close" => "close",
        "dispatch" => "dispatch",
        "acknowledge" => "acknowledge",
        "en_route" => "set off en route",
        "arrive" => "arrive",
        "resolve" => "resolve",
        "review" => "review",
        "assign" => "assign",
        "fix" => "fix",
        "recheck" => "recheck",
        "mediate" => "mediate",
        "escalate" => "escalate",
        "settle" => "settle",
        "not_settled" => "record no settlement",
        "note" => "add a note",
        "photo" => "add a photo",
        _ => "take this step",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;

    #[test]
    fn defence_levels_are_ordered_outwards_and_round_trip() {
        assert!(DefenceLevel::MicroGridLeader < DefenceLevel::Gridworker);
        assert!(DefenceLevel::Gridworker < DefenceLevel::VillageSecretary);
        assert!(DefenceLevel::VillageSecretary < DefenceLevel::SubdistrictMediationCentre);
        for level in DefenceLevel::ALL {
            assert_eq!(DefenceLevel::parse(level.as_str()), Some(level));
            let json = serde_json::to_string(&level).unwrap();
            assert_eq!(json, format!("\"{}\"", level.as_str()));
        }
        assert_eq!(DefenceLevel::parse("mayor"), None);
    }

    #[test]
    fn small_matters_stay_in_the_grid_big_ones_in_the_village() {
        assert!(DefenceLevel::MicroGridLeader.is_inside_grid());
        assert!(DefenceLevel::Gridworker.is_inside_grid());
        assert!(!DefenceLevel::VillageSecretary.is_inside_grid());
        assert!(DefenceLevel::VillageSecretary.is_inside_village());
        assert!(!DefenceLevel::SubdistrictMediationCentre.is_inside_village());
        assert!(!DefenceLevel::SubdistrictMediationCentre.is_inside_grid());
    }

    #[test]
    fn an_event_serialises_with_a_type_tag_and_round_trips() {
        let event = CaseEvent {
            id: Id::from_u128(1),
            case_id: Id::from_u128(2),
            stamp: Stamp::new(Hlc::new(1_800_000_000_000, 3), Id::from_u128(9)),
            actor: None,
            action: CaseAction::Escalate {
                to: DefenceLevel::VillageSecretary,
                reason: "邻里土地纠纷，双方不接受".into(),
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["action"]["type"], "escalate");
        assert_eq!(json["action"]["to"], "village_secretary");
        let back: CaseEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        assert_eq!(back.at_ms(), 1_800_000_000_000);
    }

    #[test]
    fn the_name_of_an_action_is_its_serde_tag() {
        let actions = [
            CaseAction::Accept,
            CaseAction::ReviewAssign {
                assignee: None,
                deadline_ms: Some(5),
            },
            CaseAction::Handle,
            CaseAction::CompletionReview,
            CaseAction::SendBack { reason: "x".into() },
            CaseAction::CallBack { satisfied: true },
            CaseAction::Close,
            CaseAction::Dispatch {
                station_id: Id::from_u128(4),
            },
            CaseAction::Acknowledge,
            CaseAction::EnRoute { position: None },
            CaseAction::Arrive { position: None },
            CaseAction::Resolve,
            CaseAction::Review,
            CaseAction::Assign {
                assignee: None,
                deadline_ms: None,
            },
            CaseAction::Fix,
            CaseAction::Recheck { passed: false },
            CaseAction::Mediate {
                level: DefenceLevel::Gridworker,
            },
            CaseAction::Escalate {
                to: DefenceLevel::Gridworker,
                reason: "r".into(),
            },
            CaseAction::Settle {
                level: DefenceLevel::Gridworker,
                agreement: "a".into(),
            },
            CaseAction::NotSettled {
                level: DefenceLevel::Gridworker,
                reason: "r".into(),
            },
            CaseAction::Note { text: "n".into() },
            CaseAction::Photo {
                attachment: None,
                uri: Some("blob:1".into()),
            },
            CaseAction::Photo {
                attachment: Some(Box::new(crate::attachment::AttachmentRef {
                    blob: crate::attachment::BlobRef {
                        hash: crate::attachment::BlobHash::of(b"jpeg"),
                        size: 4,
                    },
                    media_type: "image/jpeg".into(),
                    thumbnail: None,
                    taken_at_ms: Some(1),
                    position: None,
                })),
                uri: None,
            },
        ];
        for action in actions {
            let json = serde_json::to_value(&action).unwrap();
            assert_eq!(json["type"], action.name());
            let back: CaseAction = serde_json::from_value(json).unwrap();
            assert_eq!(back, action);
        }
    }
}
