//! Behaviour tree XML (`vigil bt check`): reading arbitrary text never
//! panics or recurses without bound, every problem names a line, and a tree
//! that reads can be ticked and halted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_diag::{Health, Path, Timestamp};
use vigil_qos::Query;
use vigil_recovery::bt::{load_bt_str, Action, ActionId, Environment, Executor};

struct Nothing;

impl Environment for Nothing {
    fn health(&self, _path: &Path) -> Option<&Health> {
        None
    }
    fn available(&self, _query: &Query) -> bool {
        false
    }
    fn mode(&self) -> Option<&str> {
        None
    }
    fn start(&mut self, _id: ActionId, _action: &Action, _now: Timestamp) {}
    fn halt(&mut self, _id: ActionId, _action: &Action, _now: Timestamp) {}
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match load_bt_str(text) {
        Ok(tree) => {
            assert!(!tree.is_empty());
            let mut exec = Executor::new(tree);
            let mut env = Nothing;
            for ms in 0..3u64 {
                exec.tick(Timestamp::from_nanos(ms * 1_000_000), &mut env);
                let running: Vec<ActionId> = exec.running_actions().map(|(id, _)| id).collect();
                for id in running {
                    exec.complete(id, ms % 2 == 0);
                }
            }
            exec.halt(Timestamp::from_nanos(5_000_000), &mut env);
            assert_eq!(exec.running_actions().count(), 0);
        }
        Err(error) => {
            assert!(!error.problems.is_empty());
            for problem in &error.problems {
                assert!(problem.line >= 1, "every problem names a line: {problem}");
            }
        }
    }
});
