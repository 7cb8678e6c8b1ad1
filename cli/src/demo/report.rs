//! What the demo prints at the end: convergence, the conflict, the field rules at work, the
//! alarm, the open cases with their colours, and the weekly brief.

use super::day::Outcome;
use crate::commands::local_time;

pub fn print(o: &Outcome) {
    outln!("\n== Convergence: every phone holds exactly its scope, all of it");
    for p in &o.phones {
        outln!(
            "  {:<12} {:<14} digest {}  unsynced {}  {}",
            p.name,
            p.role.as_str(),
            &p.digest[..16],
            p.pending,
            if p.digest == p.reference {
                "✓ = a fresh phone with the same scope"
            } else {
                "✗ DIFFERENT from a fresh phone with the same scope"
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
            "converged ✓"
        } else {
            "NOT converged ✗"
        }
    );
    outln!(
        "  ({} changes were made offline and queued until the phones came back online)",
        o.offline_queued
    );

    outln!("\n== The conflict");
    match &o.conflict {
        Some(c) => {
            outln!(
                "  {} · field `{}` edited on two phones offline",
                c.address,
                c.field
            );
            outln!(
                "  {} wrote {} · {} wrote {} later → {}'s value won everywhere",
                c.lost_by,
                c.lost_value,
                c.won_by,
                c.won_value,
                c.won_by
            );
            outln!(
                "  {}'s value was not dropped: it waited in her conflict list; she confirmed it by phone and re-applied it",
                c.lost_by
            );
            outln!("  final value on every phone: {}", c.final_value);
        }
        None => outln!("  (none detected)"),
    }

    outln!("\n== The field rules at work");
    outln!("  response policy: {}", o.policy);
    for line in &o.refusals {
        outln!("  {line}");
    }

    outln!("\n== The fire alarm");
    let a = &o.alarm;
    outln!(
        "  {} at {} → dispatched to {}",
        a.title,
        a.address,
        a.station
    );
    outln!(
        "  reached the crew's phone through the live long poll in {} ms",
        a.live_delivery_ms
    );
    outln!(
        "  the crew acknowledged, set off and arrived on its own phone: on scene after {:.1} min, {} the {}-minute target {}",
        a.arrival_minutes,
        if a.within_target { "within" } else { "beyond" },
        a.target_minutes,
        if a.within_target { "✓" } else { "✗" }
    );
    let steps: Vec<String> = a
        .steps
        .iter()
        .map(|(step, who)| format!("{step} by {who}"))
        .collect();
    outln!("  timeline: {}", steps.join(" · "));

    outln!(
        "\n== Open cases on Friday at 18:00, most urgent first (live alarms first; 红 overdue · 黄 close · 绿 on track)"
    );
    for v in &o.open_cases {
        outln!(
            "  [{}] {:<14} {:<20} {}{}",
            v.colour.map_or("—", |c| c.label_zh()),
            v.case.kind.as_str(),
            v.fold.state.to_string(),
            v.case.title,
            v.deadline
                .as_ref()
                .map(|d| format!("  (due {})", local_time(d.due_ms)))
                .unwrap_or_default()
        );
    }

    outln!("\n== The weekly brief, made on Tuesday for the meeting's review of Monday–Sunday\n");
    for line in o.brief_markdown.lines() {
        outln!("  {line}");
    }
}
