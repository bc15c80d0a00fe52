
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'parx' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'parx'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'parx' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Read values from FILE, one per line (`-` is stdin); repeatable')
            [CompletionResult]::new('--arg-file', '--arg-file', [CompletionResultType]::ParameterName, 'Read values from FILE, one per line (`-` is stdin); repeatable')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Values end with DELIM (escapes: \n \t \r \0 \\ \xHH)')
            [CompletionResult]::new('--delimiter', '--delimiter', [CompletionResultType]::ParameterName, 'Values end with DELIM (escapes: \n \t \r \0 \\ \xHH)')
            [CompletionResult]::new('--walk', '--walk', [CompletionResultType]::ParameterName, 'Walk PATH: every entry under it is a value (repeatable)')
            [CompletionResult]::new('--ext', '--ext', [CompletionResultType]::ParameterName, 'With --walk: only entries with extension EXT (repeatable)')
            [CompletionResult]::new('--glob', '--glob', [CompletionResultType]::ParameterName, 'With --walk: only paths matching PATTERN (`**` crosses `/`)')
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'With --walk: entry type f, d or l: file, directory, symlink [default: f]')
            [CompletionResult]::new('--max-depth', '--max-depth', [CompletionResultType]::ParameterName, 'With --walk: descend at most N levels (1: PATH''s direct children)')
            [CompletionResult]::new('--colsep', '--colsep', [CompletionResultType]::ParameterName, 'Split each value into columns {1} {2} ... at matches of REGEX')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Up to N values per command (N records with several sources)')
            [CompletionResult]::new('--max-args', '--max-args', [CompletionResultType]::ParameterName, 'Up to N values per command (N records with several sources)')
            [CompletionResult]::new('--block', '--block', [CompletionResultType]::ParameterName, 'Chunk size: 16M (×1024), 16m (×1000), -4 (4 per slot) [default: 1M]')
            [CompletionResult]::new('-N', '-N ', [CompletionResultType]::ParameterName, 'N records per chunk (without a chunk mode: N values per command)')
            [CompletionResult]::new('--max-replace-args', '--max-replace-args', [CompletionResultType]::ParameterName, 'N records per chunk (without a chunk mode: N values per command)')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'A record is N lines, FASTQ: -L 4 (else: N lines per command)')
            [CompletionResult]::new('--max-lines', '--max-lines', [CompletionResultType]::ParameterName, 'A record is N lines, FASTQ: -L 4 (else: N lines per command)')
            [CompletionResult]::new('--recend', '--recend', [CompletionResultType]::ParameterName, 'Record terminator, escapes allowed [default: \n, NUL with -0]')
            [CompletionResult]::new('--recstart', '--recstart', [CompletionResultType]::ParameterName, 'Records begin with STR (chunks are split only before it)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'First N records: a header sent with every chunk (`:`: column names)')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Job slots: N, or N% +N -N of the CPUs, or FILE [default: usable CPUs]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Job slots: N, or N% +N -N of the CPUs, or FILE [default: usable CPUs]')
            [CompletionResult]::new('--pool', '--pool', [CompletionResultType]::ParameterName, 'thread: a child per task, process: -j workers on stdin')
            [CompletionResult]::new('--max-tasks', '--max-tasks', [CompletionResultType]::ParameterName, 'With --pool process: restart a worker after N tasks')
            [CompletionResult]::new('--result-end', '--result-end', [CompletionResultType]::ParameterName, 'With --pool process: results end with SEP, not a newline')
            [CompletionResult]::new('--tagstring', '--tagstring', [CompletionResultType]::ParameterName, 'Prefix each output line with STR (placeholders expanded) and a TAB')
            [CompletionResult]::new('--results', '--results', [CompletionResultType]::ParameterName, 'Also store each task''s stdout, stderr and exit status under DIR/<seq>/')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Kill a task (TERM, then KILL) after DUR: 500ms, 30s, 2m, 1.5')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Run a failed task up to N times in all (0: until it succeeds)')
            [CompletionResult]::new('--halt', '--halt', [CompletionResultType]::ParameterName, 'Stop early: soon|now,fail|success|done=N|N% (or GNU''s 0 1 2)')
            [CompletionResult]::new('--joblog', '--joblog', [CompletionResultType]::ParameterName, 'Log every finished task to FILE (GNU parallel''s columns)')
            [CompletionResult]::new('--delay', '--delay', [CompletionResultType]::ParameterName, 'Pause DUR between task starts')
            [CompletionResult]::new('--load', '--load', [CompletionResultType]::ParameterName, 'Start tasks only while fewer than MAX processes run (N, N%, +N, -N)')
            [CompletionResult]::new('--memfree', '--memfree', [CompletionResultType]::ParameterName, 'Start tasks only while SIZE memory is free (below SIZE/2: requeue one)')
            [CompletionResult]::new('--memsuspend', '--memsuspend', [CompletionResultType]::ParameterName, 'Pause the youngest tasks while less than 2×SIZE memory is free')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'At most N characters per command line (-X, -m, -n)')
            [CompletionResult]::new('--max-chars', '--max-chars', [CompletionResultType]::ParameterName, 'At most N characters per command line (-X, -m, -n)')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Run as TOOL: `parx --as xargs ...` is GNU xargs 4.9 (as is parx run by the name `xargs`)')
            [CompletionResult]::new('--min-version', '--min-version', [CompletionResultType]::ParameterName, 'Print the GNU parallel version whose command line parx follows (20221122) and exit; status 255 if VERSION is newer')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'STR replaces {} as the value placeholder')
            [CompletionResult]::new('--extensionreplace', '--extensionreplace', [CompletionResultType]::ParameterName, 'STR replaces {.} (GNU parallel''s --extensionreplace)')
            [CompletionResult]::new('--basenamereplace', '--basenamereplace', [CompletionResultType]::ParameterName, 'STR replaces {/} (GNU parallel''s --basenamereplace)')
            [CompletionResult]::new('--dirnamereplace', '--dirnamereplace', [CompletionResultType]::ParameterName, 'STR replaces {//} (GNU parallel''s --dirnamereplace)')
            [CompletionResult]::new('--basenameextensionreplace', '--basenameextensionreplace', [CompletionResultType]::ParameterName, 'STR replaces {/.} (GNU parallel''s --basenameextensionreplace)')
            [CompletionResult]::new('--seqreplace', '--seqreplace', [CompletionResultType]::ParameterName, 'STR replaces {#} (GNU parallel''s --seqreplace)')
            [CompletionResult]::new('--slotreplace', '--slotreplace', [CompletionResultType]::ParameterName, 'STR replaces {%} (GNU parallel''s --slotreplace)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'The value STR ends the input')
            [CompletionResult]::new('--eof', '--eof', [CompletionResultType]::ParameterName, 'The value STR ends the input')
            [CompletionResult]::new('--trim', '--trim', [CompletionResultType]::ParameterName, 'Trim blanks around values: n (none), l, r, lr, rl')
            [CompletionResult]::new('--arg-sep', '--arg-sep', [CompletionResultType]::ParameterName, 'STR instead of ::: (and STR+ instead of :::+)')
            [CompletionResult]::new('--arg-file-sep', '--arg-file-sep', [CompletionResultType]::ParameterName, 'STR instead of :::: (and STR+ instead of ::::+)')
            [CompletionResult]::new('--termseq', '--termseq', [CompletionResultType]::ParameterName, 'Signals ending a task: SIG,MS,SIG,...,SIG (MS: wait in ms)')
            [CompletionResult]::new('--tmpdir', '--tmpdir', [CompletionResultType]::ParameterName, 'Where output spills to disk [default: $TMPDIR]')
            [CompletionResult]::new('--nice', '--nice', [CompletionResultType]::ParameterName, 'Run tasks under nice N')
            [CompletionResult]::new('--process-slot-var', '--process-slot-var', [CompletionResultType]::ParameterName, 'xargs: NAME holds the job slot number in each task''s environment')
            [CompletionResult]::new('-S', '-S ', [CompletionResultType]::ParameterName, 'GNU parallel''s remote options: refused (parx runs on one machine; see --shard)')
            [CompletionResult]::new('--sshlogin', '--sshlogin', [CompletionResultType]::ParameterName, 'GNU parallel''s remote options: refused (parx runs on one machine; see --shard)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Run share K of N of the tasks (`auto`: from array-job variables)')
            [CompletionResult]::new('--slurm', '--slurm', [CompletionResultType]::ParameterName, 'Run as a Slurm array of N shares, then print the merged output')
            [CompletionResult]::new('--slurm-arg', '--slurm-arg', [CompletionResultType]::ParameterName, 'Pass ARG to sbatch (repeatable): --slurm-arg=--time=10')
            [CompletionResult]::new('--run-dir', '--run-dir', [CompletionResultType]::ParameterName, 'The --slurm run directory [default: a new one here]; reuse it to --resume')
            [CompletionResult]::new('--slurm-throttle', '--slurm-throttle', [CompletionResultType]::ParameterName, 'Run at most K of the --slurm array''s tasks at once (sbatch --array=...%K)')
            [CompletionResult]::new('--slurm-status', '--slurm-status', [CompletionResultType]::ParameterName, 'Show how far a --slurm run is (from its run directory, from any terminal), then exit')
            [CompletionResult]::new('-0', '-0', [CompletionResultType]::ParameterName, 'Values end with NUL instead of newline')
            [CompletionResult]::new('--null', '--null', [CompletionResultType]::ParameterName, 'Values end with NUL instead of newline')
            [CompletionResult]::new('--link', '--link', [CompletionResultType]::ParameterName, 'Link the sources (zip) instead of combining them; shorter ones recycle')
            [CompletionResult]::new('--hidden', '--hidden', [CompletionResultType]::ParameterName, 'With --walk: include entries whose name starts with a dot')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'With --walk: follow symbolic links')
            [CompletionResult]::new('--shell', '--shell', [CompletionResultType]::ParameterName, 'Run the command through `sh -c` (values quoted)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print each command instead of running it')
            [CompletionResult]::new('-X', '-X ', [CompletionResultType]::ParameterName, 'As many values per command as fit (a{}b repeated per value)')
            [CompletionResult]::new('--pipe', '--pipe', [CompletionResultType]::ParameterName, 'Split stdin into record-aligned chunks, each fed to a command''s stdin')
            [CompletionResult]::new('--pipe-part', '--pipe-part', [CompletionResultType]::ParameterName, 'Split the -a/:::: files in place (memory-mapped) into chunks')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Print outputs in input order (default: as tasks complete)')
            [CompletionResult]::new('--keep-order', '--keep-order', [CompletionResultType]::ParameterName, 'Print outputs in input order (default: as tasks complete)')
            [CompletionResult]::new('--tag', '--tag', [CompletionResultType]::ParameterName, 'Prefix each output line with the task''s values and a TAB')
            [CompletionResult]::new('--line-buffer', '--line-buffer', [CompletionResultType]::ParameterName, 'Print whole lines as they come, from all tasks at once (never torn)')
            [CompletionResult]::new('--bar', '--bar', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr; silent when stderr is not a terminal')
            [CompletionResult]::new('--eta', '--eta', [CompletionResultType]::ParameterName, 'Show progress and the time left on stderr; silent when stderr is not a terminal')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'With --joblog or --run-dir: skip tasks already logged')
            [CompletionResult]::new('--resume-failed', '--resume-failed', [CompletionResultType]::ParameterName, 'With --joblog or --run-dir: rerun only the failed tasks')
            [CompletionResult]::new('--retry-failed', '--retry-failed', [CompletionResultType]::ParameterName, 'With --joblog: rerun the failed tasks'' commands from the log (command and inputs ignored)')
            [CompletionResult]::new('--noswap', '--noswap', [CompletionResultType]::ParameterName, 'Start no task while the machine is swapping (pages swapped in and out)')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'As many values per command as fit, spread over the slots at the end')
            [CompletionResult]::new('--xargs', '--xargs', [CompletionResultType]::ParameterName, 'Several values per command, up to the line limit (xargs'' packing)')
            [CompletionResult]::new('--shuf', '--shuf', [CompletionResultType]::ParameterName, 'Run the tasks in a random order (GNU parallel''s --shuf; reads the whole input first)')
            [CompletionResult]::new('--number-of-cpus', '--number-of-cpus', [CompletionResultType]::ParameterName, 'Print the number of physical CPU cores and exit (GNU parallel)')
            [CompletionResult]::new('--number-of-cores', '--number-of-cores', [CompletionResultType]::ParameterName, 'Print the number of physical CPU cores and exit (GNU parallel)')
            [CompletionResult]::new('--number-of-threads', '--number-of-threads', [CompletionResultType]::ParameterName, 'Print the number of hardware threads and exit (GNU parallel)')
            [CompletionResult]::new('--number-of-sockets', '--number-of-sockets', [CompletionResultType]::ParameterName, 'Print the number of CPU sockets and exit (GNU parallel)')
            [CompletionResult]::new('--max-line-length-allowed', '--max-line-length-allowed', [CompletionResultType]::ParameterName, 'Print the longest command line a shell command may have and exit (GNU parallel)')
            [CompletionResult]::new('--use-cpus-instead-of-cores', '--use-cpus-instead-of-cores', [CompletionResultType]::ParameterName, 'Accepted for GNU parallel: parx counts the CPUs this process may use (no effect)')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Exit if a command line would exceed the -s size (xargs -x)')
            [CompletionResult]::new('--exit', '--exit', [CompletionResultType]::ParameterName, 'Exit if a command line would exceed the -s size (xargs -x)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print each command on stdout before its output (GNU''s -vv: the same)')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Print each command on stderr before it runs')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print each command on stderr before it runs')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Skip values that are empty or only blanks')
            [CompletionResult]::new('--no-run-if-empty', '--no-run-if-empty', [CompletionResultType]::ParameterName, 'Skip values that are empty or only blanks')
            [CompletionResult]::new('--plus', '--plus', [CompletionResultType]::ParameterName, 'GNU parallel''s extra placeholders ({..} {+.} {##} {:-x} ...)')
            [CompletionResult]::new('--skip-first-line', '--skip-first-line', [CompletionResultType]::ParameterName, 'The first value is not used')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Output as it comes, not grouped (lines of different tasks may mix)')
            [CompletionResult]::new('--ungroup', '--ungroup', [CompletionResultType]::ParameterName, 'Output as it comes, not grouped (lines of different tasks may mix)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Accepted for GNU parallel; values are never shell syntax anyway')
            [CompletionResult]::new('--quote', '--quote', [CompletionResultType]::ParameterName, 'Accepted for GNU parallel; values are never shell syntax anyway')
            [CompletionResult]::new('--will-cite', '--will-cite', [CompletionResultType]::ParameterName, 'Accepted for GNU parallel; no effect')
            [CompletionResult]::new('--no-notice', '--no-notice', [CompletionResultType]::ParameterName, 'Accepted for GNU parallel; no effect')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Accepted for GNU parallel (grouped output is the default); no effect')
            [CompletionResult]::new('--transfer', '--transfer', [CompletionResultType]::ParameterName, 'GNU parallel''s remote flags: refused (parx runs on one machine; see --shard)')
            [CompletionResult]::new('--keep-run-dir', '--keep-run-dir', [CompletionResultType]::ParameterName, 'Keep the --slurm run directory after a successful run (it is removed by default)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
