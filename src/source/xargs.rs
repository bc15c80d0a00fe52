//! The `xargs` personality's input (GNU xargs 4.9's rules): items read from stdin or `-a FILE`
//! and packed into command lines, each line one task whose record is the whole argv.
//!
//! Reading: by default items are separated by blanks (space, tab) and newlines, single and
//! double quotes group (not across a newline), a backslash takes the next byte as it is,
//! blank lines are skipped, and a line ending in a blank continues on the next (for `-L`);
//! `-E STR` ends the input at an item STR. With `-0`/`-d` each delimited item is taken as it
//! is. With `-I` each line is one item (leading blanks dropped).
//!
//! Packing, as xargs' buildcmd: every argument costs its length and its NUL against `-s`
//! (default 128 KiB, at most what the system allows); a command runs when `-n` arguments or
//! `-L` lines are in, when the next argument would not fit, and at the end of the input (once
//! even on empty input, unless `-r`). An argument that cannot fit alone, an unmatched quote or
//! an item over the limit end the run with an error after what was built ran.
//!
//! When the run ends early at `-E`'s item on a seekable stdin, parx leaves the file offset just
//! after what it used, as xargs' stdio does, so a command after it reads the rest.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::config::xargs::XargsSpec;
use crate::config::Config;
use crate::source::Source;
use crate::task::TaskInput;

/// A reason the run stops with xargs' status 1 (reported as `xargs: ...`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Die(String);

/// The opened input.
pub(crate) struct XargsTasks {
    spec: XargsSpec,
    input: BufReader<File>,
    /// stdin's offset when parx started reading it, if stdin is seekable (see the module doc).
    stdin_start: Option<u64>,
}

impl XargsTasks {
    /// Opens `-a FILE` or stdin.
    pub(crate) fn open(cfg: &Config) -> anyhow::Result<XargsTasks> {
        let spec = cfg
            .compat
            .xargs
            .clone()
            .expect("the xargs source is opened for the xargs personality");
        let (file, stdin_start) = match &spec.file {
            Some(path) => {
                let f = File::open(path).map_err(|e| {
                    anyhow::anyhow!(
                        "Cannot open input file '{}': {}",
                        path.display(),
                        crate::messages::os_words(&e)
                    )
                })?;
                (f, None)
            }
            None => {
                let mut f = File::from(io::stdin().as_fd().try_clone_to_owned()?);
                let start = f.stream_position().ok();
                (f, start)
            }
        };
        Ok(XargsTasks {
            spec,
            input: BufReader::with_capacity(64 << 10, file),
            stdin_start,
        })
    }
}

impl Source for XargsTasks {
    fn produce(self: Box<Self>, emit: &mut dyn FnMut(TaskInput) -> bool) -> anyhow::Result<()> {
        let XargsTasks {
            spec,
            input,
            stdin_start,
        } = *self;
        let mut reader = Reader::new(input, &spec);
        let res = {
            let mut b = Builder::new(&spec, emit);
            build(&spec, &mut reader, &mut b)
        };
        if let Some(start) = stdin_start {
            // Leave stdin just past what was used (a command after parx may read the rest).
            let used = reader.consumed;
            let _ = reader.input.get_mut().seek(SeekFrom::Start(start + used));
        }
        res.map_err(|Die(msg)| anyhow::anyhow!(msg))
    }
}

/// xargs' main loop: the initial arguments, then the items, then the last command.
fn build(spec: &XargsSpec, r: &mut Reader<'_>, b: &mut Builder<'_, '_>) -> Result<(), Die> {
    match &spec.replace {
        None => {
            for w in &spec.command {
                b.push(w.as_bytes(), w.len() + 1, true)?;
            }
            b.end_initial();
            while r.read(b)?.is_some() {
                if b.stopped {
                    return Ok(());
                }
                if spec.max_lines > 0 && r.lineno >= spec.max_lines {
                    b.exec();
                    r.lineno = 0;
                }
            }
            if b.argv.len() != b.initial_argc || (spec.always_run && !b.executed) {
                b.exec();
            }
        }
        Some(pat) => {
            let mut first = true;
            while let Some(len) = r.read(b)? {
                if b.stopped {
                    return Ok(());
                }
                let line = r.line[..len - 1].to_vec();
                b.argv.truncate(0);
                b.chars = 0;
                let cmd = &spec.command[0];
                b.push(cmd.as_bytes(), cmd.len() + 1, first)?;
                first = false;
                for w in &spec.command[1..] {
                    let arg = insert(w.as_bytes(), pat, &line, b.max_chars)?;
                    b.push(&arg, arg.len() + 1, false)?;
                }
                b.exec();
            }
        }
    }
    Ok(())
}

/// `-I`: `arg` with every `pat` replaced by `line`, within `max_chars - 1` bytes (xargs'
/// "command too long" otherwise).
fn insert(arg: &[u8], pat: &[u8], line: &[u8], max_chars: usize) -> Result<Vec<u8>, Die> {
    let mut left = max_chars.saturating_sub(1);
    let mut out = Vec::new();
    let mut rest = arg;
    loop {
        let found = memchr::memmem::find(rest, pat);
        let len = found.unwrap_or(rest.len());
        if left <= len {
            break;
        }
        left -= len;
        out.extend_from_slice(&rest[..len]);
        rest = &rest[len..];
        if found.is_some() {
            if left <= line.len() {
                break;
            }
            left -= line.len();
            out.extend_from_slice(line);
            rest = &rest[pat.len()..];
        }
        if rest.is_empty() {
            return Ok(out);
        }
    }
    Err(Die("command too long".into()))
}

/// The command being built (xargs' buildcmd state), and where finished ones go.
struct Builder<'s, 'e> {
    spec: &'s XargsSpec,
    max_chars: usize,
    argv: Vec<OsString>,
    /// Characters of `argv` (each argument and its NUL).
    chars: usize,
    initial_argc: usize,
    initial_chars: usize,
    /// Whether still pushing the initial arguments.
    initial: bool,
    /// A command was run (or offered, with `-p`).
    executed: bool,
    /// The run is stopping: nothing more is emitted.
    stopped: bool,
    emit: &'e mut dyn FnMut(TaskInput) -> bool,
}

impl<'s, 'e> Builder<'s, 'e> {
    fn new(spec: &'s XargsSpec, emit: &'e mut dyn FnMut(TaskInput) -> bool) -> Self {
        Builder {
            spec,
            max_chars: spec.max_chars,
            argv: Vec::new(),
            chars: 0,
            initial_argc: 0,
            initial_chars: 0,
            initial: true,
            executed: false,
            stopped: false,
            emit,
        }
    }

    /// The initial arguments are in: what every command starts with.
    fn end_initial(&mut self) {
        self.initial = false;
        self.initial_argc = self.argv.len();
        self.initial_chars = self.chars;
    }

    /// Whether `-n` or the system's argument count is reached.
    fn count_reached(&self, initial: bool) -> bool {
        let n = self.spec.max_args as usize;
        (!initial && n > 0 && self.argv.len() - self.initial_argc == n)
            || self.argv.len() == self.spec.max_arg_count
    }

    /// Adds one argument of `len` characters (its NUL included); `arg` is cut at a NUL, as a C
    /// string is. Runs the command first if the argument would not fit, and after if a count
    /// is reached.
    fn push(&mut self, arg: &[u8], len: usize, initial: bool) -> Result<(), Die> {
        if self.chars + len > self.max_chars {
            if initial || self.argv.len() == self.initial_argc {
                return Err(Die(
                    "cannot fit single argument within argument list size limit".into(),
                ));
            }
            if self.spec.replace.is_some()
                || (self.spec.exit_if_size_exceeded
                    && (self.spec.max_lines > 0 || self.spec.max_args > 0))
            {
                return Err(Die("argument list too long".into()));
            }
            self.exec();
        }
        if self.count_reached(initial) {
            self.exec();
        }
        let arg = &arg[..memchr::memchr(0, arg).unwrap_or(arg.len())];
        self.argv.push(OsString::from_vec(arg.to_vec()));
        self.chars += len;
        if self.count_reached(initial) {
            self.exec();
        }
        if initial {
            self.initial_chars = self.chars;
        }
        Ok(())
    }

    /// Runs the command built so far (xargs' exec), then starts the next from the initial
    /// arguments.
    fn exec(&mut self) {
        let argv = self.argv.clone();
        self.argv.truncate(self.initial_argc);
        self.chars = self.initial_chars;
        if self.stopped {
            return;
        }
        self.executed = true;
        if self.spec.interactive && !ask(&argv) {
            return;
        }
        if !(self.emit)(TaskInput::Args(vec![argv])) {
            self.stopped = true;
        }
    }

    /// xargs' `exec_if_possible`: before an input error, runs what was built if it may.
    fn exec_if_possible(&mut self) {
        if self.spec.replace.is_some()
            || self.initial
            || self.argv.len() == self.initial_argc
            || self.spec.exit_if_size_exceeded
        {
            return;
        }
        self.exec();
    }
}

/// `-p`: shows the command and asks on the terminal; true for an answer starting with y.
fn ask(argv: &[OsString]) -> bool {
    let words: Vec<Vec<u8>> = argv
        .iter()
        .map(|w| crate::template::shell_escape(w.as_bytes()))
        .collect();
    let mut prompt = words.join(&b' ');
    prompt.extend_from_slice(b"?...");
    crate::messages::raw(&prompt);
    let Ok(tty) = File::open("/dev/tty") else {
        crate::messages::error("failed to open /dev/tty for reading");
        return false;
    };
    let mut answer = String::new();
    let _ = BufReader::new(tty).read_line(&mut answer);
    answer.starts_with(['y', 'Y'])
}

/// The item reader (xargs' `read_line` and `read_string`).
struct Reader<'s> {
    input: BufReader<File>,
    spec: &'s XargsSpec,
    /// Bytes taken from the input so far.
    consumed: u64,
    /// The current item.
    line: Vec<u8>,
    /// Lines read since the last `-L` command (a line ending in a blank does not count).
    lineno: u64,
    /// The input has ended (physically or at `-E`).
    eof: bool,
    warned_nul: bool,
}

/// The reader's states (xargs' `read_line`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Space,
    Norm,
    Quote(u8),
    Backslash,
}

impl<'s> Reader<'s> {
    fn new(input: BufReader<File>, spec: &'s XargsSpec) -> Self {
        Reader {
            input,
            spec,
            consumed: 0,
            line: Vec::new(),
            lineno: 0,
            eof: false,
            warned_nul: false,
        }
    }

    fn getc(&mut self) -> Result<Option<u8>, Die> {
        loop {
            match self.input.fill_buf() {
                Ok([]) => return Ok(None),
                Ok(buf) => {
                    let c = buf[0];
                    self.input.consume(1);
                    self.consumed += 1;
                    return Ok(Some(c));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Die(format!(
                        "reading the input: {}",
                        crate::messages::os_words(&e)
                    )))
                }
            }
        }
    }

    /// Reads the next line's items (pushed into `b`, except with `-I`, where the line is
    /// left in `self.line`). Returns the length of the last item with its NUL, or `None` at
    /// the end of the input.
    fn read(&mut self, b: &mut Builder<'_, '_>) -> Result<Option<usize>, Die> {
        if self.eof {
            return Ok(None);
        }
        match self.spec.delimiter {
            Some(d) => self.read_string(d, b),
            None => self.read_line(b),
        }
    }

    /// The longest item: what fits after the initial arguments.
    fn item_max(&self, b: &Builder<'_, '_>) -> usize {
        b.max_chars
            .saturating_sub(b.initial_chars)
            .saturating_sub(1)
    }

    fn put(&mut self, c: u8, b: &mut Builder<'_, '_>) -> Result<(), Die> {
        if self.line.len() >= self.item_max(b) {
            b.exec_if_possible();
            return Err(Die("argument line too long".into()));
        }
        self.line.push(c);
        Ok(())
    }

    fn is_eof_item(&self) -> bool {
        self.spec.eof.as_deref() == Some(self.line.as_slice())
    }

    fn read_string(&mut self, delim: u8, b: &mut Builder<'_, '_>) -> Result<Option<usize>, Die> {
        self.line.clear();
        loop {
            let Some(c) = self.getc()? else {
                self.eof = true;
                if self.line.is_empty() {
                    return Ok(None);
                }
                return self.item_done(b).map(Some);
            };
            if c == delim {
                self.lineno += 1;
                return self.item_done(b).map(Some);
            }
            self.put(c, b)?;
        }
    }

    /// An item is complete: push it (not with `-I`); its length with the NUL.
    fn item_done(&mut self, b: &mut Builder<'_, '_>) -> Result<usize, Die> {
        let len = self.line.len() + 1;
        if self.spec.replace.is_none() {
            let item = std::mem::take(&mut self.line);
            b.push(&item, len, false)?;
            self.line = item;
        }
        Ok(len)
    }

    fn read_line(&mut self, b: &mut Builder<'_, '_>) -> Result<Option<usize>, Die> {
        let blank = |c: u8| c == b' ' || c == b'\t';
        let space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
        let insert = self.spec.replace.is_some();
        let mut state = State::Space;
        let mut first = true;
        let mut seen_arg = false;
        let mut cur: Option<u8> = None;
        self.line.clear();
        loop {
            let prev = cur;
            cur = self.getc()?;
            let Some(c) = cur else {
                self.eof = true;
                if self.line.is_empty() && !matches!(state, State::Quote(_)) {
                    return Ok(None);
                }
                if let State::Quote(q) = state {
                    b.exec_if_possible();
                    return Err(unmatched(q));
                }
                if first && self.is_eof_item() {
                    return Ok(None);
                }
                return self.item_done(b).map(Some);
            };
            match state {
                State::Space if space(c) => continue,
                State::Space | State::Norm => {
                    state = State::Norm;
                    if c == b'\n' {
                        if !prev.is_some_and(blank) {
                            self.lineno += 1;
                        }
                        if self.line.is_empty() && !seen_arg {
                            // A blank line.
                            state = State::Space;
                            continue;
                        }
                        if self.is_eof_item() {
                            self.eof = true;
                            return Ok(if first {
                                None
                            } else {
                                Some(self.line.len() + 1)
                            });
                        }
                        return self.item_done(b).map(Some);
                    }
                    seen_arg = true;
                    if !insert && blank(c) {
                        if self.is_eof_item() {
                            self.eof = true;
                            return Ok(if first {
                                None
                            } else {
                                Some(self.line.len() + 1)
                            });
                        }
                        self.item_done(b)?;
                        self.line.clear();
                        state = State::Space;
                        first = false;
                        continue;
                    }
                    match c {
                        b'\\' => {
                            state = State::Backslash;
                            continue;
                        }
                        b'\'' | b'"' => {
                            state = State::Quote(c);
                            continue;
                        }
                        _ => {}
                    }
                }
                State::Quote(q) => {
                    if c == b'\n' {
                        b.exec_if_possible();
                        return Err(unmatched(q));
                    }
                    if c == q {
                        state = State::Norm;
                        seen_arg = true;
                        continue;
                    }
                }
                State::Backslash => state = State::Norm,
            }
            if c == 0 && !self.warned_nul {
                self.warned_nul = true;
                crate::messages::note(
                    "WARNING: a NUL character occurred in the input.  It cannot be passed \
                     through in the argument list.  Did you mean to use the --null option?",
                );
            }
            self.put(c, b)?;
        }
    }
}

fn unmatched(q: u8) -> Die {
    Die(format!(
        "unmatched {} quote; by default quotes are special to xargs unless you use the -0 \
         option",
        if q == b'"' { "double" } else { "single" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> XargsSpec {
        XargsSpec {
            max_chars: 128 << 10,
            max_arg_count: 100_000,
            always_run: true,
            command: vec!["echo".into()],
            ..XargsSpec::default()
        }
    }

    /// The commands built from `input` under `spec`, and the error that ended it.
    fn commands(spec: &XargsSpec, input: &[u8]) -> (Vec<Vec<String>>, Option<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in");
        std::fs::write(&path, input).unwrap();
        let mut r = Reader::new(BufReader::new(File::open(&path).unwrap()), spec);
        let mut out = Vec::new();
        let mut emit = |t: TaskInput| {
            if let TaskInput::Args(recs) = t {
                out.push(
                    recs[0]
                        .iter()
                        .map(|w| w.to_string_lossy().into_owned())
                        .collect(),
                );
            }
            true
        };
        let res = {
            let mut b = Builder::new(spec, &mut emit);
            build(spec, &mut r, &mut b)
        };
        (out, res.err().map(|Die(m)| m))
    }

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn blanks_quotes_and_backslashes_split_items() {
        let (c, e) = commands(&spec(), b"a  b\n'c d' \"e\\f\" g\\ h\n\n  i\n");
        assert_eq!(e, None);
        assert_eq!(c, [argv(&["echo", "a", "b", "c d", "e\\f", "g h", "i"])]);
    }

    #[test]
    fn empty_input_runs_once_unless_r() {
        assert_eq!(commands(&spec(), b"").0, [argv(&["echo"])]);
        let s = XargsSpec {
            always_run: false,
            ..spec()
        };
        assert!(commands(&s, b"  \n").0.is_empty());
    }

    #[test]
    fn max_args_and_max_chars_pack() {
        let s = XargsSpec {
            max_args: 2,
            ..spec()
        };
        assert_eq!(
            commands(&s, b"1 2 3\n").0,
            [argv(&["echo", "1", "2"]), argv(&["echo", "3"])]
        );
        // echo\0 = 5, "1\0" = 2: -s 9 fits two.
        let s = XargsSpec {
            max_chars: 9,
            ..spec()
        };
        assert_eq!(
            commands(&s, b"1 2 3\n").0,
            [argv(&["echo", "1", "2"]), argv(&["echo", "3"])]
        );
    }

    #[test]
    fn max_lines_continue_after_a_trailing_blank() {
        let s = XargsSpec {
            max_lines: 1,
            ..spec()
        };
        assert_eq!(
            commands(&s, b"a b \nc\nd\n").0,
            [argv(&["echo", "a", "b", "c"]), argv(&["echo", "d"])]
        );
    }

    #[test]
    fn eof_string_ends_the_input() {
        let s = XargsSpec {
            eof: Some(b"STOP".to_vec()),
            ..spec()
        };
        assert_eq!(commands(&s, b"a STOP b\nc\n").0, [argv(&["echo", "a"])]);
        assert_eq!(commands(&s, b"STOP\nc\n").0, [argv(&["echo"])]);
    }

    #[test]
    fn unmatched_quote_runs_what_was_built_then_stops() {
        let (c, e) = commands(&spec(), b"a b\n'c\n");
        assert_eq!(c, [argv(&["echo", "a", "b"])]);
        assert!(e.unwrap().starts_with("unmatched single quote"));
    }

    #[test]
    fn replace_inserts_each_line() {
        let s = XargsSpec {
            replace: Some(b"{}".to_vec()),
            command: vec!["echo".into(), "<{}>".into(), "x{}y{}".into()],
            exit_if_size_exceeded: true,
            ..spec()
        };
        assert_eq!(
            commands(&s, b"  a b \nc\n").0,
            [
                argv(&["echo", "<a b >", "xa b ya b "]),
                argv(&["echo", "<c>", "xcyc"])
            ]
        );
    }

    #[test]
    fn delimiter_takes_items_as_they_are() {
        let s = XargsSpec {
            delimiter: Some(0),
            eof: Some(b"x".to_vec()),
            ..spec()
        };
        assert_eq!(
            commands(&s, b"a b\0'x\0\0x\0c").0,
            [argv(&["echo", "a b", "'x", "", "x", "c"])]
        );
    }

    #[test]
    fn an_argument_too_long_alone_is_an_error() {
        let s = XargsSpec {
            max_chars: 8,
            ..spec()
        };
        let (c, e) = commands(&s, b"1 2345\n");
        assert_eq!(c, [argv(&["echo", "1"])]);
        assert_eq!(e.as_deref(), Some("argument line too long"));
    }
}
