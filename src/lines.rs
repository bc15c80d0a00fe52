//! Line shaping of a task's output stream for `--tag`/`--tagstring` (a prefix at the start of
//! every line) and `--line-buffer` (only whole lines leave, the unfinished last line waits).
//! One [`Shaper`] per task stream, fed as bytes arrive; used by the pools' per-task hooks.

/// Shapes one output stream of one task.
#[derive(Debug, Default)]
pub struct Shaper {
    /// The prefix written before every line (tag and TAB), if any.
    prefix: Option<Vec<u8>>,
    /// Hold back an unfinished last line (`--line-buffer`).
    whole_lines: bool,
    /// At the beginning of a line (the prefix is due before the next byte).
    bol: bool,
    /// The unfinished last line, already prefixed (whole-lines mode only).
    partial: Vec<u8>,
}

impl Shaper {
    /// A shaper adding `tag` and a TAB before each line, and holding back partial lines
    /// if `whole_lines`.
    pub fn new(tag: Option<&[u8]>, whole_lines: bool) -> Self {
        Shaper {
            prefix: tag.map(|t| {
                let mut p = t.to_vec();
                p.push(b'\t');
                p
            }),
            whole_lines,
            bol: true,
            partial: Vec::new(),
        }
    }

    /// Bytes of the unfinished line held back.
    pub fn held(&self) -> usize {
        self.partial.len()
    }

    /// Shapes `data`, appending what may leave now to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut rest = data;
        while !rest.is_empty() {
            let (piece, eol) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..=i], true),
                None => (rest, false),
            };
            rest = &rest[piece.len()..];
            let dst = if self.whole_lines {
                &mut self.partial
            } else {
                &mut *out
            };
            if self.bol {
                if let Some(p) = &self.prefix {
                    dst.extend_from_slice(p);
                }
            }
            dst.extend_from_slice(piece);
            self.bol = eol;
            if eol && self.whole_lines {
                out.append(&mut self.partial);
            }
        }
    }

    /// Stops holding back partial lines: what is held goes to `out`, and from now on every
    /// byte leaves at once (tags still applied).
    pub fn stop_holding(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.partial);
        self.whole_lines = false;
    }

    /// Ends the stream: the held-back unfinished line (if any) leaves as it is.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.partial);
        self.bol = true;
    }
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
}
