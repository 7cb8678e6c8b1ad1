//! Phones with wrong clocks: a year fast or a year slow cannot win conflicts they should lose,
//! deadlines and colours follow real time, and a phone that stamped a year ahead before it
//! learned the offset gets its edits through (restamped, ADR 0011) instead of having them
//! refused until real time catches up.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use gridwork_domain::hlc::DEFAULT_MAX_DRIFT_MS;
use gridwork_domain::model::*;
use gridwork_domain::op::OpBody;
use gridwork_domain::sync::{PushOutcome, RejectCode};
use gridwork_domain::workflow::{CaseAction, Colour};

use crate::harness::*;
use crate::sync_faults::Faulty;

const MINUTE_MS: u64 = 60_000;

fn phone_of(d: &Device, h: uuid::Uuid) -> String {
    d.gw.get::<Household>(h).unwrap().phone.unwrap_or_default()
}

#[tokio::test]
async fn phones_a_year_fast_or_slow_cannot_dominate_a_conflict() {
    let server = TestServer::start().await;
    let (centre, seeded) = seeded_admin(&server, "陈静").await;
    let fast = Device::admin(&server, "王芳", YEAR_MS as i64).await;
    let slow = Device::admin(&server, "李娜", -(YEAR_MS as i64)).await;
    for d in [&centre, &fast, &slow] {
        d.sync().await;
    }
    let h = seeded.households[0].id;

    // All three offline; in real time the fast phone edits first, the centre ten seconds
    // later, the slow phone ten seconds after that.
    fast.gw
        .update::<Household>(h, |h| h.phone = Some("13700000001".into()))
        .unwrap();
    centre.advance_ms(10_000);
    centre
        .gw
        .update::<Household>(h, |h| h.phone = Some("13800000002".into()))
        .unwrap();
    slow.advance_ms(20_000);
    slow.gw
        .update::<Household>(h, |h| h.phone = Some("13900000003".into()))
        .unwrap();
    for d in [&fast, &centre, &slow, &fast, &centre] {
        d.sync().await;
    }

    // The last edit in real time wins everywhere, although its phone's clock is a year behind.
    for d in [&fast, &centre, &slow] {
        assert_eq!(phone_of(d, h), "13900000003");
    }
    assert_eq!(
        fast.gw.state_digest().unwrap(),
        slow.gw.state_digest().unwrap()
    );
    assert_eq!(
        centre.gw.state_digest().unwrap(),
        slow.gw.state_digest().unwrap()
    );
    // The year-fast phone lost, and keeps its value to re-apply.
    let lost = fast.gw.field_conflicts().unwrap();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].lost_value, "13700000001");
    assert!(
        lost[0]
            .lost_stamp
            .hlc
            .physical_ms()
            .abs_diff(gridwork_server::clock::now_ms())
            < 10 * MINUTE_MS,
        "stamped with corrected time, not a year ahead"
    );
}

#[tokio::test]
async fn deadlines_and_colours_follow_real_time_on_phones_a_year_off() {
    let server = TestServer::start().await;
    let (centre, seeded) = seeded_admin(&server, "陈静").await;
    let fast = Device::admin(&server, "王芳", YEAR_MS as i64).await;
    let slow = Device::admin(&server, "李娜", -(YEAR_MS as i64)).await;
    fast.sync().await;
    slow.sync().await;

    let alarm = fast
        .gw
        .raise_alarm(seeded.buildings[0].id, "闻到烟味", "fire", None)
        .unwrap();
    let real = gridwork_server::clock::now_ms();
    assert!(
        alarm.case.opened_at_ms.abs_diff(real) < MINUTE_MS,
        "opened at real time, not at the phone's"
    );
    let due = alarm.deadline.unwrap().due_ms;
    assert!(
        due > real && due < real + 11 * MINUTE_MS,
        "minutes away, not a year"
    );
    assert_eq!(alarm.colour, Some(Colour::Green));
    fast.sync().await;
    for d in [&centre, &slow] {
        d.sync().await;
        let seen = d.gw.case(alarm.case.id).unwrap();
        assert_eq!(
            seen.deadline.unwrap().due_ms,
            due,
            "one deadline everywhere"
        );
        assert_eq!(seen.colour, Some(Colour::Green));
    }

    // Eleven minutes later by each phone's own clock, nobody has acknowledged: red on all.
    for d in [&centre, &fast, &slow] {
        d.advance_ms(11 * MINUTE_MS);
        assert_eq!(d.gw.case(alarm.case.id).unwrap().colour, Some(Colour::Red));
    }
}

#[tokio::test]
async fn a_phone_that_stamped_a_year_ahead_before_learning_the_offset_gets_its_edits_through() {
    let server = TestServer::start().await;
    let (centre, seeded) = seeded_admin(&server, "陈静").await;
    let phone = Device::admin(&server, "赵磊", 0).await;
    phone.sync().await;
    let (h, h2) = (seeded.households[0].id, seeded.households[1].id);

    // Offline, the phone's clock jumps a year ahead; the gridworker keeps working.
    phone.advance_ms(YEAR_MS);
    phone
        .gw
        .update::<Household>(h, |h| h.phone = Some("13700000001".into()))
        .unwrap();
    phone
        .gw
        .update::<Household>(h, |h| h.phone = Some("13700000002".into()))
        .unwrap();
    phone
        .gw
        .update::<Household>(h2, |h| h.unit = "5-502".into())
        .unwrap();
    let alarm = phone
        .gw
        .raise_alarm(seeded.buildings[0].id, "闻到烟味", "fire", None)
        .unwrap();
    phone
        .gw
        .record_case_event(alarm.case.id, CaseAction::Acknowledge)
        .unwrap();
    let first_ids: BTreeSet<_> = phone
        .gw
        .pending_ops(usize::MAX >> 1)
        .unwrap()
        .iter()
        .map(|e| e.op.id)
        .collect();
    assert_eq!(first_ids.len(), 6);

    let net = Faulty::new(&phone.net);
    let report = phone.gw.sync_now(&net).await.unwrap();

    // The server refused every year-ahead stamp, with a reason a person understands ...
    let answers = net.push_answers.lock().unwrap().clone();
    assert_eq!(answers.len(), 2, "refused, then resent in the same run");
    for r in &answers[0].results {
        let PushOutcome::Rejected { code, message } = &r.outcome else {
            panic!("a stamp a year ahead was not refused: {r:?}");
        };
        assert_eq!(*code, RejectCode::ClockAhead);
        assert!(
            message.contains("ahead of the server's clock")
                && message.contains("the device's clock is wrong"),
            "{message}"
        );
    }
    // ... and the phone stamped the same edits again, as new operations, which went through.
    assert!(
        answers[1]
            .results
            .iter()
            .all(|r| matches!(r.outcome, PushOutcome::Accepted { .. }))
    );
    assert_eq!(
        (report.restamped, report.rejected, report.pushed),
        (6, 0, 6)
    );
    assert_eq!(phone.gw.pending_count().unwrap(), 0);
    assert!(phone.gw.rejected_ops().unwrap().is_empty());

    // Nothing lost, nothing twice: the centre sees every edit; the log holds the new
    // operations once each and none of the refused ones.
    centre.sync().await;
    assert_eq!(phone_of(&centre, h), "13700000002");
    assert_eq!(centre.gw.get::<Household>(h2).unwrap().unit, "5-502");
    let timeline = centre.gw.case_timeline(alarm.case.id).unwrap();
    assert_eq!(timeline.len(), 2, "dispatch and acknowledge, once each");
    assert!(timeline.iter().all(|e| e.flagged.is_none()));
    assert_eq!(
        centre.gw.case(alarm.case.id).unwrap().fold.state,
        phone.gw.case(alarm.case.id).unwrap().fold.state
    );
    let log = server_log(&centre.net).await;
    let ids: Vec<_> = log.iter().map(|s| s.op.id).collect();
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len());
    assert!(ids.iter().all(|id| !first_ids.contains(id)));
    let now = gridwork_server::clock::now_ms();
    for s in log
        .iter()
        .filter(|s| s.op.stamp.device == phone.gw.device_id())
    {
        assert!(s.op.stamp.hlc.physical_ms() <= now + DEFAULT_MAX_DRIFT_MS);
        if let OpBody::CaseEvent { event } = &s.op.body {
            assert_eq!(event.stamp, s.op.stamp);
        }
    }
    assert_eq!(
        phone.gw.state_digest().unwrap(),
        centre.gw.state_digest().unwrap()
    );

    // The phone's clock is sane again: its next edit goes through at once ...
    phone
        .gw
        .update::<Household>(h, |h| h.phone = Some("13700000003".into()))
        .unwrap();
    let r = phone.gw.sync_now(&net).await.unwrap();
    assert_eq!((r.pushed, r.restamped, r.rejected), (1, 0, 0));
    // ... and it cannot dominate: the centre's later edit wins.
    centre.advance_ms(MINUTE_MS);
    centre.sync().await;
    centre
        .gw
        .update::<Household>(h, |h| h.phone = Some("13800000009".into()))
        .unwrap();
    centre.sync().await;
    phone.sync().await;
    assert_eq!(phone_of(&phone, h), "13800000009");
    assert_eq!(
        phone.gw.state_digest().unwrap(),
        centre.gw.state_digest().unwrap()
    );
    assert_eq!(net.pushes_sent.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_value_pulled_while_the_clock_was_ahead_is_not_left_hidden_by_the_recovery() {
    let server = TestServer::start().await;
    let (centre, seeded) = seeded_admin(&server, "陈静").await;
    let other = Device::admin(&server, "孙丽", 0).await;
    let phone = Device::admin(&server, "赵磊", 0).await;
    other.sync().await;
    phone.sync().await;
    let h = seeded.households[0].id;

    // Since their last sync, one phone's clock has gone four minutes fast (within what the
    // server admits), the other's a year fast.
    other.advance_ms(4 * MINUTE_MS);
    phone.advance_ms(YEAR_MS);
    phone
        .gw
        .update::<Household>(h, |h| h.phone = Some("13700000001".into()))
        .unwrap();
    other
        .gw
        .update::<Household>(h, |h| h.phone = Some("13900000002".into()))
        .unwrap();
    other.sync().await;
    // The phone pulls (the live wait) before it pushes: the other value, stamped four minutes
    // ahead of real time, loses locally to the year-ahead stamp and is not kept.
    phone.gw.wait_for_changes(&phone.net, 0).await.unwrap();
    assert_eq!(phone_of(&phone, h), "13700000001");

    let r = phone.sync().await;
    assert_eq!(r.restamped, 1);
    other.sync().await;
    centre.sync().await;
    // The restamped edit is newer than everything the phone had seen, so it wins everywhere
    // (the value it displaced is kept as a conflict on its author's phone).
    for d in [&phone, &other, &centre] {
        assert_eq!(phone_of(d, h), "13700000001");
        assert_eq!(
            d.gw.state_digest().unwrap(),
            centre.gw.state_digest().unwrap()
        );
    }
    assert_eq!(other.gw.field_conflicts().unwrap().len(), 1);
}
