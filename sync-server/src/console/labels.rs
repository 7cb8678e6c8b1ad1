//! The console's Chinese words for states, steps and times (China time, UTC+8).

use gridwork_domain::model::Term;
use gridwork_domain::workflow::{CaseAction, CaseState};

/// China's offset from UTC, for the times the console shows.
pub const UTC_OFFSET_MS: i64 = 8 * 3_600_000;

/// A state in the words the command centre uses.
pub fn state_zh(state: &CaseState) -> String {
    let word = match state {
        CaseState::Received => "待签收",
        CaseState::Accepted => "已签收",
        CaseState::Assigned => "已交办",
        CaseState::Handled => "已办理",
        CaseState::CompletionReviewed => "已办结审核",
        CaseState::CalledBack => "已回访",
        CaseState::Closed => "已结案",
        CaseState::Raised => "已报警",
        CaseState::Dispatched => "已派发",
        CaseState::Acknowledged => "已接收",
        CaseState::EnRoute => "出动中",
        CaseState::OnScene => "已到场",
        CaseState::Resolved => "已处置",
        CaseState::Reviewed => "已审核结案",
        CaseState::Reported => "已上报",
        CaseState::Fixed => "已整改待复查",
        CaseState::Logged => "已登记",
        CaseState::Mediating { level } => return format!("调解中（{}）", level.zh()),
        CaseState::Settled { level } => return format!("已化解（{}）", level.zh()),
        CaseState::NotSettled { level } => return format!("未化解（{}）", level.zh()),
        CaseState::Open => "待处理",
    };
    word.to_string()
}

/// A step by its name ([`CaseAction::name`]).
pub fn action_zh(name: &str) -> &'static str {
    match name {
        "accept" => "签收",
        "review_assign" => "审核交办",
        "handle" => "审核办理",
        "completion_review" => "办结审核",
        "send_back" => "退回",
        "call_back" => "回访反馈",
        "close" => "结案",
        "dispatch" => "派发微型消防站",
        "acknowledge" => "接收",
        "en_route" => "出动",
        "arrive" => "到场",
        "resolve" => "处置完毕",
        "review" => "审核结案",
        "assign" => "交办整改",
        "fix" => "整改完成",
        "recheck" => "复查",
        "mediate" => "开始调解",
        "escalate" => "上交",
        "settle" => "化解",
        "not_settled" => "调解未成",
        "note" => "备注",
        "photo" => "照片",
        _ => "其他",
    }
}

/// What a step carries, in words (a send-back's reason, an agreement).
pub fn action_detail(action: &CaseAction) -> String {
    match action {
        CaseAction::SendBack { reason } => format!("理由：{reason}"),
        CaseAction::CallBack { satisfied } => {
            if *satisfied {
                "满意".into()
            } else {
                "不满意".into()
            }
        }
        CaseAction::Escalate { to, reason } => format!("上交至{}，理由：{reason}", to.zh()),
        CaseAction::Settle { level, agreement } => format!("{}化解：{agreement}", level.zh()),
        CaseAction::NotSettled { level, reason } => format!("{}未成：{reason}", level.zh()),
        CaseAction::Mediate { level } => level.zh().to_string(),
        CaseAction::Recheck { passed } => {
            if *passed {
                "复查通过".into()
            } else {
                "复查未通过".into()
            }
        }
        CaseAction::Note { text } => text.clone(),
        _ => String::new(),
    }
}

/// `2026-12-06 19:41` in China time.
pub fn datetime(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64 + UTC_OFFSET_MS)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// When a record's photo dates from, as its card says: `拍摄于 2026-12-06 19:00` (taken at, the
/// camera's time) when the picture's metadata had one, else `添加于 2026-12-06 19:00` (added at:
/// the wall-clock part of its field's stamp, when the phone attached it), else `时间不详`.
pub fn photo_time(taken_at_ms: Option<u64>, added_ms: Option<u64>) -> String {
    match (taken_at_ms, added_ms) {
        (Some(t), _) => format!("拍摄于 {}", datetime(t)),
        (None, Some(a)) => format!("添加于 {}", datetime(a)),
        (None, None) => "时间不详".into(),
    }
}

/// `19:41:07` in China time.
pub fn clock(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64 + UTC_OFFSET_MS)
        .map(|t| t.format("%H:%M:%S").to_string())
        .unwrap_or_default()
}

/// A due time against now: `剩 2小时5分` or `超时 3分`.
pub fn due_words(due_ms: u64, now_ms: u64) -> String {
    if due_ms >= now_ms {
        format!("剩 {}", span(due_ms - now_ms))
    } else {
        format!("超时 {}", span(now_ms - due_ms))
    }
}

/// A live alarm's time since raised, as its running timer shows it (`console.js` writes the
/// same words every second): `已过 03:12`, or `到场用时 04:00` once the crew is on scene.
pub fn alarm_elapsed(raised_ms: u64, arrived_ms: Option<u64>, now_ms: u64) -> String {
    let (word, until) = match arrived_ms {
        Some(at) => ("到场用时", at),
        None => ("已过", now_ms),
    };
    let s = until.saturating_sub(raised_ms) / 1000;
    format!("{word} {:02}:{:02}", s / 60, s % 60)
}

/// How long ago, in words: `刚刚`, `5分钟前`, `3小时前`, `2天前` (a time ahead of now, from
/// another server's clock, reads as `刚刚`).
pub fn ago(ms: u64, now_ms: u64) -> String {
    let minutes = now_ms.saturating_sub(ms) / 60_000;
    if minutes == 0 {
        "刚刚".into()
    } else if minutes < 60 {
        format!("{minutes}分钟前")
    } else if minutes < 1440 {
        format!("{}小时前", minutes / 60)
    } else {
        format!("{}天前", minutes / 1440)
    }
}

/// A span in days, hours and minutes (at least a minute).
pub fn span(ms: u64) -> String {
    let minutes = ms / 60_000;
    let (d, h, m) = (minutes / 1440, (minutes / 60) % 24, minutes % 60);
    if d > 0 {
        format!("{d}天{h}小时")
    } else if h > 0 {
        format!("{h}小时{m}分")
    } else {
        format!("{m}分")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_dues_read_in_chinese() {
        assert_eq!(span(125 * 60_000), "2小时5分");
        assert_eq!(span(3 * 86_400_000 + 3_600_000), "3天1小时");
        assert_eq!(due_words(10 * 60_000, 7 * 60_000), "剩 3分");
        assert_eq!(due_words(7 * 60_000, 10 * 60_000), "超时 3分");
        assert_eq!(alarm_elapsed(1_000, None, 193_000), "已过 03:12");
        assert_eq!(
            alarm_elapsed(1_000, Some(241_000), 900_000),
            "到场用时 04:00"
        );
        assert_eq!(ago(100_000, 130_000), "刚刚");
        assert_eq!(ago(0, 5 * 60_000), "5分钟前");
        assert_eq!(ago(0, 3 * 3_600_000 + 59_000), "3小时前");
        assert_eq!(ago(0, 2 * 86_400_000), "2天前");
        assert_eq!(ago(10_000, 5_000), "刚刚");
        // 2026-12-06 11:00 UTC is 19:00 in China.
        assert_eq!(datetime(1_796_554_800_000), "2026-12-06 19:00");
        assert_eq!(
            photo_time(Some(1_796_554_800_000), Some(1_796_558_400_000)),
            "拍摄于 2026-12-06 19:00"
        );
        assert_eq!(
            photo_time(None, Some(1_796_558_400_000)),
            "添加于 2026-12-06 20:00"
        );
        assert_eq!(photo_time(None, None), "时间不详");
    }
}
