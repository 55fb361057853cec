//! One fast hasher for maps keyed by the user's own config text (line
//! texts, `Host` names, keywords): FxHash's mixing, eight bytes a step. No
//! one to defend these tables against, and SipHash (or FNV's byte a step)
//! was a large share of `list` and `fix` on large configs. Only for maps
//! that are looked up, never iterated into output.

use std::hash::{BuildHasherDefault, Hasher};

/// Build a [`FxHasher`]: `HashMap<K, V, Fx>`.
pub(crate) type Fx = BuildHasherDefault<FxHasher>;

#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        // The length keeps "a" and "a\0" apart.
        self.add(u64::from_le_bytes(w) ^ rest.len() as u64);
    }

    fn write_u8(&mut self, b: u8) {
        self.add(u64::from(b));
    }

    fn finish(&self) -> u64 {
        // The table picks buckets with the low bits: fold the high ones in.
        self.0 ^ (self.0 >> 29)
    }
}
