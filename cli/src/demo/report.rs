//! What the demo prints at the end: convergence, the conflict, the alarm, the open cases with
//! their colours, and the weekly brief.

use super::day::Outcome;
use crate::commands::local_time;

pub fn print(o: &Outcome) {
    println!("\n== Convergence: every phone holds exactly its scope, all of it");
    for p in &o.phones {
        println!(
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
    println!(
        "  {}",
        if converged {
            "converged ✓"
        } else {
            "NOT converged ✗"
        }
    );
    println!(
        "  ({} changes were made offline and queued until the phones came back online)",
        o.offline_queued
    );

    println!("\n== The conflict");
    match &o.conflict {
        Some(c) => {
            println!(
                "  {} · field `{}` edited on two phones offline",
                c.address, c.field
            );
            println!(
                "  {} wrote {} · {} wrote {} later → {}'s value won everywhere",
                c.lost_by, c.lost_value, c.won_by, c.won_value, c.won_by
            );
            println!(
                "  {}'s value was not dropped: it waited in her conflict list; she confirmed it by phone and re-applied it",
                c.lost_by
            );
            println!("  final value on every phone: {}", c.final_value);
        }
        None => println!("  (none detected)"),
    }

    println!("\n== The fire alarm");
    let a = &o.alarm;
    println!(
        "  {} at {} → dispatched to {}",
        a.title, a.address, a.station
    );
    println!(
        "  reached the crew's phone through the live long poll in {} ms",
        a.live_delivery_ms
    );
    println!(
        "  crew on scene after {:.1} min: {}",
        a.arrival_minutes,
        if a.within_target {
            "within the 5-minute target ✓"
        } else {
            "beyond the 5-minute target ✗"
        }
    );

    println!("\n== Open cases at 18:00, most urgent first (红 overdue · 黄 close · 绿 on track)");
    for v in &o.open_cases {
        println!(
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

    println!("\n== The weekly brief for Tuesday's review\n");
    for line in o.brief_markdown.lines() {
        println!("  {line}");
    }
}
