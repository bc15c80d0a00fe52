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

pub(crate) use crate::config::chunk::{BlockSize, ChunkSpec, RecordSpec};

/// `-L N`: moves the chunk end `p` (in `data`, which starts at a chunk start) back to the end
/// of the last whole group of `group` lines before it. `None` when no whole group ends at or
/// before `p`.
pub(crate) fn group_end(data: &[u8], p: usize, group: usize) -> Option<usize> {
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
pub(crate) fn count_records(rec: &RecordSpec, data: &[u8]) -> u64 {
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
pub(crate) fn split_slice(data: &[u8], spec: &ChunkSpec) -> (Range<usize>, Vec<Range<usize>>) {
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
pub(crate) fn part_range(
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
pub(crate) fn split_slice_stream(
    data: &[u8],
    spec: &ChunkSpec,
) -> (Range<usize>, Vec<Range<usize>>) {
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
pub(crate) struct StreamSplitter<R: Read> {
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
    pub(crate) fn new(reader: R, spec: ChunkSpec) -> Self {
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
    pub(crate) fn give_buffer(&mut self, mut buf: Vec<u8>) {
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
    pub(crate) fn read_header(&mut self) -> io::Result<Vec<u8>> {
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
mod tests;
