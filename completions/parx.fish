complete -c parx -s a -l arg-file -d 'Read values from FILE, one per line (`-` is stdin); repeatable' -r
complete -c parx -s d -l delimiter -d 'Values end with DELIM (escapes: \\n \\t \\r \\0 \\\\ \\xHH)' -r
complete -c parx -l walk -d 'Walk PATH: every entry under it is a value (repeatable)' -r
complete -c parx -l ext -d 'With --walk: only entries with extension EXT (repeatable)' -r
complete -c parx -l glob -d 'With --walk: only paths matching PATTERN (`**` crosses `/`)' -r
complete -c parx -l type -d 'With --walk: entry type f, d or l: file, directory, symlink [default: f]' -r -f -a "f\t'Regular file'
d\t'Directory'
l\t'Symbolic link (without --follow)'"
complete -c parx -l max-depth -d 'With --walk: descend at most N levels (1: PATH\'s direct children)' -r
complete -c parx -l colsep -d 'Split each value into columns {1} {2} ... at matches of REGEX' -r
complete -c parx -s n -l max-args -d 'Up to N values per command (N records with several sources)' -r
complete -c parx -l block -d 'Chunk size: 16M (×1024), 16m (×1000), -4 (4 per slot) [default: 1M]' -r
complete -c parx -s N -l max-replace-args -d 'N records per chunk (without a chunk mode: N values per command)' -r
complete -c parx -s L -l max-lines -d 'A record is N lines, FASTQ: -L 4 (else: N lines per command)' -r
complete -c parx -l recend -d 'Record terminator, escapes allowed [default: \\n, NUL with -0]' -r
complete -c parx -l recstart -d 'Records begin with STR (chunks are split only before it)' -r
complete -c parx -l header -d 'First N records: a header sent with every chunk (`:`: column names)' -r
complete -c parx -s j -l jobs -d 'Job slots: N, or N% +N -N of the CPUs, or FILE [default: usable CPUs]' -r
complete -c parx -l pool -d 'thread: a child per task, process: -j workers on stdin' -r -f -a "thread\t'A new child process per task, -j at a time'
process\t'-j long-lived workers, tasks streamed to their stdin'"
complete -c parx -l max-tasks -d 'With --pool process: restart a worker after N tasks' -r
complete -c parx -l result-end -d 'With --pool process: results end with SEP, not a newline' -r
complete -c parx -l tagstring -d 'Prefix each output line with STR (placeholders expanded) and a TAB' -r
complete -c parx -l results -d 'Also store each task\'s stdout, stderr and exit status under DIR/<seq>/' -r -F
complete -c parx -l timeout -d 'Kill a task (TERM, then KILL) after DUR: 500ms, 30s, 2m, 1.5' -r
complete -c parx -l retries -d 'Run a failed task up to N times in all (0: until it succeeds)' -r
complete -c parx -l halt -d 'Stop early: soon|now,fail|success|done=N|N% (or GNU\'s 0 1 2)' -r
complete -c parx -l joblog -d 'Log every finished task to FILE (GNU parallel\'s columns)' -r -F
complete -c parx -l delay -d 'Pause DUR between task starts' -r
complete -c parx -l load -d 'Start tasks only while fewer than MAX processes run (N, N%, +N, -N)' -r
complete -c parx -l memfree -d 'Start tasks only while SIZE memory is free (below SIZE/2: requeue one)' -r
complete -c parx -l memsuspend -d 'Pause the youngest tasks while less than 2×SIZE memory is free' -r
complete -c parx -s s -l max-chars -d 'At most N characters per command line (-X, -m, -n)' -r
complete -c parx -l as -d 'Run as TOOL: `parx --as xargs ...` is GNU xargs 4.9 (as is parx run by the name `xargs`)' -r -f -a "xargs\t''
parallel\t''"
complete -c parx -l min-version -d 'Print the GNU parallel version whose command line parx follows (20221122) and exit; status 255 if VERSION is newer' -r
complete -c parx -s I -d 'STR replaces {} as the value placeholder' -r
complete -c parx -l extensionreplace -d 'STR replaces {.} (GNU parallel\'s --extensionreplace)' -r
complete -c parx -l basenamereplace -d 'STR replaces {/} (GNU parallel\'s --basenamereplace)' -r
complete -c parx -l dirnamereplace -d 'STR replaces {//} (GNU parallel\'s --dirnamereplace)' -r
complete -c parx -l basenameextensionreplace -d 'STR replaces {/.} (GNU parallel\'s --basenameextensionreplace)' -r
complete -c parx -l seqreplace -d 'STR replaces {#} (GNU parallel\'s --seqreplace)' -r
complete -c parx -l slotreplace -d 'STR replaces {%} (GNU parallel\'s --slotreplace)' -r
complete -c parx -s E -l eof -d 'The value STR ends the input' -r
complete -c parx -l trim -d 'Trim blanks around values: n (none), l, r, lr, rl' -r
complete -c parx -l arg-sep -d 'STR instead of ::: (and STR+ instead of :::+)' -r
complete -c parx -l arg-file-sep -d 'STR instead of :::: (and STR+ instead of ::::+)' -r
complete -c parx -l termseq -d 'Signals ending a task: SIG,MS,SIG,...,SIG (MS: wait in ms)' -r
complete -c parx -l tmpdir -d 'Where output spills to disk [default: $TMPDIR]' -r -F
complete -c parx -l nice -d 'Run tasks under nice N' -r
complete -c parx -l process-slot-var -d 'xargs: NAME holds the job slot number in each task\'s environment' -r
complete -c parx -s S -l sshlogin -d 'GNU parallel\'s remote options: refused (parx runs on one machine; see --shard)' -r
complete -c parx -l shard -d 'Run share K of N of the tasks (`auto`: from array-job variables)' -r
complete -c parx -l slurm -d 'Run as a Slurm array of N shares, then print the merged output' -r
complete -c parx -l slurm-arg -d 'Pass ARG to sbatch (repeatable): --slurm-arg=--time=10' -r
complete -c parx -l run-dir -d 'The --slurm run directory [default: a new one here]; reuse it to --resume' -r -F
complete -c parx -l slurm-throttle -d 'Run at most K of the --slurm array\'s tasks at once (sbatch --array=...%K)' -r
complete -c parx -l slurm-status -d 'Show how far a --slurm run is (from its run directory, from any terminal), then exit' -r -F
complete -c parx -s 0 -l null -d 'Values end with NUL instead of newline'
complete -c parx -l link -d 'Link the sources (zip) instead of combining them; shorter ones recycle'
complete -c parx -l hidden -d 'With --walk: include entries whose name starts with a dot'
complete -c parx -l follow -d 'With --walk: follow symbolic links'
complete -c parx -l shell -d 'Run the command through `sh -c` (values quoted)'
complete -c parx -l dry-run -d 'Print each command instead of running it'
complete -c parx -s X -d 'As many values per command as fit (a{}b repeated per value)'
complete -c parx -l pipe -d 'Split stdin into record-aligned chunks, each fed to a command\'s stdin'
complete -c parx -l pipe-part -d 'Split the -a/:::: files in place (memory-mapped) into chunks'
complete -c parx -l framed -d 'With --pool process: workers speak the framed protocol (docs/framed-protocol.md)'
complete -c parx -l framed-out -d 'With --framed: print results and failures as frames too (for programs reading parx)'
complete -c parx -s k -l keep-order -d 'Print outputs in input order (default: as tasks complete)'
complete -c parx -l tag -d 'Prefix each output line with the task\'s values and a TAB'
complete -c parx -l line-buffer -d 'Print whole lines as they come, from all tasks at once (never torn)'
complete -c parx -l bar -d 'Show a progress bar on stderr; silent when stderr is not a terminal'
complete -c parx -l eta -d 'Show progress and the time left on stderr; silent when stderr is not a terminal'
complete -c parx -l resume -d 'With --joblog or --run-dir: skip tasks already logged'
complete -c parx -l resume-failed -d 'With --joblog or --run-dir: rerun only the failed tasks'
complete -c parx -l retry-failed -d 'With --joblog: rerun the failed tasks\' commands from the log (command and inputs ignored)'
complete -c parx -l noswap -d 'Start no task while the machine is swapping (pages swapped in and out)'
complete -c parx -s m -d 'As many values per command as fit, spread over the slots at the end'
complete -c parx -l xargs -d 'Several values per command, up to the line limit (xargs\' packing)'
complete -c parx -l shuf -d 'Run the tasks in a random order (GNU parallel\'s --shuf; reads the whole input first)'
complete -c parx -l number-of-cpus -d 'Print the number of physical CPU cores and exit (GNU parallel)'
complete -c parx -l number-of-cores -d 'Print the number of physical CPU cores and exit (GNU parallel)'
complete -c parx -l number-of-threads -d 'Print the number of hardware threads and exit (GNU parallel)'
complete -c parx -l number-of-sockets -d 'Print the number of CPU sockets and exit (GNU parallel)'
complete -c parx -l max-line-length-allowed -d 'Print the longest command line a shell command may have and exit (GNU parallel)'
complete -c parx -l use-cpus-instead-of-cores -d 'Accepted for GNU parallel: parx counts the CPUs this process may use (no effect)'
complete -c parx -s x -l exit -d 'Exit if a command line would exceed the -s size (xargs -x)'
complete -c parx -s v -d 'Print each command on stdout before its output (GNU\'s -vv: the same)'
complete -c parx -s t -l verbose -d 'Print each command on stderr before it runs'
complete -c parx -s r -l no-run-if-empty -d 'Skip values that are empty or only blanks'
complete -c parx -l plus -d 'GNU parallel\'s extra placeholders ({..} {+.} {##} {:-x} ...)'
complete -c parx -l skip-first-line -d 'The first value is not used'
complete -c parx -s u -l ungroup -d 'Output as it comes, not grouped (lines of different tasks may mix)'
complete -c parx -s q -l quote -d 'Accepted for GNU parallel; values are never shell syntax anyway'
complete -c parx -l will-cite -d 'Accepted for GNU parallel; no effect'
complete -c parx -l no-notice -d 'Accepted for GNU parallel; no effect'
complete -c parx -l group -d 'Accepted for GNU parallel (grouped output is the default); no effect'
complete -c parx -l compress -d 'Accepted for GNU parallel (it compresses its temporary files); no effect: parx holds output in memory and spills only beyond its budget, uncompressed'
complete -c parx -l cat -d '--pipe/--pipe-part: each chunk in a temp file that {} names, not on stdin'
complete -c parx -l round-robin -d '--pipe: one command per job slot, each fed many chunks in turn on its stdin'
complete -c parx -l rrs -d '--pipe/--pipe-part: remove the record separators (--recend, --recstart) from each chunk'
complete -c parx -l regexp -d '--pipe: --recend and --recstart are regular expressions'
complete -c parx -l files -d 'Store each task\'s stdout in a temp file ($TMPDIR, --tmpdir) and print its name instead'
complete -c parx -l transfer -d 'GNU parallel\'s remote flags: refused (parx runs on one machine; see --shard)'
complete -c parx -l keep-run-dir -d 'Keep the --slurm run directory after a successful run (it is removed by default)'
complete -c parx -s h -l help -d 'Print help (see more with \'--help\')'
complete -c parx -s V -l version -d 'Print version'
