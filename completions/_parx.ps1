
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
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Job slots: N, N% of the CPUs, +N or -N relative to the CPU count, or FILE (re-read as tasks end) [default: CPUs this process may use]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Job slots: N, N% of the CPUs, +N or -N relative to the CPU count, or FILE (re-read as tasks end) [default: CPUs this process may use]')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Read values from FILE, one per line (`-` is stdin); repeatable')
            [CompletionResult]::new('--arg-file', '--arg-file', [CompletionResultType]::ParameterName, 'Read values from FILE, one per line (`-` is stdin); repeatable')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Values end with DELIM (escapes: \n \t \r \0 \\ \xHH)')
            [CompletionResult]::new('--delimiter', '--delimiter', [CompletionResultType]::ParameterName, 'Values end with DELIM (escapes: \n \t \r \0 \\ \xHH)')
            [CompletionResult]::new('--colsep', '--colsep', [CompletionResultType]::ParameterName, 'Split each value into columns {1} {2} ... at matches of REGEX')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Up to N values per command (N records with several sources)')
            [CompletionResult]::new('--max-args', '--max-args', [CompletionResultType]::ParameterName, 'Up to N values per command (N records with several sources)')
            [CompletionResult]::new('--walk', '--walk', [CompletionResultType]::ParameterName, 'Walk PATH: every entry under it is a value (repeatable)')
            [CompletionResult]::new('--ext', '--ext', [CompletionResultType]::ParameterName, 'Only entries with extension EXT (repeatable)')
            [CompletionResult]::new('--glob', '--glob', [CompletionResultType]::ParameterName, 'Only entries whose path relative to PATH matches PATTERN (repeatable; `**` crosses `/`)')
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'Entry type: f file, d directory, l symlink (repeatable) [default: f]')
            [CompletionResult]::new('--max-depth', '--max-depth', [CompletionResultType]::ParameterName, 'Descend at most N levels (1: PATH''s direct children)')
            [CompletionResult]::new('--block', '--block', [CompletionResultType]::ParameterName, 'Target chunk size [default: 1M]; K M G T are powers of 1024, k m g t of 1000; -N: N chunks per job slot per file (--pipe-part)')
            [CompletionResult]::new('-N', '-N ', [CompletionResultType]::ParameterName, 'Chunk modes: N records per chunk instead of a size; else N values per command with {N} the Nth (GNU''s max-replace-args)')
            [CompletionResult]::new('--max-replace-args', '--max-replace-args', [CompletionResultType]::ParameterName, 'Chunk modes: N records per chunk instead of a size; else N values per command with {N} the Nth (GNU''s max-replace-args)')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Chunk modes: a record is N lines (FASTQ: -L 4); else N input lines per command')
            [CompletionResult]::new('--max-lines', '--max-lines', [CompletionResultType]::ParameterName, 'Chunk modes: a record is N lines (FASTQ: -L 4); else N input lines per command')
            [CompletionResult]::new('--recend', '--recend', [CompletionResultType]::ParameterName, 'Record terminator [default: \n, NUL with -0] (escapes: \n \t \r \0 \\ \xHH)')
            [CompletionResult]::new('--recstart', '--recstart', [CompletionResultType]::ParameterName, 'Records begin with STR (chunks are split only before it)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Chunk modes: the first N records are a header, sent at the start of every chunk; `:` with argument sources: the first value names the column ({name})')
            [CompletionResult]::new('--pool', '--pool', [CompletionResultType]::ParameterName, 'How tasks run: a child process per task, or long-lived workers fed on stdin (process: a worker answers each record it reads with exactly one result, in order)')
            [CompletionResult]::new('--max-tasks', '--max-tasks', [CompletionResultType]::ParameterName, 'With --pool process: restart a worker after it has been sent N tasks')
            [CompletionResult]::new('--result-end', '--result-end', [CompletionResultType]::ParameterName, 'With --pool process: each result ends with SEP instead of the record terminator, so a result may span lines; printed without SEP (escapes: \n \t \r \0 \\ \xHH)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Kill a task (its whole process group: TERM, then KILL) after DUR (500ms, 30s, 2m, 1.5)')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Run a failed task up to N times in all (0: until it succeeds); only the last attempt''s output is printed')
            [CompletionResult]::new('--halt', '--halt', [CompletionResultType]::ParameterName, 'When to stop early: never, soon|now,fail=N|success=N|done=N (N or N%); GNU''s 0 1 2 -1 -2 N%')
            [CompletionResult]::new('--joblog', '--joblog', [CompletionResultType]::ParameterName, 'Log every finished task to FILE (GNU parallel''s TSV columns; `-`: stdout)')
            [CompletionResult]::new('--delay', '--delay', [CompletionResultType]::ParameterName, 'Pause DUR between task starts')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Run only share K of N (task seq s runs iff (s-1) % N == K-1); `auto` reads array-job variables')
            [CompletionResult]::new('--load', '--load', [CompletionResultType]::ParameterName, 'Start a task only while fewer than MAX processes run on the machine (N, N%/+N/-N of the CPUs)')
            [CompletionResult]::new('--memfree', '--memfree', [CompletionResultType]::ParameterName, 'Start a task only while SIZE memory is available; below SIZE/2 the youngest task is killed and run again later')
            [CompletionResult]::new('--memsuspend', '--memsuspend', [CompletionResultType]::ParameterName, 'Stop (SIGSTOP) the youngest tasks while less than 2×SIZE memory is available; continue them when it is back')
            [CompletionResult]::new('--tagstring', '--tagstring', [CompletionResultType]::ParameterName, 'Prefix each output line with STR (placeholders expanded) and a TAB')
            [CompletionResult]::new('--results', '--results', [CompletionResultType]::ParameterName, 'Also store each task''s stdout, stderr and exit status under DIR/<seq>/')
            [CompletionResult]::new('--slurm', '--slurm', [CompletionResultType]::ParameterName, 'Submit one Slurm array of N tasks, each running this share of the tasks, then wait and print the merged output (parx must be on storage every node sees)')
            [CompletionResult]::new('--slurm-arg', '--slurm-arg', [CompletionResultType]::ParameterName, 'Pass ARG to sbatch (repeatable), e.g. --slurm-arg=--time=10 --slurm-arg=-pshort')
            [CompletionResult]::new('--run-dir', '--run-dir', [CompletionResultType]::ParameterName, 'The --slurm run directory (outputs, job logs, status); default: a new one in the current directory. Give it again with --resume or --resume-failed to continue a run')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'At most N characters per command line (-X, -m, -n)')
            [CompletionResult]::new('--max-chars', '--max-chars', [CompletionResultType]::ParameterName, 'At most N characters per command line (-X, -m, -n)')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'STR replaces {} as the value placeholder')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'The value STR ends the input')
            [CompletionResult]::new('--eof', '--eof', [CompletionResultType]::ParameterName, 'The value STR ends the input')
            [CompletionResult]::new('--trim', '--trim', [CompletionResultType]::ParameterName, 'Trim blanks around values: n (none), l, r, lr, rl')
            [CompletionResult]::new('--arg-sep', '--arg-sep', [CompletionResultType]::ParameterName, 'STR instead of ::: (and STR+ instead of :::+)')
            [CompletionResult]::new('--arg-file-sep', '--arg-file-sep', [CompletionResultType]::ParameterName, 'STR instead of :::: (and STR+ instead of ::::+)')
            [CompletionResult]::new('--termseq', '--termseq', [CompletionResultType]::ParameterName, 'Signals (and milliseconds between them) that end a task: SIG,MS,SIG,MS,...,SIG')
            [CompletionResult]::new('--tmpdir', '--tmpdir', [CompletionResultType]::ParameterName, 'Where output spills to disk [default: $TMPDIR]')
            [CompletionResult]::new('--nice', '--nice', [CompletionResultType]::ParameterName, 'Run tasks under nice N')
            [CompletionResult]::new('--process-slot-var', '--process-slot-var', [CompletionResultType]::ParameterName, 'xargs: NAME holds the job slot number in each task''s environment')
            [CompletionResult]::new('-S', '-S ', [CompletionResultType]::ParameterName, 'GNU parallel''s remote options: refused (parx runs on one machine; see --shard)')
            [CompletionResult]::new('--sshlogin', '--sshlogin', [CompletionResultType]::ParameterName, 'GNU parallel''s remote options: refused (parx runs on one machine; see --shard)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Print outputs in input order (default: as tasks complete)')
            [CompletionResult]::new('--keep-order', '--keep-order', [CompletionResultType]::ParameterName, 'Print outputs in input order (default: as tasks complete)')
            [CompletionResult]::new('-0', '-0', [CompletionResultType]::ParameterName, 'Values end with NUL instead of newline')
            [CompletionResult]::new('--null', '--null', [CompletionResultType]::ParameterName, 'Values end with NUL instead of newline')
            [CompletionResult]::new('--link', '--link', [CompletionResultType]::ParameterName, 'Link all sources (zip), recycling the shorter ones')
            [CompletionResult]::new('--shell', '--shell', [CompletionResultType]::ParameterName, 'Run the command through `sh -c` (values quoted)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print each command instead of running it')
            [CompletionResult]::new('-X', '-X ', [CompletionResultType]::ParameterName, 'As many values per command as fit the line limit (context replace: a{}b per value)')
            [CompletionResult]::new('--hidden', '--hidden', [CompletionResultType]::ParameterName, 'Include entries whose name starts with a dot')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Follow symbolic links')
            [CompletionResult]::new('--pipe', '--pipe', [CompletionResultType]::ParameterName, 'Chunk mode: stdin is data, split into record-aligned chunks fed to the command''s stdin')
            [CompletionResult]::new('--pipe-part', '--pipe-part', [CompletionResultType]::ParameterName, 'Chunk mode: the -a/:::: files are data, memory-mapped and split in place')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'With --joblog (or --slurm --run-dir): skip tasks already in the log')
            [CompletionResult]::new('--resume-failed', '--resume-failed', [CompletionResultType]::ParameterName, 'With --joblog (or --slurm --run-dir): skip tasks logged as succeeded, rerun failed ones')
            [CompletionResult]::new('--tag', '--tag', [CompletionResultType]::ParameterName, 'Prefix each output line with the task''s values and a TAB')
            [CompletionResult]::new('--line-buffer', '--line-buffer', [CompletionResultType]::ParameterName, 'Print whole lines as they come, from all tasks at once (never torn)')
            [CompletionResult]::new('--bar', '--bar', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr (only when stderr is a terminal)')
            [CompletionResult]::new('--eta', '--eta', [CompletionResultType]::ParameterName, 'Show progress with an estimated time left on stderr (only when stderr is a terminal)')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Several values per command, up to the line limit, spread over the slots at the end')
            [CompletionResult]::new('--xargs', '--xargs', [CompletionResultType]::ParameterName, 'Several values per command, up to the line limit (xargs'' packing)')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Exit if a command line would exceed the -s size (xargs -x)')
            [CompletionResult]::new('--exit', '--exit', [CompletionResultType]::ParameterName, 'Exit if a command line would exceed the -s size (xargs -x)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print each command on stdout before its output')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Print each command on stderr before it runs')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print each command on stderr before it runs')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Skip values that are empty or only blanks')
            [CompletionResult]::new('--no-run-if-empty', '--no-run-if-empty', [CompletionResultType]::ParameterName, 'Skip values that are empty or only blanks')
            [CompletionResult]::new('--plus', '--plus', [CompletionResultType]::ParameterName, 'GNU parallel''s extra replacement strings ({..} {+.} {##} {0#} {:-x} {#re} {%re} ...)')
            [CompletionResult]::new('--skip-first-line', '--skip-first-line', [CompletionResultType]::ParameterName, 'The first value is not used')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Output as it comes, not grouped (lines of different tasks may mix)')
            [CompletionResult]::new('--ungroup', '--ungroup', [CompletionResultType]::ParameterName, 'Output as it comes, not grouped (lines of different tasks may mix)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Accepted for GNU parallel (values are never shell syntax in exec mode already)')
            [CompletionResult]::new('--quote', '--quote', [CompletionResultType]::ParameterName, 'Accepted for GNU parallel (values are never shell syntax in exec mode already)')
            [CompletionResult]::new('--will-cite', '--will-cite', [CompletionResultType]::ParameterName, 'Accepted for GNU parallel; no effect')
            [CompletionResult]::new('--no-notice', '--no-notice', [CompletionResultType]::ParameterName, 'Accepted for GNU parallel; no effect')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Accepted for GNU parallel (grouped output is the default); no effect')
            [CompletionResult]::new('--transfer', '--transfer', [CompletionResultType]::ParameterName, 'GNU parallel''s remote flags: refused (parx runs on one machine; see --shard)')
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
