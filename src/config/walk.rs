//! The `--walk` options as typed ([`WalkSpec`]) and compiled once ([`CompiledWalk`]: globs
//! built, extensions and types normalized), so that a bad `--glob` is a usage error before
//! anything runs and the walker in [`crate::source`] never fails to build.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// The kind of filesystem entry selected by `--type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EntryType {
    /// A regular file (`--type f`).
    File,
    /// A directory (`--type d`).
    Dir,
    /// A symbolic link (`--type l`); only seen without `--follow`.
    Symlink,
}

/// Everything that controls one `--walk` source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WalkSpec {
    /// The `--walk PATH` roots, walked in this order, kept exactly as typed.
    pub roots: Vec<PathBuf>,
    /// `--ext` values (with or without a leading dot); any-of, case-sensitive,
    /// compared against the final extension only. Empty means no filter.
    pub exts: Vec<OsString>,
    /// `--glob` patterns matched against the path relative to its root;
    /// any-of. `*` does not cross `/`; use `**` for that. Empty means no filter.
    pub globs: Vec<String>,
    /// `--type` values; any-of. Empty means `[EntryType::File]`.
    pub types: Vec<EntryType>,
    /// `--hidden`: include (and descend into) entries whose name starts with `.`.
    pub hidden: bool,
    /// `--follow`: follow symbolic links.
    pub follow: bool,
    /// `--max-depth N`: 1 means only the root's direct children.
    pub max_depth: Option<usize>,
}

/// A [`WalkSpec`] ready to walk.
#[derive(Clone, Debug)]
pub(crate) struct CompiledWalk {
    /// The options as typed.
    pub spec: WalkSpec,
    /// `--ext` values without a leading dot.
    pub exts: Vec<OsString>,
    /// The `--glob` patterns, compiled (`None`: no filter).
    pub globs: Option<GlobSet>,
    /// `--type f` (the default).
    pub want_file: bool,
    /// `--type d`.
    pub want_dir: bool,
    /// `--type l`.
    pub want_link: bool,
}

impl PartialEq for CompiledWalk {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl Eq for CompiledWalk {}

impl WalkSpec {
    /// Compiles the filters.
    ///
    /// # Errors
    ///
    /// A bad `--glob` pattern: `invalid --glob 'PATTERN': reason`.
    pub(crate) fn compile(&self) -> Result<CompiledWalk, String> {
        let globs = if self.globs.is_empty() {
            None
        } else {
            let mut builder = GlobSetBuilder::new();
            for pattern in &self.globs {
                let glob = GlobBuilder::new(pattern)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| format!("invalid --glob '{pattern}': {}", e.kind()))?;
                builder.add(glob);
            }
            let set = builder
                .build()
                .map_err(|e| format!("invalid --glob: {}", e.kind()))?;
            Some(set)
        };
        let exts = self
            .exts
            .iter()
            .map(|e| {
                let bytes = e.as_bytes();
                let bytes = bytes.strip_prefix(b".").unwrap_or(bytes);
                OsStr::from_bytes(bytes).to_os_string()
            })
            .collect();
        let types: &[EntryType] = if self.types.is_empty() {
            &[EntryType::File]
        } else {
            &self.types
        };
        Ok(CompiledWalk {
            spec: self.clone(),
            exts,
            globs,
            want_file: types.contains(&EntryType::File),
            want_dir: types.contains(&EntryType::Dir),
            want_link: types.contains(&EntryType::Symlink),
        })
    }
}
