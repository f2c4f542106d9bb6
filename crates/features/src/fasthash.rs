//! A small deterministic hasher for the hot-path lookup tables (encoders, system-binary
//! names). `Xxh3DefaultBuilder` builds a streaming xxh3 state per lookup, which cost more
//! than the rest of the encoding; keys here are short strings, for which a multiply–rotate
//! mix over 8-byte words (FxHash's scheme) is enough. Fixed constants: never random, so
//! nothing depends on the process or machine (only lookups use it, never output order).

use std::hash::{BuildHasherDefault, Hasher};

const K: u64 = 0xf135_7aea_2e62_a9c5;

/// FxHash-style hasher with a fixed seed.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(26) ^ w).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Final avalanche so hashbrown's top-7 control bits are well mixed.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

/// `BuildHasher` of [`FastHasher`].
pub(crate) type FastBuild = BuildHasherDefault<FastHasher>;

/// Pack a string of at most 7 bytes into a `u64` (bytes, then the length in the top byte)
/// so that short keys are compared as integers instead of with `memcmp`.
#[inline]
pub(crate) fn pack_short(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() > 7 {
        return None;
    }
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    w[7] = b.len() as u8;
    Some(u64::from_le_bytes(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn packs_distinguish_length_and_content() {
        assert_eq!(pack_short("12345678"), None);
        assert_ne!(pack_short(""), pack_short("\0"));
        assert_ne!(pack_short("ab"), pack_short("ba"));
        assert_ne!(pack_short("a"), pack_short("a\0"));
        let h = |s: &str| FastBuild::default().hash_one(s);
        assert_eq!(h("cmd.exe"), h("cmd.exe"));
        assert_ne!(h("cmd.exe"), h("cmd.exf"));
    }
}
