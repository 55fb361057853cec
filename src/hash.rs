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
        // Mixed through every bit (MurmurHash3's fmix64): the table picks
        // buckets with the low bits, and config lines often differ only in
        // the last bytes of a word (`Port 20001`, `Port 20002`), which the
        // multiply carries only into the high bits — a fold of those alone
        // left long runs of one bucket (a tenth of `fix` on a large file).
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}
