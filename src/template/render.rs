//! Rendering a task into a command: its values resolved against the placeholders, into an
//! argv (no shell) or a `sh -c` script with every substituted value quoted when it needs it.
//! The run's facts learned from the input (`{##}`, `--header :`) come in the [`Ctx`].

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::grammar::{Col, Piece, Placeholder, Transform, Word};
use super::quote::{shell_word_into, transform};
use super::{Ctx, Env, Mode, Rendered, Replace, Template};
use crate::task::Record;

impl Template {
    fn env<'a>(&self, ctx: &'a Ctx<'a>, shell: bool) -> Env<'a> {
        Env {
            ctx,
            flat: ctx.records.iter().flatten().collect(),
            shell,
        }
    }

    /// Renders the command for one task.
    pub(crate) fn render(&self, ctx: &Ctx) -> Rendered {
        match self.mode {
            Mode::Argv => Rendered::Argv(self.render_argv(ctx)),
            Mode::Shell => Rendered::Shell(self.render_shell(ctx)),
            Mode::ValueIsCommand => {
                let mut script = Vec::new();
                for v in ctx.records.iter().flatten() {
                    if !script.is_empty() {
                        script.push(b' ');
                    }
                    script.extend_from_slice(v.as_bytes());
                }
                Rendered::Shell(script)
            }
        }
    }

    /// Expands the words as plain text, joined by spaces: no quoting, no appended values
    /// (`--tag`, `--tagstring`). A value placeholder stands for each record in turn.
    pub(crate) fn expand_text(&self, ctx: &Ctx) -> Vec<u8> {
        let env = self.env(ctx, false);
        let mut out = Vec::new();
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            if !w.per_record() {
                out.extend(self.expand(w, &env, None));
                continue;
            }
            for (j, rec) in ctx.records.iter().enumerate() {
                if j > 0 {
                    out.push(b' ');
                }
                out.extend(self.expand(w, &env, Some(rec)));
            }
        }
        out
    }

    fn appends(&self) -> bool {
        self.append && !self.any_placeholder
    }

    fn render_argv(&self, ctx: &Ctx) -> Vec<OsString> {
        let env = self.env(ctx, false);
        let mut out = Vec::with_capacity(self.words.len() + 1);
        for w in &self.words {
            if !w.per_record() {
                if self.missing_lone_position(w, &env) {
                    // `{3}` of a batch of two: no word (as the shell drops an empty one in
                    // GNU parallel's command line).
                    continue;
                }
                out.push(OsString::from_vec(self.expand(w, &env, None)));
                continue;
            }
            if self.replace == Replace::Plain && ctx.records.len() > 1 {
                out.extend(
                    self.expand_split(w, &env)
                        .into_iter()
                        .map(OsString::from_vec),
                );
                continue;
            }
            for rec in ctx.records {
                match w.lone_whole() {
                    Some(tr) => {
                        for v in rec {
                            out.push(OsString::from_vec(self.transform(v.as_bytes(), tr)));
                        }
                    }
                    None => out.push(OsString::from_vec(self.expand(w, &env, Some(rec)))),
                }
            }
        }
        if self.appends() {
            out.extend(ctx.records.iter().flatten().cloned());
        }
        out
    }

    fn render_shell(&self, ctx: &Ctx) -> Vec<u8> {
        let env = self.env(ctx, true);
        let mut s = Vec::new();
        let sep = |s: &mut Vec<u8>| {
            if !s.is_empty() {
                s.push(b' ');
            }
        };
        for w in &self.words {
            if !w.per_record() {
                sep(&mut s);
                s.extend(self.expand(w, &env, None));
                continue;
            }
            if ctx.records.len() > 1 {
                sep(&mut s);
                if self.replace == Replace::Plain {
                    s.extend(self.expand(w, &env, None));
                    continue;
                }
                // Context replace within each blank-separated part of a command string, as
                // GNU parallel does (`'echo a{}b'` → `echo a1b a2b`); a part with only
                // positional placeholders is copied once.
                for part in w.blank_split() {
                    match part {
                        Err(blank) => s.extend_from_slice(blank),
                        Ok(p) if !p.per_record() => s.extend(self.expand(&p, &env, None)),
                        Ok(p) => {
                            for (i, rec) in ctx.records.iter().enumerate() {
                                if i > 0 {
                                    s.push(b' ');
                                }
                                s.extend(self.expand(&p, &env, Some(rec)));
                            }
                        }
                    }
                }
                continue;
            }
            for rec in ctx.records {
                sep(&mut s);
                s.extend(self.expand(w, &env, Some(rec)));
            }
        }
        if self.appends() {
            for v in ctx.records.iter().flatten() {
                sep(&mut s);
                shell_word_into(&mut s, v.as_bytes());
            }
        }
        s
    }

    /// The values a value placeholder stands for: `rec`'s for `{}` (all of the task's when
    /// `rec` is `None`), one of the task's for `{N}`.
    fn values<'a>(
        &self,
        col: Option<Col>,
        env: &Env<'a>,
        rec: Option<&'a Record>,
    ) -> Vec<&'a OsString> {
        let n = env.flat.len();
        let at = |i: Option<usize>| {
            i.and_then(|i| env.flat.get(i).copied())
                .into_iter()
                .collect()
        };
        match col {
            None => match rec {
                Some(r) => r.iter().collect(),
                None => env.flat.clone(),
            },
            Some(Col::Pos(p)) => at(Some(p - 1)),
            Some(Col::Neg(k)) => at(n.checked_sub(k)),
            Some(Col::Named(i)) => {
                let name = &self.names[usize::from(i)];
                let pos = env
                    .ctx
                    .learned
                    .header_names()
                    .and_then(|h| h.iter().position(|c| c == name));
                at(pos)
            }
        }
    }

    /// Expands one word for one record (or, with `None`, for all values of the task at once:
    /// words without per-record placeholders, and `-m`'s plain replace).
    fn expand(&self, w: &Word, env: &Env, rec: Option<&Record>) -> Vec<u8> {
        let ctx = env.ctx;
        let mut out = Vec::new();
        for p in &w.pieces {
            match p {
                Piece::Lit(l) => out.extend_from_slice(l),
                Piece::Ph(Placeholder::Value { col, tr }) => {
                    let vals = self.values(*col, env, rec);
                    // A missing position (`{3}` of two values) is nothing, as in GNU
                    // parallel; an empty record still quotes as ''.
                    if vals.is_empty() && env.shell && col.is_none() {
                        out.extend_from_slice(b"''");
                    }
                    for (i, v) in vals.iter().enumerate() {
                        if i > 0 {
                            out.push(b' ');
                        }
                        let v = self.transform(v.as_bytes(), *tr);
                        if env.shell {
                            shell_word_into(&mut out, &v);
                        } else {
                            out.extend_from_slice(&v);
                        }
                    }
                }
                Piece::Ph(ph) => out.extend(self.number(*ph, ctx)),
            }
        }
        out
    }

    /// Whether `w` is exactly one positional placeholder with no value to take.
    fn missing_lone_position(&self, w: &Word, env: &Env) -> bool {
        match w.pieces.as_slice() {
            [Piece::Ph(Placeholder::Value { col: Some(c), .. })] => {
                self.values(Some(*c), env, None).is_empty()
            }
            _ => false,
        }
    }

    /// `-m` in argv mode: the word as the shell would split `a{}b` with values `1 2`
    /// (`a1`, `2b`).
    fn expand_split(&self, w: &Word, env: &Env) -> Vec<Vec<u8>> {
        let mut words = vec![Vec::new()];
        for p in &w.pieces {
            match p {
                Piece::Lit(l) => words.last_mut().expect("non-empty").extend_from_slice(l),
                Piece::Ph(Placeholder::Value { col, tr }) => {
                    for (i, v) in self.values(*col, env, None).iter().enumerate() {
                        if i > 0 {
                            words.push(Vec::new());
                        }
                        let v = self.transform(v.as_bytes(), *tr);
                        words.last_mut().expect("non-empty").extend_from_slice(&v);
                    }
                }
                Piece::Ph(ph) => words
                    .last_mut()
                    .expect("non-empty")
                    .extend(self.number(*ph, env.ctx)),
            }
        }
        words
    }

    /// `{#}`, `{%}` and `--plus`'s numbers.
    fn number(&self, ph: Placeholder, ctx: &Ctx) -> Vec<u8> {
        let width = |n: u64| n.max(1).to_string().len();
        let total = ctx.learned.total();
        match ph {
            Placeholder::Seq => ctx.seq.to_string().into_bytes(),
            Placeholder::Slot => ctx.slot.to_string().into_bytes(),
            Placeholder::Total => total.to_string().into_bytes(),
            Placeholder::SeqPad => format!("{:0w$}", ctx.seq, w = width(total)).into_bytes(),
            Placeholder::SlotPad => {
                format!("{:0w$}", ctx.slot, w = width(self.jobs as u64)).into_bytes()
            }
            Placeholder::Value { .. } => Vec::new(),
        }
    }

    /// Applies a transform, the template's `--plus` operations included.
    fn transform(&self, v: &[u8], tr: Transform) -> Vec<u8> {
        match tr {
            Transform::Op(i) => self.ops[usize::from(i)].apply(v),
            _ => transform(v, tr),
        }
    }
}
