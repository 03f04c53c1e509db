//! [`MatchTable`]: candidates stored by column, so that one query over ten
//! thousand of them reads a few small arrays instead of chasing every
//! advert's heap allocations.

use std::collections::HashMap;

use vigil_diag::{Path, State, Trend};

use crate::candidate::{AdvertView, Candidate, NodeStates};
use crate::capability::{Capabilities, Key, WellKnown};
use crate::dds_qos::QosPolicies;
use crate::unit::Dimension;
use crate::value::Value;

/// How many node states a row keeps inline (adverts usually report a few).
const INLINE_NODES: usize = 4;

/// Marks an unused entry of [`InlineNodes::ids`]; never an interned id
/// (ids are handed out from 0 and would need 2^32 distinct paths).
const NO_NODE: u32 = u32::MAX;

/// A row's first node states, by interned path id, stored in the column.
/// Ids and states are kept apart (20 bytes a row, not 36) because a
/// `health('...')` scan reads this column for every selected row and the
/// whole working set of a query should stay in a core's cache.
#[derive(Clone, Copy, Debug)]
struct InlineNodes {
    /// Used entries first, then [`NO_NODE`].
    ids: [u32; INLINE_NODES],
    states: [State; INLINE_NODES],
}

impl Default for InlineNodes {
    fn default() -> InlineNodes {
        InlineNodes {
            ids: [NO_NODE; INLINE_NODES],
            states: [State::Unknown; INLINE_NODES],
        }
    }
}

/// Candidates in struct-of-arrays form, addressed by slot.
///
/// Each well-known capability is a column of its own; custom capabilities,
/// node states and QoS stay per row. A slot freed by [`MatchTable::remove`]
/// is reused by the next insert, so slot numbers stay small and stable while
/// a candidate lives: a registry can keep them as handles.
#[derive(Clone, Debug, Default)]
pub struct MatchTable {
    live: Vec<bool>,
    producers: Vec<Box<str>>,
    topics: Vec<u32>,
    topic_names: Vec<Box<str>>,
    topic_ids: HashMap<Box<str>, u32>,
    /// `topic_slots[topic]`: the live slots on that topic, ascending, so a
    /// query starts from its topic's rows instead of scanning all of them.
    topic_slots: Vec<Vec<u32>>,
    states: Vec<State>,
    confidences: Vec<f64>,
    trends: Vec<Trend>,
    /// `well_known[k][slot]`: well-known key `k` (in `WellKnown::all` order).
    well_known: Vec<Vec<Option<Value>>>,
    /// `number_values[k][slot]`: the base magnitude of well-known key `k`
    /// when it is a number (NaN otherwise), and `number_dims[k][slot]` its
    /// dimension (`None` when not a number): two dense arrays, so scans and
    /// sorts read 9 bytes a row instead of a 24-byte `Option<Value>`.
    number_values: Vec<Vec<f64>>,
    number_dims: Vec<Vec<Option<Dimension>>>,
    custom: Vec<Capabilities>,
    nodes: Vec<NodeStates>,
    /// `node_ids[slot]`: the same states by interned path id, for scans;
    /// inline up to [`INLINE_NODES`], the rest in `node_overflow[slot]`.
    node_ids: Vec<InlineNodes>,
    node_overflow: Vec<Vec<(u32, State)>>,
    path_ids: HashMap<Path, u32>,
    qos: Vec<QosPolicies>,
    roots: Vec<Option<Path>>,
    free: Vec<usize>,
    count: usize,
}

/// One candidate of a [`MatchTable`], readable as a [`Candidate`].
#[derive(Clone, Copy, Debug)]
pub struct Row<'t> {
    table: &'t MatchTable,
    slot: usize,
}

impl MatchTable {
    /// An empty table.
    pub fn new() -> MatchTable {
        MatchTable {
            well_known: WellKnown::all().map(|_| Vec::new()).collect(),
            number_values: WellKnown::all().map(|_| Vec::new()).collect(),
            number_dims: WellKnown::all().map(|_| Vec::new()).collect(),
            ..MatchTable::default()
        }
    }

    /// The number of live candidates.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no candidate is stored.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// One past the highest slot ever used (live or free).
    pub fn slots(&self) -> usize {
        self.live.len()
    }

    /// Stores a copy of `advert` and returns its slot.
    pub fn insert(&mut self, advert: &AdvertView) -> usize {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = self.live.len();
                self.live.push(false);
                self.producers.push("".into());
                self.topics.push(0);
                self.states.push(State::Unknown);
                self.confidences.push(0.0);
                self.trends.push(Trend::Stable);
                if self.well_known.is_empty() {
                    self.well_known = WellKnown::all().map(|_| Vec::new()).collect();
                    self.number_values = WellKnown::all().map(|_| Vec::new()).collect();
                    self.number_dims = WellKnown::all().map(|_| Vec::new()).collect();
                }
                for column in &mut self.well_known {
                    column.push(None);
                }
                for column in &mut self.number_values {
                    column.push(f64::NAN);
                }
                for column in &mut self.number_dims {
                    column.push(None);
                }
                self.custom.push(Capabilities::new());
                self.nodes.push(NodeStates::new());
                self.node_ids.push(InlineNodes::default());
                self.node_overflow.push(Vec::new());
                self.qos.push(QosPolicies::default());
                self.roots.push(None);
                slot
            }
        };
        self.count += 1;
        self.write(slot, advert);
        slot
    }

    /// Replaces the candidate in `slot`; false when the slot is not live.
    pub fn update(&mut self, slot: usize, advert: &AdvertView) -> bool {
        if !self.live.get(slot).copied().unwrap_or(false) {
            return false;
        }
        self.write(slot, advert);
        true
    }

    /// Removes the candidate in `slot`; false when the slot is not live.
    pub fn remove(&mut self, slot: usize) -> bool {
        if !self.live.get(slot).copied().unwrap_or(false) {
            return false;
        }
        self.unlist_topic(slot);
        self.live[slot] = false;
        self.clear_well_known(slot);
        self.custom[slot] = Capabilities::new();
        self.nodes[slot] = NodeStates::new();
        self.node_ids[slot] = InlineNodes::default();
        self.node_overflow[slot] = Vec::new();
        self.roots[slot] = None;
        self.producers[slot] = "".into();
        self.free.push(slot);
        self.count -= 1;
        true
    }

    /// The candidate in `slot`, if live.
    #[inline]
    pub fn row(&self, slot: usize) -> Option<Row<'_>> {
        self.live
            .get(slot)
            .copied()
            .unwrap_or(false)
            .then_some(Row { table: self, slot })
    }

    /// Every live candidate with its slot, in slot order.
    pub fn rows(&self) -> impl Iterator<Item = (usize, Row<'_>)> {
        (0..self.live.len()).filter_map(|slot| self.row(slot).map(|r| (slot, r)))
    }

    fn intern_topic(&mut self, topic: &str) -> u32 {
        if let Some(id) = self.topic_ids.get(topic) {
            return *id;
        }
        let id = self.topic_names.len() as u32;
        self.topic_names.push(topic.into());
        self.topic_ids.insert(topic.into(), id);
        self.topic_slots.push(Vec::new());
        id
    }

    fn clear_well_known(&mut self, slot: usize) {
        for column in &mut self.well_known {
            column[slot] = None;
        }
        for column in &mut self.number_values {
            column[slot] = f64::NAN;
        }
        for column in &mut self.number_dims {
            column[slot] = None;
        }
    }

    /// Takes a live slot out of its topic's list.
    fn unlist_topic(&mut self, slot: usize) {
        let list = &mut self.topic_slots[self.topics[slot] as usize];
        if let Ok(i) = list.binary_search(&(slot as u32)) {
            list.remove(i);
        }
    }

    fn write(&mut self, slot: usize, advert: &AdvertView) {
        if self.live[slot] {
            self.unlist_topic(slot);
        }
        let topic = self.intern_topic(&advert.topic);
        self.topics[slot] = topic;
        let list = &mut self.topic_slots[topic as usize];
        if let Err(i) = list.binary_search(&(slot as u32)) {
            list.insert(i, slot as u32);
        }
        self.live[slot] = true;
        self.producers[slot] = advert.producer.as_str().into();
        self.states[slot] = advert.health.state;
        self.confidences[slot] = advert.health.confidence;
        self.trends[slot] = advert.health.trend;
        self.clear_well_known(slot);
        let mut custom = Capabilities::new();
        for (key, value) in advert.capabilities.iter() {
            match key.well_known_index() {
                Some(k) => {
                    if let Value::Number(q) = value {
                        self.number_values[k][slot] = q.base();
                        self.number_dims[k][slot] = Some(q.dimension());
                    }
                    self.well_known[k][slot] = Some(value.clone());
                }
                // Already validated by the advert's vector: cannot fail.
                None => {
                    let _ = custom.insert_key(key.clone(), value.clone());
                }
            }
        }
        self.custom[slot] = custom;
        let mut ids = Vec::with_capacity(advert.health.nodes.len());
        for (path, state) in advert.health.nodes.iter() {
            let next = self.path_ids.len() as u32;
            let id = *self.path_ids.entry(path.clone()).or_insert(next);
            ids.push((id, state));
        }
        let mut inline = InlineNodes::default();
        let mut overflow = Vec::new();
        for (n, (id, state)) in ids.into_iter().enumerate() {
            if n < INLINE_NODES {
                inline.ids[n] = id;
                inline.states[n] = state;
            } else {
                overflow.push((id, state));
            }
        }
        self.node_ids[slot] = inline;
        self.node_overflow[slot] = overflow;
        self.nodes[slot] = advert.health.nodes.clone();
        self.qos[slot] = advert.qos;
        self.roots[slot] = advert.path.clone();
    }
}

// Columns for the condition-major evaluator.
impl MatchTable {
    pub(crate) fn live_column(&self) -> &[bool] {
        &self.live
    }

    pub(crate) fn state_column(&self) -> &[State] {
        &self.states
    }

    pub(crate) fn trend_column(&self) -> &[Trend] {
        &self.trends
    }

    pub(crate) fn confidence_column(&self) -> &[f64] {
        &self.confidences
    }

    /// Well-known key `k`'s numbers: base magnitudes and dimensions, by
    /// slot (`None` dimension where the value is missing or not a number).
    pub(crate) fn number_column(&self, k: usize) -> (&[f64], &[Option<Dimension>]) {
        (&self.number_values[k], &self.number_dims[k])
    }

    pub(crate) fn qos_at(&self, slot: usize) -> &QosPolicies {
        &self.qos[slot]
    }

    /// The state of node `id` in `slot`: inline first, then the overflow.
    #[inline]
    pub(crate) fn node_state_by_id(&self, slot: usize, id: u32) -> Option<State> {
        let inline = &self.node_ids[slot];
        // Every entry is compared (a path appears at most once), so the
        // compiler selects the state with conditional moves, not branches.
        let mut found = None;
        for (p, s) in inline.ids.iter().zip(inline.states) {
            if *p == id {
                found = Some(s);
            }
        }
        match found {
            Some(state) => Some(state),
            None if inline.ids[INLINE_NODES - 1] == NO_NODE => None,
            None => self.node_overflow[slot]
                .iter()
                .find(|(p, _)| *p == id)
                .map(|(_, s)| *s),
        }
    }

    /// The id of a node path some candidate ever reported.
    pub(crate) fn path_id(&self, path: &Path) -> Option<u32> {
        self.path_ids.get(path).copied()
    }

    /// The live slots on topic `id`, ascending.
    pub(crate) fn topic_slots(&self, id: u32) -> &[u32] {
        self.topic_slots.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// The id of a topic some candidate ever had.
    pub(crate) fn topic_id(&self, topic: &str) -> Option<u32> {
        self.topic_ids.get(topic).copied()
    }
}

impl Row<'_> {
    /// The row's slot.
    pub fn slot(&self) -> usize {
        self.slot
    }
}

impl Candidate for Row<'_> {
    #[inline]
    fn producer(&self) -> &str {
        &self.table.producers[self.slot]
    }

    #[inline]
    fn topic(&self) -> &str {
        &self.table.topic_names[self.table.topics[self.slot] as usize]
    }

    #[inline]
    fn capability(&self, key: &Key) -> Option<&Value> {
        match key.well_known_index() {
            Some(k) => self.table.well_known[k][self.slot].as_ref(),
            None => self.table.custom[self.slot].get_key(key),
        }
    }

    #[inline]
    fn health_state(&self) -> State {
        self.table.states[self.slot]
    }

    #[inline]
    fn health_confidence(&self) -> f64 {
        self.table.confidences[self.slot]
    }

    #[inline]
    fn health_trend(&self) -> Trend {
        self.table.trends[self.slot]
    }

    #[inline]
    fn node_state(&self, path: &Path) -> Option<State> {
        self.table.nodes[self.slot].get(path)
    }

    #[inline]
    fn offered_qos(&self) -> &QosPolicies {
        &self.table.qos[self.slot]
    }

    #[inline]
    fn diagnostic_root(&self) -> Option<&Path> {
        self.table.roots[self.slot].as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{Query, Ranking};
    use crate::value::Quantity;

    fn advert(producer: &str, rate: &str, custom: Option<&str>) -> AdvertView {
        let mut a = AdvertView::new(producer, "imu");
        a.capabilities
            .insert("rate", Quantity::parse(rate).unwrap())
            .unwrap();
        if let Some(v) = custom {
            a.capabilities
                .insert("mode", Value::Text(v.into()))
                .unwrap();
        }
        a.health.state = State::Ok;
        a.health.confidence = 0.9;
        a
    }

    #[test]
    fn rows_read_like_the_adverts_they_copy() {
        let mut table = MatchTable::new();
        let a = advert("a", "100Hz", Some("fast"));
        let slot = table.insert(&a);
        let row = table.row(slot).unwrap();
        for key in ["rate", "mode", "jitter"] {
            let key = Key::new(key).unwrap();
            assert_eq!(row.capability(&key), a.capability(&key));
        }
        assert_eq!(
            (row.producer(), row.topic(), row.health_state()),
            ("a", "imu", State::Ok)
        );
    }

    #[test]
    fn slots_are_reused_and_ranking_matches_the_slice() {
        let adverts: Vec<AdvertView> = (0..20)
            .map(|i| {
                advert(
                    &format!("p{i:02}"),
                    &format!("{}Hz", 10 * (i % 7)),
                    (i % 3 == 0).then_some("x"),
                )
            })
            .collect();
        let mut table = MatchTable::new();
        let slots: Vec<usize> = adverts.iter().map(|a| table.insert(a)).collect();
        assert!(table.remove(slots[3]));
        assert!(!table.remove(slots[3]));
        assert_eq!(table.len(), 19);
        assert_eq!(table.insert(&adverts[3]), slots[3], "freed slot reused");
        let mut changed = adverts[5].clone();
        changed.health.state = State::Failed;
        assert!(table.update(slots[5], &changed));
        let mut expected = adverts.clone();
        expected[5] = changed;

        let q = Query::parse(
            "imu WHERE rate >= 20Hz AND health.state = OK AND NOT mode = 'y' PREFER rate DESC",
        )
        .unwrap()
        .compile();
        let from_slice = q.rank(&expected);
        let from_table = q.rank_table(&table);
        assert_eq!(from_slice, from_table);
        for &i in from_table.rejected() {
            let row = table.row(i).unwrap();
            assert_eq!(q.explain(&row), q.explain(&expected[i]));
        }
    }

    #[test]
    fn node_states_inline_and_overflow_rank_like_the_slice() {
        let adverts: Vec<AdvertView> = (0..30)
            .map(|i| {
                let mut a = advert(&format!("p{i:02}"), &format!("{}Hz", 10 + i), None);
                // 0 to 6 nodes: some rows spill past the inline entries.
                for n in 0..(i % 7) {
                    let state = if (i + n) % 3 == 0 {
                        State::Failed
                    } else {
                        State::Ok
                    };
                    let path = Path::parse(&format!("v.n{n}")).unwrap();
                    a.health.nodes.insert(path, state);
                }
                a
            })
            .collect();
        let mut table = MatchTable::new();
        for a in &adverts {
            table.insert(a);
        }
        for n in 0..7 {
            for op in ["=", "!=", ">="] {
                let text = format!("imu WHERE health('v.n{n}') {op} FAILED PREFER rate DESC");
                let q = Query::parse(&text).unwrap().compile();
                assert_eq!(q.rank(&adverts), q.rank_table(&table), "{text}");
            }
        }
    }

    #[test]
    fn top_k_is_the_prefix_of_the_full_chain() {
        let adverts: Vec<AdvertView> = (0..50)
            .map(|i| {
                advert(
                    &format!("p{i:02}"),
                    &format!("{}Hz", 1 + (i * 7) % 13),
                    None,
                )
            })
            .collect();
        let mut table = MatchTable::new();
        for a in &adverts {
            table.insert(a);
        }
        let q = Query::parse("imu WHERE rate > 2Hz PREFER rate DESC")
            .unwrap()
            .compile();
        let full = q.rank_table(&table);
        let mut top = Ranking::default();
        for k in [0, 1, 5, full.chain().len(), 100] {
            q.rank_table_top_into(&table, k, &mut top);
            let n = k.min(full.chain().len());
            assert_eq!(top.chain(), &full.chain()[..n], "k = {k}");
            assert_eq!(top.beyond_limit(), full.chain().len() - n);
            assert!(top.rejected().is_empty());
        }
    }

    #[test]
    fn node_states_beyond_the_inline_ones_are_found() {
        let mut a = advert("a", "10Hz", None);
        for n in 0..7 {
            let state = if n == 6 { State::Degraded } else { State::Ok };
            a.health
                .nodes
                .insert(Path::parse(&format!("v.n{n}")).unwrap(), state);
        }
        let mut table = MatchTable::new();
        table.insert(&a);
        for (q, selected) in [
            ("imu WHERE health('v.n6') = DEGRADED", true),
            (
                "imu WHERE health('v.n0') = OK AND health('v.n5') = OK",
                true,
            ),
            ("imu WHERE health('v.n6') = OK", false),
            ("imu WHERE health('v.n9') = OK", false),
        ] {
            let q = Query::parse(q).unwrap().compile();
            assert_eq!(q.rank_table(&table).selected().is_some(), selected);
            assert_eq!(q.rank(std::slice::from_ref(&a)), q.rank_table(&table));
        }
    }
}
