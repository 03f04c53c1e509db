//! Condition-major evaluation over a [`MatchTable`]: one tight loop per
//! condition over a selection of slots, reading one column, instead of one
//! walk of the condition tree per candidate.
//!
//! Only the top of a `WHERE` is split this way: an AND chain keeps the slots
//! whose every condition is TRUE, which is exactly the Kleene result the
//! row-wise evaluator gives. Conditions that do not read a column (OR, NOT,
//! `health('...')`, custom keys...) run the row-wise evaluator on the slots
//! still selected, so the result is always the same as [`CompiledQuery::rank`].

use std::cmp::Ordering;

use super::eval::{Access, Kind, Konst, Node, SortAtom, Tri};
use super::{CmpOp, CompiledQuery, Ranked, Ranking};
use crate::dds_qos;
use crate::table::MatchTable;
use crate::unit::Dimension;
use crate::value::{compare_base_bit, ordering_bit};

/// Fills `out.chain` (unsorted) and, when `rejected`, `out.rejected`.
pub(super) fn assign(query: &CompiledQuery, table: &MatchTable, rejected: bool, out: &mut Ranking) {
    out.chain.clear();
    out.rejected.clear();
    let several = query.clauses.len() > 1;
    if several || rejected {
        out.assigned.clear();
        out.assigned.resize(table.slots(), false);
    }
    for (k, clause) in query.clauses.iter().enumerate() {
        let sel = &mut out.selection;
        sel.clear();
        let ids = [
            table.topic_id(&clause.topic),
            clause.alias.as_deref().and_then(|a| table.topic_id(a)),
        ];
        for id in ids.into_iter().flatten() {
            sel.extend_from_slice(table.topic_slots(id));
        }
        if ids[0].is_some() && ids[1].is_some() {
            // Two topic lists: keep slot order for a deterministic chain.
            sel.sort_unstable();
        }
        if k > 0 {
            let assigned = &out.assigned;
            keep(sel, |i| !assigned[i as usize]);
        }
        if let Some(requested) = &query.requested {
            keep(sel, |i| {
                dds_qos::is_compatible(table.qos_at(i as usize), requested)
            });
        }
        if let Some(filter) = &clause.filter {
            retain(filter, table, sel);
        }
        for &i in sel.iter() {
            if several || rejected {
                out.assigned[i as usize] = true;
            }
            out.chain.push(Ranked {
                index: i as usize,
                clause: k,
            });
        }
    }
    if rejected {
        let live = table.live_column();
        for (i, (&alive, &assigned)) in live.iter().zip(&out.assigned).enumerate() {
            if alive && !assigned {
                out.rejected.push(i);
            }
        }
    }
}

/// Keeps the slots of `sel` for which `pred` holds, in order. Branchless:
/// every slot is written and the write position advances only on a match,
/// which beats `Vec::retain` when about half the slots go.
#[inline]
fn keep(sel: &mut Vec<u32>, mut pred: impl FnMut(u32) -> bool) {
    let mut w = 0;
    for r in 0..sel.len() {
        let i = sel[r];
        sel[w] = i;
        w += usize::from(pred(i));
    }
    sel.truncate(w);
}

/// Keeps the slots of `sel` for which `node` is TRUE.
fn retain(node: &Node, table: &MatchTable, sel: &mut Vec<u32>) {
    match node {
        Node::All(children) => {
            for child in children.iter() {
                if sel.is_empty() {
                    return;
                }
                retain(child, table, sel);
            }
        }
        Node::Cmp {
            left,
            op,
            right: Access::Const(k),
            ..
        } if column_cmp(left, *op, k, table, sel) => {}
        _ => keep(sel, |i| {
            table
                .row(i as usize)
                .is_some_and(|row| node.eval(&row) == Tri::True)
        }),
    }
}

/// The orderings (as [`ordering_bit`]s) for which `op` holds, so a scan
/// tests a bit instead of matching on the operator for every row.
fn holds_mask(op: CmpOp) -> u8 {
    [Ordering::Less, Ordering::Equal, Ordering::Greater]
        .into_iter()
        .filter(|&o| op.holds(o))
        .map(ordering_bit)
        .fold(0, |m, b| m | b)
}

/// `left op k` over one column; false (and `sel` untouched) when `left` is
/// not a column this knows.
fn column_cmp(left: &Access, op: CmpOp, k: &Konst, table: &MatchTable, sel: &mut Vec<u32>) -> bool {
    let mask = holds_mask(op);
    let holds = |bit: u8| mask & bit != 0;
    match (left, k) {
        (Access::HealthState, Konst::Ord(Kind::State, r)) => {
            let states = table.state_column();
            keep(sel, |i| {
                holds(ordering_bit((states[i as usize] as u8).cmp(r)))
            });
        }
        (Access::HealthTrend, Konst::Ord(Kind::Trend, r)) => {
            let trends = table.trend_column();
            keep(sel, |i| {
                holds(ordering_bit((trends[i as usize] as u8).cmp(r)))
            });
        }
        (Access::HealthConfidence, Konst::Num(x, Dimension::Ratio)) => {
            let confidences = table.confidence_column();
            keep(sel, |i| {
                holds(compare_base_bit(confidences[i as usize], *x))
            });
        }
        (Access::Key(key), Konst::Num(x, d)) => {
            let Some((values, dims)) = key.well_known_index().map(|w| table.number_column(w))
            else {
                return false;
            };
            // `&`, not `&&`: a missing value (NaN, no dimension) is compared
            // too, and dropped by the dimension test, without a branch.
            keep(sel, |i| {
                (dims[i as usize] == Some(*d)) & holds(compare_base_bit(values[i as usize], *x))
            });
        }
        (Access::HealthOf(path), Konst::Ord(Kind::State, r)) => {
            // A node nobody reports is missing everywhere: never TRUE.
            let Some(id) = table.path_id(path) else {
                sel.clear();
                return true;
            };
            keep(sel, |i| {
                table
                    .node_state_by_id(i as usize, id)
                    .is_some_and(|s| holds(ordering_bit((s as u8).cmp(r))))
            });
        }
        _ => return false,
    }
    true
}

/// Fills `out.atoms` for the table's chain like [`CompiledQuery`]'s generic
/// path does, `stride` atoms a row, but reading the dense columns where the
/// access has one: numbers of well-known keys, health state, confidence and
/// trend. Anything else (strings, custom keys, QoS...) is read from the row.
pub(super) fn fill_atoms(
    query: &CompiledQuery,
    table: &MatchTable,
    stride: usize,
    out: &mut Ranking,
) {
    out.atoms.clear();
    out.atoms
        .resize(out.chain.len() * stride, SortAtom::Missing);
    for (k, clause) in query.clauses.iter().enumerate() {
        for (j, (access, _)) in clause.prefer.iter().enumerate() {
            let column = match access {
                Access::Key(key) => key.well_known_index().map(|w| table.number_column(w)),
                _ => None,
            };
            let rows = out.chain.iter().zip(out.atoms.chunks_exact_mut(stride));
            for (r, atoms) in rows.filter(|(r, _)| r.clause == k) {
                let slot = r.index;
                atoms[j] = match (access, column) {
                    // A number's atom is its base magnitude, which the column
                    // holds; other values of the key are read from the row.
                    (_, Some((values, dims))) if dims[slot].is_some() => {
                        SortAtom::Num(values[slot])
                    }
                    (Access::HealthState, _) => SortAtom::Rank(table.state_column()[slot] as u8),
                    (Access::HealthTrend, _) => SortAtom::Rank(table.trend_column()[slot] as u8),
                    (Access::HealthConfidence, _) => SortAtom::Num(table.confidence_column()[slot]),
                    _ => table
                        .row(slot)
                        .map_or(SortAtom::Missing, |row| SortAtom::of(access.read(&row))),
                };
            }
        }
    }
}
