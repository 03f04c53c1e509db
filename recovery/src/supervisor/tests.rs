use std::time::Duration;

use proptest::prelude::{
    prop, prop_assert, prop_assert_eq, prop_oneof, proptest, Just, ProptestConfig,
};
use proptest::strategy::Strategy as Gen;

use super::*;
use crate::spec::{ChildSpec, GroupSpec, MemberSpec};

fn ms(n: u64) -> Timestamp {
    Timestamp::from_nanos(n * 1_000_000)
}

fn child(id: &str) -> MemberSpec {
    let mut spec = ChildSpec::new(id, vec!["true".into()]);
    spec.produces = vec![format!("{id}_p")];
    spec.shutdown = Duration::from_millis(500);
    MemberSpec::Child(spec)
}

fn no_jitter(mut group: GroupSpec) -> GroupSpec {
    group.backoff.jitter = 0.0;
    group
}

fn group(strategy: Strategy, members: Vec<MemberSpec>) -> GroupSpec {
    let mut g = no_jitter(GroupSpec::new("top", members));
    g.strategy = strategy;
    g.intensity = 3;
    g.period = Duration::from_secs(10);
    g
}

fn id(sup: &Supervisor, name: &str) -> ChildId {
    sup.child_id(name).unwrap()
}

/// The names in the Start / Terminate / Kill actions, in order.
fn commands(sup: &Supervisor, actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Start(c) => Some(format!("start {}", sup.child(*c).id)),
            Action::Terminate(c) => Some(format!("term {}", sup.child(*c).id)),
            Action::Kill(c) => Some(format!("kill {}", sup.child(*c).id)),
            _ => None,
        })
        .collect()
}

/// Plays out stops: every Terminate is answered by an exit 1 ms later,
/// until nothing is left to stop; returns every action seen.
fn settle(sup: &mut Supervisor, first: Vec<Action>, mut at: Timestamp) -> Vec<Action> {
    let mut all = Vec::new();
    let mut pending = first;
    loop {
        let stops: Vec<ChildId> = pending
            .iter()
            .filter_map(|a| match a {
                Action::Terminate(c) | Action::Kill(c) => Some(*c),
                _ => None,
            })
            .collect();
        all.append(&mut pending);
        if stops.is_empty() {
            return all;
        }
        for c in stops {
            at = at + Duration::from_millis(1);
            pending.extend(sup.on_exit(c, Exit::Signal(15), at));
        }
    }
}

#[test]
fn starts_in_order() {
    let mut sup = Supervisor::new(group(
        Strategy::OneForOne,
        vec![child("a"), child("b"), child("c")],
    ));
    let actions = sup.start(ms(0));
    assert_eq!(commands(&sup, &actions), ["start a", "start b", "start c"]);
    assert_eq!(sup.next_deadline(), None);
}

#[test]
fn one_for_one_restarts_only_the_dead_after_backoff() {
    let mut sup = Supervisor::new(group(
        Strategy::OneForOne,
        vec![child("a"), child("b"), child("c")],
    ));
    sup.start(ms(0));
    let b = id(&sup, "b");
    let actions = sup.on_exit(b, Exit::Signal(9), ms(1000));
    assert_eq!(
        actions,
        [
            Action::PublishFailed {
                child: b,
                producers: vec!["b_p".into()],
                reason: "child b exited with signal 9".into()
            },
            Action::Restarting {
                member: MemberId::Child(b),
                attempt: 1,
                delay: Duration::from_millis(100)
            }
        ]
    );
    assert_eq!(sup.next_deadline(), Some(ms(1100)));
    assert!(sup.on_timer(ms(1099)).is_empty());
    assert_eq!(timer(&mut sup, ms(1100)), ["start b"]);
}

/// The commands `on_timer(at)` gives.
fn timer(sup: &mut Supervisor, at: Timestamp) -> Vec<String> {
    let actions = sup.on_timer(at);
    commands(sup, &actions)
}

#[test]
fn backoff_grows_then_resets_after_a_healthy_run() {
    let mut spec = group(Strategy::OneForOne, vec![child("a")]);
    spec.intensity = 100;
    spec.backoff.reset_after = Duration::from_secs(10);
    let mut sup = Supervisor::new(spec);
    let a = id(&sup, "a");
    sup.start(ms(0));
    let mut at = 0;
    let mut delays = Vec::new();
    for _ in 0..4 {
        at += 10;
        let actions = sup.on_exit(a, Exit::Code(1), ms(at));
        for action in actions {
            if let Action::Restarting { delay, .. } = action {
                delays.push(delay.as_millis());
                at += delay.as_millis() as u64;
            }
        }
        sup.on_timer(ms(at));
        assert_eq!(sup.status(a), ChildStatus::Running);
    }
    assert_eq!(delays, [100, 200, 400, 800]);
    // Ran 10 s healthy: back to the initial delay.
    at += 10_000;
    let actions = sup.on_exit(a, Exit::Code(1), ms(at));
    assert!(actions.contains(&Action::Restarting {
        member: MemberId::Child(a),
        attempt: 1,
        delay: Duration::from_millis(100)
    }));
}

#[test]
fn one_for_all_stops_in_reverse_and_starts_in_order() {
    let mut sup = Supervisor::new(group(
        Strategy::OneForAll,
        vec![child("a"), child("b"), child("c"), child("d")],
    ));
    sup.start(ms(0));
    let b = id(&sup, "b");
    let first = sup.on_exit(b, Exit::Code(3), ms(1000));
    let all = settle(&mut sup, first, ms(1000));
    assert_eq!(commands(&sup, &all), ["term d", "term c", "term a"]);
    let stopped: Vec<_> = all
        .iter()
        .filter_map(|a| match a {
            Action::Stopped(c) => Some(sup.child(*c).id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(stopped, ["d", "c", "a"]);
    let starts = sup.on_timer(ms(1100));
    assert_eq!(
        commands(&sup, &starts),
        ["start a", "start b", "start c", "start d"]
    );
}

#[test]
fn rest_for_one_restarts_the_dead_and_those_after_it() {
    let mut sup = Supervisor::new(group(
        Strategy::RestForOne,
        vec![child("a"), child("b"), child("c"), child("d")],
    ));
    sup.start(ms(0));
    let b = id(&sup, "b");
    let first = sup.on_exit(b, Exit::Code(3), ms(1000));
    let all = settle(&mut sup, first, ms(1000));
    assert_eq!(commands(&sup, &all), ["term d", "term c"]);
    let starts = sup.on_timer(ms(1100));
    assert_eq!(commands(&sup, &starts), ["start b", "start c", "start d"]);
}

#[test]
fn stop_waits_for_shutdown_then_kills() {
    let mut sup = Supervisor::new(group(Strategy::OneForAll, vec![child("a"), child("b")]));
    sup.start(ms(0));
    let (a, b) = (id(&sup, "a"), id(&sup, "b"));
    let actions = sup.on_exit(a, Exit::Code(1), ms(100));
    assert_eq!(commands(&sup, &actions), ["term b"]);
    assert_eq!(sup.next_deadline(), Some(ms(600)));
    assert_eq!(timer(&mut sup, ms(600)), ["kill b"]);
    assert_eq!(sup.next_deadline(), None);
    // The restart was due at 200 ms; b is down now, so both start at once.
    let actions = sup.on_exit(b, Exit::Signal(9), ms(601));
    assert_eq!(commands(&sup, &actions), ["start a", "start b"]);
}

#[test]
fn intensity_exceeded_gives_up_after_stopping_everyone() {
    let mut spec = group(Strategy::OneForOne, vec![child("a"), child("b")]);
    spec.intensity = 2;
    let mut sup = Supervisor::new(spec);
    sup.start(ms(0));
    let a = id(&sup, "a");
    for t in [100, 400] {
        sup.on_exit(a, Exit::Code(1), ms(t));
        sup.on_timer(ms(t + 250));
        assert_eq!(sup.status(a), ChildStatus::Running);
    }
    let first = sup.on_exit(a, Exit::Code(1), ms(900));
    let all = settle(&mut sup, first, ms(900));
    assert_eq!(commands(&sup, &all), ["term b"]);
    assert_eq!(all.last(), Some(&Action::GiveUp));
    assert!(all.contains(&Action::Escalated(GroupId::TOP)));
    assert!(sup.is_down());
}

#[test]
fn window_slides() {
    let mut spec = group(Strategy::OneForOne, vec![child("a")]);
    spec.intensity = 1;
    spec.period = Duration::from_secs(1);
    spec.backoff.max = Duration::from_millis(500);
    let mut sup = Supervisor::new(spec);
    sup.start(ms(0));
    let a = id(&sup, "a");
    // One restart per 1.1 s never exceeds 1 in 1 s.
    for i in 1..10u64 {
        let t = i * 1100;
        let actions = sup.on_exit(a, Exit::Code(1), ms(t));
        assert!(!actions.contains(&Action::GiveUp), "{actions:?}");
        sup.on_timer(ms(t + 1000));
    }
    assert_eq!(sup.recent_restarts(GroupId::TOP, ms(9900)), 1);
}

#[test]
fn transient_and_temporary() {
    let mut spec = group(Strategy::OneForOne, vec![child("t"), child("tmp")]);
    for (member, restart) in spec
        .members
        .iter_mut()
        .zip([Restart::Transient, Restart::Temporary])
    {
        if let MemberSpec::Child(c) = member {
            c.restart = restart;
        }
    }
    let mut sup = Supervisor::new(spec);
    sup.start(ms(0));
    let (t, tmp) = (id(&sup, "t"), id(&sup, "tmp"));
    let actions = sup.on_exit(tmp, Exit::Signal(9), ms(10));
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::Restarting { .. })));
    assert_eq!(sup.status(tmp), ChildStatus::Done);
    let actions = sup.on_exit(t, Exit::Code(0), ms(20));
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::Restarting { .. })));
    assert_eq!(sup.status(t), ChildStatus::Done);
}

#[test]
fn transient_restarts_after_an_abnormal_exit() {
    let mut spec = group(Strategy::OneForOne, vec![child("t")]);
    if let MemberSpec::Child(c) = &mut spec.members[0] {
        c.restart = Restart::Transient;
    }
    let mut sup = Supervisor::new(spec);
    sup.start(ms(0));
    let t = id(&sup, "t");
    let actions = sup.on_exit(t, Exit::Code(2), ms(10));
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::Restarting { .. })));
}

#[test]
fn temporary_sibling_is_stopped_and_left_stopped_by_one_for_all() {
    let mut spec = group(Strategy::OneForAll, vec![child("a"), child("tmp")]);
    if let MemberSpec::Child(c) = &mut spec.members[1] {
        c.restart = Restart::Temporary;
    }
    let mut sup = Supervisor::new(spec);
    sup.start(ms(0));
    let a = id(&sup, "a");
    let first = sup.on_exit(a, Exit::Code(1), ms(10));
    let all = settle(&mut sup, first, ms(10));
    assert_eq!(commands(&sup, &all), ["term tmp"]);
    assert_eq!(timer(&mut sup, ms(200)), ["start a"]);
}

fn notify(id: &str) -> MemberSpec {
    let MemberSpec::Child(mut spec) = child(id) else {
        unreachable!()
    };
    spec.ready = Ready::Notify;
    spec.ready_timeout = Duration::from_secs(1);
    MemberSpec::Child(spec)
}

#[test]
fn ready_notify_holds_the_next_start() {
    let mut sup = Supervisor::new(group(Strategy::OneForOne, vec![notify("a"), child("b")]));
    let actions = sup.start(ms(0));
    let a = id(&sup, "a");
    assert_eq!(commands(&sup, &actions), ["start a"]);
    assert_eq!(sup.status(a), ChildStatus::Starting);
    let actions = sup.on_ready(a, ms(50));
    assert_eq!(commands(&sup, &actions), ["start b"]);
}

#[test]
fn ready_timeout_is_a_hang() {
    let mut sup = Supervisor::new(group(Strategy::OneForOne, vec![notify("a")]));
    sup.start(ms(0));
    let a = id(&sup, "a");
    assert_eq!(sup.next_deadline(), Some(ms(1000)));
    let actions = sup.on_timer(ms(1000));
    assert_eq!(
        actions,
        [
            Action::Hung(a, Hang::NotReady(Duration::from_secs(1))),
            Action::Kill(a)
        ]
    );
}

#[test]
fn missed_watchdog_kills_and_restarts() {
    let MemberSpec::Child(mut spec) = child("w") else {
        unreachable!()
    };
    spec.watchdog = Some(Duration::from_millis(500));
    let mut sup = Supervisor::new(group(Strategy::OneForOne, vec![MemberSpec::Child(spec)]));
    sup.start(ms(0));
    let w = id(&sup, "w");
    sup.on_watchdog(w, ms(400));
    assert_eq!(sup.next_deadline(), Some(ms(900)));
    assert!(sup.on_timer(ms(899)).is_empty());
    let actions = sup.on_timer(ms(900));
    assert_eq!(
        actions,
        [
            Action::Hung(w, Hang::Watchdog(Duration::from_millis(500))),
            Action::Kill(w)
        ]
    );
    let actions = sup.on_exit(w, Exit::Signal(9), ms(901));
    assert!(matches!(
        &actions[0],
        Action::PublishFailed { reason, .. } if reason == "child w hung: no WATCHDOG=1 within 500ms"
    ));
    assert!(matches!(actions[1], Action::Restarting { attempt: 1, .. }));
}

#[test]
fn nested_group_escalates_to_its_parent() {
    let mut inner = group(Strategy::OneForOne, vec![child("x")]);
    inner.name = "inner".into();
    inner.intensity = 0;
    let mut sup = Supervisor::new(group(
        Strategy::RestForOne,
        vec![child("a"), MemberSpec::Group(inner), child("z")],
    ));
    let actions = sup.start(ms(0));
    assert_eq!(commands(&sup, &actions), ["start a", "start x", "start z"]);
    let x = id(&sup, "x");
    let first = sup.on_exit(x, Exit::Code(1), ms(100));
    let all = settle(&mut sup, first, ms(100));
    // The inner group gives up at once (intensity 0): it is one failed
    // member of the top, whose rest_for_one stops z as well.
    assert!(all.contains(&Action::Escalated(GroupId(1))));
    assert!(!all.contains(&Action::GiveUp));
    assert_eq!(commands(&sup, &all), ["term z"]);
    let starts = sup.on_timer(ms(1000));
    assert_eq!(commands(&sup, &starts), ["start x", "start z"]);
}

#[test]
fn top_gives_up_when_escalations_exceed_its_intensity() {
    let mut inner = group(Strategy::OneForOne, vec![child("x")]);
    inner.name = "inner".into();
    inner.intensity = 0;
    let mut top = group(
        Strategy::OneForOne,
        vec![child("a"), MemberSpec::Group(inner)],
    );
    top.intensity = 0;
    let mut sup = Supervisor::new(top);
    sup.start(ms(0));
    let x = id(&sup, "x");
    let first = sup.on_exit(x, Exit::Code(1), ms(100));
    let all = settle(&mut sup, first, ms(100));
    assert_eq!(commands(&sup, &all), ["term a"]);
    assert_eq!(
        all.iter()
            .filter(|a| matches!(a, Action::Escalated(_)))
            .count(),
        2
    );
    assert_eq!(all.last(), Some(&Action::GiveUp));
}

#[test]
fn shutdown_stops_everything_in_reverse_start_order() {
    let mut inner = group(Strategy::OneForOne, vec![child("x"), child("y")]);
    inner.name = "inner".into();
    let mut sup = Supervisor::new(group(
        Strategy::OneForOne,
        vec![child("a"), MemberSpec::Group(inner), child("z")],
    ));
    sup.start(ms(0));
    let first = sup.shutdown(ms(10));
    let all = settle(&mut sup, first, ms(10));
    assert_eq!(
        commands(&sup, &all),
        ["term z", "term y", "term x", "term a"]
    );
    assert_eq!(all.last(), Some(&Action::Done));
    assert!(sup.is_down());
}

#[test]
fn a_crash_while_shutting_down_is_not_restarted() {
    let mut sup = Supervisor::new(group(Strategy::OneForOne, vec![child("a"), child("b")]));
    sup.start(ms(0));
    let (a, b) = (id(&sup, "a"), id(&sup, "b"));
    sup.shutdown(ms(10));
    let actions = sup.on_exit(a, Exit::Signal(11), ms(11));
    assert!(!actions
        .iter()
        .any(|x| matches!(x, Action::Restarting { .. } | Action::Start(_))));
    let actions = sup.on_exit(b, Exit::Signal(15), ms(12));
    assert_eq!(actions.last(), Some(&Action::Done));
}

#[test]
fn same_seed_same_delays() {
    let run = |seed| {
        let mut spec = group(Strategy::OneForOne, vec![child("a")]);
        spec.backoff.jitter = 0.5;
        spec.intensity = 100;
        let mut sup = Supervisor::new(spec).with_seed(seed);
        sup.start(ms(0));
        let a = id(&sup, "a");
        let mut delays = Vec::new();
        for i in 0..10 {
            for action in sup.on_exit(a, Exit::Code(1), ms(i * 10_000)) {
                if let Action::Restarting { delay, .. } = action {
                    delays.push(delay);
                }
            }
            sup.on_timer(ms(i * 10_000 + 5_000));
        }
        delays
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
}

// ---- properties ----

#[derive(Clone, Debug)]
enum Event {
    /// Child n (mod count) exits with this code after `dt` ms.
    Exit(usize, i32, u64),
    /// Time passes.
    Tick(u64),
}

fn events() -> impl Gen<Value = Vec<Event>> {
    prop::collection::vec(
        prop_oneof![
            (0usize..8, 0i32..3, 0u64..3000).prop_map(|(c, code, dt)| Event::Exit(c, code, dt)),
            (0u64..3000).prop_map(Event::Tick),
        ],
        0..60,
    )
}

fn strategy() -> impl Gen<Value = crate::Strategy> {
    prop_oneof![
        Just(crate::Strategy::OneForOne),
        Just(crate::Strategy::OneForAll),
        Just(crate::Strategy::RestForOne),
    ]
}

/// Runs `events` against a flat group, answering every stop with an exit;
/// returns (time, action) pairs.
fn simulate(
    strategy: crate::Strategy,
    n: usize,
    intensity: u32,
    period_ms: u64,
    jitter: f64,
    events: &[Event],
) -> (Supervisor, Vec<(u64, Action)>) {
    let members = (0..n).map(|i| child(&format!("c{i}"))).collect();
    let mut spec = group(strategy, members);
    spec.intensity = intensity;
    spec.period = Duration::from_millis(period_ms);
    spec.backoff.jitter = jitter;
    let mut sup = Supervisor::new(spec).with_seed(1);
    let mut log = Vec::new();
    let mut now = 0u64;
    let mut pending: Vec<Action> = sup.start(ms(0));
    let drain = |sup: &mut Supervisor, pending: &mut Vec<Action>, now: u64, log: &mut Vec<_>| {
        let mut guard = 0;
        while !pending.is_empty() {
            guard += 1;
            assert!(guard < 1000, "stops never settle: {pending:?}");
            let batch = std::mem::take(pending);
            for action in batch {
                if let Action::Terminate(c) = action {
                    pending.extend(sup.on_exit(c, Exit::Signal(15), ms(now)));
                }
                log.push((now, action));
            }
        }
    };
    drain(&mut sup, &mut pending, now, &mut log);
    for event in events {
        match *event {
            Event::Exit(c, code, dt) => {
                // Timers due before the exit fire first, as in the shell.
                let mut guard = 0;
                while let Some(d) = sup.next_deadline().filter(|d| *d <= ms(now + dt)) {
                    guard += 1;
                    assert!(guard < 1000, "timers never settle at {now} ms: {sup:#?}");
                    now = now.max(d.as_nanos().div_ceil(1_000_000));
                    pending.extend(sup.on_timer(ms(now)));
                    drain(&mut sup, &mut pending, now, &mut log);
                }
                now += dt;
                let c = ChildId(c % n);
                pending.extend(sup.on_exit(c, Exit::Code(code), ms(now)));
            }
            Event::Tick(dt) => {
                now += dt;
                pending.extend(sup.on_timer(ms(now)));
            }
        }
        drain(&mut sup, &mut pending, now, &mut log);
    }
    (sup, log)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// However children die, restarts decided within any window of one
    /// period never exceed the intensity.
    #[test]
    fn restarts_never_exceed_intensity(
        strategy in strategy(),
        n in 1usize..5,
        intensity in 0u32..4,
        period_ms in 1u64..5000,
        events in events(),
    ) {
        let (_, log) = simulate(strategy, n, intensity, period_ms, 0.1, &events);
        // One restart decision per failure: its failed member is the one
        // whose Restarting comes first in a batch at one time. Count the
        // decisions by the first Restarting after each PublishFailed.
        let mut decisions = Vec::new();
        let mut armed = false;
        for (t, action) in &log {
            match action {
                Action::PublishFailed { reason, .. } if reason.starts_with("exited") => armed = true,
                Action::Restarting { .. } if armed => {
                    decisions.push(*t);
                    armed = false;
                }
                _ => {}
            }
        }
        for (i, &t) in decisions.iter().enumerate() {
            let within = decisions[i..].iter().take_while(|&&u| u < t + period_ms).count();
            prop_assert!(within <= intensity as usize, "{decisions:?}");
        }
    }

    /// Every restart starts exactly the members the strategy names, in
    /// start order, after stopping the others in reverse order.
    #[test]
    fn strategies_restart_the_right_children_in_order(
        strategy in strategy(),
        n in 1usize..6,
        dead in 0usize..6,
    ) {
        let dead = dead % n;
        let (mut sup, _) = simulate(strategy, n, 10, 1000, 0.0, &[]);
        let first = sup.on_exit(ChildId(dead), Exit::Code(1), ms(10));
        let all = settle(&mut sup, first, ms(10));
        let stopped: Vec<usize> = all.iter().filter_map(|a| match a {
            Action::Terminate(c) => Some(c.0), _ => None }).collect();
        let starts: Vec<usize> = sup.on_timer(ms(10_000)).iter().filter_map(|a| match a {
            Action::Start(c) => Some(c.0), _ => None }).collect();
        let (want_stop, want_start): (Vec<usize>, Vec<usize>) = match strategy {
            crate::Strategy::OneForOne => (vec![], vec![dead]),
            crate::Strategy::OneForAll =>
                ((0..n).rev().filter(|&i| i != dead).collect(), (0..n).collect()),
            crate::Strategy::RestForOne =>
                ((dead..n).rev().filter(|&i| i != dead).collect(), (dead..n).collect()),
        };
        prop_assert_eq!(stopped, want_stop);
        prop_assert_eq!(starts, want_start);
    }

    /// Random histories never leave a child both unsupervised and
    /// expected: once all timers have fired, every child is running, done,
    /// or the supervisor gave up.
    #[test]
    fn settles_to_running_or_given_up(
        strategy in strategy(),
        n in 1usize..5,
        intensity in 0u32..4,
        events in events(),
    ) {
        let (mut sup, log) = simulate(strategy, n, intensity, 1000, 0.1, &events);
        let mut now = log.last().map_or(0, |(t, _)| *t) + 10_000_000;
        for _ in 0..100 {
            match sup.next_deadline() {
                Some(d) => {
                    now = now.max(d.as_nanos().div_ceil(1_000_000));
                    let actions = sup.on_timer(ms(now));
                    settle(&mut sup, actions, ms(now));
                }
                None => break,
            }
        }
        let gave_up = log.iter().any(|(_, a)| *a == Action::GiveUp);
        if gave_up {
            prop_assert!(sup.is_down());
        } else {
            for i in 0..n {
                let status = sup.status(ChildId(i));
                prop_assert!(
                    matches!(status, ChildStatus::Running | ChildStatus::Done),
                    "c{} is {:?}", i, status
                );
            }
        }
    }
}

/// Issue 10: a behaviour tree's `<Restart>` stops the child and starts it
/// again at once, without counting toward the intensity.
#[test]
fn requested_restart_stops_then_starts_and_is_not_a_failure() {
    let mut sup = Supervisor::new(group(Strategy::OneForAll, vec![child("a"), child("b")]));
    sup.start(ms(0));
    let a = id(&sup, "a");
    for round in 0..5u64 {
        let at = ms(1000 * (round + 1));
        let actions = sup.restart_child(a, at);
        // Only `a`, whatever the strategy.
        assert_eq!(commands(&sup, &actions), vec!["term a"]);
        let after = sup.on_exit(a, Exit::Signal(15), at + Duration::from_millis(1));
        assert_eq!(commands(&sup, &after), vec!["start a"]);
        assert!(after.contains(&Action::Stopped(a)));
    }
    // Five restarts in 5 s with intensity 3: no escalation.
    assert_eq!(sup.recent_restarts(GroupId::TOP, ms(5500)), 0);
    assert_eq!(sup.status(a), ChildStatus::Running);
}

/// Issue 10: `<Stop>` keeps the child down until a requested restart.
#[test]
fn requested_stop_keeps_the_child_down_until_restarted() {
    let mut sup = Supervisor::new(group(Strategy::OneForOne, vec![child("a")]));
    sup.start(ms(0));
    let a = id(&sup, "a");
    let stop = sup.stop_child(a, ms(10));
    assert_eq!(commands(&sup, &stop), vec!["term a"]);
    let exit = sup.on_exit(a, Exit::Signal(15), ms(20));
    assert!(commands(&sup, &exit).is_empty());
    assert!(exit.contains(&Action::Stopped(a)));
    let later = sup.on_timer(ms(5000));
    assert!(commands(&sup, &later).is_empty());
    assert_eq!(sup.status(a), ChildStatus::Down);
    let restart = sup.restart_child(a, ms(6000));
    assert_eq!(commands(&sup, &restart), vec!["start a"]);
    assert_eq!(sup.status(a), ChildStatus::Running);
}
