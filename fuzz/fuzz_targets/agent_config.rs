//! `vigil agent` config files: reading arbitrary text never panics, every
//! problem names a line, and a config that reads has topics with DDS names
//! and relays whose queries name watched topics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_bridges::ros2::AgentConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match AgentConfig::from_yaml(text, "fuzz.yaml") {
        Ok(config) => {
            assert!(!config.topics.is_empty());
            for topic in &config.topics {
                assert!(topic.dds_topic.starts_with("rt/"), "{}", topic.dds_topic);
                if let Some(relay) = &topic.relay {
                    for clause in relay.query.clauses() {
                        assert!(config.topics.iter().any(|t| t.dds_topic == clause.topic()));
                    }
                }
            }
        }
        Err(error) => {
            assert!(!error.problems.is_empty());
            for problem in &error.problems {
                assert!(problem.line >= 1, "every problem names a line: {problem}");
            }
        }
    }
});
