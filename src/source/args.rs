//! Argument sources: stdin lines, `:::` values and `::::`/`-a` files, split on the value
//! delimiter and combined as GNU parallel does (cartesian product, first source slowest;
//! linked sources zipped). The first source group is streamed, so the first task starts before
//! the input ends; only the later groups of a product are held in memory.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{InputSpec, SourceKind};
use crate::source::spool::Spool;
use crate::source::Values;
use crate::task::Record;

/// Splits a byte stream into values ending with `delim` (the last one may lack it).
pub(super) struct ValueReader<R> {
    r: R,
    delim: Vec<u8>,
    done: bool,
}

impl<R: BufRead> ValueReader<R> {
    /// Values of `r` separated by `delim` (non-empty).
    pub(super) fn new(r: R, delim: Vec<u8>) -> Self {
        ValueReader {
            r,
            delim,
            done: false,
        }
    }
}

impl<R: BufRead> Iterator for ValueReader<R> {
    type Item = io::Result<OsString>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let last = *self.delim.last().expect("delimiter is never empty");
        let mut buf = Vec::new();
        loop {
            match self.r.read_until(last, &mut buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok(0) => {
                    self.done = true;
                    return (!buf.is_empty()).then(|| Ok(OsString::from_vec(buf)));
                }
                Ok(_) if buf.ends_with(&self.delim) => {
                    buf.truncate(buf.len() - self.delim.len());
                    return Some(Ok(OsString::from_vec(buf)));
                }
                // Either the last byte of a multi-byte delimiter alone, or EOF: read on.
                Ok(_) => {}
            }
        }
    }
}

/// Splits a `:::` value at the delimiter, as GNU parallel does (`-d ' ' echo ::: "1 done"`
/// runs twice): a delimiter at its end adds no empty value; an empty value stays one.
fn split_value(v: &OsString, delim: &[u8]) -> Vec<OsString> {
    let b = v.as_bytes();
    if b.is_empty() || memchr::memmem::find(b, delim).is_none() {
        return vec![v.clone()];
    }
    ValueReader::new(b, delim.to_vec())
        .map(|r| r.expect("reading from memory"))
        .collect()
}

/// `-E`, `-L`'s continued lines, `--trim`, `-r` and `--skip-first-line` on one source's
/// values.
fn filtered(spec: &InputSpec, first: bool, it: Values) -> Values {
    let mut it = it;
    if let Some(eof) = spec.eof.clone() {
        it = Box::new(it.take_while(move |r| r.as_ref().map_or(true, |v| *v != eof)));
    }
    if spec.continue_lines {
        it = Box::new(Continued {
            it,
            skip_blank: spec.skip_empty,
        });
    }
    let trim = spec.trim;
    if trim != Default::default() {
        it = Box::new(
            it.map(move |r| r.map(|v| OsString::from_vec(trim.apply(v.as_bytes()).to_vec()))),
        );
    }
    if spec.skip_empty {
        let blank = |c: &u8| c.is_ascii_whitespace();
        it = Box::new(
            it.filter(move |r| r.as_ref().map_or(true, |v| !v.as_bytes().iter().all(blank))),
        );
    }
    if first && spec.skip_first {
        it = Box::new(it.skip(1));
    }
    it
}

/// `-L`: a value ending in a blank (Perl's `\s`) continues with the next one, joined as they
/// are (`'a '` then `b` is `a b`), as GNU parallel reads them: after `-E` (the end-of-input
/// value ends a continued one as it is), before `-r` and `--trim`. A continued value at the
/// end of the input is one as it stands.
struct Continued {
    it: Values,
    /// `-r`: a value that is all blanks, once joined, is dropped (and continues nothing).
    skip_blank: bool,
}

fn blank(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl Iterator for Continued {
    type Item = io::Result<OsString>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut held: Option<Vec<u8>> = None;
        loop {
            let v = match self.it.next() {
                None => return held.map(|v| Ok(OsString::from_vec(v))),
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(v)) => v.into_vec(),
            };
            let v = match held.take() {
                Some(mut h) => {
                    h.extend_from_slice(&v);
                    h
                }
                None => v,
            };
            if self.skip_blank && v.iter().all(blank) {
                continue;
            }
            if v.last().is_some_and(blank) {
                held = Some(v);
                continue;
            }
            return Some(Ok(OsString::from_vec(v)));
        }
    }
}

/// `--header :`: takes the first value of each source as its name (split into column names
/// with `--colsep`).
pub(super) fn take_header(
    spec: &InputSpec,
    sources: &mut [Values],
) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    for s in sources.iter_mut() {
        let Some(v) = s.next() else { continue };
        let v = v.context("reading the header")?;
        match &spec.colsep {
            Some(re) => names.extend(re.split(v.as_bytes()).map(|c| spec.trim.apply(c).to_vec())),
            None => names.push(v.into_vec()),
        }
    }
    Ok(names)
}

/// Opens every source up front, so a missing file is an error before any task runs.
/// `--walk` problems are reported as warnings as the walk meets them. Stdin is read through
/// `spool` when there is one (it reads stdin ahead: [`Spool`]).
pub(super) fn open_all(
    spec: &InputSpec,
    spool: Option<&Arc<Spool>>,
) -> anyhow::Result<Vec<Values>> {
    spec.sources
        .iter()
        .enumerate()
        .map(|(i, s)| -> anyhow::Result<Values> {
            let d = spec.delimiter.clone();
            let it: Values = match &s.kind {
                SourceKind::Values(v) => {
                    let vals: Vec<OsString> = v.iter().flat_map(|v| split_value(v, &d)).collect();
                    Box::new(vals.into_iter().map(Ok))
                }
                SourceKind::File(p) => {
                    let f = open_values(p)?;
                    let name = crate::messages::name(p);
                    // A read error names the file.
                    Box::new(
                        ValueReader::new(BufReader::with_capacity(64 << 10, f), d).map(move |r| {
                            r.map_err(|e| {
                                let text = crate::messages::io_text(&e);
                                io::Error::new(e.kind(), format!("{name}: {text}"))
                            })
                        }),
                    )
                }
                SourceKind::Walk(w) => crate::source::walk::values(w),
                SourceKind::Stdin => {
                    let r: Box<dyn Read + Send> = match spool {
                        Some(s) => Box::new(s.reader()),
                        None => Box::new(io::stdin()),
                    };
                    Box::new(ValueReader::new(BufReader::with_capacity(64 << 10, r), d))
                }
            };
            Ok(filtered(spec, i == 0, it))
        })
        .collect()
}

/// Opens a file of values (`-a`, `::::`): one that is missing, unreadable or a directory is an
/// error naming it.
pub(super) fn open_values(p: &std::path::Path) -> anyhow::Result<File> {
    let name = crate::messages::name(p);
    let f = File::open(p).with_context(|| name.clone())?;
    if f.metadata().is_ok_and(|m| m.is_dir()) {
        anyhow::bail!(
            "{name}: is a directory, not a file of values (--walk {name} runs over the files \
             under it)"
        );
    }
    Ok(f)
}

/// Produces every record in GNU parallel's order, calling `emit` for each until it returns
/// `false`. Read errors end the production with an error naming the failure.
pub(super) fn produce(
    spec: &InputSpec,
    mut sources: Vec<Values>,
    mut emit: impl FnMut(Record) -> bool,
) -> anyhow::Result<()> {
    // Group linked sources: each group yields rows (zipped), groups are crossed.
    let mut groups: Vec<Vec<Values>> = Vec::new();
    for (i, s) in sources.drain(..).enumerate() {
        if i > 0 && (spec.link_all || spec.sources[i].linked) {
            groups.last_mut().expect("i > 0").push(s);
        } else {
            groups.push(vec![s]);
        }
    }
    let recycle = spec.link_all;
    let mut groups = groups.into_iter();
    let Some(first) = groups.next() else {
        return Ok(());
    };
    let rest: Vec<Vec<Record>> = groups
        .map(|g| rows(g, recycle))
        .collect::<io::Result<_>>()
        .context("reading input")?;
    if rest.iter().any(Vec::is_empty) {
        return Ok(());
    }
    let mut emit_row = |row: Record| -> bool {
        if rest.is_empty() {
            return emit(row);
        }
        // Odometer over the later groups, the last one varying fastest.
        let mut idx = vec![0usize; rest.len()];
        loop {
            let mut rec = row.clone();
            for (g, &i) in rest.iter().zip(&idx) {
                rec.extend(g[i].iter().cloned());
            }
            if !emit(rec) {
                return false;
            }
            let mut k = rest.len();
            loop {
                if k == 0 {
                    return true;
                }
                k -= 1;
                idx[k] += 1;
                if idx[k] < rest[k].len() {
                    break;
                }
                idx[k] = 0;
            }
        }
    };
    if recycle && first.len() > 1 {
        for row in rows(first, true).context("reading input")? {
            if !emit_row(row) {
                break;
            }
        }
        return Ok(());
    }
    let mut first = first;
    'rows: loop {
        let mut row = Record::with_capacity(first.len());
        for it in &mut first {
            match it.next() {
                None => break 'rows,
                Some(v) => row.push(v.context("reading input")?),
            }
        }
        if !emit_row(row) {
            break;
        }
    }
    Ok(())
}

/// Reads a group of linked sources into rows: zipped (the shortest ends it), or with
/// `recycle` as long as the longest, shorter sources starting over.
fn rows(group: Vec<Values>, recycle: bool) -> io::Result<Vec<Record>> {
    let cols: Vec<Vec<OsString>> = group
        .into_iter()
        .map(std::iter::Iterator::collect::<io::Result<Vec<_>>>)
        .collect::<io::Result<_>>()?;
    let (min, max) = cols.iter().fold((usize::MAX, 0), |(lo, hi), c| {
        (lo.min(c.len()), hi.max(c.len()))
    });
    let n = if min == 0 {
        0
    } else if recycle {
        max
    } else {
        min
    };
    Ok((0..n)
        .map(|i| cols.iter().map(|c| c[i % c.len()].clone()).collect())
        .collect())
}

/// Stdin read a second time, for a count ahead, without taking anything from the source: a
/// regular file from the offset it has now (read with pread(2), which leaves that offset to
/// the source), or the [`Spool`] that reads a pipe ahead.
pub(super) enum StdinAgain {
    /// Stdin is a regular file.
    File { file: Arc<File>, from: u64 },
    /// Stdin is read ahead into a spool.
    Spool(Arc<Spool>),
}

impl StdinAgain {
    /// `None` unless stdin is a regular file or is spooled.
    pub(super) fn new(spool: Option<&Arc<Spool>>) -> Option<StdinAgain> {
        if let Some(s) = spool {
            return Some(StdinAgain::Spool(s.clone()));
        }
        let mut file = stdin_file()?;
        let from = file.stream_position().ok()?;
        Some(StdinAgain::File {
            file: Arc::new(file),
            from,
        })
    }

    /// A reader of the data from the offset on.
    pub(super) fn reader(&self) -> Box<dyn Read + Send + 'static> {
        match self {
            StdinAgain::File { file, from } => Box::new(At {
                file: file.clone(),
                pos: *from,
            }),
            StdinAgain::Spool(s) => Box::new(s.reader()),
        }
    }

    /// The data's values.
    pub(super) fn values(&self, delim: &[u8]) -> Values {
        Box::new(ValueReader::new(
            BufReader::with_capacity(64 << 10, self.reader()),
            delim.to_vec(),
        ))
    }
}

/// Stdin as a file, if it is a regular one.
pub(super) fn stdin_file() -> Option<File> {
    let file = File::from(io::stdin().as_fd().try_clone_to_owned().ok()?);
    file.metadata().ok()?.is_file().then_some(file)
}

/// Reads a file with pread(2) from `pos` on.
struct At {
    file: Arc<File>,
    pos: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Counts the values of a file as [`ValueReader`] splits it: with a one-byte delimiter by a
/// scan for that byte, else by splitting it.
pub(super) fn count_values(r: impl Read, delim: &[u8]) -> io::Result<u64> {
    let mut r = BufReader::with_capacity(256 << 10, r);
    if let [d] = delim {
        let (mut n, mut last) = (0u64, None);
        loop {
            let buf = match r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let Some(&b) = buf.last() else { break };
            n += memchr::memchr_iter(*d, buf).count() as u64;
            last = Some(b);
            let len = buf.len();
            r.consume(len);
        }
        // A last value without its delimiter still counts.
        return Ok(n + u64::from(last.is_some_and(|b| b != *d)));
    }
    let mut n = 0;
    for v in ValueReader::new(r, delim.to_vec()) {
        v?;
        n += 1;
    }
    Ok(n)
}

/// How many records [`produce`] makes from sources with these numbers of values: linked
/// sources are zipped (the shortest ends them; with `--link`, the longest, the others
/// recycled), groups are crossed.
pub(super) fn count_records(spec: &InputSpec, counts: &[u64]) -> u64 {
    let mut groups: Vec<Vec<u64>> = Vec::new();
    for (i, &n) in counts.iter().enumerate() {
        if i > 0 && (spec.link_all || spec.sources[i].linked) {
            groups.last_mut().expect("i > 0").push(n);
        } else {
            groups.push(vec![n]);
        }
    }
    if groups.is_empty() {
        return 0;
    }
    groups
        .iter()
        .map(|g| {
            let (lo, hi) = (g.iter().min().copied(), g.iter().max().copied());
            match (lo, hi) {
                (Some(0), _) | (None, _) => 0,
                (_, Some(hi)) if spec.link_all => hi,
                (Some(lo), _) => lo,
            }
        })
        .fold(1u64, u64::saturating_mul)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(input: &[u8], delim: &[u8]) -> Vec<Vec<u8>> {
        ValueReader::new(input, delim.to_vec())
            .map(|v| v.unwrap().into_vec())
            .collect()
    }

    #[test]
    fn splits_on_delimiters() {
        assert_eq!(values(b"a\nb\n", b"\n"), [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(values(b"a\nb", b"\n"), [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(
            values(b"a\r\n\nb", b"\n"),
            [b"a\r".to_vec(), b"".to_vec(), b"b".to_vec()]
        );
        assert_eq!(values(b"", b"\n"), Vec::<Vec<u8>>::new());
        assert_eq!(values(b"x::y:z::", b"::"), [b"x".to_vec(), b"y:z".to_vec()]);
        assert_eq!(
            values(b"a\0b\nc\0", b"\0"),
            [b"a".to_vec(), b"b\nc".to_vec()]
        );
    }

    #[test]
    fn counts_values_as_they_are_split() {
        for (input, delim) in [
            (&b"a\nb\n"[..], &b"\n"[..]),
            (b"a\nb", b"\n"),
            (b"a\r\n\nb", b"\n"),
            (b"", b"\n"),
            (b"\n", b"\n"),
            (b"x::y:z::", b"::"),
            (b"x::y:z", b"::"),
            (b"a\0b\nc\0", b"\0"),
        ] {
            let want = values(input, delim).len() as u64;
            assert_eq!(count_values(input, delim).unwrap(), want, "{input:?}");
        }
        // Across buffer refills.
        let big: Vec<u8> = b"value\n".repeat(100_000);
        assert_eq!(count_values(&big[..], b"\n").unwrap(), 100_000);
        assert_eq!(count_values(&big[..big.len() - 1], b"\n").unwrap(), 100_000);
    }

    fn spec(linked: &[bool], link_all: bool) -> InputSpec {
        InputSpec {
            sources: linked
                .iter()
                .map(|&linked| crate::config::SourceSpec {
                    kind: SourceKind::Values(Vec::new()),
                    linked,
                })
                .collect(),
            link_all,
            delimiter: b"\n".to_vec(),
            colsep: None,
            eof: None,
            trim: Default::default(),
            skip_empty: false,
            skip_first: false,
            header: false,
            continue_lines: false,
        }
    }

    /// The count agrees with what `produce` makes, for products, links and `--link`.
    #[test]
    fn counts_records_as_produced() {
        let cases: &[(&[u64], &[bool], bool)] = &[
            (&[20], &[false], false),
            (&[3, 4], &[false, false], false),
            (&[3, 4, 2], &[false, true, false], false),
            (&[3, 0], &[false, false], false),
            (&[0, 3], &[false, false], false),
            (&[2, 5], &[false, true], false),
            (&[2, 5, 3], &[false, false, false], true),
            (&[1, 5], &[false, false], true),
            (&[], &[], false),
        ];
        for &(counts, linked, link_all) in cases {
            let sp = spec(linked, link_all);
            let sources: Vec<Values> = counts
                .iter()
                .map(|&n| -> Values { Box::new((0..n).map(|i| Ok(OsString::from(i.to_string())))) })
                .collect();
            let mut made = 0u64;
            produce(&sp, sources, |_| {
                made += 1;
                true
            })
            .unwrap();
            assert_eq!(
                count_records(&sp, counts),
                made,
                "{counts:?} {linked:?} {link_all}"
            );
        }
    }
}
