//! Mounts: resolving visible paths through them, the visible paths of a
//! shared node, and the walk over every visible node.

use super::{Kind, NodeId, Tree};
use crate::health::Health;
use crate::path::Path;

impl Tree {
    /// The node at a visible path, or failing that at a shared path.
    pub(super) fn resolve(&self, path: &Path) -> Option<NodeId> {
        self.resolve_in(false, path.as_str())
            .or_else(|| self.resolve_in(true, path.as_str()))
    }

    /// Looks `text` up in one namespace; when it is not there, continues
    /// through the deepest existing ancestor if that ancestor is a mount.
    fn resolve_in(&self, shared: bool, text: &str) -> Option<NodeId> {
        let index = if shared { &self.shared } else { &self.proper };
        if let Some(&id) = index.get(text) {
            return Some(id);
        }
        // Every ancestor of a node exists, so the deepest existing ancestor
        // is the only one that can lead further.
        let (dot, id) = text
            .rmatch_indices('.')
            .find_map(|(dot, _)| index.get(&text[..dot]).map(|&id| (dot, id)))?;
        let Kind::Mount(target) = self.nodes[id as usize].kind else {
            return None;
        };
        let below = format!("{}.{}", self.nodes[target as usize].path, &text[dot + 1..]);
        self.resolve_in(true, &below)
    }

    /// Follows a chain of mounts to the node that holds the subtree.
    pub(super) fn through_mounts(&self, mut id: NodeId) -> NodeId {
        // Bounded: mount cycles are rejected at build.
        while let Kind::Mount(target) = self.nodes[id as usize].kind {
            id = target;
        }
        id
    }

    /// Every visible path of a node: its own path in the tree proper; for a
    /// shared node, one per place its subtree is mounted (none when it is
    /// mounted nowhere). Sorted, without duplicates.
    pub(super) fn visible_paths(&self, id: NodeId) -> Vec<Path> {
        let node = &self.nodes[id as usize];
        if !node.shared {
            return vec![node.path.clone()];
        }
        let mut out = Vec::new();
        for &parent in self.parents(id) {
            let above = self.visible_paths(parent);
            match self.nodes[parent as usize].kind {
                // The mount path *is* this node's path there.
                Kind::Mount(_) => out.extend(above),
                _ => out.extend(above.iter().filter_map(|p| p.child(node.path.leaf_label()).ok())),
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The paths a transition of `id` is reported under: its visible paths,
    /// or its shared path when it is mounted nowhere (so no change is lost).
    pub(super) fn transition_paths(&self, id: NodeId) -> Vec<Path> {
        let paths = self.visible_paths(id);
        if paths.is_empty() {
            vec![self.nodes[id as usize].path.clone()]
        } else {
            paths
        }
    }

    /// How many visible nodes there are: [`Tree::nodes`] without the walk.
    /// Memoized per node, since nested mounts can repeat a subtree many times.
    pub(super) fn count_visible(&self) -> usize {
        let mut below = vec![0usize; self.nodes.len()];
        // `order` puts children first; a mount counts what it mounts (its
        // own path is the target's visible path, so not counted twice).
        for &id in &self.order {
            below[id as usize] = match self.nodes[id as usize].kind {
                Kind::Mount(target) => below[target as usize],
                _ => self
                    .children(id)
                    .iter()
                    .fold(1usize, |sum, &c| sum.saturating_add(below[c as usize])),
            };
        }
        self.roots
            .iter()
            .fold(0usize, |sum, &r| sum.saturating_add(below[r as usize]))
    }
}

/// Every visible node of a [`Tree`] with its health, in path order; see
/// [`Tree::nodes`].
#[derive(Debug)]
pub struct Nodes<'a> {
    tree: &'a Tree,
    /// Nodes still to visit with their visible paths, next on top.
    stack: Vec<(NodeId, Path)>,
}

impl<'a> Nodes<'a> {
    pub(super) fn new(tree: &'a Tree) -> Nodes<'a> {
        let stack = tree
            .roots
            .iter()
            .rev()
            .map(|&id| (id, tree.nodes[id as usize].path.clone()))
            .collect();
        Nodes { tree, stack }
    }
}

impl<'a> Iterator for Nodes<'a> {
    type Item = (Path, &'a Health);

    fn next(&mut self) -> Option<Self::Item> {
        let (id, path) = self.stack.pop()?;
        let tree = self.tree;
        // A mount shows its own health; below it, the mounted subtree.
        let holder = tree.through_mounts(id);
        for &child in tree.children(holder).iter().rev() {
            let label = tree.nodes[child as usize].path.leaf_label();
            if let Ok(child_path) = path.child(label) {
                self.stack.push((child, child_path));
            }
        }
        Some((path, &tree.nodes[id as usize].health))
    }
}

impl std::iter::FusedIterator for Nodes<'_> {}
