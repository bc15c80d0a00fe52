//! parx's integration tests, one crate (one binary to link), as ripgrep's: a module per
//! topic, sharing `common`.

mod common;

mod batch;
mod chunk;
mod cluster;
mod commands;
mod compat;
mod errors;
mod exit_status;
mod faults;
mod framed;
mod generated;
mod gnu_options;
mod gnu_personality;
mod halt_resume;
mod hostile;
mod inputs;
mod jobs;
mod modules;
mod output;
mod parallel_tutorial;
mod process_pool;
mod process_pool_ends;
mod process_pool_poison;
mod progress;
mod python;
mod readme;
mod resources;
mod shard;
mod soak;
mod walk;
mod xargs;
mod xargs_personality;
mod xargs_suite;
