//! The imported tree as a vigil tree file, with the ROS path of every node
//! in a comment.

use std::fmt::Write;
use std::time::Duration;

use super::{Analyzers, MappingKind};

pub(super) fn tree_file(analyzers: &Analyzers) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# The diagnostic_aggregator analyzers of {} as a vigil tree\n\
         # (`vigil ros import-aggregator`). Each analyzer is an inner node (worst\n\
         # of its items); each `expected` item is a `status` leaf that goes\n\
         # UNKNOWN(stale) after the analyzer's timeout. Items that are not\n\
         # expected get their own leaf under their analyzer when they first\n\
         # report; until then an analyzer without items is UNKNOWN(no_data).\n\
         nodes:",
        one_line(&analyzers.source)
    );
    for entry in &analyzers.nodes {
        let m = &entry.mapping;
        let mut comment = format!("{} ({}, line {})", m.ros_path, m.kind.as_str(), entry.line);
        if !m.note.is_empty() {
            let _ = write!(comment, ": {}", m.note);
        }
        let _ = writeln!(out, "  # {}", one_line(&comment));
        let body = match (entry.leaf, m.kind) {
            (Some(Some(stale)), _) => {
                format!(
                    "{{ check: {{ status: {{ stale_after: {} }} }} }}",
                    duration(stale)
                )
            }
            (Some(None), _) => "{ check: status }".to_owned(),
            (None, MappingKind::Expected) | (None, _) => "{}".to_owned(),
        };
        let _ = writeln!(out, "  {}: {body}", m.path);
    }
    out
}

/// User text made safe for a YAML comment: no line breaks or other
/// control characters.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A duration in the largest whole unit the tree file format reads.
fn duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    for (unit, size) in [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)] {
        if nanos.is_multiple_of(size) {
            return format!("{}{unit}", nanos / size);
        }
    }
    format!("{nanos}ns")
}
