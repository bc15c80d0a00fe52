//! Chunk sources (`--pipe`, `--pipe-part`): open the data, split it into record-aligned chunks
//! with [`crate::source::chunk`], and hand each chunk on as a task input.
//!
//! `--pipe` streams: one chunk is read ahead while the pool runs the others, so memory is a few
//! blocks whatever the input size. `--pipe-part` maps each file, finds the chunk edges by
//! scanning near each block edge under a [`SigbusGuard`] (a file truncated meanwhile cannot
//! crash parx), then drops the mapping: chunk bytes are later read with pread(2) from the
//! file itself, so parx never touches them.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};

use crate::config::chunk::SplitRe;
use crate::config::{ChunkConfig, ChunkMode, Config};
use crate::source::chunk::{
    part_range, split_slice, split_slice_stream, BlockSize, ChunkSpec, RecordSpec, StreamSplitter,
};
use crate::source::regexp::RegexSplitter;
use crate::source::splice::{self, PipeSplitter};
use crate::source::{Count, Source};
use crate::sys::{self, SigbusGuard};
use crate::task::{Block, Chunk, ChunkBody, DataFile, TaskInput};

/// Opened chunk data, checked before any task runs.
pub(super) enum Opened {
    /// A stream to split (`--pipe`).
    Stream(Box<dyn Read + Send>, String),
    /// A pipe to split (`--pipe`): spliced when [`splice::usable`], else read as a stream.
    Pipe(File, String),
    /// Files to map and split (`--pipe-part`).
    Files(Vec<Arc<DataFile>>),
    /// `--pipe` from a regular file (stdin redirected from one, or `-a FILE`), from this
    /// offset on: split with the `--pipe` rules and sent like `--pipe-part` chunks.
    File(Arc<DataFile>, u64),
}

/// The chunk data, opened: a [`Source`] of chunks.
pub(super) struct Chunks {
    cfg: Arc<Config>,
    opened: Opened,
}

impl Chunks {
    /// Opens the data of `cfg`'s chunk mode.
    pub(super) fn open(cfg: &Arc<Config>) -> anyhow::Result<Chunks> {
        let c = cfg.chunks.as_ref().expect("a chunk mode");
        Ok(Chunks {
            cfg: cfg.clone(),
            opened: open(c)?,
        })
    }
}

impl Source for Chunks {
    /// Each chunk is shaped on its way: its record separators removed (`--rrs`,
    /// [`remove_rec_sep`]), then put in a temp file (`--cat`, [`cat_file`]); with
    /// `--round-robin` the chunks are dealt out to one command per slot.
    fn produce(self: Box<Self>, emit: &mut dyn FnMut(TaskInput) -> bool) -> anyhow::Result<()> {
        let c = self.cfg.chunks.as_ref().expect("a chunk mode");
        let (cat, round_robin, jobs) = (c.cat, c.round_robin, self.cfg.jobs);
        let rrs = c.remove_rec_sep.then(|| (c.rec.clone(), c.regexp.clone()));
        if !cat && !round_robin && rrs.is_none() {
            return (*self).split(emit);
        }
        let shape = |input: TaskInput| -> io::Result<TaskInput> {
            let input = match &rrs {
                Some((rec, re)) => remove_rec_sep(input, rec, re.as_ref())?,
                None => input,
            };
            match cat {
                true => cat_file(input),
                false => Ok(input),
            }
        };
        let mut failed = None;
        let mut pass = |input: TaskInput, to: &mut dyn FnMut(TaskInput) -> bool| match shape(input)
        {
            Ok(input) => to(input),
            Err(e) => {
                failed = Some(e);
                false
            }
        };
        let res = match round_robin {
            true => crate::source::round_robin::run(jobs, emit, |deal| {
                (*self).split(&mut |input| pass(input, deal))
            }),
            false => (*self).split(&mut |input| pass(input, emit)),
        };
        match failed {
            Some(e) => Err(anyhow::Error::new(e).context("preparing a chunk (--cat, --rrs)")),
            None => res,
        }
    }

    /// Files (`--pipe-part`, and `--pipe` from a regular file) are split a second time, as
    /// [`produce`] splits them: the split scans near each block edge only (all the data with
    /// `-L`), so the chunks are counted long before they have run. A stream cannot be.
    fn count_ahead(&self) -> Option<Count> {
        self.count_chunks()
    }
}

/// `--rrs` (GNU parallel's `--remove-rec-sep`): the chunk's body without its record
/// separators, as GNU removes them: every `recend recstart` between two records, a `recstart`
/// at its start and a `recend` at its end (the header is sent as it is).
fn remove_rec_sep(
    input: TaskInput,
    rec: &RecordSpec,
    re: Option<&SplitRe>,
) -> io::Result<TaskInput> {
    use std::os::unix::fs::FileExt;
    let TaskInput::Chunk(mut c) = input else {
        return Ok(input);
    };
    let strip = |data: &[u8]| match re {
        Some(re) => crate::source::regexp::without_separators(data, re),
        None => without_separators(data, rec),
    };
    let body = match &c.body {
        ChunkBody::Bytes(b) => strip(b),
        ChunkBody::File { file, offset, len } => {
            let mut data = vec![0; *len as usize];
            file.file.read_exact_at(&mut data, *offset)?;
            strip(&data)
        }
        ChunkBody::Pipe(_) => unreachable!("--rrs is never spliced"),
    };
    c.body = ChunkBody::Bytes(Block::new(body, None));
    Ok(TaskInput::Chunk(c))
}

/// `data` without `rec`'s separators (see [`remove_rec_sep`]).
fn without_separators(data: &[u8], rec: &RecordSpec) -> Vec<u8> {
    let start = rec.recstart.as_deref().unwrap_or_default();
    let sep = [&rec.recend[..], start].concat();
    let mut out = Vec::with_capacity(data.len());
    let mut at = 0;
    if !sep.is_empty() {
        for i in memchr::memmem::find_iter(data, &sep) {
            out.extend_from_slice(&data[at..i]);
            at = i + sep.len();
        }
    }
    out.extend_from_slice(&data[at..]);
    if !start.is_empty() && out.starts_with(start) {
        out.drain(..start.len());
    }
    if !rec.recend.is_empty() && out.ends_with(&rec.recend) {
        out.truncate(out.len() - rec.recend.len());
    }
    out
}

/// `--cat` (GNU parallel): the chunk, header first, written to a temp file in `$TMPDIR` that
/// `{}` names; the command's stdin gets nothing. The file is removed when the task is done
/// with the chunk (after its last attempt).
fn cat_file(input: TaskInput) -> io::Result<TaskInput> {
    use std::io::Write;
    let TaskInput::Chunk(c) = input else {
        return Ok(input);
    };
    let mut tmp = tempfile::Builder::new().prefix("par").tempfile()?;
    {
        let mut w = io::BufWriter::with_capacity(256 << 10, tmp.as_file_mut());
        w.write_all(&c.header)?;
        match &c.body {
            ChunkBody::Bytes(b) => w.write_all(b)?,
            ChunkBody::File { file, offset, len } => {
                file.each_piece(*offset, *len, 256 << 10, |b| w.write_all(b))?;
            }
            ChunkBody::Pipe(_) => unreachable!("--cat is never spliced"),
        }
        w.flush()?;
    }
    let path = tmp.into_temp_path();
    Ok(TaskInput::Chunk(Chunk {
        header: Arc::from(&[][..]),
        body: ChunkBody::Bytes(Block::new(Vec::new(), None)),
        name: vec![vec![path.as_os_str().to_owned()]],
        cat: Some(path),
    }))
}

impl Chunks {
    /// Splits the data into chunks and hands each to `emit`.
    fn split(self, emit: &mut dyn FnMut(TaskInput) -> bool) -> anyhow::Result<()> {
        let c = self.cfg.chunks.as_ref().expect("a chunk mode");
        let mut report = |e: anyhow::Error| crate::messages::error(format_args!("{e:#}"));
        let opened = match self.opened {
            Opened::Pipe(f, name) if splice::usable(&self.cfg, c, f.as_raw_fd()) => {
                let BlockSize::Bytes(block) = c.block else {
                    unreachable!("refused by Config")
                };
                let mut split = PipeSplitter::new(f, c.rec.recend[0], block);
                while let Some((chunk, filler)) =
                    split.next_chunk().with_context(|| name.clone())?
                {
                    if !emit(TaskInput::Chunk(chunk)) {
                        break;
                    }
                    filler.fill().with_context(|| name.clone())?;
                }
                return Ok(());
            }
            Opened::Pipe(f, name) => {
                // A bigger pipe: fewer reads, and fewer wake-ups of the writer.
                sys::set_pipe_size(f.as_raw_fd(), 1 << 20);
                Opened::Stream(Box::new(f), name)
            }
            o => o,
        };
        produce(c, self.cfg.jobs, opened, emit, &mut report)
    }

    /// See [`Source::count_ahead`] for [`Chunks`].
    fn count_chunks(&self) -> Option<Count> {
        let c = self.cfg.chunks.as_ref().expect("a chunk mode");
        if c.regexp.is_some() {
            // (Split as a stream: not counted ahead.)
            return None;
        }
        let parts: Vec<(Arc<DataFile>, Where)> = match &self.opened {
            Opened::Stream(..) | Opened::Pipe(..) => return None,
            Opened::File(f, start) => vec![(f.clone(), Where::Stream(*start))],
            Opened::Files(files) => parts(files, c),
        };
        let cfg = self.cfg.clone();
        Some(Box::new(move || {
            let c = cfg.chunks.as_ref().expect("a chunk mode");
            let spec = |block: u64| chunk_spec(c, block);
            // A file that cannot be split makes no chunk (produce reports it).
            Some(
                parts
                    .iter()
                    .map(|(f, at)| {
                        split_file(f, c, cfg.jobs, &spec, *at).map_or(0, |v| v.len() as u64)
                    })
                    .sum(),
            )
        }))
    }
}

/// Opens the data: a missing or unmappable file is an error before anything runs.
pub(super) fn open(c: &ChunkConfig) -> anyhow::Result<Opened> {
    Ok(match &c.mode {
        ChunkMode::Pipe(None) => {
            let f = io::stdin().as_fd().try_clone_to_owned().map(File::from);
            match f {
                Ok(f) => stream_or_file(f, Path::new("stdin"))?,
                Err(_) => Opened::Stream(Box::new(io::stdin()), "stdin".into()),
            }
        }
        ChunkMode::Pipe(Some(p)) => {
            let f = File::open(p).with_context(|| crate::messages::name(p))?;
            stream_or_file(f, p)?
        }
        ChunkMode::PipePart(paths) => Opened::Files(
            paths
                .iter()
                .map(|p| open_mappable(p).map(Arc::new))
                .collect::<anyhow::Result<_>>()?,
        ),
    })
}

/// A regular file of known size is split in place and sent with pread(2) (from its current
/// offset: `(read a; parx --pipe) < f` works); anything else (a pipe, a terminal, /proc) is
/// read as a stream.
fn stream_or_file(mut f: File, name: &Path) -> anyhow::Result<Opened> {
    let meta = f.metadata().with_context(|| crate::messages::name(name))?;
    if meta.is_file() && meta.len() > 0 {
        if let Ok(pos) = f.stream_position() {
            let path = name.to_path_buf();
            return Ok(Opened::File(Arc::new(DataFile { path, file: f }), pos));
        }
    }
    if sys::is_pipe(f.as_raw_fd()) {
        return Ok(Opened::Pipe(f, crate::messages::name(name)));
    }
    Ok(Opened::Stream(Box::new(f), crate::messages::name(name)))
}

/// Opens a `--pipe-part` file, refusing what cannot be mapped (FIFOs, devices, directories,
/// and files whose size is not their length, like those in /proc).
fn open_mappable(p: &Path) -> anyhow::Result<DataFile> {
    let name = crate::messages::name(p);
    // Non-blocking, so that opening a FIFO without a writer does not hang.
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(p)
        .with_context(|| name.to_string())?;
    let meta = file.metadata().with_context(|| name.to_string())?;
    if !meta.is_file() {
        bail!(
            "{name}: not a regular file, so it cannot be memory-mapped for --pipe-part \
             (read it with --pipe -a {name})"
        );
    }
    if meta.len() == 0 && file.read(&mut [0u8; 1]).unwrap_or(0) > 0 {
        bail!(
            "{name}: its size is unknown (like files in /proc), so it cannot be memory-mapped \
             for --pipe-part (read it with --pipe -a {name})"
        );
    }
    Ok(DataFile {
        path: p.to_path_buf(),
        file,
    })
}

/// Splits the opened data and calls `send` with each chunk, in order, until it returns false.
/// Errors on one `--pipe-part` file go to `report` and the next file is split; a read error
/// on the `--pipe` stream ends it and is returned.
pub(super) fn produce(
    c: &ChunkConfig,
    jobs: usize,
    opened: Opened,
    send: &mut dyn FnMut(TaskInput) -> bool,
    report: &mut dyn FnMut(anyhow::Error),
) -> anyhow::Result<()> {
    if let Some(re) = &c.regexp {
        return produce_regexp(c, re, opened, send);
    }
    let spec = |block: u64| chunk_spec(c, block);
    match opened {
        Opened::Pipe(f, name) => produce(c, jobs, Opened::Stream(Box::new(f), name), send, report)?,
        Opened::Stream(r, name) => {
            let BlockSize::Bytes(block) = c.block else {
                unreachable!("refused by Config")
            };
            let mut split = StreamSplitter::new(r, spec(block));
            let header: Arc<[u8]> = split.read_header().with_context(|| name.clone())?.into();
            // Buffers of finished chunks come back here to be read into again.
            let (home, returned) = crossbeam_channel::bounded(jobs + 1);
            while let Some(chunk) = split.next() {
                let chunk = Chunk {
                    header: header.clone(),
                    body: ChunkBody::Bytes(Block::new(
                        chunk.with_context(|| name.clone())?,
                        Some(home.clone()),
                    )),
                    name: Vec::new(),
                    cat: None,
                };
                if !send(TaskInput::Chunk(chunk)) {
                    break;
                }
                // A slot has taken the chunk: the buffer it finished with is free.
                while let Ok(buf) = returned.try_recv() {
                    split.give_buffer(buf);
                }
            }
        }
        Opened::File(f, start) => {
            let chunks = split_file(&f, c, jobs, &spec, Where::Stream(start))
                .with_context(|| crate::messages::name(&f.path))?;
            for chunk in chunks {
                if !send(TaskInput::Chunk(chunk)) {
                    break;
                }
            }
        }
        Opened::Files(files) => {
            for (f, at) in parts(&files, c) {
                match split_file(&f, c, jobs, &spec, at) {
                    Ok(chunks) => {
                        for chunk in chunks {
                            if !send(TaskInput::Chunk(chunk)) {
                                return Ok(());
                            }
                        }
                    }
                    Err(e) => report(e.context(crate::messages::name(&f.path))),
                }
            }
        }
    }
    Ok(())
}

/// `--regexp`: the data read as a stream (a file from its offset on) and split by
/// [`RegexSplitter`], the header (`--header N`) before every chunk.
fn produce_regexp(
    c: &ChunkConfig,
    re: &SplitRe,
    opened: Opened,
    send: &mut dyn FnMut(TaskInput) -> bool,
) -> anyhow::Result<()> {
    let (reader, name): (Box<dyn Read + Send>, String) = match opened {
        Opened::Stream(r, name) => (r, name),
        Opened::Pipe(f, name) => (Box::new(f), name),
        Opened::File(f, start) => {
            let name = crate::messages::name(&f.path);
            let mut file = f.file.try_clone().with_context(|| name.clone())?;
            file.seek(io::SeekFrom::Start(start))
                .with_context(|| name.clone())?;
            (Box::new(file), name)
        }
        Opened::Files(_) => unreachable!("--regexp needs --pipe"),
    };
    let BlockSize::Bytes(block) = c.block else {
        unreachable!("refused by Config")
    };
    let mut split = RegexSplitter::new(reader, re.clone(), block, c.lines);
    let header: Arc<[u8]> = split
        .records(c.header)
        .with_context(|| name.clone())?
        .into();
    while let Some(chunk) = split.next_chunk().with_context(|| name.clone())? {
        let chunk = Chunk {
            header: header.clone(),
            body: ChunkBody::Bytes(Block::new(chunk, None)),
            name: Vec::new(),
            cat: None,
        };
        if !send(TaskInput::Chunk(chunk)) {
            break;
        }
    }
    Ok(())
}

/// Which part of a file to split, and how.
#[derive(Clone, Copy)]
enum Where {
    /// `--pipe` rules, from this offset on.
    Stream(u64),
    /// `--pipe-part` rules, over the whole file or (`--shard`) the part between these nominal
    /// edges (moved to record boundaries).
    Part(Option<(u64, u64)>),
}

/// How chunks are cut, with `block` bytes as the target size.
fn chunk_spec(c: &ChunkConfig, block: u64) -> ChunkSpec {
    ChunkSpec {
        block,
        lines: c.lines,
        rec: c.rec.clone(),
        header: c.header,
        header_re: c.header_re.clone(),
        group: c.group,
    }
}

/// The `--pipe-part` files with the part of each that this run splits: all of it, or with
/// `--shard` the files as one byte space cut into N contiguous ranges (a file outside this
/// share is left out).
fn parts(files: &[Arc<DataFile>], c: &ChunkConfig) -> Vec<(Arc<DataFile>, Where)> {
    let lens: Vec<u64> = files
        .iter()
        .map(|f| f.file.metadata().map_or(0, |m| m.len()))
        .collect();
    let range = c.part.map(|s| s.byte_range(lens.iter().sum()));
    let mut base = 0;
    let mut out = Vec::new();
    for (f, len) in files.iter().zip(lens) {
        let part = range.map(|(lo, hi)| (lo.saturating_sub(base), hi.saturating_sub(base)));
        base += len;
        if part.is_some_and(|(lo, hi)| hi == 0 || lo >= len) {
            continue;
        }
        out.push((f.clone(), Where::Part(part)));
    }
    out
}

/// Maps one file and finds its chunks: with `--pipe-part` rules (all of the file, or one
/// shard's part of it), or with `--pipe` rules from an offset.
fn split_file(
    f: &Arc<DataFile>,
    c: &ChunkConfig,
    jobs: usize,
    spec: &dyn Fn(u64) -> ChunkSpec,
    at: Where,
) -> anyhow::Result<Vec<Chunk>> {
    if f.file.metadata()?.len() == 0 {
        return Ok(Vec::new());
    }
    let map = sys::map_file(&f.file)?;
    let guard = SigbusGuard::new(&map)?;
    let all = guard.bytes();
    let block = |len: usize| match c.block {
        BlockSize::Bytes(b) => b,
        BlockSize::PerSlot(n) => (len as u64).div_ceil(n.saturating_mul(jobs as u64)).max(1),
        BlockSize::PerSlotMax(n, max) => (len as u64)
            .div_ceil(n.saturating_mul(jobs as u64))
            .clamp(1, max),
    };
    let (start, head, ranges) = match at {
        Where::Stream(from) => {
            let start = (from as usize).min(all.len());
            let (head, ranges) = split_slice_stream(&all[start..], &spec(block(all.len())));
            (start, head, ranges)
        }
        Where::Part(None) => {
            let (head, ranges) = split_slice(all, &spec(block(all.len())));
            (0, head, ranges)
        }
        Where::Part(Some((lo, hi))) => {
            let clamp = |p: u64| usize::try_from(p).unwrap_or(usize::MAX).min(all.len());
            let (head, body) = part_range(all, &spec(1), clamp(lo), clamp(hi));
            let body_spec = ChunkSpec {
                header: 0,
                ..spec(block(body.len()))
            };
            let (_, ranges) = split_slice(&all[body.clone()], &body_spec);
            let at = body.start;
            let ranges = ranges
                .into_iter()
                .map(|r| r.start + at..r.end + at)
                .collect();
            (0, head, ranges)
        }
    };
    let header: Arc<[u8]> = all[start..][head].into();
    if guard.hit() {
        bail!("the file shrank while parx was scanning it");
    }
    drop(guard);
    drop(map);
    let name = match at {
        Where::Part(_) => vec![vec![f.path.clone().into_os_string()]],
        Where::Stream(_) => Vec::new(),
    };
    Ok(ranges
        .into_iter()
        .map(|r| Chunk {
            header: header.clone(),
            body: ChunkBody::File {
                file: f.clone(),
                offset: (start + r.start) as u64,
                len: r.len() as u64,
            },
            name: name.clone(),
            cat: None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The count ahead is the number of chunks `produce` makes, for `--pipe-part` (blocks,
    /// chunks per slot, `-L`, several files) and `--pipe -a FILE`.
    #[test]
    fn counts_ahead_the_chunks_produced() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, (1..=1000).map(|i| format!("{i}\n")).collect::<String>()).unwrap();
        std::fs::write(&b, "one\ntwo\nthree").unwrap();
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        let cases: &[&[&str]] = &[
            &["--pipe-part", "--block", "100", "cat", "::::", a, b],
            &["--pipe-part", "--block", "-3", "-j", "2", "cat", "::::", a],
            &["--pipe-part", "-L", "7", "cat", "::::", a, b],
            &["--pipe", "--block", "64", "-a", a, "cat"],
            &["--pipe", "--header", "1", "-L", "10", "-a", a, "cat"],
        ];
        for args in cases {
            let cli = crate::cli::Cli::try_parse_from(
                std::iter::once("parx").chain(args.iter().copied()),
            )
            .expect("valid command line");
            let cfg = Arc::new(
                Config::from_cli(cli, &crate::resources::machine(), &mut Vec::new())
                    .expect("valid config"),
            );
            let chunks = Chunks::open(&cfg).unwrap();
            let count = chunks.count_ahead().expect("countable")();
            let mut made = 0;
            Box::new(chunks)
                .produce(&mut |_| {
                    made += 1;
                    true
                })
                .unwrap();
            assert!(made > 1, "{args:?}");
            assert_eq!(count, Some(made), "{args:?}");
        }
    }
}
