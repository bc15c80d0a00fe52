//! `--regexp` chunking (GNU parallel, `--pipe`): records end where a match of `--recend`
//! is followed by one of `--recstart`, both regular expressions ([`SplitRe`]). A stream is
//! read in pieces; a split counts once its match ends before the data read so far (or at the
//! input's end), so that a greedy expression is not cut short by the end of a read. Chunks
//! follow `--pipe`'s rules: the largest whole records within `--block` (a longer record is a
//! chunk of its own), or `-N` records each; `--header N` takes the first N records.

use std::io::{self, Read};

use crate::config::chunk::SplitRe;

/// Bytes read at a time.
const READ: usize = 64 << 10;

/// Splits a stream at `--regexp` record boundaries.
pub(crate) struct RegexSplitter<R> {
    reader: R,
    re: SplitRe,
    block: usize,
    lines: Option<usize>,
    buf: Vec<u8>,
    eof: bool,
}

impl<R: Read> RegexSplitter<R> {
    /// Chunks of `lines` records each, or else of at most `block` bytes.
    pub(crate) fn new(reader: R, re: SplitRe, block: u64, lines: Option<u64>) -> Self {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX).max(1);
        RegexSplitter {
            reader,
            re,
            block: size(block),
            lines: lines.map(size),
            buf: Vec::new(),
            eof: false,
        }
    }

    /// The first `n` records (all the input if it has fewer).
    pub(crate) fn records(&mut self, n: u64) -> io::Result<Vec<u8>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let p = self.nth(usize::try_from(n).unwrap_or(usize::MAX))?;
        Ok(self.buf.drain(..p).collect())
    }

    /// The next chunk, or `None` at the end of the input.
    pub(crate) fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        self.fill(1)?;
        if self.buf.is_empty() {
            return Ok(None);
        }
        let p = match self.lines {
            Some(n) => self.nth(n)?,
            None => self.block_end()?,
        };
        Ok(Some(self.buf.drain(..p).collect()))
    }

    /// The splits found in what is read, in order: those whose match ends before its end
    /// (or at the input's end).
    fn splits(&self) -> impl Iterator<Item = usize> + '_ {
        let len = self.buf.len();
        self.re.pair.captures_iter(&self.buf).filter_map(move |c| {
            let (whole, end) = (c.get(0)?, c.get(1)?);
            (end.end() >= 1 && (whole.end() < len || self.eof)).then_some(end.end())
        })
    }

    /// Where the `n`-th record ends (the input's end if it has fewer).
    fn nth(&mut self, n: usize) -> io::Result<usize> {
        loop {
            if let Some(p) = self.splits().nth(n - 1) {
                return Ok(p);
            }
            if self.eof {
                return Ok(self.buf.len());
            }
            self.read()?;
        }
    }

    /// Where the next block-sized chunk ends.
    fn block_end(&mut self) -> io::Result<usize> {
        self.fill(self.block.saturating_add(1))?;
        if self.eof && self.buf.len() <= self.block {
            return Ok(self.buf.len());
        }
        if let Some(p) = self.splits().take_while(|&p| p <= self.block).last() {
            return Ok(p);
        }
        // A record longer than the block: to its end.
        loop {
            if let Some(p) = self.splits().find(|&p| p > self.block) {
                return Ok(p);
            }
            if self.eof {
                return Ok(self.buf.len());
            }
            self.read()?;
        }
    }

    /// Reads until `want` bytes are held or the input ends.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        while !self.eof && self.buf.len() < want {
            self.read()?;
        }
        Ok(())
    }

    fn read(&mut self) -> io::Result<()> {
        let at = self.buf.len();
        self.buf.resize(at + READ, 0);
        let n = loop {
            match self.reader.read(&mut self.buf[at..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        match n {
            Ok(n) => {
                self.buf.truncate(at + n);
                self.eof = n == 0;
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(at);
                Err(e)
            }
        }
    }
}

/// `--rrs` with `--regexp`: `data` without its separators, as GNU removes them (every
/// RECEND RECSTART, a RECSTART at its start, a RECEND at its end).
pub(crate) fn without_separators(data: &[u8], re: &SplitRe) -> Vec<u8> {
    let out = re.pair.replace_all(data, &b""[..]);
    let out = re.start.replace(&out, &b""[..]);
    re.end.replace(&out, &b""[..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(re: SplitRe, data: &[u8], block: u64, lines: Option<u64>) -> Vec<String> {
        // Reads of 1 byte: every split must wait for its match to be whole.
        struct Slow<'a>(&'a [u8]);
        impl Read for Slow<'_> {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(1).min(b.len());
                b[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut s = RegexSplitter::new(Slow(data), re, block, lines);
        let mut out = Vec::new();
        while let Some(c) = s.next_chunk().unwrap() {
            out.push(String::from_utf8(c).unwrap());
        }
        out
    }

    /// GNU parallel's tutorial: `echo foo,bar,_baz,__qux, | parallel -kN1 --regexp --recend
    /// ,_+ --pipe ...`, and its `--rrs`.
    #[test]
    fn splits_as_gnu_parallel() {
        let re = || SplitRe::new(Some(",_+"), None).unwrap();
        let data = b"foo,bar,_baz,__qux,\n";
        assert_eq!(
            chunks(re(), data, 1 << 20, Some(1)),
            ["foo,bar,_", "baz,__", "qux,\n"]
        );
        assert_eq!(
            chunks(re(), data, 1 << 20, Some(2)),
            ["foo,bar,_baz,__", "qux,\n"]
        );
        assert_eq!(
            chunks(re(), data, 10, None),
            ["foo,bar,_", "baz,__", "qux,\n"]
        );
        assert_eq!(
            chunks(re(), data, 3, None),
            ["foo,bar,_", "baz,__", "qux,\n"]
        );
        let strip = |c: &str| String::from_utf8(without_separators(c.as_bytes(), &re())).unwrap();
        assert_eq!(strip("foo,bar,_"), "foo,bar");
        assert_eq!(strip("baz,__"), "baz");
        assert_eq!(strip("qux,\n"), "qux,\n");
        // --recstart alone: a record starts at each match.
        let re = SplitRe::new(None, Some(">[ab]")).unwrap();
        assert_eq!(
            chunks(re, b">a\n1\n>c\n>b\n2\n", 1 << 20, Some(1)),
            [">a\n1\n>c\n", ">b\n2\n"]
        );
    }
}
