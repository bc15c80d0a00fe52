//! The framed worker protocol (`--framed`, specified in docs/framed-protocol.md): records
//! and results are length-framed, so they may hold any bytes; each answer names the record
//! it answers; a worker may answer a record with a failure and go on.
//!
//! A frame is a 13-byte header — a kind byte, the record's id (u64, little-endian) and the
//! payload's length (u32, little-endian) — then the payload. parx numbers the records it
//! sends a worker 0, 1, 2, … (from 0 for each new worker); the worker answers them in that
//! order, each with one [`RESULT`] or [`FAILURE`] frame carrying the record's id. The kind
//! bytes are ones that never start UTF-8 text, so a stray `print` is seen at once.
//!
//! This module is the protocol alone (encoding, decoding, validation); the pool's hook is
//! two calls: [`encode_job`] where a worker's input is written, [`Decoder::feed`] where its
//! output is cut into results.

use super::ledger::{Job, JobInput};

/// A record, parx to worker.
pub(crate) const RECORD: u8 = 0xFA;
/// A result, worker to parx (and parx to its reader with `--framed-out`).
pub(crate) const RESULT: u8 = 0xFB;
/// A failure: the payload is the message (UTF-8 text, a traceback say).
pub(crate) const FAILURE: u8 = 0xFC;
/// Bytes of a header.
pub(crate) const HEADER: usize = 13;

/// Appends one frame to `out`.
pub(crate) fn put(kind: u8, id: u64, payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(HEADER + payload.len());
    out.push(kind);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Whether a record of `len` bytes fits in one frame.
pub(crate) fn fits(len: usize) -> bool {
    u32::try_from(len).is_ok()
}

/// Appends the records of `job` to `out` as record frames, numbered from `*next` on (the
/// worker's own count). Columns of a record are joined by TAB, as on the line protocol.
pub(crate) fn encode_job(job: &Job, next: &mut u64, out: &mut Vec<u8>) {
    let mut one = |payload: &[u8]| {
        put(RECORD, *next, payload, out);
        *next += 1;
    };
    match &job.input {
        JobInput::Lines(l) => {
            let mut rest = l.rest();
            while !rest.is_empty() {
                let end = memchr::memchr(l.end, rest).unwrap_or(rest.len());
                one(&rest[..end]);
                rest = rest.get(end + 1..).unwrap_or_default();
            }
        }
        JobInput::Records(recs) => {
            let mut rec_bytes = Vec::new();
            for rec in recs {
                rec_bytes.clear();
                for (i, col) in rec.iter().enumerate() {
                    if i > 0 {
                        rec_bytes.push(b'\t');
                    }
                    rec_bytes.extend_from_slice(col.as_encoded_bytes());
                }
                one(&rec_bytes);
            }
        }
        // Refused by the configuration (`--framed` with chunk modes).
        JobInput::Chunk(_) => unreachable!("--framed takes no chunks"),
    }
}

/// One answer of a worker.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    Result(&'a [u8]),
    Failure(&'a [u8]),
}

/// What a worker wrote that is not the next frame it owes: a contract break.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Break {
    /// A byte that starts no frame (a stray `print`, a banner) where a frame should start;
    /// the bytes from there, shortened, to show.
    NotAFrame(Vec<u8>),
    /// A frame of a kind a worker does not send (a record frame).
    Kind(u8),
    /// An answer naming another record than the one owed.
    Id { got: u64, want: u64 },
    /// An answer when no record is owed.
    Unasked,
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::NotAFrame(b) => write!(
                f,
                "it wrote {:?} where a frame should start (a stray print, or a worker not speaking the framed protocol)",
                String::from_utf8_lossy(b)
            ),
            Break::Kind(k) => write!(f, "it sent a frame of kind 0x{k:02X} (only results 0xFB and failures 0xFC answer a record)"),
            Break::Id { got, want } => write!(
                f,
                "its answer names record {got}, but record {want} is the one owed (answers must come in the order the records were sent)"
            ),
            Break::Unasked => write!(f, "it sent an answer when it owed none"),
        }
    }
}

/// Cuts a worker's output into frames, across reads, checking each names the record owed.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    /// The start of a frame not yet whole.
    held: Vec<u8>,
    /// The id the next answer must carry.
    next: u64,
    /// Broken: everything after is ignored.
    broke: bool,
}

/// The header's fields.
fn header(b: &[u8]) -> (u8, u64, usize) {
    let id = u64::from_le_bytes(b[1..9].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(b[9..13].try_into().expect("4 bytes"));
    (b[0], id, len as usize)
}

impl Decoder {
    /// Hands each whole frame in `held` + `data` to `on` (which says whether a record was
    /// owed), keeps the rest of a frame for the next read. `Err(Ok(b))`: the worker broke
    /// the protocol (then nothing more is decoded); `Err(Err(e))`: `on` failed.
    pub(crate) fn feed<E>(
        &mut self,
        data: &[u8],
        mut on: impl FnMut(Frame<'_>) -> Result<bool, E>,
    ) -> Result<(), Result<Break, E>> {
        if self.broke {
            return Ok(());
        }
        // Whole frames are read from `data` in place; only a frame cut by the read is copied.
        let mut data = data;
        if !self.held.is_empty() {
            let want = if self.held.len() < HEADER {
                HEADER
            } else {
                HEADER + header(&self.held).2
            };
            let take = (want - self.held.len()).min(data.len());
            self.held.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.held.len() == HEADER {
                // The header is whole now: check it, then take the payload too.
                self.check(&self.held.clone())?;
                let need = header(&self.held).2;
                let take = need.min(data.len());
                self.held.extend_from_slice(&data[..take]);
                data = &data[take..];
            }
            if self.held.len() < HEADER || self.held.len() < HEADER + header(&self.held).2 {
                return Ok(());
            }
            let held = std::mem::take(&mut self.held);
            self.one(&held, &mut on)?;
        }
        while !data.is_empty() {
            if data.len() < HEADER {
                // A kind byte is checked at once: a stray line is reported when it comes.
                if ![RESULT, FAILURE].contains(&data[0]) {
                    return Err(Ok(self.broke(data)));
                }
                self.held.extend_from_slice(data);
                return Ok(());
            }
            self.check(data)?;
            let len = HEADER + header(data).2;
            if data.len() < len {
                self.held.extend_from_slice(data);
                return Ok(());
            }
            self.one(&data[..len], &mut on)?;
            data = &data[len..];
        }
        Ok(())
    }

    /// Checks a header (whole, at the start of `b`): its kind and its id.
    fn check<E>(&mut self, b: &[u8]) -> Result<(), Result<Break, E>> {
        let (kind, id, _) = header(b);
        if kind != RESULT && kind != FAILURE {
            if kind == RECORD {
                self.broke = true;
                return Err(Ok(Break::Kind(kind)));
            }
            return Err(Ok(self.broke(b)));
        }
        if id != self.next {
            self.broke = true;
            return Err(Ok(Break::Id {
                got: id,
                want: self.next,
            }));
        }
        Ok(())
    }

    /// A whole, checked frame.
    fn one<E>(
        &mut self,
        frame: &[u8],
        on: &mut impl FnMut(Frame<'_>) -> Result<bool, E>,
    ) -> Result<(), Result<Break, E>> {
        self.next += 1;
        let payload = &frame[HEADER..];
        let f = if frame[0] == RESULT {
            Frame::Result(payload)
        } else {
            Frame::Failure(payload)
        };
        if on(f).map_err(Err)? {
            Ok(())
        } else {
            self.broke = true;
            Err(Ok(Break::Unasked))
        }
    }

    fn broke(&mut self, at: &[u8]) -> Break {
        self.broke = true;
        Break::NotAFrame(at[..at.len().min(40)].to_vec())
    }
}

/// What parx prints for the result of task `seq`: its bytes and `term`, or with
/// `--framed-out` a result frame whose id is the task number.
pub(crate) fn output(seq: u64, payload: &[u8], term: u8, frames: bool, out: &mut Vec<u8>) {
    if frames {
        put(RESULT, seq, payload, out);
    } else {
        out.extend_from_slice(payload);
        out.push(term);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Lines;
    use proptest::prelude::*;
    use std::ffi::OsString;

    fn answer(kind: u8, id: u64, p: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        put(kind, id, p, &mut v);
        v
    }

    /// Feeds `pieces`; returns the frames (kind, payload) and the break, if any.
    fn decode(pieces: &[&[u8]]) -> (Vec<(u8, Vec<u8>)>, Option<Break>) {
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for p in pieces {
            let r = d.feed::<()>(p, |f| {
                got.push(match f {
                    Frame::Result(b) => (RESULT, b.to_vec()),
                    Frame::Failure(b) => (FAILURE, b.to_vec()),
                });
                Ok(true)
            });
            if let Err(e) = r {
                return (got, Some(e.expect("no callback error")));
            }
        }
        (got, None)
    }

    #[test]
    fn records_of_a_block_and_of_values_become_numbered_frames() {
        let block = Job {
            seq: 1,
            nrec: 2,
            input: JobInput::Lines(Lines {
                bytes: b"a\0b\0".to_vec(),
                at: 0,
                count: 2,
                end: 0,
            }),
            failures: 0,
            tag: None,
        };
        let vals = Job {
            seq: 3,
            nrec: 1,
            input: JobInput::Records(vec![vec![OsString::from("x\ny"), OsString::from("z")]]),
            failures: 0,
            tag: None,
        };
        let (mut out, mut next) = (Vec::new(), 5);
        encode_job(&block, &mut next, &mut out);
        encode_job(&vals, &mut next, &mut out);
        let mut want = answer(RECORD, 5, b"a");
        want.extend(answer(RECORD, 6, b"b"));
        want.extend(answer(RECORD, 7, b"x\ny\tz"));
        assert_eq!(out, want);
        assert_eq!(next, 8);
    }

    #[test]
    fn a_stray_line_is_a_break_at_once() {
        let (got, br) = decode(&[&answer(RESULT, 0, b"r"), b"debug\n"]);
        assert_eq!(got, [(RESULT, b"r".to_vec())]);
        assert_eq!(br, Some(Break::NotAFrame(b"debug\n".to_vec())));
        // Even a single byte, before a header could be whole.
        assert!(matches!(decode(&[b"x"]).1, Some(Break::NotAFrame(_))));
    }

    #[test]
    fn an_answer_to_another_record_is_a_break() {
        let mut two = answer(RESULT, 0, b"a");
        two.extend(answer(FAILURE, 2, b"boom"));
        let (got, br) = decode(&[&two]);
        assert_eq!(got.len(), 1);
        assert_eq!(br, Some(Break::Id { got: 2, want: 1 }));
        assert_eq!(
            decode(&[&answer(RECORD, 0, b"")]).1,
            Some(Break::Kind(RECORD))
        );
    }

    proptest! {
        /// Any answers, cut into any pieces, come out whole, in order, with their bytes.
        #[test]
        fn frames_round_trip_across_any_cuts(
            answers in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..20),
            cuts in proptest::collection::vec(0usize..600, 0..10),
        ) {
            let mut stream = Vec::new();
            for (i, (ok, p)) in answers.iter().enumerate() {
                put(if *ok { RESULT } else { FAILURE }, i as u64, p, &mut stream);
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([stream.len()]) {
                pieces.push(&stream[at..c]);
                at = c;
            }
            let (got, br) = decode(&pieces);
            prop_assert_eq!(br, None);
            let want: Vec<(u8, Vec<u8>)> = answers
                .iter()
                .map(|(ok, p)| (if *ok { RESULT } else { FAILURE }, p.clone()))
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}
