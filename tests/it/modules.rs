//! No import cycles between parx's modules (issue 10): the module graph of `src/`, read by
//! `xtask/src/modules.rs` (print it with `cargo xtask modules`), has none, at the level of the
//! top-level modules nor between submodules (`pool::process`, `source::walk`, ...; a module's
//! use of its own submodules is its business, see `modules::layers`).

use std::path::Path;

#[allow(clippy::module_inception)]
#[path = "../../xtask/src/modules.rs"]
mod modules;

#[test]
fn module_graph_has_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for fine in [false, true] {
        let g = modules::graph(&src, fine).expect("reading src/");
        assert!(g.contains_key("lib") && g.contains_key("pool"), "{g:?}");
        let cycles = modules::cycles(&modules::layers(&g));
        assert!(
            cycles.is_empty(),
            "import cycles {cycles:?} in the module graph:\n{}",
            modules::render(&g)
        );
    }
}
