//! The chunk rules of `--pipe` and `--pipe-part`, parsed once: how records are delimited
//! ([`RecordSpec`], GNU parallel rules for `--recend`/`--recstart`), what a chunk holds
//! ([`ChunkSpec`]) and `--block` sizes ([`parse_block_size`]). [`crate::source::chunk`] splits
//! data with them. Also the chunk options themselves, parsed into a [`ChunkConfig`].

use std::path::PathBuf;

use super::input::{parse_delimiter, SourceKind, SourceSpec};

use super::{usage, UsageError};
use crate::cli::Cli;
use crate::shard::Shard;

/// How records are delimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordSpec {
    /// Bytes that end a record (`--recend`); may be empty (e.g. only
    /// `--recstart` given).
    pub recend: Vec<u8>,
    /// Bytes that start a record (`--recstart`), if given.
    pub recstart: Option<Vec<u8>>,
}

impl Default for RecordSpec {
    /// Newline-terminated records, no record start.
    fn default() -> Self {
        Self {
            recend: b"\n".to_vec(),
            recstart: None,
        }
    }
}

impl RecordSpec {
    /// Builds a spec from command-line options with GNU parallel defaults:
    /// `recend` defaults to `"\n"` (`"\0"` if `null`), except that when only
    /// `recstart` is given, `recend` is empty. (Config applies the same rules with `-d`.)
    #[cfg(test)]
    pub(crate) fn from_options(
        recend: Option<Vec<u8>>,
        recstart: Option<Vec<u8>>,
        null: bool,
    ) -> Self {
        let recend = match (recend, &recstart) {
            (Some(end), _) => end,
            (None, Some(_)) => Vec::new(),
            (None, None) if null => b"\0".to_vec(),
            (None, None) => b"\n".to_vec(),
        };
        Self { recend, recstart }
    }
}

/// What to chunk and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChunkSpec {
    /// Target chunk size in bytes (`--block`); must be > 0 (0 is treated as 1).
    pub block: u64,
    /// Records per chunk instead of a byte size; `block` is ignored when set
    /// (0 is treated as 1).
    pub lines: Option<u64>,
    /// Record delimiters.
    pub rec: RecordSpec,
    /// Number of leading records that form the header.
    pub header: u64,
    /// `--header REGEX`: the header is what REGEX matches at the start of the input instead.
    pub header_re: Option<HeaderRe>,
    /// `-L N` (without `-N`): a record is N lines, so chunks end only after a multiple of N
    /// newlines (0 or 1: plain records). The input's last chunk may hold an incomplete record.
    pub group: u64,
}

/// `--header REGEX` in chunk modes (GNU parallel): the header is the text REGEX matches at
/// the very start of the input (Perl's `s/^(REGEX)//`: `.` does not match a newline), tried
/// on the first block of input, then on more while it does not match; no match, no header.
#[derive(Debug, Clone)]
pub(crate) struct HeaderRe(regex::bytes::Regex);

impl HeaderRe {
    /// Compiles REGEX, anchored at the start; bytes are matched as bytes.
    pub(crate) fn new(re: &str) -> Result<HeaderRe, regex::Error> {
        regex::bytes::Regex::new(&format!("^(?-u:{re})")).map(HeaderRe)
    }

    /// The length of the header at the start of `data`, if REGEX matches there.
    pub(crate) fn find(&self, data: &[u8]) -> Option<usize> {
        self.0.find(data).map(|m| m.end())
    }

    /// The header's length in a whole input `data` read in blocks of `block` bytes: matched
    /// on the first block, then on the first 2, 3, ... blocks (GNU parallel reads on until it
    /// matches), so a greedy REGEX ends where GNU's would; 0 when it never matches.
    pub(crate) fn len_in(&self, data: &[u8], block: u64) -> usize {
        let block = usize::try_from(block).unwrap_or(usize::MAX).max(1);
        let mut end = block.min(data.len());
        loop {
            if let Some(h) = self.find(&data[..end]) {
                return h;
            }
            if end == data.len() {
                return 0;
            }
            end = end.saturating_add(block).min(data.len());
        }
    }
}

impl PartialEq for HeaderRe {
    fn eq(&self, other: &HeaderRe) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for HeaderRe {}

/// `--regexp` (GNU parallel): `--recend` and `--recstart` are regular expressions; a record
/// ends where a match of RECEND is followed at once by one of RECSTART (searched as
/// `(RECEND)(RECSTART)`, left to right, as GNU's Perl does). `--recend ''` is any one byte.
#[derive(Debug, Clone)]
pub(crate) struct SplitRe {
    /// `(RECEND)(?:RECSTART)`: a split is at the end of group 1.
    pub pair: regex::bytes::Regex,
    /// `^(?:RECSTART)` and `(?:RECEND)$`, for `--rrs`.
    pub start: regex::bytes::Regex,
    pub end: regex::bytes::Regex,
}

impl SplitRe {
    /// Compiles RECEND and RECSTART as GNU parallel completes them from what was given
    /// (only `--recstart`: RECEND is empty; only `--recend`: RECSTART is, and an empty
    /// RECEND is any byte; neither: a newline ends a record). Bytes are matched as bytes;
    /// `.` is not a newline, as in Perl.
    pub(crate) fn new(
        recend: Option<&str>,
        recstart: Option<&str>,
    ) -> Result<SplitRe, regex::Error> {
        let (recend, recstart) = match (recend, recstart) {
            (Some(e), Some(s)) => (e, s),
            (None, Some(s)) => ("", s),
            (Some(""), None) => ("(?s:.)", ""),
            (Some(e), None) => (e, ""),
            (None, None) => ("\n", ""),
        };
        let re = |r: String| regex::bytes::Regex::new(&format!("(?-u){r}"));
        Ok(SplitRe {
            pair: re(format!("((?:{recend}))(?:{recstart})"))?,
            start: re(format!("^(?:{recstart})"))?,
            end: re(format!("(?:{recend})$"))?,
        })
    }
}

impl PartialEq for SplitRe {
    fn eq(&self, other: &SplitRe) -> bool {
        self.pair.as_str() == other.pair.as_str()
    }
}

impl Eq for SplitRe {}

/// A parsed `--block` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockSize {
    /// A block size in bytes (always > 0).
    Bytes(u64),
    /// `-N`: N chunks per job slot (always > 0).
    PerSlot(u64),
    /// No `--block` with `--pipe-part`: N chunks per job slot, as GNU parallel, but chunks of
    /// at most this many bytes (a large file still streams in modest chunks).
    PerSlotMax(u64, u64),
}

/// Parses a `--block` size such as `"1M"`, `"512k"`, `"100"` or `"1.5M"`.
///
/// Suffixes `K M G T P` are powers of 1024, `k m g t p` powers of 1000, no
/// suffix means bytes; fractional bytes are rounded down. A leading `-` means
/// N chunks per job slot ([`BlockSize::PerSlot`]), which must be a whole number.
pub(crate) fn parse_block_size(s: &str) -> Result<BlockSize, String> {
    let invalid =
        || format!("invalid block size '{s}' (use bytes with an optional suffix: 64k, 1M, 1.5G)");
    if s.is_empty() {
        return Err(
            "empty block size (use bytes with an optional suffix: 64k, 1M, 1.5G)".to_string(),
        );
    }
    let (per_slot, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (num, mult): (&str, u128) = match body.as_bytes().last() {
        Some(&c) if c.is_ascii_alphabetic() => {
            let mult = match c {
                b'K' => 1 << 10,
                b'M' => 1 << 20,
                b'G' => 1 << 30,
                b'T' => 1 << 40,
                b'P' => 1 << 50,
                b'k' => 1_000,
                b'm' => 1_000_000,
                b'g' => 1_000_000_000,
                b't' => 1_000_000_000_000,
                b'p' => 1_000_000_000_000_000,
                _ => return Err(invalid()),
            };
            (&body[..body.len() - 1], mult)
        }
        _ => (body, 1),
    };
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
    {
        return Err(invalid());
    }
    let too_large = || format!("block size '{s}' is too large (use at most a few G)");
    let parse = |t: &str| {
        t.bytes().try_fold(0u128, |acc, b| {
            acc.checked_mul(10)?.checked_add(u128::from(b - b'0'))
        })
    };
    // Fraction digits beyond 18 cannot matter for a whole number of bytes.
    let frac_digits = frac_part.trim_end_matches('0');
    let frac_digits = &frac_digits[..frac_digits.len().min(18)];
    let frac_den = 10u128.pow(frac_digits.len() as u32);
    let frac_scaled = parse(frac_digits).ok_or_else(too_large)? * mult;
    let total = parse(int_part)
        .and_then(|i| i.checked_mul(mult))
        .and_then(|i| i.checked_add(frac_scaled / frac_den))
        .ok_or_else(too_large)?;
    let total = u64::try_from(total).map_err(|_| too_large())?;
    if per_slot {
        if frac_scaled % frac_den != 0 {
            return Err(format!(
                "number of chunks per job slot must be a whole number: '{s}' (e.g. -4)"
            ));
        }
        if total == 0 {
            return Err(format!(
                "number of chunks per job slot must be positive: '{s}' (e.g. -4)"
            ));
        }
        Ok(BlockSize::PerSlot(total))
    } else if total == 0 {
        Err(format!("block size must be positive: '{s}' (e.g. 1M)"))
    } else {
        Ok(BlockSize::Bytes(total))
    }
}

/// The chunk modes' settings.
#[derive(Debug)]
pub(crate) struct ChunkConfig {
    /// Where the data comes from.
    pub mode: ChunkMode,
    /// `--block`: bytes per chunk, or chunks per job slot per file (`--pipe-part` only).
    pub block: BlockSize,
    /// `-N` (times `-L`): records per chunk instead of a size.
    pub lines: Option<u64>,
    /// `-L N` without `-N`: a record is N lines (chunks hold whole groups of N lines).
    pub group: u64,
    /// `--recend`/`--recstart` (default: the value delimiter, newline or NUL with `-0`).
    pub rec: RecordSpec,
    /// `--header`: leading records sent before every chunk.
    pub header: u64,
    /// `--header REGEX`: the header is what REGEX matches at the start instead.
    pub header_re: Option<HeaderRe>,
    /// `--pipe-part --shard K/N`: only the K-th of N contiguous, record-aligned byte ranges of
    /// the files is split (instead of every N-th task).
    pub part: Option<Shard>,
    /// `--cat`: each chunk (header first) is written to a temp file that `{}` names, removed
    /// when its task is done; the command's stdin is empty.
    pub cat: bool,
    /// `--round-robin`: one command per job slot, fed the chunks in turn.
    pub round_robin: bool,
    /// `--rrs`: the record separators are removed from each chunk.
    pub remove_rec_sep: bool,
    /// `--regexp`: records are split where these regular expressions match.
    pub regexp: Option<SplitRe>,
}

/// Where chunk data comes from.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ChunkMode {
    /// `--pipe`: stdin, or the one file given with `-a`/`::::`.
    Pipe(Option<PathBuf>),
    /// `--pipe-part`: these files, memory-mapped.
    PipePart(Vec<PathBuf>),
}

/// The chunk options as given.
struct ChunkOpts {
    block: Option<String>,
    /// `-N`: records per chunk.
    records: Option<u64>,
    /// `-L`: lines per record.
    lines: Option<u64>,
    recend: Option<String>,
    recstart: Option<String>,
    header: Option<u64>,
    header_re: Option<HeaderRe>,
    cat: bool,
    round_robin: bool,
    remove_rec_sep: bool,
    regexp: bool,
}

impl ChunkOpts {
    fn refuse_outside_chunk_modes(&self) -> Result<(), UsageError> {
        let given = [
            (self.block.is_some(), "--block"),
            (self.recend.is_some(), "--recend"),
            (self.recstart.is_some(), "--recstart"),
            (self.header.is_some(), "--header"),
            (self.cat, "--cat"),
            (self.remove_rec_sep, "--rrs"),
        ];
        match given.iter().find(|(g, _)| *g) {
            Some((_, name)) => usage(format!(
                "{name} needs --pipe or --pipe-part (it sets how input is cut into chunks)"
            )),
            None => Ok(()),
        }
    }
}

/// Where the chunks' data comes from: stdin or one file (`--pipe`), the files (`--pipe-part`,
/// which takes `:::` values alone as file names and ignores them beside files, with a note).
fn chunk_mode(
    pipe: bool,
    sources: &mut Vec<SourceSpec>,
    notes: &mut Vec<String>,
) -> Result<ChunkMode, UsageError> {
    if !pipe {
        // GNU parallel: `:::` values beside data files are ignored; alone, they name the files.
        let has_files = sources
            .iter()
            .any(|s| matches!(s.kind, SourceKind::File(_)));
        let mut ignored = Vec::new();
        let mut named = Vec::new();
        sources.retain(|s| match &s.kind {
            SourceKind::Values(v) => {
                if has_files {
                    ignored.extend(v.iter().map(|v| v.to_string_lossy().into_owned()));
                } else {
                    named.extend(v.iter().cloned());
                }
                false
            }
            _ => true,
        });
        if !ignored.is_empty() {
            notes.push(format!(
                "warning: --pipe-part splits the -a/:::: files; the ::: values ({}) are not used",
                ignored.join(" ")
            ));
        }
        sources.extend(named.into_iter().map(|f| SourceSpec {
            kind: SourceKind::File(f.into()),
            linked: false,
        }));
    }
    let sources = &sources[..];
    let files = || {
        sources.iter().map(|s| match &s.kind {
            SourceKind::File(p) => Ok(p.clone()),
            SourceKind::Stdin => Err("-"),
            SourceKind::Values(_) => Err(":::"),
            SourceKind::Walk(_) => Err("--walk"),
        })
    };
    Ok(if pipe {
        match sources {
            [SourceSpec {
                kind: SourceKind::Stdin,
                ..
            }] => ChunkMode::Pipe(None),
            [SourceSpec {
                kind: SourceKind::File(p),
                ..
            }] => ChunkMode::Pipe(Some(p.clone())),
            _ => {
                let (got, fix) = match sources {
                    [s] if matches!(s.kind, SourceKind::Values(_)) => {
                        ("::: values".to_owned(), "pipe the data in")
                    }
                    [s] if matches!(s.kind, SourceKind::Walk(_)) => {
                        ("--walk".to_owned(), "use --pipe-part for files")
                    }
                    more => (
                        format!("{} input sources", more.len()),
                        "use --pipe-part for several files",
                    ),
                };
                return usage(format!(
                    "--pipe reads stdin, or one file given with -a FILE or :::: FILE, not {got} \
                     ({fix})"
                ));
            }
        }
    } else {
        match files().collect::<Result<Vec<_>, _>>() {
            Ok(f) if sources.iter().all(|s| s.kind != SourceKind::Stdin) => ChunkMode::PipePart(f),
            Err("--walk") => {
                return usage("--pipe-part takes files given with -a or ::::, not --walk")
            }
            _ => {
                return usage(
                    "--pipe-part needs files given with -a FILE or :::: FILE (stdin cannot be \
                     mapped: use --pipe)",
                )
            }
        }
    })
}

/// Validates the chunk options and picks the data source.
fn chunk_config(
    pipe: bool,
    o: ChunkOpts,
    sources: &mut Vec<SourceSpec>,
    delimiter: &[u8],
    notes: &mut Vec<String>,
) -> Result<ChunkConfig, UsageError> {
    let mode = chunk_mode(pipe, sources, notes)?;
    let block = match &o.block {
        // GNU parallel's --pipe-part default: 10 chunks per job slot (here at most 1M each).
        None if !pipe => BlockSize::PerSlotMax(10, 1 << 20),
        None => BlockSize::Bytes(1 << 20),
        Some(b) => parse_block_size(b).map_err(|e| UsageError(format!("--block: {e}")))?,
    };
    if pipe && matches!(block, BlockSize::PerSlot(_)) {
        return usage(format!(
            "--block {} (chunks per job slot) needs --pipe-part; give --pipe a size (e.g. 1M)",
            o.block.as_deref().unwrap_or_default()
        ));
    }
    if o.lines == Some(0) {
        return usage("invalid -L 0: a chunk holds at least 1 record (use -L N, N >= 1)");
    }
    if o.records == Some(0) {
        return usage("-N must be at least 1 (records per chunk)");
    }
    if o.block.is_some() && o.records.is_some() {
        return usage("--block and -N both size the chunks: use one");
    }
    let group = match (o.records, o.lines) {
        (None, Some(l)) if l > 1 => {
            if o.recend.is_some() || o.recstart.is_some() {
                return usage(
                    "-L counts lines: --recend/--recstart go with -N (records per chunk)",
                );
            }
            l
        }
        _ => 0,
    };
    let esc = |name: &str, v: &Option<String>| -> Result<Option<Vec<u8>>, UsageError> {
        match v.as_deref() {
            None => Ok(None),
            Some("") => Ok(Some(Vec::new())),
            // (--regexp: a regular expression, compiled below; kept as it is.)
            Some(t) if o.regexp => Ok(Some(t.as_bytes().to_vec())),
            Some(t) => parse_delimiter(t)
                .map(Some)
                .map_err(|e| UsageError(format!("{name}: {e}"))),
        }
    };
    let recstart = esc("--recstart", &o.recstart)?.filter(|r| !r.is_empty());
    let recend = match esc("--recend", &o.recend)? {
        Some(r) => r,
        None if recstart.is_some() => Vec::new(),
        None => delimiter.to_vec(),
    };
    // `--recend ''` without `--recstart` (GNU parallel): records are single bytes, so a chunk
    // ends exactly at its block size.
    // --regexp (GNU parallel): the two strings as they were given are regular expressions.
    let regexp = match o.regexp {
        false => None,
        true if group > 1 || o.header_re.is_some() => {
            return usage("--regexp splits records itself: not with -L or --header REGEX")
        }
        true => Some(
            SplitRe::new(o.recend.as_deref(), o.recstart.as_deref()).map_err(|e| {
                let msg = e.to_string();
                let reason = msg.lines().last().unwrap_or_default();
                let reason = reason.strip_prefix("error: ").unwrap_or(reason);
                UsageError(format!("--regexp: invalid --recend/--recstart: {reason}"))
            })?,
        ),
    };
    Ok(ChunkConfig {
        mode,
        block,
        // -N n with -L l: n*l records per chunk (GNU parallel).
        lines: o.records.map(|n| n.saturating_mul(o.lines.unwrap_or(1))),
        group,
        rec: RecordSpec { recend, recstart },
        header: o.header.unwrap_or(0),
        header_re: o.header_re,
        part: None,
        cat: o.cat,
        round_robin: o.round_robin,
        remove_rec_sep: o.remove_rec_sep,
        regexp,
    })
}

/// `--pipe`/`--pipe-part` and their options (`--block`, `-N`/`-L` in chunk modes,
/// `--recend`, `--recstart`, `--header`), which also pick the data source from `sources`
/// (`--pipe-part` takes `:::` values alone as file names). Returns whether `--header :` names
/// the columns (argument mode) and the chunk settings (`None` outside the chunk modes, where
/// these options are refused).
pub(super) fn parse(
    cli: &mut Cli,
    sources: &mut Vec<SourceSpec>,
    delimiter: &[u8],
    notes: &mut Vec<String>,
) -> Result<(bool, Option<ChunkConfig>), UsageError> {
    let chunk_mode = cli.pipe || cli.pipe_part;
    // `--header :` in argument mode names columns; in chunk modes it is one header line.
    let (named_header, header_records) = match cli.header.as_deref() {
        None => (false, None),
        Some(":") if chunk_mode => (false, Some(1)),
        Some(":") => (true, None),
        Some(n) => match n.parse::<u64>() {
            Ok(n) => (false, Some(n)),
            // Chunk modes: a regular expression (GNU parallel).
            Err(_) if chunk_mode => (false, None),
            Err(_) => {
                return usage(format!(
                    "invalid --header '{n}': use a number of records (chunk modes) or ':' \
                     (the first value names the column)"
                ))
            }
        },
    };
    let chunk_opts = ChunkOpts {
        block: cli.block.take(),
        records: if chunk_mode {
            cli.max_replace_args
        } else {
            None
        },
        lines: if chunk_mode { cli.max_lines } else { None },
        recend: cli.recend.take(),
        recstart: cli.recstart.take(),
        header: header_records,
        cat: cli.cat,
        round_robin: cli.round_robin,
        remove_rec_sep: cli.remove_rec_sep,
        regexp: cli.regexp,
        header_re: match cli.header.as_deref() {
            Some(re) if chunk_mode && re != ":" && re.parse::<u64>().is_err() => {
                Some(HeaderRe::new(re).map_err(|e| {
                    let msg = e.to_string();
                    let reason = msg.lines().last().unwrap_or_default();
                    let reason = reason.strip_prefix("error: ").unwrap_or(reason);
                    UsageError(format!("invalid --header '{re}': {reason}"))
                })?)
            }
            _ => None,
        },
    };
    let chunks = match (cli.pipe, cli.pipe_part) {
        (false, false) => {
            chunk_opts.refuse_outside_chunk_modes()?;
            None
        }
        (pipe, _) => Some(chunk_config(pipe, chunk_opts, sources, delimiter, notes)?),
    };
    Ok((named_header, chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---------- parse_block_size ----------

    #[test]
    fn parse_suffixes() {
        let b = |s| parse_block_size(s).unwrap();
        assert_eq!(b("100"), BlockSize::Bytes(100));
        assert_eq!(b("1K"), BlockSize::Bytes(1 << 10));
        assert_eq!(b("1M"), BlockSize::Bytes(1 << 20));
        assert_eq!(b("16M"), BlockSize::Bytes(16 << 20));
        assert_eq!(b("1G"), BlockSize::Bytes(1 << 30));
        assert_eq!(b("2T"), BlockSize::Bytes(2 << 40));
        assert_eq!(b("1P"), BlockSize::Bytes(1 << 50));
        assert_eq!(b("512k"), BlockSize::Bytes(512_000));
        assert_eq!(b("1m"), BlockSize::Bytes(1_000_000));
        assert_eq!(b("3g"), BlockSize::Bytes(3_000_000_000));
        assert_eq!(b("1t"), BlockSize::Bytes(1_000_000_000_000));
        assert_eq!(b("1p"), BlockSize::Bytes(1_000_000_000_000_000));
        assert_eq!(b("18446744073709551615"), BlockSize::Bytes(u64::MAX));
    }

    #[test]
    fn parse_decimals() {
        let b = |s| parse_block_size(s).unwrap();
        assert_eq!(b("1.5M"), BlockSize::Bytes(1_572_864));
        assert_eq!(b("0.5k"), BlockSize::Bytes(500));
        assert_eq!(b(".5K"), BlockSize::Bytes(512));
        assert_eq!(b("1."), BlockSize::Bytes(1));
        assert_eq!(b("2.50"), BlockSize::Bytes(2));
        assert_eq!(b("0.001K"), BlockSize::Bytes(1));
        assert_eq!(b("1.0000000000000000000000000001k"), BlockSize::Bytes(1000));
    }

    #[test]
    fn parse_negatives() {
        let b = |s| parse_block_size(s).unwrap();
        assert_eq!(b("-1"), BlockSize::PerSlot(1));
        assert_eq!(b("-4"), BlockSize::PerSlot(4));
        assert_eq!(b("-1k"), BlockSize::PerSlot(1000));
        assert_eq!(b("-1.5k"), BlockSize::PerSlot(1500));
        assert!(parse_block_size("-1.5").is_err());
        assert!(parse_block_size("-0").is_err());
        assert!(parse_block_size("-").is_err());
        assert!(parse_block_size("--1").is_err());
    }

    #[test]
    fn parse_errors() {
        for s in [
            "",
            "0",
            "0.0",
            "0k",
            "0.0001k",
            ".",
            "M",
            "abc",
            "1x",
            "1.2.3",
            "1 M",
            " 1",
            "1M ",
            "+1",
            "1e6",
            "1MB",
            "18446744073709551616",
            "16777216T",
            "99999999999999999999999999999999999999999",
        ] {
            let e = parse_block_size(s).expect_err(s);
            assert!(!e.is_empty() && !e.starts_with("error"), "{s}: {e}");
        }
        assert!(parse_block_size("")
            .unwrap_err()
            .starts_with("empty block size"));
        assert!(parse_block_size("16777216T")
            .unwrap_err()
            .contains("too large"));
    }
}
