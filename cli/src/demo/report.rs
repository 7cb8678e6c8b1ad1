//! What the demo prints at the end: convergence, the conflict, the field rules at work, the
//! alarm, the open cases with their colours, and the weekly brief. Its words come from the
//! catalogue (Chinese by default, `--lang en` for English); the brief is the bilingual one the
//! bindings give.

use super::day::Outcome;
use crate::commands::local_time;
use crate::i18n::{t, tr};

pub fn print(o: &Outcome) {
    outln!("\n{}", t("demo-convergence"));
    for p in &o.phones {
        outln!(
            "  {:<12} {:<14} {}  {}  {}",
            p.name,
            crate::i18n::role(p.role),
            tr("demo-digest", &[("digest", &p.digest[..16])]),
            tr("demo-unsynced", &[("n", &p.pending.to_string())]),
            if p.digest == p.reference {
                t("demo-same-as-fresh")
            } else {
                t("demo-different-from-fresh")
            }
        );
    }
    let converged = o
        .phones
        .iter()
        .all(|p| p.digest == p.reference && p.pending == 0);
    outln!(
        "  {}",
        if converged {
            t("demo-converged")
        } else {
            t("demo-not-converged")
        }
    );
    outln!(
        "  {}",
        tr(
            "demo-offline-queued",
            &[("n", &o.offline_queued.to_string())]
        )
    );

    outln!("\n{}", t("demo-conflict"));
    match &o.conflict {
        Some(c) => {
            outln!(
                "  {}",
                tr(
                    "demo-conflict-field",
                    &[("address", &c.address), ("field", &c.field)]
                )
            );
            outln!(
                "  {}",
                tr(
                    "demo-conflict-won",
                    &[
                        ("lost_by", c.lost_by),
                        ("lost", &c.lost_value),
                        ("won_by", c.won_by),
                        ("won", &c.won_value),
                    ],
                )
            );
            outln!(
                "  {}",
                tr("demo-conflict-reapplied", &[("lost_by", c.lost_by)])
            );
            outln!(
                "  {}",
                tr("demo-conflict-final", &[("value", &c.final_value)])
            );
        }
        None => outln!("  {}", t("demo-conflict-none")),
    }

    outln!("\n{}", t("demo-rules"));
    outln!("  {}", tr("demo-rules-policy", &[("policy", &o.policy)]));
    for line in &o.refusals {
        outln!("  {line}");
    }

    outln!("\n{}", t("demo-alarm"));
    let a = &o.alarm;
    outln!(
        "  {}",
        tr(
            "demo-alarm-dispatched",
            &[
                ("title", &a.title),
                ("address", &a.address),
                ("station", &a.station),
            ],
        )
    );
    outln!(
        "  {}",
        tr(
            "demo-alarm-live",
            &[("ms", &a.live_delivery_ms.to_string())]
        )
    );
    outln!(
        "  {}",
        tr(
            if a.within_target {
                "demo-alarm-within"
            } else {
                "demo-alarm-beyond"
            },
            &[
                ("minutes", &format!("{:.1}", a.arrival_minutes)),
                ("target", &a.target_minutes.to_string()),
            ],
        )
    );
    let steps: Vec<String> = a
        .steps
        .iter()
        .map(|(step, who)| tr("demo-step-by", &[("step", step), ("who", who)]))
        .collect();
    outln!(
        "  {}",
        tr("demo-alarm-timeline", &[("steps", &steps.join(" · "))])
    );

    outln!("\n{}", t("demo-open-cases"));
    for v in &o.open_cases {
        outln!(
            "  [{}] {:<14} {:<20} {}{}",
            v.colour.map_or("—", |c| c.label_zh()),
            crate::i18n::code("kind", v.case.kind.as_str()),
            crate::i18n::state(&v.fold.state),
            v.case.title,
            v.deadline
                .as_ref()
                .map(|d| format!("  {}", tr("demo-due", &[("due", &local_time(d.due_ms))])))
                .unwrap_or_default()
        );
    }

    outln!("\n{}\n", t("demo-brief"));
    for line in o.brief_markdown.lines() {
        outln!("  {line}");
    }
}
