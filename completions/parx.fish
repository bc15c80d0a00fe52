complete -c parx -s j -l jobs -d 'Job slots: N, N% of the CPUs, +N or -N relative to the CPU count, or FILE (re-read as tasks end) [default: CPUs this process may use]' -r
complete -c parx -s a -l arg-file -d 'Read values from FILE, one per line (`-` is stdin); repeatable' -r
complete -c parx -s d -l delimiter -d 'Values end with DELIM (escapes: \\n \\t \\r \\0 \\\\ \\xHH)' -r
complete -c parx -l colsep -d 'Split each value into columns {1} {2} ... at matches of REGEX' -r
complete -c parx -s n -l max-args -d 'Up to N values per command (N records with several sources)' -r
complete -c parx -l walk -d 'Walk PATH: every entry under it is a value (repeatable)' -r
complete -c parx -l ext -d 'Only entries with extension EXT (repeatable)' -r
complete -c parx -l glob -d 'Only entries whose path relative to PATH matches PATTERN (repeatable; `**` crosses `/`)' -r
complete -c parx -l type -d 'Entry type: f file, d directory, l symlink (repeatable) [default: f]' -r -f -a "f\t'Regular file'
d\t'Directory'
l\t'Symbolic link (without --follow)'"
complete -c parx -l max-depth -d 'Descend at most N levels (1: PATH\'s direct children)' -r
complete -c parx -l block -d 'Target chunk size [default: 1M]; K M G T are powers of 1024, k m g t of 1000; -N: N chunks per job slot per file (--pipe-part)' -r
complete -c parx -s N -l max-replace-args -d 'Chunk modes: N records per chunk instead of a size; else N values per command with {N} the Nth (GNU\'s max-replace-args)' -r
complete -c parx -s L -l max-lines -d 'Chunk modes: a record is N lines (FASTQ: -L 4); else N input lines per command' -r
complete -c parx -l recend -d 'Record terminator [default: \\n, NUL with -0] (escapes: \\n \\t \\r \\0 \\\\ \\xHH)' -r
complete -c parx -l recstart -d 'Records begin with STR (chunks are split only before it)' -r
complete -c parx -l header -d 'Chunk modes: the first N records are a header, sent at the start of every chunk; `:` with argument sources: the first value names the column ({name})' -r
complete -c parx -l pool -d 'How tasks run: a child process per task, or long-lived workers fed on stdin (process: a worker answers each record it reads with exactly one result, in order)' -r -f -a "thread\t'One child process per task, supervised by -j threads'
process\t'-j long-lived workers, tasks streamed to their stdin'"
complete -c parx -l max-tasks -d 'With --pool process: restart a worker after it has been sent N tasks' -r
complete -c parx -l result-end -d 'With --pool process: each result ends with SEP instead of the record terminator, so a result may span lines; printed without SEP (escapes: \\n \\t \\r \\0 \\\\ \\xHH)' -r
complete -c parx -l timeout -d 'Kill a task (its whole process group: TERM, then KILL) after DUR (500ms, 30s, 2m, 1.5)' -r
complete -c parx -l retries -d 'Run a failed task up to N times in all (0: until it succeeds); only the last attempt\'s output is printed' -r
complete -c parx -l halt -d 'When to stop early: never, soon|now,fail=N|success=N|done=N (N or N%); GNU\'s 0 1 2 -1 -2 N%' -r
complete -c parx -l joblog -d 'Log every finished task to FILE (GNU parallel\'s TSV columns; `-`: stdout)' -r -F
complete -c parx -l delay -d 'Pause DUR between task starts' -r
complete -c parx -l shard -d 'Run only share K of N (task seq s runs iff (s-1) % N == K-1); `auto` reads array-job variables' -r
complete -c parx -l load -d 'Start a task only while fewer than MAX processes run on the machine (N, N%/+N/-N of the CPUs)' -r
complete -c parx -l memfree -d 'Start a task only while SIZE memory is available; below SIZE/2 the youngest task is killed and run again later' -r
complete -c parx -l memsuspend -d 'Stop (SIGSTOP) the youngest tasks while less than 2×SIZE memory is available; continue them when it is back' -r
complete -c parx -l tagstring -d 'Prefix each output line with STR (placeholders expanded) and a TAB' -r
complete -c parx -l results -d 'Also store each task\'s stdout, stderr and exit status under DIR/<seq>/' -r -F
complete -c parx -l slurm -d 'Submit one Slurm array of N tasks, each running this share of the tasks, then wait and print the merged output (parx must be on storage every node sees)' -r
complete -c parx -l slurm-arg -d 'Pass ARG to sbatch (repeatable), e.g. --slurm-arg=--time=10 --slurm-arg=-pshort' -r
complete -c parx -l run-dir -d 'The --slurm run directory (outputs, job logs, status); default: a new one in the current directory. Give it again with --resume or --resume-failed to continue a run' -r -F
complete -c parx -s s -l max-chars -d 'At most N characters per command line (-X, -m, -n)' -r
complete -c parx -s I -d 'STR replaces {} as the value placeholder' -r
complete -c parx -s E -l eof -d 'The value STR ends the input' -r
complete -c parx -l trim -d 'Trim blanks around values: n (none), l, r, lr, rl' -r
complete -c parx -l arg-sep -d 'STR instead of ::: (and STR+ instead of :::+)' -r
complete -c parx -l arg-file-sep -d 'STR instead of :::: (and STR+ instead of ::::+)' -r
complete -c parx -l termseq -d 'Signals (and milliseconds between them) that end a task: SIG,MS,SIG,MS,...,SIG' -r
complete -c parx -l tmpdir -d 'Where output spills to disk [default: $TMPDIR]' -r -F
complete -c parx -l nice -d 'Run tasks under nice N' -r
complete -c parx -l process-slot-var -d 'xargs: NAME holds the job slot number in each task\'s environment' -r
complete -c parx -s S -l sshlogin -d 'GNU parallel\'s remote options: refused (parx runs on one machine; see --shard)' -r
complete -c parx -s k -l keep-order -d 'Print outputs in input order (default: as tasks complete)'
complete -c parx -s 0 -l null -d 'Values end with NUL instead of newline'
complete -c parx -l link -d 'Link all sources (zip), recycling the shorter ones'
complete -c parx -l shell -d 'Run the command through `sh -c` (values quoted)'
complete -c parx -l dry-run -d 'Print each command instead of running it'
complete -c parx -s X -d 'As many values per command as fit the line limit (context replace: a{}b per value)'
complete -c parx -l hidden -d 'Include entries whose name starts with a dot'
complete -c parx -l follow -d 'Follow symbolic links'
complete -c parx -l pipe -d 'Chunk mode: stdin is data, split into record-aligned chunks fed to the command\'s stdin'
complete -c parx -l pipe-part -d 'Chunk mode: the -a/:::: files are data, memory-mapped and split in place'
complete -c parx -l resume -d 'With --joblog (or --slurm --run-dir): skip tasks already in the log'
complete -c parx -l resume-failed -d 'With --joblog (or --slurm --run-dir): skip tasks logged as succeeded, rerun failed ones'
complete -c parx -l tag -d 'Prefix each output line with the task\'s values and a TAB'
complete -c parx -l line-buffer -d 'Print whole lines as they come, from all tasks at once (never torn)'
complete -c parx -l bar -d 'Show a progress bar on stderr (only when stderr is a terminal)'
complete -c parx -l eta -d 'Show progress with an estimated time left on stderr (only when stderr is a terminal)'
complete -c parx -s m -d 'Several values per command, up to the line limit, spread over the slots at the end'
complete -c parx -l xargs -d 'Several values per command, up to the line limit (xargs\' packing)'
complete -c parx -s x -l exit -d 'Exit if a command line would exceed the -s size (xargs -x)'
complete -c parx -s v -d 'Print each command on stdout before its output'
complete -c parx -s t -l verbose -d 'Print each command on stderr before it runs'
complete -c parx -s r -l no-run-if-empty -d 'Skip values that are empty or only blanks'
complete -c parx -l plus -d 'GNU parallel\'s extra replacement strings ({..} {+.} {##} {0#} {:-x} {#re} {%re} ...)'
complete -c parx -l skip-first-line -d 'The first value is not used'
complete -c parx -s u -l ungroup -d 'Output as it comes, not grouped (lines of different tasks may mix)'
complete -c parx -s q -l quote -d 'Accepted for GNU parallel (values are never shell syntax in exec mode already)'
complete -c parx -l will-cite -d 'Accepted for GNU parallel; no effect'
complete -c parx -l no-notice -d 'Accepted for GNU parallel; no effect'
complete -c parx -l group -d 'Accepted for GNU parallel (grouped output is the default); no effect'
complete -c parx -l transfer -d 'GNU parallel\'s remote flags: refused (parx runs on one machine; see --shard)'
complete -c parx -s h -l help -d 'Print help (see more with \'--help\')'
complete -c parx -s V -l version -d 'Print version'
