//! Helpers shared by the emulator's integration tests.
#![allow(dead_code)] // each test binary uses a different subset

pub mod audio;
pub mod call;
