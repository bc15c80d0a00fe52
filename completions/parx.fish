complete -c parx -s j -l jobs -d 'Job slots: N, N% of the CPUs, +N or -N relative to the CPU count [default: CPUs]' -r
complete -c parx -s a -l arg-file -d 'Read values from FILE, one per line (`-` is stdin); repeatable' -r
complete -c parx -s d -l delimiter -d 'Values end with DELIM (escapes: \\n \\t \\r \\0 \\\\ \\xHH)' -r
complete -c parx -l pool -d 'How tasks run: a child process per task, or long-lived workers fed on stdin' -r -f -a "thread\t'One child process per task, supervised by -j threads'
process\t'-j long-lived workers, tasks streamed to their stdin'"
complete -c parx -l timeout -d 'Kill a task (its whole process group: TERM, then KILL) after DUR (500ms, 30s, 2m, 1.5)' -r
complete -c parx -l retries -d 'Run a failed task up to N more times; only the last attempt\'s output is printed' -r
complete -c parx -l halt -d 'When to stop early: never, soon|now,fail=N|success=N|done=N (N or N%)' -r
complete -c parx -l joblog -d 'Log every finished task to FILE (GNU parallel\'s TSV columns)' -r -F
complete -c parx -l delay -d 'Pause DUR between task starts' -r
complete -c parx -l shard -d 'Run only share K of N (task seq s runs iff (s-1) % N == K-1); `auto` reads array-job variables' -r
complete -c parx -l tagstring -d 'Prefix each output line with STR (placeholders expanded) and a TAB' -r
complete -c parx -l results -d 'Also store each task\'s stdout, stderr and exit status under DIR/<seq>/' -r -F
complete -c parx -s k -l keep-order -d 'Print outputs in input order (default: as tasks complete)'
complete -c parx -s 0 -l null -d 'Values end with NUL instead of newline'
complete -c parx -l link -d 'Link all sources (zip), recycling the shorter ones'
complete -c parx -s s -l shell -d 'Run the command through `sh -c` (values single-quoted)'
complete -c parx -l dry-run -d 'Print each command instead of running it'
complete -c parx -l resume -d 'With --joblog: skip tasks already in the log'
complete -c parx -l resume-failed -d 'With --joblog: skip tasks logged as succeeded, rerun those logged as failed'
complete -c parx -l tag -d 'Prefix each output line with the task\'s values and a TAB'
complete -c parx -l line-buffer -d 'Print whole lines as they come, from all tasks at once (never torn)'
complete -c parx -l bar -d 'Show a progress bar on stderr (only when stderr is a terminal)'
complete -c parx -l eta -d 'Show progress with an estimated time left on stderr (only when stderr is a terminal)'
complete -c parx -s h -l help -d 'Print help (see more with \'--help\')'
complete -c parx -s V -l version -d 'Print version'
