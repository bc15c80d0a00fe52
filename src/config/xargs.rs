//! The `xargs` personality's settings (GNU xargs 4.9): how the input becomes command lines.
//! Pure data, filled by the `xargs` front end ([`crate::xargs`]) and read by the source that
//! builds the commands (`crate::source::xargs`), the exit status and the messages.

use std::ffi::OsString;
use std::path::PathBuf;

/// How GNU xargs reads its input and builds command lines.
#[derive(Debug, Clone, Default)]
pub(crate) struct XargsSpec {
    /// `-a FILE`: read the items from FILE (the commands keep parx's stdin); `None`: stdin
    /// (the commands get /dev/null).
    pub file: Option<PathBuf>,
    /// `-0`/`-d`: items end with this byte, taken as they are; `None`: items are separated by
    /// blanks and newlines, with quotes and backslashes (xargs' default).
    pub delimiter: Option<u8>,
    /// `-E`/`-e`: this item ends the input (ignored with a delimiter, as xargs does).
    pub eof: Option<Vec<u8>>,
    /// `-I`/`-i`: this string in the initial arguments is replaced by each input line.
    pub replace: Option<Vec<u8>>,
    /// `-L`/`-l`: non-blank input lines per command (0: no limit).
    pub max_lines: u64,
    /// `-n`: arguments per command (0: no limit).
    pub max_args: u64,
    /// `-s`: the most characters of a command line (each argument and its NUL).
    pub max_chars: usize,
    /// The most arguments the system allows in one command.
    pub max_arg_count: usize,
    /// `-x` (implied by `-I` and `-L`): an argument that does not fit ends the run.
    pub exit_if_size_exceeded: bool,
    /// Without `-r`: the command runs once even on empty input.
    pub always_run: bool,
    /// `-p`: ask on the terminal before each command.
    pub interactive: bool,
    /// The command and its initial arguments (`echo` when none is given).
    pub command: Vec<OsString>,
}
