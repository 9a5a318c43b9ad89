//! A small seedable random generator for values that need spreading, not secrecy.
//!
//! The core never asks the operating system for randomness: it is seeded once
//! at construction, which keeps simulated-time tests deterministic.

/// xorshift64*: tiny, seedable, plenty for spreading ports. Not for secrets.
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        // Zero is xorshift's one fixed point.
        Self(seed | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}
