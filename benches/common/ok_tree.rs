//! A producer's one-leaf diagnostic tree, reported OK: what the harnesses'
//! in-process producers advertise (included with `#[path]` by each bench).

use vigil_diag::{Observation, Path, State, Tree};

/// The tree of producer `id`: one status leaf `<id>.health`, OK now; and
/// that leaf, to report on later.
pub(crate) fn ok_tree(id: &str) -> (Path, Tree) {
    let leaf = Path::parse(&format!("{id}.health")).expect("path");
    let mut spec = vigil_diag::TreeSpec::default();
    spec.nodes.push(vigil_diag::NodeSpec {
        path: leaf.clone(),
        body: vigil_diag::NodeBody::Leaf(vigil_diag::CheckSpec::Status { stale_after: None }),
        criticality: Default::default(),
        filter: Default::default(),
        origin: None,
    });
    let mut tree = Tree::build(&spec).expect("tree");
    let ok = Observation::Status {
        state: State::Ok,
        reason: None,
    };
    tree.observe(&leaf, ok, vigil_discovery::clock::now())
        .expect("ok");
    (leaf, tree)
}
