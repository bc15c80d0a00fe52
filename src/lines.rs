//! Line shaping of a task's output for `--tag`/`--tagstring` (a prefix at the start of every
//! line), `--line-buffer` (only whole lines leave, the unfinished last line waits) and
//! `--result-end` (results end with another byte, dropped): one [`Shaper`] per stream of a
//! task's output sink (`crate::pool::sink`), fed as bytes arrive; [`shape_results`] is the
//! same without state, for results known to start at a result's start.

use std::io;

/// Shapes one output stream of one task (or of one process-pool job).
#[derive(Debug)]
pub(crate) struct Shaper {
    /// The prefix written before every line (tag and TAB), if any.
    prefix: Option<Vec<u8>>,
    /// Hold back an unfinished last line (`--line-buffer`).
    whole_lines: bool,
    /// The byte that ends a line (a result: `--result-end`).
    end: u8,
    /// The end byte is dropped (`--result-end`).
    strip: bool,
    /// At the beginning of a line (the prefix is due before the next byte).
    bol: bool,
    /// The unfinished last line, already prefixed (whole-lines mode only).
    partial: Vec<u8>,
}

impl Shaper {
    /// A shaper adding `tag` and a TAB before each line, and holding back partial lines
    /// if `whole_lines`.
    pub(crate) fn new(tag: Option<&[u8]>, whole_lines: bool) -> Self {
        Shaper {
            prefix: tag.map(|t| {
                let mut p = t.to_vec();
                p.push(b'\t');
                p
            }),
            whole_lines,
            end: b'\n',
            strip: false,
            bol: true,
            partial: Vec::new(),
        }
    }

    /// The same for results ended by `end` (dropped if `strip`), `prefix` (TAB included)
    /// before each.
    pub(crate) fn results(prefix: Option<&[u8]>, end: u8, strip: bool) -> Self {
        Shaper {
            prefix: prefix.map(<[u8]>::to_vec),
            whole_lines: false,
            end,
            strip,
            bol: true,
            partial: Vec::new(),
        }
    }

    /// Whether it changes nothing (bytes pass as they are).
    pub(crate) fn is_identity(&self) -> bool {
        self.prefix.is_none() && !self.whole_lines && !self.strip
    }

    /// Bytes of the unfinished line held back.
    pub(crate) fn held(&self) -> usize {
        self.partial.len()
    }

    /// Shapes `data`, appending what may leave now to `out`.
    pub(crate) fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        let cut = if self.whole_lines {
            memchr::memrchr(self.end, data).map_or(0, |i| i + 1)
        } else {
            data.len()
        };
        let (prefix, end, strip) = (self.prefix.as_deref(), self.end, self.strip);
        if cut > 0 {
            out.append(&mut self.partial);
            let _ = shape_results(&data[..cut], prefix, end, strip, self.bol, &mut |b| {
                out.extend_from_slice(b);
                Ok(())
            });
            self.bol = data[cut - 1] == end;
        }
        if cut < data.len() {
            let partial = &mut self.partial;
            let _ = shape_results(&data[cut..], prefix, end, strip, self.bol, &mut |b| {
                partial.extend_from_slice(b);
                Ok(())
            });
            self.bol = false;
        }
    }

    /// Stops holding back partial lines: what is held goes to `out`, and from now on every
    /// byte leaves at once (tags still applied).
    pub(crate) fn stop_holding(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.partial);
        self.whole_lines = false;
    }

    /// Ends the stream: the held-back unfinished line (if any) leaves as it is.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.partial);
        self.bol = true;
    }
}

/// Passes `span` (results, the first one starting a result when `at_start`) to `out`, each
/// result prefixed with `tag` if there is one and without its terminator if `strip`.
pub(crate) fn shape_results(
    span: &[u8],
    tag: Option<&[u8]>,
    term: u8,
    strip: bool,
    mut at_start: bool,
    out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    if tag.is_none() && !strip {
        return out(span);
    }
    let mut rest = span;
    while !rest.is_empty() {
        if at_start {
            if let Some(t) = tag {
                out(t)?;
            }
        }
        match memchr::memchr(term, rest) {
            Some(i) => {
                out(&rest[..i + usize::from(!strip)])?;
                rest = &rest[i + 1..];
                at_start = true;
            }
            None => {
                out(rest)?;
                rest = &[];
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &mut Shaper, pieces: &[&[u8]]) -> Vec<Vec<u8>> {
        pieces
            .iter()
            .map(|p| {
                let mut o = Vec::new();
                s.feed(p, &mut o);
                o
            })
            .collect()
    }

    #[test]
    fn tags_every_line_across_pieces() {
        let mut s = Shaper::new(Some(b"x"), false);
        let got = run(&mut s, &[b"a\nb", b"c\n\n", b"d"]);
        assert_eq!(got.concat(), b"x\ta\nx\tbc\nx\t\nx\td".to_vec());
    }

    #[test]
    fn whole_lines_hold_back_the_partial_line() {
        let mut s = Shaper::new(Some(b"t"), true);
        let got = run(&mut s, &[b"ab", b"c\nd", b"e\nf"]);
        assert_eq!(
            got,
            vec![b"".to_vec(), b"t\tabc\n".to_vec(), b"t\tde\n".to_vec()]
        );
        assert_eq!(s.held(), 3);
        let mut o = Vec::new();
        s.finish(&mut o);
        assert_eq!(o, b"t\tf");
        let mut plain = Shaper::new(None, true);
        assert_eq!(run(&mut plain, &[b"1\n2\n3"]).concat(), b"1\n2\n");
    }

    #[test]
    fn result_shaper_keeps_its_place_across_pieces() {
        let mut s = Shaper::results(Some(b"T\t"), 0, true);
        let got = run(&mut s, &[b"a\nb", b"\0c", b"\n\0"]);
        assert_eq!(got.concat(), b"T\ta\nbT\tc\n".to_vec());
        assert!(Shaper::results(None, b'\n', false).is_identity());
    }

    #[test]
    fn shape_tags_each_result_and_strips_the_terminator() {
        let mut out = Vec::new();
        let mut push = |b: &[u8]| {
            out.extend_from_slice(b);
            Ok(())
        };
        shape_results(b"a\nb\0c\n\0", Some(b"T\t"), 0, true, true, &mut push).unwrap();
        assert_eq!(out, b"T\ta\nbT\tc\n");
        let mut out = Vec::new();
        shape_results(b"x\ny", Some(b"t\t"), b'\n', false, false, &mut |b| {
            out.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(out, b"x\nt\ty", "a result under way gets no second tag");
    }
}
