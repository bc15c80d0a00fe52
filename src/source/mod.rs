//! Sources: turn the configured inputs into numbered tasks, streamed into a bounded channel.

pub mod args;
pub mod chunk;
pub mod pipe;
