
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
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Job slots: N, N% of the CPUs, +N or -N relative to the CPU count [default: CPUs]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Job slots: N, N% of the CPUs, +N or -N relative to the CPU count [default: CPUs]')
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
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'N records per chunk instead of a size')
            [CompletionResult]::new('--lines', '--lines', [CompletionResultType]::ParameterName, 'N records per chunk instead of a size')
            [CompletionResult]::new('--recend', '--recend', [CompletionResultType]::ParameterName, 'Record terminator [default: \n, NUL with -0] (escapes: \n \t \r \0 \\ \xHH)')
            [CompletionResult]::new('--recstart', '--recstart', [CompletionResultType]::ParameterName, 'Records begin with STR (chunks are split only before it)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'The first N records are a header, sent at the start of every chunk')
            [CompletionResult]::new('--pool', '--pool', [CompletionResultType]::ParameterName, 'How tasks run: a child process per task, or long-lived workers fed on stdin')
            [CompletionResult]::new('--max-tasks', '--max-tasks', [CompletionResultType]::ParameterName, 'With --pool process: restart a worker after it has been sent N tasks')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Kill a task (its whole process group: TERM, then KILL) after DUR (500ms, 30s, 2m, 1.5)')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Run a failed task up to N more times; only the last attempt''s output is printed')
            [CompletionResult]::new('--halt', '--halt', [CompletionResultType]::ParameterName, 'When to stop early: never, soon|now,fail=N|success=N|done=N (N or N%)')
            [CompletionResult]::new('--joblog', '--joblog', [CompletionResultType]::ParameterName, 'Log every finished task to FILE (GNU parallel''s TSV columns)')
            [CompletionResult]::new('--delay', '--delay', [CompletionResultType]::ParameterName, 'Pause DUR between task starts')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Run only share K of N (task seq s runs iff (s-1) % N == K-1); `auto` reads array-job variables')
            [CompletionResult]::new('--tagstring', '--tagstring', [CompletionResultType]::ParameterName, 'Prefix each output line with STR (placeholders expanded) and a TAB')
            [CompletionResult]::new('--results', '--results', [CompletionResultType]::ParameterName, 'Also store each task''s stdout, stderr and exit status under DIR/<seq>/')
            [CompletionResult]::new('--slurm', '--slurm', [CompletionResultType]::ParameterName, 'Submit one Slurm array of N tasks, each running this share of the tasks, then wait and print the merged output (parx must be on storage every node sees)')
            [CompletionResult]::new('--slurm-arg', '--slurm-arg', [CompletionResultType]::ParameterName, 'Pass ARG to sbatch (repeatable), e.g. --slurm-arg=--time=10 --slurm-arg=-pshort')
            [CompletionResult]::new('--run-dir', '--run-dir', [CompletionResultType]::ParameterName, 'The --slurm run directory (outputs, job logs, status); default: a new one in the current directory. Give it again with --resume or --resume-failed to continue a run')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Print outputs in input order (default: as tasks complete)')
            [CompletionResult]::new('--keep-order', '--keep-order', [CompletionResultType]::ParameterName, 'Print outputs in input order (default: as tasks complete)')
            [CompletionResult]::new('-0', '-0', [CompletionResultType]::ParameterName, 'Values end with NUL instead of newline')
            [CompletionResult]::new('--null', '--null', [CompletionResultType]::ParameterName, 'Values end with NUL instead of newline')
            [CompletionResult]::new('--link', '--link', [CompletionResultType]::ParameterName, 'Link all sources (zip), recycling the shorter ones')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Run the command through `sh -c` (values single-quoted)')
            [CompletionResult]::new('--shell', '--shell', [CompletionResultType]::ParameterName, 'Run the command through `sh -c` (values single-quoted)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print each command instead of running it')
            [CompletionResult]::new('-X', '-X ', [CompletionResultType]::ParameterName, 'As many values per command as fit the OS argument limit (context replace: a{}b per value)')
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
