//! The chunk rules of `--pipe` and `--pipe-part`, parsed once: how records are delimited
//! ([`RecordSpec`], GNU parallel rules for `--recend`/`--recstart`), what a chunk holds
//! ([`ChunkSpec`]) and `--block` sizes ([`parse_block_size`]). [`crate::source::chunk`] splits
//! data with them.

/// How records are delimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSpec {
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
    pub fn from_options(recend: Option<Vec<u8>>, recstart: Option<Vec<u8>>, null: bool) -> Self {
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
pub struct ChunkSpec {
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
pub struct HeaderRe(regex::bytes::Regex);

impl HeaderRe {
    /// Compiles REGEX, anchored at the start; bytes are matched as bytes.
    pub fn new(re: &str) -> Result<HeaderRe, regex::Error> {
        regex::bytes::Regex::new(&format!("^(?-u:{re})")).map(HeaderRe)
    }

    /// The length of the header at the start of `data`, if REGEX matches there.
    pub fn find(&self, data: &[u8]) -> Option<usize> {
        self.0.find(data).map(|m| m.end())
    }

    /// The header's length in a whole input `data` read in blocks of `block` bytes: matched
    /// on the first block, then on the first 2, 3, ... blocks (GNU parallel reads on until it
    /// matches), so a greedy REGEX ends where GNU's would; 0 when it never matches.
    pub fn len_in(&self, data: &[u8], block: u64) -> usize {
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
pub struct SplitRe {
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
    pub fn new(recend: Option<&str>, recstart: Option<&str>) -> Result<SplitRe, regex::Error> {
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
pub enum BlockSize {
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
pub fn parse_block_size(s: &str) -> Result<BlockSize, String> {
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
