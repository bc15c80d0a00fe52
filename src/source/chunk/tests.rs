//! The chunk splitter's unit tests: record boundaries, `--recstart`/`--recend`, headers,
//! `--pipe-part` ranges.

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
            |(mut data, block, re, rs, header, lines, terminate, sizes, groups, header_first)| {
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
