//! Value blocks: the values of one file or stdin, read in pieces of up to 64 KiB (what one
//! read(2) returns) and cut at record ends into blocks of one-value tasks
//! ([`TaskInput::Lines`]), for a process pool that needs no task one by one
//! (`Config::value_blocks`). The bytes go to the workers as they were read:
//! no value is copied, split or allocated on its own.
//!
//! The first blocks are small and each is twice the one before, up to [`MAX_VALUES`]: a short
//! input is spread over all the workers, a long one moves in blocks.

use std::io::{self, Read};
use std::sync::Arc;

use anyhow::Context;

use crate::config::{Config, SourceKind};
use crate::source::Source;
use crate::task::{Lines, TaskInput};

/// Bytes read at a time.
const READ_BYTES: usize = 64 << 10;
/// Values in one block at most (a block is answered by one worker).
const MAX_VALUES: u64 = 4096;

/// One file or stdin, opened, read as blocks of values.
pub(super) struct ValueLines {
    input: Box<dyn Read + Send>,
    end: u8,
}

impl ValueLines {
    /// Opens the one value source (a missing file is an error here).
    pub(super) fn open(cfg: &Arc<Config>) -> anyhow::Result<ValueLines> {
        let input: Box<dyn Read + Send> = match &cfg.input.sources[0].kind {
            SourceKind::File(p) => Box::new(crate::source::args::open_values(p)?),
            _ => Box::new(io::stdin()),
        };
        Ok(ValueLines {
            input,
            end: cfg.record_end(),
        })
    }
}

impl Source for ValueLines {
    fn produce(self: Box<Self>, emit: &mut dyn FnMut(TaskInput) -> bool) -> anyhow::Result<()> {
        let ValueLines { mut input, end } = *self;
        let mut cutter = Cutter::new(end);
        let mut buf = vec![0; READ_BYTES];
        loop {
            // One read: what a pipe has now goes to the workers now, however little (a
            // stream, `tail -f`, must not wait for 64 KiB or its end).
            let n = match input.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // What was read before the error still runs.
                    cutter.finish(&mut |l| emit(TaskInput::Lines(l)));
                    return Err(e).context("reading input");
                }
            };
            if n == 0 {
                cutter.finish(&mut |l| emit(TaskInput::Lines(l)));
                return Ok(());
            }
            if !cutter.push(&buf[..n], &mut |l| emit(TaskInput::Lines(l))) {
                return Ok(());
            }
        }
    }
}

/// Cuts bytes into blocks of whole values (pure logic, tested below).
struct Cutter {
    end: u8,
    /// Bytes of a value not yet ended.
    pending: Vec<u8>,
    /// Values the next block may hold.
    limit: u64,
}

impl Cutter {
    fn new(end: u8) -> Cutter {
        Cutter {
            end,
            pending: Vec::new(),
            limit: 1,
        }
    }

    /// Takes `data`; emits every whole value in it (after what was pending) in blocks.
    /// Returns `false` when `emit` does.
    fn push(&mut self, data: &[u8], emit: &mut dyn FnMut(Lines) -> bool) -> bool {
        let Some(last) = memchr::memrchr(self.end, data) else {
            self.pending.extend_from_slice(data);
            return true;
        };
        let ok = if self.pending.is_empty() {
            // The usual case: the read's whole values go out without a copy in between.
            self.emit_all(&data[..=last], emit)
        } else {
            let mut whole = std::mem::take(&mut self.pending);
            whole.extend_from_slice(&data[..=last]);
            self.emit_all(&whole, emit)
        };
        self.pending.extend_from_slice(&data[last + 1..]);
        ok
    }

    /// The input has ended: a last value without its end is a value.
    fn finish(&mut self, emit: &mut dyn FnMut(Lines) -> bool) {
        if !self.pending.is_empty() {
            let mut whole = std::mem::take(&mut self.pending);
            whole.push(self.end);
            self.emit_all(&whole, emit);
        }
    }

    /// Emits `whole` (whole values) as blocks of at most `limit` values each.
    fn emit_all(&mut self, whole: &[u8], emit: &mut dyn FnMut(Lines) -> bool) -> bool {
        let mut rest = whole;
        while !rest.is_empty() {
            let mut count = 0u64;
            let mut cut = rest.len();
            for i in memchr::memchr_iter(self.end, rest) {
                count += 1;
                if count == self.limit {
                    cut = i + 1;
                    break;
                }
            }
            let block = Lines {
                bytes: rest[..cut].to_vec(),
                at: 0,
                count,
                end: self.end,
            };
            rest = &rest[cut..];
            if count == self.limit {
                self.limit = (self.limit * 2).min(MAX_VALUES);
            }
            if !emit(block) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cut(pieces: &[&[u8]]) -> Vec<(Vec<u8>, u64)> {
        let mut c = Cutter::new(b'\n');
        let mut out = Vec::new();
        for p in pieces {
            assert!(c.push(p, &mut |l| {
                out.push((l.bytes, l.count));
                true
            }));
        }
        c.finish(&mut |l| {
            out.push((l.bytes, l.count));
            true
        });
        out
    }

    #[test]
    fn blocks_grow_from_one_value_and_end_on_value_ends() {
        let out = cut(&[b"a\nb\nc\nd", b"\ne\nf\ng\nh\ni"]);
        let counts: Vec<u64> = out.iter().map(|b| b.1).collect();
        assert_eq!(
            counts,
            [1, 2, 4, 1, 1],
            "1, 2, 4, then what is whole, then the last"
        );
        assert_eq!(
            out[2].0, b"d\ne\nf\ng\n",
            "a value cut between reads is whole"
        );
        assert_eq!(out[4].0, b"i\n", "the last value gets its end");
    }

    proptest! {
        /// Whatever the pieces, the blocks hold every value once, in order, whole.
        #[test]
        fn blocks_are_the_input(data in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..3000),
                                cuts in proptest::collection::vec(0usize..3000, 0..8)) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut pieces = Vec::new();
            let mut from = 0;
            for c in cuts {
                pieces.push(&data[from..c]);
                from = c;
            }
            pieces.push(&data[from..]);
            let out = cut(&pieces);
            let mut joined = Vec::new();
            for (bytes, count) in &out {
                prop_assert_eq!(memchr::memchr_iter(b'\n', bytes).count() as u64, *count);
                prop_assert_eq!(bytes.last(), Some(&b'\n'));
                joined.extend_from_slice(bytes);
            }
            let mut want = data.clone();
            if want.last().is_some_and(|&b| b != b'\n') {
                want.push(b'\n');
            }
            prop_assert_eq!(joined, want);
        }
    }
}
