//! The `vigil recover` config file, read with `vigil_diag::config` (every
//! problem with its line, did-you-mean), and the files it names, each
//! checked by its own reader and then against each other.
//!
//! ```yaml
//! name: recover                       # the engine's name on DDS (default: recover)
//! tree: imu_pair.tree.yaml            # the diagnostic tree: its status leaves are fed
//!                                     # the states the domain's adverts report for them
//! bt: imu_troubleshoot.bt.xml         # optional: the behaviour tree
//! modes: imu.modes.yaml               # optional: modes and rules (bt or modes, or both)
//! supervise: imu.supervise.yaml       # optional: children this process supervises;
//!                                     # <Restart>/<Stop> act on them
//! ```
//!
//! Paths are relative to the config file.

use std::path::{Path as FsPath, PathBuf};

use vigil_diag::config::Document;
use vigil_diag::{CheckSpec, NodeBody, Path, Tree, TreeSpec};
use vigil_recovery::bt::{Action, BehaviorTree, Leaf};
use vigil_recovery::modes::Modes;
use vigil_recovery::GroupSpec;

use super::super::bt::{cross_check, load_bt, load_modes};
use super::super::tree::{problems_error, read, validate};
use super::super::InputError;

/// The default engine name.
const DEFAULT_NAME: &str = "recover";

/// What the config file says, with every file it names loaded.
pub(crate) struct Loaded {
    pub(crate) name: String,
    pub(crate) tree: Tree,
    /// The status leaves the adverts feed.
    pub(crate) leaves: Vec<Path>,
    pub(crate) bt: Option<BehaviorTree>,
    pub(crate) modes: Option<Modes>,
    pub(crate) supervise: Option<GroupSpec>,
}

/// The file names, as written (relative to the config file).
struct Names {
    name: String,
    tree: Option<PathBuf>,
    bt: Option<PathBuf>,
    modes: Option<PathBuf>,
    supervise: Option<PathBuf>,
}

fn names(doc: &Document) -> Option<Names> {
    let mut top = doc.root("a recover config with `tree`")?.map()?;
    let name: Option<String> = top.optional("name");
    let tree: Option<String> = top.required("tree");
    let bt: Option<String> = top.optional("bt");
    let modes: Option<String> = top.optional("modes");
    let supervise: Option<String> = top.optional("supervise");
    if bt.is_none() && modes.is_none() && !doc.has_errors() {
        top.missing(
            "bt",
            Some("bt: troubleshoot.bt.xml  (or modes: modes.yaml)"),
        );
    }
    top.finish();
    Some(Names {
        name: name.unwrap_or_else(|| DEFAULT_NAME.to_owned()),
        tree: tree.map(PathBuf::from),
        bt: bt.map(PathBuf::from),
        modes: modes.map(PathBuf::from),
        supervise: supervise.map(PathBuf::from),
    })
}

/// Reads the config and every file it names. Errors: every problem of the
/// first file that has some, with its lines (exit 2).
pub(crate) fn load(config: &FsPath) -> Result<Loaded, InputError> {
    let file = config.display().to_string();
    let doc = Document::parse(&read(config)?, &file);
    let names = names(&doc);
    let (names, warnings) = doc.finish(names).map_err(|e| InputError(e.to_string()))?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let dir = config.parent().unwrap_or(FsPath::new("."));
    let at = |p: &PathBuf| dir.join(p);
    let Some(tree_file) = names.tree.as_ref().map(at) else {
        return Err(InputError(format!("{file}: no `tree`")));
    };
    let tree_name = tree_file.display().to_string();
    let (spec, tree) =
        validate(&read(&tree_file)?, &tree_name).map_err(|p| problems_error(&tree_name, &p))?;
    let bt_file = names.bt.as_ref().map(at);
    let bt = bt_file
        .as_deref()
        .map(load_bt)
        .transpose()
        .map_err(as_input)?;
    let modes = names
        .modes
        .as_ref()
        .map(|m| load_modes(&at(m)))
        .transpose()
        .map_err(as_input)?;
    let supervise = names
        .supervise
        .as_ref()
        .map(|s| {
            let path = at(s);
            let name = path.display().to_string();
            vigil_recovery::load_config(&read(&path)?, &name).map_err(|e| InputError(e.to_string()))
        })
        .transpose()?;
    if let (Some(bt), Some(bt_file)) = (&bt, &bt_file) {
        cross_check(bt_file, bt, &tree, modes.as_ref())?;
        children_known(bt_file, bt, supervise.as_ref())?;
    }
    Ok(Loaded {
        name: names.name,
        leaves: status_leaves(&spec),
        tree,
        bt,
        modes,
        supervise,
    })
}

fn as_input(e: anyhow::Error) -> InputError {
    match e.downcast::<InputError>() {
        Ok(input) => input,
        Err(other) => InputError(format!("{other:#}")),
    }
}

/// The leaves the adverts feed: status checks of the tree proper.
pub(crate) fn status_leaves(spec: &TreeSpec) -> Vec<Path> {
    spec.nodes
        .iter()
        .filter(|n| matches!(n.body, NodeBody::Leaf(CheckSpec::Status { .. })))
        .map(|n| n.path.clone())
        .collect()
}

/// Every `<Restart>`/`<Stop>` must name a child of the supervisor this
/// process runs.
fn children_known(
    file: &FsPath,
    bt: &BehaviorTree,
    supervise: Option<&GroupSpec>,
) -> Result<(), InputError> {
    let name = file.display();
    let children: Vec<String> = supervise
        .map(|s| s.children().iter().map(|c| c.id.clone()).collect())
        .unwrap_or_default();
    let known: Vec<&str> = children.iter().map(String::as_str).collect();
    let mut problems = Vec::new();
    for (line, leaf) in bt.leaves() {
        if let Leaf::Action(Action::Restart { child } | Action::Stop { child }) = leaf {
            if supervise.is_none() {
                problems.push(format!(
                    "{name}:{line}: `{child}`: the config names no `supervise` file, so no \
                     supervisor here can restart or stop a child"
                ));
            } else if !known.contains(&child.as_str()) {
                problems.push(format!(
                    "{name}:{line}: no child `{child}` in the supervisor config; it has {}",
                    vigil_diag::config::one_of(&known)
                ));
            }
        }
    }
    problems.dedup();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(InputError(problems.join("\n")))
    }
}
