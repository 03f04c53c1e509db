//! Timers: the min-heap of node deadlines (heartbeat and staleness
//! deadlines, debounce holds, flap decay, trend windows) that lets `tick`
//! re-evaluate only the nodes that need it.

use std::cmp::Reverse;

use super::{NodeId, Tree, NEVER};
use crate::time::Timestamp;

impl Tree {
    /// Queues the nodes whose deadline has passed. Deadlines they set while
    /// being evaluated wait for the next update even when already due, so a
    /// check that keeps answering "now" cannot stall `tick`.
    pub(super) fn collect_due(&mut self, now: Timestamp) {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let node = &mut self.nodes[id as usize];
            if node.scheduled != at {
                continue; // superseded by an earlier entry for this node
            }
            node.scheduled = NEVER;
            if node.deadline <= now {
                self.enqueue(id);
            } else {
                // The deadline moved later since this entry was pushed.
                let deadline = node.deadline;
                self.schedule(id, deadline);
            }
        }
    }

    /// Records a node's next change and makes sure a timer fires no later.
    /// At most one live entry per node; a later deadline reuses the earlier
    /// entry, which reschedules when it fires.
    pub(super) fn schedule(&mut self, id: NodeId, deadline: Timestamp) {
        let node = &mut self.nodes[id as usize];
        node.deadline = deadline;
        if deadline != NEVER && deadline < node.scheduled {
            node.scheduled = deadline;
            self.timers.push(Reverse((deadline, id)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::testkit::*;
    use super::*;
    use crate::check::{Check, ObservationError, Verdict};
    use crate::health::{State, UnknownReason};
    use crate::observation::Observation;

    #[test]
    fn tick_ages_heartbeats_only_when_due() {
        let mut tree = one("v.hb", heartbeat(100));
        let up = tree
            .observe(&p("v.hb"), Observation::Heartbeat, ms(0))
            .unwrap();
        assert_eq!(
            summary(&up),
            [
                ("v.hb".into(), State::Unknown, State::Ok),
                ("v".into(), State::Unknown, State::Ok)
            ]
        );
        // Moving the deadline later keeps the leaf fresh past the first one.
        tree.observe(&p("v.hb"), Observation::Heartbeat, ms(50))
            .unwrap();
        assert_eq!(tree.tick(ms(100)), []);
        assert_eq!(tree.tick(ms(150)), []);
        let stale = tree.tick(ms(151));
        assert_eq!(
            summary(&stale),
            [
                ("v.hb".into(), State::Ok, State::Unknown),
                ("v".into(), State::Ok, State::Unknown)
            ]
        );
        assert_eq!(stale[0].health.reason, Some(UnknownReason::Stale));
        assert_eq!(stale[1].cause, [p("v.hb")]);
        assert_eq!(stale[1].at, ms(151));
        assert_eq!(tree.health(&p("v")).unwrap().since, ms(151));
        assert_eq!(tree.tick(ms(10_000)), []);
        // An observation also ages what is due before it applies.
        let back = tree
            .observe(&p("v.hb"), Observation::Heartbeat, ms(20_000))
            .unwrap();
        assert_eq!(back[0].new, State::Ok);
    }

    #[test]
    fn next_deadline_says_when_to_tick() {
        let mut tree = one("v.hb", heartbeat(100));
        assert_eq!(tree.next_deadline(), None);
        tree.observe(&p("v.hb"), Observation::Heartbeat, ms(0))
            .unwrap();
        let due = tree.next_deadline().unwrap();
        assert!(due <= ms(101), "{due}");
        let mut at = due;
        // Ticking at each announced deadline reaches the stale state.
        while tree.health(&p("v.hb")).unwrap().state == State::Ok {
            tree.tick(at);
            at = tree.next_deadline().unwrap();
        }
        assert_eq!(
            tree.health(&p("v.hb")).unwrap().since,
            ms(100) + Duration::from_nanos(1)
        );
    }

    #[test]
    fn an_installed_check_is_evaluated_at_the_next_tick() {
        let mut tree = one("v.user", custom("mine"));
        let mut check = Scripted::new();
        check.now = Verdict {
            state: State::Ok,
            reason: None,
        };
        tree.install_check(&p("v.user"), Box::new(check)).unwrap();
        let up = tree.tick(ms(1));
        assert_eq!(up.len(), 2);
        assert_eq!(tree.health(&p("v")).unwrap().state, State::Ok);
    }

    #[test]
    fn a_check_changing_by_itself_is_picked_up_by_tick() {
        let mut tree = one("v.user", custom("mine"));
        let mut check = Scripted::new();
        check.later = Some((ms(500), State::Failed));
        tree.install_check(&p("v.user"), Box::new(check)).unwrap();
        tree.observe(&p("v.user"), said(State::Ok), ms(0)).unwrap();
        assert_eq!(tree.tick(ms(499)), []);
        assert_eq!(tree.tick(ms(500)).len(), 2);
    }

    /// A check that always claims to change right now.
    #[derive(Debug)]
    struct Restless;

    impl Check for Restless {
        fn kind(&self) -> &'static str {
            "restless"
        }
        fn observe(&mut self, _: Observation, _: Timestamp) -> Result<(), ObservationError> {
            Ok(())
        }
        fn evaluate(&self, _: Timestamp) -> Verdict {
            Verdict {
                state: State::Ok,
                reason: None,
            }
        }
        fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
            Some(now)
        }
        fn describe(&self, _: Timestamp) -> String {
            String::new()
        }
    }

    #[test]
    fn a_check_that_is_always_due_cannot_stall_tick() {
        let mut tree = one("v.user", custom("mine"));
        tree.install_check(&p("v.user"), Box::new(Restless))
            .unwrap();
        tree.observe(&p("v.user"), Observation::Heartbeat, ms(0))
            .unwrap();
        for t in 1..100 {
            assert_eq!(tree.tick(ms(t)), []);
        }
        assert!(tree.timers.len() <= 2, "{}", tree.timers.len());
    }
}
