//! Record-aware chunking of input for `--pipe` and `--pipe-part`.
//!
//! This module owns:
//! - [`split_slice`]: chunking an in-memory (memory-mapped) file into byte
//!   ranges for `--pipe-part`, searching chunk edges in parallel;
//! - [`StreamSplitter`]: chunking a byte stream (stdin) into owned chunks for
//!   `--pipe` with bounded memory.
//!
//! The rules themselves ([`RecordSpec`], [`ChunkSpec`], `--block` sizes) are parsed once by
//! [`crate::config::chunk`].
//!
//! A position `p` with `0 < p < data.len()` is a valid split position iff
//! `data[..p]` ends with `recend` and `data[p..]` starts with `recstart` (an
//! absent `recstart` always matches; an empty `recend` always matches).
//! Records are the pieces between consecutive valid split positions; the end of
//! the data always ends the last record. Records are never split, chunks are
//! never empty, and header + chunks concatenated reproduce the input exactly.

#![forbid(unsafe_code)]

use std::io::{self, Read};
use std::ops::Range;

use memchr::memmem;
use rayon::prelude::*;

/// Smallest amount of buffer space offered to a single `read` call.
const MIN_READ: usize = 64 * 1024;
/// Read size used while searching forward (oversize records, `lines` mode).
const READ_SIZE: usize = 256 * 1024;
/// Largest amount of buffer space offered to a single `read` call.
const MAX_READ: usize = 4 * 1024 * 1024;
/// Upper bound for the capacity reserved up front for a new chunk buffer.
const MAX_CAPACITY_HINT: usize = 64 * 1024 * 1024;
/// Below this many bytes after the header, `split_slice` does not go parallel.
const PAR_MIN_BYTES: usize = 1024 * 1024;
/// Below this many edges, `split_slice` does not go parallel.
const PAR_MIN_EDGES: usize = 16;

pub use crate::config::chunk::{BlockSize, ChunkSpec, RecordSpec};

/// `-L N`: moves the chunk end `p` (in `data`, which starts at a chunk start) back to the end
/// of the last whole group of `group` lines before it. `None` when no whole group ends at or
/// before `p`.
pub fn group_end(data: &[u8], p: usize, group: usize) -> Option<usize> {
    if group <= 1 {
        return Some(p);
    }
    let count = memchr::memchr_iter(b'\n', &data[..p]).count();
    let full = count - count % group;
    if full == 0 {
        return None;
    }
    if full == count && data[..p].ends_with(b"\n") {
        return Some(p);
    }
    memchr::memchr_iter(b'\n', &data[..p])
        .nth(full - 1)
        .map(|i| i + 1)
}

/// `-L N` for ranges found by size: moves every edge back (or, when no whole group ends
/// before it, drops it) so that each chunk holds whole groups of `group` lines.
fn regroup(data: &[u8], ranges: Vec<Range<usize>>, group: usize) -> Vec<Range<usize>> {
    if group <= 1 || ranges.is_empty() {
        return ranges;
    }
    let len = ranges.last().map_or(0, |r| r.end);
    let mut out = Vec::with_capacity(ranges.len());
    let mut pos = ranges[0].start;
    for r in ranges {
        if r.end <= pos {
            continue;
        }
        if r.end == len {
            break;
        }
        if let Some(e) = group_end(&data[pos..], r.end - pos, group) {
            out.push(pos..pos + e);
            pos += e;
        }
    }
    while pos < len {
        // What is left: whole groups, then the incomplete one.
        let e = group_end(&data[pos..], len - pos, group).unwrap_or(len - pos);
        out.push(pos..pos + e);
        pos += e;
    }
    out
}

/// The number of records in `data`, a whole number of records as the chunk modes cut them
/// (the last one may lack its terminator): one more than the split positions inside it. The
/// process pool counts a chunk's records with it (one result each).
pub fn count_records(rec: &RecordSpec, data: &[u8]) -> u64 {
    if data.is_empty() {
        return 0;
    }
    let m = Matcher::new(rec);
    if let [b] = *m.needle.as_slice() {
        // Split positions i + m with 1 <= i + m < len.
        let lo = 1usize.saturating_sub(m.m);
        let hi = data.len() - m.m;
        return 1 + memchr::memchr_iter(b, &data[lo.min(hi)..hi]).count() as u64;
    }
    let mut n = 1;
    let mut from = 1;
    while let Some(p) = m.first_split(&[], data, from) {
        if p >= data.len() {
            break;
        }
        n += 1;
        from = p + 1;
    }
    n
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Finds split positions. The split pattern is `needle = recend ++ recstart`;
/// an occurrence of it starting at `s` marks the split position `s + m`,
/// where `m = recend.len()`.
///
/// Searches work on a buffer `buf` (positions are indexes into it) that may
/// be preceded by `ctx`, the last bytes before `buf` (needed when a
/// self-overlapping `recend` straddles the start of `buf`). Only occurrences
/// lying entirely inside `ctx ++ buf` are reported, and only positions >= 1.
#[derive(Debug, Clone)]
struct Matcher {
    needle: Vec<u8>,
    m: usize,
    fwd: memmem::Finder<'static>,
    rev: memmem::FinderRev<'static>,
}

impl Matcher {
    fn new(rec: &RecordSpec) -> Self {
        let mut needle = rec.recend.clone();
        needle.extend_from_slice(rec.recstart.as_deref().unwrap_or_default());
        Self {
            m: rec.recend.len(),
            fwd: memmem::Finder::new(&needle).into_owned(),
            rev: memmem::FinderRev::new(&needle).into_owned(),
            needle,
        }
    }

    /// Length of the part of the needle after the split position.
    fn k(&self) -> usize {
        self.needle.len() - self.m
    }

    fn find_fwd(&self, hay: &[u8]) -> Option<usize> {
        match *self.needle.as_slice() {
            [b] => memchr::memchr(b, hay),
            _ => self.fwd.find(hay),
        }
    }

    fn find_rev(&self, hay: &[u8]) -> Option<usize> {
        match *self.needle.as_slice() {
            [b] => memchr::memrchr(b, hay),
            _ => self.rev.rfind(hay),
        }
    }

    /// Whether split `p < m` holds, i.e. the needle occurs in `ctx ++ buf`
    /// starting `m - p` bytes before the start of `buf`.
    fn junction_match(&self, ctx: &[u8], buf: &[u8], p: usize) -> bool {
        let back = self.m - p;
        let front = self.needle.len() - back;
        back <= ctx.len()
            && buf.len() >= front
            && ctx[ctx.len() - back..] == self.needle[..back]
            && buf[..front] == self.needle[back..]
    }

    /// Smallest split position `p >= max(min_p, 1)`.
    fn first_split(&self, ctx: &[u8], buf: &[u8], min_p: usize) -> Option<usize> {
        let lo = min_p.max(1);
        if self.needle.is_empty() {
            return (lo <= buf.len()).then_some(lo);
        }
        if let Some(p) = (lo..self.m).find(|&p| self.junction_match(ctx, buf, p)) {
            return Some(p);
        }
        let s0 = lo.max(self.m) - self.m;
        let hay = buf.get(s0..)?;
        self.find_fwd(hay).map(|i| s0 + i + self.m)
    }

    /// Largest split position `p` with `1 <= p <= max_p`.
    fn last_split(&self, ctx: &[u8], buf: &[u8], max_p: usize) -> Option<usize> {
        if self.needle.is_empty() {
            let p = max_p.min(buf.len());
            return (p >= 1).then_some(p);
        }
        let end = buf.len().min(max_p.saturating_add(self.k()));
        if let Some(s) = self.find_rev(&buf[..end]) {
            // s is the last occurrence; if it gives p == 0 there is no other.
            let p = s + self.m;
            return (p >= 1).then_some(p);
        }
        let hi = self.m.min(max_p.saturating_add(1));
        (1..hi).rev().find(|&p| self.junction_match(ctx, buf, p))
    }

    /// The `n`-th (`n >= 1`) split position `>= max(min_p, 1)`, or
    /// `Err(count)` with the number of split positions found there.
    fn nth_split(&self, ctx: &[u8], buf: &[u8], min_p: usize, n: usize) -> Result<usize, usize> {
        let lo = min_p.max(1);
        match *self.needle.as_slice() {
            [] => {
                let p = lo.saturating_add(n - 1);
                if p <= buf.len() {
                    Ok(p)
                } else {
                    Err((buf.len() + 1).saturating_sub(lo))
                }
            }
            // m <= 1 <= lo: no junction to look at.
            [b] => {
                let s0 = lo.max(self.m) - self.m;
                let Some(hay) = buf.get(s0..) else {
                    return Err(0);
                };
                let mut found = 0;
                for i in memchr::memchr_iter(b, hay) {
                    found += 1;
                    if found == n {
                        return Ok(s0 + i + self.m);
                    }
                }
                Err(found)
            }
            _ => {
                let mut found = 0;
                let mut from = lo;
                while let Some(p) = self.first_split(ctx, buf, from) {
                    found += 1;
                    if found == n {
                        return Ok(p);
                    }
                    from = p + 1;
                }
                Err(found)
            }
        }
    }
}

/// Splits an in-memory file for `--pipe-part`. Returns the header range and
/// the chunk ranges (which together cover `data` in order).
///
/// Chunk edges are placed at `header_end + k * block` and each moved forward
/// to the next valid split position (or the end of data); duplicates are
/// removed. Edges are searched in parallel when there are many. With `lines`,
/// every chunk holds `lines` records (the last one possibly fewer).
pub fn split_slice(data: &[u8], spec: &ChunkSpec) -> (Range<usize>, Vec<Range<usize>>) {
    let matcher = Matcher::new(&spec.rec);
    let len = data.len();
    let h = header_end(&matcher, data, spec);
    let chunks = if h >= len {
        Vec::new()
    } else if let Some(n) = spec.lines {
        split_lines(&matcher, data, h, to_usize(n).max(1))
    } else {
        let block = to_usize(spec.block).max(1);
        let edges = (len - h - 1) / block;
        let groups = if edges < PAR_MIN_EDGES || len - h < PAR_MIN_BYTES {
            1
        } else {
            rayon::current_num_threads() * 4
        };
        let ranges = split_blocks(&matcher, data, h, block, groups);
        regroup(data, ranges, to_usize(spec.group))
    };
    (0..h, chunks)
}

/// For `--pipe-part --shard`: the header range of `data` and the part of its body between
/// the nominal edges `lo` and `hi` (offsets in `data`), each edge moved forward to the next
/// valid split position as `split -n l/K/N` does, and never into the header. Shards cut at
/// consecutive edges get disjoint parts that together cover the body in order.
pub fn part_range(
    data: &[u8],
    spec: &ChunkSpec,
    lo: usize,
    hi: usize,
) -> (Range<usize>, Range<usize>) {
    let matcher = Matcher::new(&spec.rec);
    let len = data.len();
    let h = header_end(&matcher, data, spec);
    let edge = |p: usize| {
        if p <= h {
            h
        } else if p >= len {
            len
        } else {
            matcher.first_split(&[], data, p).unwrap_or(len).min(len)
        }
    };
    let (a, z) = (edge(lo), edge(hi));
    (0..h, a..z.max(a))
}

/// Splits an in-memory file with the `--pipe` rules of [`StreamSplitter`]
/// (each chunk the largest record-aligned prefix of at most `block` bytes),
/// giving exactly the chunks a `StreamSplitter` would read from `data`. Used
/// when `--pipe`'s stdin is a regular file, which can then be sent without
/// being read through parx.
pub fn split_slice_stream(data: &[u8], spec: &ChunkSpec) -> (Range<usize>, Vec<Range<usize>>) {
    let matcher = Matcher::new(&spec.rec);
    let len = data.len();
    let h = header_end(&matcher, data, spec);
    if h >= len {
        return (0..h, Vec::new());
    }
    if let Some(n) = spec.lines {
        return (0..h, split_lines(&matcher, data, h, to_usize(n).max(1)));
    }
    let block = to_usize(spec.block).max(1);
    let mut out = Vec::new();
    let mut pos = h;
    while pos < len {
        let (ctx, rest) = data.split_at(pos);
        let end = if rest.len() <= block {
            len
        } else {
            matcher
                .last_split(ctx, rest, block)
                .or_else(|| matcher.first_split(ctx, rest, block + 1))
                .map_or(len, |p| pos + p)
        };
        let end = match group_end(&data[pos..], end - pos, to_usize(spec.group)) {
            Some(e) => pos + e,
            None => matcher
                .nth_split(&[], data, pos + 1, to_usize(spec.group))
                .unwrap_or(len),
        };
        out.push(pos..end);
        pos = end;
    }
    (0..h, out)
}

/// End of the header of `data`: its first `header` records, or what `--header REGEX`
/// matches.
fn header_end(matcher: &Matcher, data: &[u8], spec: &ChunkSpec) -> usize {
    if let Some(re) = &spec.header_re {
        return re.len_in(data, spec.block);
    }
    let header = spec.header;
    if header == 0 {
        return 0;
    }
    matcher
        .nth_split(&[], data, 1, to_usize(header))
        .unwrap_or(data.len())
}

/// Chunks of `n` records each, starting at `h < data.len()`.
fn split_lines(matcher: &Matcher, data: &[u8], h: usize, n: usize) -> Vec<Range<usize>> {
    let len = data.len();
    let mut out = Vec::new();
    let mut pos = h;
    while pos < len {
        let end = matcher.nth_split(&[], data, pos + 1, n).unwrap_or(len);
        out.push(pos..end);
        pos = end;
    }
    out
}

/// Block chunking for `split_slice`, with the edges divided among `groups`
/// independent tasks. `h < data.len()`.
///
/// Each group owns a run of edges and only searches up to its last edge's
/// successor: a split found beyond that would also be the next group's first
/// result, so every byte is scanned at most once.
fn split_blocks(
    matcher: &Matcher,
    data: &[u8],
    h: usize,
    block: usize,
    groups: usize,
) -> Vec<Range<usize>> {
    let len = data.len();
    // Edges are h + k * block for k in 1..=edges, all < len.
    let edges = (len - h - 1) / block;
    let groups = groups.clamp(1, edges.max(1));
    let run = |g: usize| -> Vec<usize> {
        let k_lo = 1 + g * edges / groups;
        let k_hi = 1 + (g + 1) * edges / groups;
        let limit = if k_hi <= edges { h + k_hi * block } else { len };
        // Splits found in `hay` are < limit.
        let hay = &data[..len.min(limit - 1 + matcher.k())];
        let mut out = Vec::new();
        let mut k = k_lo;
        while k < k_hi {
            match matcher.first_split(&[], hay, h + k * block) {
                Some(p) => {
                    out.push(p);
                    k = (p - h) / block + 1;
                }
                None => break,
            }
        }
        out
    };
    let splits = if groups == 1 {
        run(0)
    } else {
        (0..groups)
            .into_par_iter()
            .map(run)
            .collect::<Vec<_>>()
            .concat()
    };
    let mut out = Vec::with_capacity(splits.len() + 1);
    let mut prev = h;
    for p in splits {
        out.push(prev..p);
        prev = p;
    }
    out.push(prev..len);
    out
}

#[derive(Debug)]
enum HeaderState {
    Pending,
    Stashed(Vec<u8>),
    Taken,
}

/// Splits a stream for `--pipe`, yielding owned chunks.
///
/// In block mode a chunk is the longest prefix of the remaining data that
/// ends at a valid split position (or at end of input) and is at most
/// `block` bytes; if there is none, it runs to the first valid split position
/// after `block` (or end of input). In `lines` mode a chunk is `lines`
/// records. Memory use is about one chunk plus one read buffer.
///
/// After an I/O error has been returned, iteration ends.
#[derive(Debug)]
pub struct StreamSplitter<R: Read> {
    reader: R,
    matcher: Matcher,
    block: usize,
    lines: Option<usize>,
    /// `-L N`: chunks hold whole groups of N lines.
    group: usize,
    header: usize,
    header_re: Option<crate::config::chunk::HeaderRe>,
    header_state: HeaderState,
    /// `buf[start..filled]` is the unconsumed data (`filled == buf.len()`).
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    /// Capacity reserved for a fresh buffer.
    capacity_hint: usize,
    /// Last `recend.len() - 1` bytes before `buf[start]`.
    ctx: Vec<u8>,
    /// What [`Self::read_some`] reads into (allocated at its first read).
    scratch: Vec<u8>,
    eof: bool,
    failed: bool,
}

impl<R: Read> StreamSplitter<R> {
    /// Creates a splitter reading from `reader`.
    pub fn new(reader: R, spec: ChunkSpec) -> Self {
        let block = to_usize(spec.block).max(1);
        let lines = spec.lines.map(|n| to_usize(n).max(1));
        let capacity_hint = match lines {
            Some(_) => 0,
            None => block.saturating_add(MIN_READ).min(MAX_CAPACITY_HINT),
        };
        Self {
            reader,
            matcher: Matcher::new(&spec.rec),
            block,
            lines,
            group: to_usize(spec.group).max(1),
            header: to_usize(spec.header),
            header_re: spec.header_re,
            header_state: HeaderState::Pending,
            buf: Vec::new(),
            start: 0,
            filled: 0,
            capacity_hint,
            ctx: Vec::new(),
            scratch: Vec::new(),
            eof: false,
            failed: false,
        }
    }

    /// Hands back the buffer of a chunk that is no longer needed: if it is
    /// larger than the current buffer, the unconsumed data moves into it and
    /// the next chunk is read into its (already faulted-in) memory; otherwise
    /// it is dropped. Nothing is kept aside, so memory stays one buffer.
    pub fn give_buffer(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() <= self.buf.capacity()
            || buf.capacity() > self.capacity_hint.saturating_mul(2)
        {
            return;
        }
        buf.clear();
        buf.extend_from_slice(&self.buf[self.start..self.filled]);
        self.filled -= self.start;
        self.start = 0;
        self.buf = buf;
    }

    /// Reads the header records (the first `header` records; everything if
    /// the input has fewer). Returns an empty Vec if `header == 0`. Call once
    /// before iterating; if iteration started first, the header was set aside
    /// then and is returned now. Later calls return an empty Vec.
    pub fn read_header(&mut self) -> io::Result<Vec<u8>> {
        match std::mem::replace(&mut self.header_state, HeaderState::Taken) {
            HeaderState::Pending => self.consume_header().inspect_err(|_| self.failed = true),
            HeaderState::Stashed(h) => Ok(h),
            HeaderState::Taken => Ok(Vec::new()),
        }
    }

    fn consume_header(&mut self) -> io::Result<Vec<u8>> {
        if let Some(re) = self.header_re.take() {
            // GNU parallel: a block is read, then more while REGEX does not match.
            loop {
                let rel = self.filled - self.start;
                let want = self.block.saturating_mul(rel / self.block.max(1) + 1);
                while !self.eof && self.filled - self.start < want {
                    self.read_more(want - (self.filled - self.start))?;
                }
                match re.find(&self.buf[self.start..self.filled]) {
                    Some(0) => return Ok(Vec::new()),
                    Some(h) => return Ok(self.take_chunk(h)),
                    None if self.eof => return Ok(Vec::new()),
                    None => {}
                }
            }
        }
        if self.header == 0 {
            return Ok(Vec::new());
        }
        Ok(match self.find_nth(self.header)? {
            Some(p) => self.take_chunk(p),
            None => Vec::new(),
        })
    }

    fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        if let HeaderState::Pending = self.header_state {
            let h = self.consume_header()?;
            self.header_state = HeaderState::Stashed(h);
        }
        let end = match self.lines {
            Some(n) => self.find_nth(n)?,
            None if self.group > 1 => match self.find_block_end()? {
                None => None,
                Some(p) => {
                    let data = &self.buf[self.start..self.filled];
                    match group_end(data, p, self.group) {
                        Some(e) => Some(e),
                        None => self.find_nth(self.group)?,
                    }
                }
            },
            None => self.find_block_end()?,
        };
        Ok(end.map(|p| self.take_chunk(p)))
    }

    /// Length of the chunk made of the next `n` records, or None at end of
    /// input.
    fn find_nth(&mut self, n: usize) -> io::Result<Option<usize>> {
        let k = self.matcher.k();
        let mut scan = 1;
        let mut need = n;
        loop {
            let data = &self.buf[self.start..self.filled];
            match self.matcher.nth_split(&self.ctx, data, scan, need) {
                Ok(p) => return Ok(Some(p)),
                Err(found) => {
                    need -= found;
                    // Every position whose pattern fits in `data` was checked.
                    scan = scan.max((data.len() + 1).saturating_sub(k));
                }
            }
            if self.eof {
                return Ok((!data.is_empty()).then_some(data.len()));
            }
            self.read_some()?;
        }
    }

    /// Length of the next block-mode chunk, or None at end of input.
    fn find_block_end(&mut self) -> io::Result<Option<usize>> {
        let k = self.matcher.k();
        let block = self.block;
        // With this much data, every split <= block is decidable and the
        // chunk cannot be the whole rest of the input.
        let target = block.saturating_add(k.max(1));
        loop {
            let rel = self.filled - self.start;
            if self.eof {
                if rel == 0 {
                    return Ok(None);
                }
                if rel <= block {
                    return Ok(Some(rel));
                }
                break;
            }
            if rel >= target {
                break;
            }
            self.read_more(target - rel)?;
        }
        let data = &self.buf[self.start..self.filled];
        if let Some(p) = self.matcher.last_split(&self.ctx, data, block) {
            return Ok(Some(p));
        }
        // A record longer than block: run to the first split after it.
        let mut scan = block.saturating_add(1);
        loop {
            let data = &self.buf[self.start..self.filled];
            if let Some(p) = self.matcher.first_split(&self.ctx, data, scan) {
                return Ok(Some(p));
            }
            if self.eof {
                return Ok(Some(data.len()));
            }
            scan = scan.max((data.len() + 1).saturating_sub(k));
            self.read_more(READ_SIZE)?;
        }
    }

    /// Reads up to `want` bytes (clamped to a sane range) after the buffered
    /// data; sets `eof` when the reader is exhausted. `read_to_end` reads into
    /// the spare capacity without zeroing it first.
    fn read_more(&mut self, want: usize) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
            self.buf.truncate(self.filled);
        }
        let want = want.clamp(MIN_READ, MAX_READ);
        self.buf.reserve(want);
        let n = (&mut self.reader)
            .take(want as u64)
            .read_to_end(&mut self.buf)?;
        self.filled += n;
        if n < want {
            self.eof = true;
        }
        Ok(())
    }

    /// One read(2) of up to [`READ_SIZE`] bytes after the buffered data (`eof` when it reads
    /// nothing): for chunks of N records (`-N`, `-L`), which go as soon as their records are
    /// in — from a pipe, `{ seq 5; sleep 1; ...; } | parx --pipe -N 5` starts the first chunk
    /// at once, where [`Self::read_more`] would wait for `want` bytes or the input's end.
    fn read_some(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
        // Read into a scratch buffer zeroed once, then copied: zeroing the spare room of
        // `buf` for every read would cost more than the read when reads are short.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.resize(READ_SIZE, 0);
        let n = loop {
            match self.reader.read(&mut scratch) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        let n = n.inspect_err(|_| self.scratch = std::mem::take(&mut scratch))?;
        self.buf.truncate(self.filled);
        self.buf.extend_from_slice(&scratch[..n]);
        self.filled += n;
        self.scratch = scratch;
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// Removes the first `p` unconsumed bytes and returns them. Hands the
    /// whole buffer over when that is cheaper than copying the chunk.
    fn take_chunk(&mut self, p: usize) -> Vec<u8> {
        let end = self.start + p;
        let tail_len = self.filled - end;
        let chunk = if self.start == 0 && tail_len <= p {
            let cap = self.capacity_hint.max(tail_len + MIN_READ);
            let mut next = Vec::with_capacity(cap);
            next.extend_from_slice(&self.buf[end..self.filled]);
            let mut chunk = std::mem::replace(&mut self.buf, next);
            chunk.truncate(p);
            self.filled = tail_len;
            chunk
        } else {
            let chunk = self.buf[self.start..end].to_vec();
            self.start = end;
            if self.start == self.filled {
                self.start = 0;
                self.filled = 0;
                self.buf.clear();
            }
            chunk
        };
        self.update_ctx(&chunk);
        chunk
    }

    fn update_ctx(&mut self, consumed: &[u8]) {
        let keep = self.matcher.m.saturating_sub(1);
        if keep == 0 {
            return;
        }
        if consumed.len() >= keep {
            self.ctx.clear();
            self.ctx
                .extend_from_slice(&consumed[consumed.len() - keep..]);
        } else {
            self.ctx.extend_from_slice(consumed);
            let excess = self.ctx.len().saturating_sub(keep);
            self.ctx.drain(..excess);
        }
    }
}

impl<R: Read> Iterator for StreamSplitter<R> {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_chunk() {
            Ok(chunk) => chunk.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_records_follows_the_split_rules() {
        let nl = RecordSpec::default();
        assert_eq!(super::count_records(&nl, b""), 0);
        assert_eq!(super::count_records(&nl, b"a\nb\n"), 2);
        assert_eq!(super::count_records(&nl, b"a\nb"), 2);
        assert_eq!(super::count_records(&nl, b"\n\n"), 2);
        let xy = RecordSpec::from_options(Some(b"XY".to_vec()), None, false);
        assert_eq!(super::count_records(&xy, b"r1XYr2XYlast"), 3);
        assert_eq!(super::count_records(&xy, b"r1XY"), 1);
        let start = RecordSpec::from_options(None, Some(b">".to_vec()), false);
        assert_eq!(super::count_records(&start, b">a\n>b\n>c"), 3);
        let both = RecordSpec::from_options(Some(b"\n".to_vec()), Some(b">".to_vec()), false);
        assert_eq!(super::count_records(&both, b">a\nb\n>c\n"), 2);
    }
    use proptest::prelude::*;

    // ---------- helpers ----------

    fn rec(recend: &[u8], recstart: Option<&[u8]>) -> RecordSpec {
        RecordSpec {
            recend: recend.to_vec(),
            recstart: recstart.map(<[u8]>::to_vec),
        }
    }

    fn spec(block: u64, lines: Option<u64>, rec: RecordSpec, header: u64) -> ChunkSpec {
        ChunkSpec {
            block,
            lines,
            rec,
            header,
            header_re: None,
            group: 0,
        }
    }

    /// `--header REGEX`: the same header from a stream (read in short pieces) and from a
    /// slice, matched on the first block, then on more (GNU parallel's `--header .{4}`,
    /// `--header '(%.*\n)*'`).
    #[test]
    fn header_regex() {
        let re = |r: &str| Some(crate::config::chunk::HeaderRe::new(r).unwrap());
        let cases: [(&str, &[u8], u64, &[u8]); 5] = [
            (".{4}", b"HHHHabcdefghij", 3, b"HHHH"),
            ("(%.*\n)*", b"%h1\n%h2\n>a\n1\n", 100, b"%h1\n%h2\n"),
            ("(%.*\n)*", b">a\n1\n", 100, b""),
            ("nomatch", b"abc\ndef\n", 2, b""),
            // Not within the first block of 2: read on until it matches.
            ("abc\n", b"abc\ndef\n", 2, b"abc\n"),
        ];
        for (r, data, block, want) in cases {
            let mut s = spec(block, None, rec(b"\n", None), 0);
            s.header_re = re(r);
            let (h, _) = split_slice(data, &s);
            assert_eq!(&data[h], want, "{r}: slice");
            let (h2, _) = split_slice_stream(data, &s);
            assert_eq!(&data[h2], want, "{r}: slice as a stream");
            let (head, chunks) = stream(Chunky::new(data, vec![1, 3]), &s, true);
            assert_eq!(head, want, "{r}: stream");
            assert_eq!([head, chunks.concat()].concat(), data, "{r}");
        }
    }

    /// A reader returning short reads of the given sizes (cycled), with an
    /// occasional `Interrupted` error.
    struct Chunky<'a> {
        data: &'a [u8],
        pos: usize,
        sizes: Vec<usize>,
        calls: usize,
    }

    impl<'a> Chunky<'a> {
        fn new(data: &'a [u8], sizes: Vec<usize>) -> Self {
            Self {
                data,
                pos: 0,
                sizes,
                calls: 0,
            }
        }
    }

    impl Read for Chunky<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 7 == 3 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let size = self.sizes[self.calls % self.sizes.len()];
            let n = size.min(buf.len()).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn stream<R: Read>(reader: R, spec: &ChunkSpec, header_first: bool) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut s = StreamSplitter::new(reader, spec.clone());
        let header = if header_first {
            s.read_header().unwrap()
        } else {
            Vec::new()
        };
        let chunks: Vec<Vec<u8>> = s.by_ref().map(Result::unwrap).collect();
        let header = if header_first {
            assert!(s.read_header().unwrap().is_empty());
            header
        } else {
            s.read_header().unwrap()
        };
        (header, chunks)
    }

    fn slice_chunks<'a>(data: &'a [u8], spec: &ChunkSpec) -> (&'a [u8], Vec<&'a [u8]>) {
        let (h, chunks) = split_slice(data, spec);
        assert_eq!(h.start, 0);
        (&data[h], chunks.into_iter().map(|r| &data[r]).collect())
    }

    fn strs(chunks: &[impl AsRef<[u8]>]) -> Vec<String> {
        chunks
            .iter()
            .map(|c| String::from_utf8_lossy(c.as_ref()).into_owned())
            .collect()
    }

    // ---------- reference implementation (slow, obviously correct) ----------

    fn ref_valid(data: &[u8], rec: &RecordSpec, p: usize) -> bool {
        p > 0
            && p < data.len()
            && data[..p].ends_with(&rec.recend)
            && data[p..].starts_with(rec.recstart.as_deref().unwrap_or(b""))
    }

    fn ref_splits(data: &[u8], rec: &RecordSpec) -> Vec<usize> {
        (1..data.len())
            .filter(|&p| ref_valid(data, rec, p))
            .collect()
    }

    /// End of the n-th record starting at `pos`.
    fn ref_nth_end(splits: &[usize], len: usize, pos: usize, n: usize) -> usize {
        let first = splits.partition_point(|&p| p <= pos);
        splits.get(first + n - 1).copied().unwrap_or(len)
    }

    fn ref_header(splits: &[usize], len: usize, header: u64) -> usize {
        if header == 0 {
            0
        } else {
            ref_nth_end(splits, len, 0, header as usize)
        }
    }

    /// Chunk boundaries (ends) per the stream rules.
    fn ref_stream(data: &[u8], spec: &ChunkSpec) -> (usize, Vec<usize>) {
        let splits = ref_splits(data, &spec.rec);
        let len = data.len();
        let h = ref_header(&splits, len, spec.header);
        let block = spec.block as usize;
        let mut ends = Vec::new();
        let mut pos = h;
        while pos < len {
            let end = if let Some(n) = spec.lines {
                ref_nth_end(&splits, len, pos, n as usize)
            } else if len - pos <= block {
                len
            } else {
                let within = splits
                    .iter()
                    .copied()
                    .filter(|&p| p > pos && p <= pos + block)
                    .max();
                within.unwrap_or_else(|| {
                    splits
                        .iter()
                        .copied()
                        .find(|&p| p > pos + block)
                        .unwrap_or(len)
                })
            };
            ends.push(end);
            pos = end;
        }
        (h, ends)
    }

    /// Chunk boundaries (ends) per the --pipe-part rules.
    fn ref_slice(data: &[u8], spec: &ChunkSpec) -> (usize, Vec<usize>) {
        if spec.lines.is_some() {
            return ref_stream(data, spec);
        }
        let splits = ref_splits(data, &spec.rec);
        let len = data.len();
        let h = ref_header(&splits, len, spec.header);
        if h >= len {
            return (h, Vec::new());
        }
        let block = spec.block as usize;
        let mut ends: Vec<usize> = (1..)
            .map(|k| h + k * block)
            .take_while(|&e| e < len)
            .map(|e| {
                let i = splits.partition_point(|&p| p < e);
                splits.get(i).copied().unwrap_or(len)
            })
            .collect();
        ends.push(len);
        ends.dedup();
        (h, ends)
    }

    fn ends_of(header: &[u8], chunks: &[impl AsRef<[u8]>]) -> (usize, Vec<usize>) {
        let mut pos = header.len();
        let ends = chunks
            .iter()
            .map(|c| {
                pos += c.as_ref().len();
                pos
            })
            .collect();
        (header.len(), ends)
    }

    fn count_records(splits: &[usize], a: usize, b: usize) -> usize {
        1 + splits.iter().filter(|&&p| p > a && p < b).count()
    }

    /// Invariants shared by both splitters.
    fn check_invariants(
        data: &[u8],
        spec: &ChunkSpec,
        header: &[u8],
        chunks: &[impl AsRef<[u8]>],
        stream_mode: bool,
    ) {
        let all: Vec<u8> = header
            .iter()
            .chain(chunks.iter().flat_map(|c| c.as_ref()))
            .copied()
            .collect();
        assert_eq!(all, data, "header + chunks != input");
        assert!(chunks.iter().all(|c| !c.as_ref().is_empty()), "empty chunk");
        let splits = ref_splits(data, &spec.rec);
        let (h, ends) = ends_of(header, chunks);
        if chunks.is_empty() {
            assert_eq!(h, data.len());
            if !data.is_empty() {
                assert!(count_records(&splits, 0, h) as u64 <= spec.header);
            }
        } else {
            if h > 0 {
                assert!(ref_valid(data, &spec.rec, h), "header end {h} invalid");
                assert_eq!(count_records(&splits, 0, h) as u64, spec.header);
            } else {
                assert_eq!(spec.header, 0);
            }
            for &e in &ends[..ends.len() - 1] {
                assert!(ref_valid(data, &spec.rec, e), "chunk end {e} invalid");
            }
        }
        let mut pos = h;
        for (i, &e) in ends.iter().enumerate() {
            let records = count_records(&splits, pos, e);
            if let Some(n) = spec.lines {
                if i + 1 < ends.len() {
                    assert_eq!(records as u64, n);
                } else {
                    assert!(records as u64 <= n);
                }
            } else if stream_mode {
                assert!(e - pos <= spec.block as usize || records == 1);
            }
            pos = e;
        }
    }

    // ---------- edge cases ----------

    fn both(data: &[u8], spec: &ChunkSpec) -> (Vec<String>, Vec<String>, String) {
        let (sh, sc) = slice_chunks(data, spec);
        let (th, tc) = stream(Chunky::new(data, vec![1, 3, 7, 2]), spec, true);
        assert_eq!(sh, th.as_slice());
        check_invariants(data, spec, sh, &sc, false);
        check_invariants(data, spec, &th, &tc, true);
        (
            strs(&sc),
            strs(&tc),
            String::from_utf8_lossy(sh).into_owned(),
        )
    }

    #[test]
    fn empty_input() {
        for lines in [None, Some(2)] {
            let sp = spec(10, lines, RecordSpec::default(), 1);
            assert_eq!(split_slice(b"", &sp), (0..0, vec![]));
            let (h, c) = stream(&b""[..], &sp, true);
            assert!(h.is_empty() && c.is_empty());
        }
    }

    #[test]
    fn no_trailing_terminator() {
        let sp = spec(4, None, RecordSpec::default(), 0);
        let (s, t, _) = both(b"a\nb\nc", &sp);
        assert_eq!(t, ["a\nb\n", "c"]);
        assert_eq!(s, ["a\nb\n", "c"]);
        let (s, t, _) = both(b"abc", &sp);
        assert_eq!((s.clone(), t), (vec!["abc".to_string()], s));
    }

    #[test]
    fn record_larger_than_block() {
        let sp = spec(3, None, RecordSpec::default(), 0);
        let (s, t, _) = both(b"a\nbbbbbbb\nc\nd\n", &sp);
        assert_eq!(t, ["a\n", "bbbbbbb\n", "c\n", "d\n"]);
        // Edges 3, 6, 9, 12 move to 10, 10, 10, 12.
        assert_eq!(s, ["a\nbbbbbbb\n", "c\n", "d\n"]);
    }

    #[test]
    fn multibyte_recend_straddling_reads() {
        let data = b"one<END>two<END>three<END>fo<EN<END>x";
        let sp = spec(9, None, rec(b"<END>", None), 0);
        for sizes in [vec![1], vec![2, 5], vec![7, 1, 3], vec![4]] {
            let (h, c) = stream(Chunky::new(data, sizes), &sp, true);
            assert!(h.is_empty());
            assert_eq!(
                strs(&c),
                ["one<END>", "two<END>", "three<END>", "fo<EN<END>", "x"]
            );
        }
        // Self-overlapping recend: "aaaa" has splits at 2 and 3.
        let sp = spec(1, None, rec(b"aa", None), 0);
        let (s, t, _) = both(b"aaaa", &sp);
        assert_eq!(t, ["aa", "a", "a"]);
        assert_eq!(s, ["aa", "a", "a"]);
    }

    #[test]
    fn recstart_only() {
        let r = RecordSpec::from_options(None, Some(b">".to_vec()), false);
        assert_eq!(r, rec(b"", Some(b">")));
        let sp = spec(4, None, r, 0);
        let (s, t, _) = both(b"x>ab>c>>d", &sp);
        assert_eq!(t, ["x>ab", ">c>", ">d"]);
        // Edges 4, 8 move to 4 and the end.
        assert_eq!(s, ["x>ab", ">c>>d"]);
    }

    #[test]
    fn recstart_and_recend() {
        let sp = spec(1, None, rec(b"\n", Some(b">")), 0);
        let (s, t, _) = both(b">a\nb\n>c\n>d", &sp);
        assert_eq!(t, [">a\nb\n", ">c\n", ">d"]);
        assert_eq!(s, t);
    }

    #[test]
    fn header_larger_than_input() {
        let sp = spec(2, None, RecordSpec::default(), 5);
        let (s, t, h) = both(b"a\nb\nc", &sp);
        assert!(s.is_empty() && t.is_empty());
        assert_eq!(h, "a\nb\nc");
        // Exactly `header` records: all header, no chunks.
        let sp = spec(2, Some(1), RecordSpec::default(), 2);
        let (s, t, h) = both(b"a\nb\n", &sp);
        assert!(s.is_empty() && t.is_empty());
        assert_eq!(h, "a\nb\n");
    }

    #[test]
    fn header_then_chunks() {
        let sp = spec(2, None, RecordSpec::default(), 1);
        let (s, t, h) = both(b"h\nab\nc\n", &sp);
        assert_eq!(h, "h\n");
        assert_eq!(t, ["ab\n", "c\n"]);
        // Edges 4, 6 move to 5 and the end.
        assert_eq!(s, ["ab\n", "c\n"]);
        // Header stashed when iteration starts first.
        let (h, c) = stream(&b"h\nab\nc\n"[..], &sp, false);
        assert_eq!(h, b"h\n");
        assert_eq!(strs(&c), ["ab\n", "c\n"]);
    }

    #[test]
    fn lines_mode() {
        let sp = spec(1, Some(2), rec(b"\0", None), 0);
        let (s, t, _) = both(b"a\0b\0c\0d\0e", &sp);
        assert_eq!(t, ["a\0b\0", "c\0d\0", "e"]);
        assert_eq!(s, t);
        let sp = spec(1, Some(2), rec(b"XY", None), 1);
        let (s, t, h) = both(b"hXYaXYbXYcXY", &sp);
        assert_eq!(h, "hXY");
        assert_eq!(t, ["aXYbXY", "cXY"]);
        assert_eq!(s, t);
    }

    #[test]
    fn given_buffers_are_reused() {
        let data: Vec<u8> = (0..2000)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        let sp = spec(100, None, RecordSpec::default(), 1);
        let mut s = StreamSplitter::new(Chunky::new(&data, vec![3, 50, 7]), sp.clone());
        let mut out = s.read_header().unwrap();
        let mut chunks = Vec::new();
        while let Some(c) = s.next() {
            let c = c.unwrap();
            out.extend_from_slice(&c);
            chunks.push(c.clone());
            // Hand back a buffer larger than the current one now and then.
            if chunks.len() % 3 == 0 {
                let mut big = c;
                big.reserve(s.capacity_hint);
                s.give_buffer(big);
            }
        }
        assert_eq!(out, data);
        let (h, tc) = stream(Chunky::new(&data, vec![3, 50, 7]), &sp, true);
        assert_eq!(h.len() + tc.iter().map(Vec::len).sum::<usize>(), data.len());
        assert_eq!(tc, chunks);
    }

    #[test]
    fn read_error_is_reported_once() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("boom"))
            }
        }
        let mut s = StreamSplitter::new(Failing, spec(10, None, RecordSpec::default(), 0));
        assert!(s.next().unwrap().is_err());
        assert!(s.next().is_none());
    }

    /// Big inputs: exercises the parallel edge search and the buffer
    /// hand-off / copy-out paths of the stream splitter.
    #[test]
    fn large_inputs_match_reference() {
        let mut data = Vec::new();
        let mut x: u64 = 12345;
        while data.len() < 3_000_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (x >> 33) % 300;
            let len = if len == 7 { 200_000 } else { len };
            data.extend(std::iter::repeat_n(b'a' + (x % 26) as u8, len as usize));
            data.push(b'\n');
        }
        for (block, lines) in [
            (100_000, None),
            (1 << 20, None),
            (1000, None),
            (1, Some(1000)),
        ] {
            let sp = spec(block, lines, RecordSpec::default(), 3);
            let (sh, sc) = slice_chunks(&data, &sp);
            check_invariants(&data, &sp, sh, &sc, false);
            assert_eq!(ends_of(sh, &sc), ref_slice(&data, &sp));
            let (th, tc) = stream(&data[..], &sp, true);
            check_invariants(&data, &sp, &th, &tc, true);
            assert_eq!(ends_of(&th, &tc), ref_stream(&data, &sp));
        }
    }

    // ---------- property tests ----------

    const RECENDS: [&[u8]; 7] = [b"\n", b"\0", b"XY", b"ab\n", b"aa", b"XYX", b""];
    const RECSTARTS: [&[u8]; 4] = [b"a", b"X", b"\nX", b"aa"];

    fn arb_case() -> impl Strategy<Value = (Vec<u8>, ChunkSpec, Vec<usize>, usize, bool)> {
        (
            prop::collection::vec(prop::sample::select(b"ab\n\0XY".to_vec()), 0..300),
            1u64..64,
            0..RECENDS.len(),
            prop::option::of(0..RECSTARTS.len()),
            0u64..3,
            prop::option::of(1u64..5),
            any::<bool>(),
            prop::collection::vec(1usize..8, 1..6),
            1usize..8,
            any::<bool>(),
        )
            .prop_map(
                |(
                    mut data,
                    block,
                    re,
                    rs,
                    header,
                    lines,
                    terminate,
                    sizes,
                    groups,
                    header_first,
                )| {
                    let r = rec(RECENDS[re], rs.map(|i| RECSTARTS[i]));
                    if terminate && !data.ends_with(&r.recend) {
                        data.extend_from_slice(&r.recend);
                    }
                    (
                        data,
                        spec(block, lines, r, header),
                        sizes,
                        groups,
                        header_first,
                    )
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn prop_split_slice((data, sp, _sizes, groups, _hf) in arb_case()) {
            let (h, c) = slice_chunks(&data, &sp);
            check_invariants(&data, &sp, h, &c, false);
            prop_assert_eq!(ends_of(h, &c), ref_slice(&data, &sp));
            // The parallel grouping must not change the result.
            if sp.lines.is_none() && h.len() < data.len() {
                let m = Matcher::new(&sp.rec);
                let grouped = split_blocks(&m, &data, h.len(), sp.block as usize, groups);
                prop_assert_eq!(grouped, split_slice(&data, &sp).1);
            }
        }

        #[test]
        fn prop_split_slice_stream((data, sp, _sizes, _groups, _hf) in arb_case()) {
            let (h, c) = split_slice_stream(&data, &sp);
            let chunks: Vec<&[u8]> = c.into_iter().map(|r| &data[r]).collect();
            check_invariants(&data, &sp, &data[h.clone()], &chunks, true);
            prop_assert_eq!(ends_of(&data[h], &chunks), ref_stream(&data, &sp));
        }

        #[test]
        fn prop_stream((data, sp, sizes, _groups, header_first) in arb_case()) {
            let (h, c) = stream(Chunky::new(&data, sizes), &sp, header_first);
            check_invariants(&data, &sp, &h, &c, true);
            prop_assert_eq!(ends_of(&h, &c), ref_stream(&data, &sp));
        }
    }

    #[test]
    fn l_groups_of_lines() {
        let data: Vec<u8> = (1..=10)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        let mut sp = spec(1 << 20, None, RecordSpec::default(), 0);
        sp.group = 3;
        let (_, chunks) = stream(&data[..], &sp, true);
        let lines: Vec<usize> = chunks
            .iter()
            .map(|c| c.iter().filter(|&&b| b == b'\n').count())
            .collect();
        assert_eq!(lines, [9, 1]);
        let (_, ranges) = split_slice_stream(&data, &sp);
        let lines: Vec<usize> = ranges
            .iter()
            .map(|r| data[r.clone()].iter().filter(|&&b| b == b'\n').count())
            .collect();
        assert_eq!(lines, [9, 1]);
        sp.block = 7;
        let (_, ranges) = split_slice(&data, &sp);
        assert!(
            ranges.iter().all(
                |r| data[r.clone()].iter().filter(|&&b| b == b'\n').count() % 3 == 0
                    || r.end == data.len()
            ),
            "{ranges:?}"
        );
        assert_eq!(ranges.last().map(|r| r.end), Some(data.len()));
    }
}
