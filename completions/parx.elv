
use builtin;
use str;

set edit:completion:arg-completer[parx] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'parx'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'parx'= {
            cand -j 'Job slots: N, N% of the CPUs, +N or -N relative to the CPU count [default: CPUs]'
            cand --jobs 'Job slots: N, N% of the CPUs, +N or -N relative to the CPU count [default: CPUs]'
            cand -a 'Read values from FILE, one per line (`-` is stdin); repeatable'
            cand --arg-file 'Read values from FILE, one per line (`-` is stdin); repeatable'
            cand -d 'Values end with DELIM (escapes: \n \t \r \0 \\ \xHH)'
            cand --delimiter 'Values end with DELIM (escapes: \n \t \r \0 \\ \xHH)'
            cand --colsep 'Split each value into columns {1} {2} ... at matches of REGEX'
            cand -n 'Up to N values per command (N records with several sources)'
            cand --max-args 'Up to N values per command (N records with several sources)'
            cand --walk 'Walk PATH: every entry under it is a value (repeatable)'
            cand --ext 'Only entries with extension EXT (repeatable)'
            cand --glob 'Only entries whose path relative to PATH matches PATTERN (repeatable; `**` crosses `/`)'
            cand --type 'Entry type: f file, d directory, l symlink (repeatable) [default: f]'
            cand --max-depth 'Descend at most N levels (1: PATH''s direct children)'
            cand --block 'Target chunk size [default: 1M]; K M G T are powers of 1024, k m g t of 1000; -N: N chunks per job slot per file (--pipe-part)'
            cand -N 'Chunk modes: N records per chunk instead of a size; else N values per command with {N} the Nth (GNU''s max-replace-args)'
            cand --max-replace-args 'Chunk modes: N records per chunk instead of a size; else N values per command with {N} the Nth (GNU''s max-replace-args)'
            cand -L 'Chunk modes: a record is N lines (FASTQ: -L 4); else N input lines per command'
            cand --max-lines 'Chunk modes: a record is N lines (FASTQ: -L 4); else N input lines per command'
            cand --recend 'Record terminator [default: \n, NUL with -0] (escapes: \n \t \r \0 \\ \xHH)'
            cand --recstart 'Records begin with STR (chunks are split only before it)'
            cand --header 'Chunk modes: the first N records are a header, sent at the start of every chunk; `:` with argument sources: the first value names the column ({name})'
            cand --pool 'How tasks run: a child process per task, or long-lived workers fed on stdin'
            cand --max-tasks 'With --pool process: restart a worker after it has been sent N tasks'
            cand --timeout 'Kill a task (its whole process group: TERM, then KILL) after DUR (500ms, 30s, 2m, 1.5)'
            cand --retries 'Run a failed task up to N times in all (0: until it succeeds); only the last attempt''s output is printed'
            cand --halt 'When to stop early: never, soon|now,fail=N|success=N|done=N (N or N%); GNU''s 0 1 2 -1 -2 N%'
            cand --joblog 'Log every finished task to FILE (GNU parallel''s TSV columns; `-`: stdout)'
            cand --delay 'Pause DUR between task starts'
            cand --shard 'Run only share K of N (task seq s runs iff (s-1) % N == K-1); `auto` reads array-job variables'
            cand --tagstring 'Prefix each output line with STR (placeholders expanded) and a TAB'
            cand --results 'Also store each task''s stdout, stderr and exit status under DIR/<seq>/'
            cand --slurm 'Submit one Slurm array of N tasks, each running this share of the tasks, then wait and print the merged output (parx must be on storage every node sees)'
            cand --slurm-arg 'Pass ARG to sbatch (repeatable), e.g. --slurm-arg=--time=10 --slurm-arg=-pshort'
            cand --run-dir 'The --slurm run directory (outputs, job logs, status); default: a new one in the current directory. Give it again with --resume or --resume-failed to continue a run'
            cand -s 'At most N characters per command line (-X, -m, -n)'
            cand --max-chars 'At most N characters per command line (-X, -m, -n)'
            cand -I 'STR replaces {} as the value placeholder'
            cand -E 'The value STR ends the input'
            cand --eof 'The value STR ends the input'
            cand --trim 'Trim blanks around values: n (none), l, r, lr, rl'
            cand --arg-sep 'STR instead of ::: (and STR+ instead of :::+)'
            cand --arg-file-sep 'STR instead of :::: (and STR+ instead of ::::+)'
            cand --termseq 'Signals (and milliseconds between them) that end a task: SIG,MS,SIG,MS,...,SIG'
            cand --tmpdir 'Where output spills to disk [default: $TMPDIR]'
            cand --nice 'Run tasks under nice N'
            cand --process-slot-var 'xargs: NAME holds the job slot number in each task''s environment'
            cand -S 'GNU parallel''s remote options: refused (parx runs on one machine; see --shard)'
            cand --sshlogin 'GNU parallel''s remote options: refused (parx runs on one machine; see --shard)'
            cand -k 'Print outputs in input order (default: as tasks complete)'
            cand --keep-order 'Print outputs in input order (default: as tasks complete)'
            cand -0 'Values end with NUL instead of newline'
            cand --null 'Values end with NUL instead of newline'
            cand --link 'Link all sources (zip), recycling the shorter ones'
            cand --shell 'Run the command through `sh -c` (values quoted)'
            cand --dry-run 'Print each command instead of running it'
            cand -X 'As many values per command as fit the line limit (context replace: a{}b per value)'
            cand --hidden 'Include entries whose name starts with a dot'
            cand --follow 'Follow symbolic links'
            cand --pipe 'Chunk mode: stdin is data, split into record-aligned chunks fed to the command''s stdin'
            cand --pipe-part 'Chunk mode: the -a/:::: files are data, memory-mapped and split in place'
            cand --resume 'With --joblog (or --slurm --run-dir): skip tasks already in the log'
            cand --resume-failed 'With --joblog (or --slurm --run-dir): skip tasks logged as succeeded, rerun failed ones'
            cand --tag 'Prefix each output line with the task''s values and a TAB'
            cand --line-buffer 'Print whole lines as they come, from all tasks at once (never torn)'
            cand --bar 'Show a progress bar on stderr (only when stderr is a terminal)'
            cand --eta 'Show progress with an estimated time left on stderr (only when stderr is a terminal)'
            cand -m 'Several values per command, up to the line limit, spread over the slots at the end'
            cand --xargs 'Several values per command, up to the line limit (xargs'' packing)'
            cand -x 'Exit if a command line would exceed the -s size (xargs -x)'
            cand --exit 'Exit if a command line would exceed the -s size (xargs -x)'
            cand -v 'Print each command on stdout before its output'
            cand -t 'Print each command on stderr before it runs'
            cand --verbose 'Print each command on stderr before it runs'
            cand -r 'Skip values that are empty or only blanks'
            cand --no-run-if-empty 'Skip values that are empty or only blanks'
            cand --plus 'GNU parallel''s extra replacement strings ({..} {+.} {##} {0#} {:-x} {#re} {%re} ...)'
            cand --skip-first-line 'The first value is not used'
            cand -u 'Output as it comes, not grouped (lines of different tasks may mix)'
            cand --ungroup 'Output as it comes, not grouped (lines of different tasks may mix)'
            cand -q 'Accepted for GNU parallel (values are never shell syntax in exec mode already)'
            cand --quote 'Accepted for GNU parallel (values are never shell syntax in exec mode already)'
            cand --will-cite 'Accepted for GNU parallel; no effect'
            cand --no-notice 'Accepted for GNU parallel; no effect'
            cand --group 'Accepted for GNU parallel (grouped output is the default); no effect'
            cand --transfer 'GNU parallel''s remote flags: refused (parx runs on one machine; see --shard)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
