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
        let n = bytes.len();
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(w)
        };
        if n >= 8 {
            let mut at = 0;
            while at + 8 <= n {
                self.add(word(at));
                at += 8;
            }
            // The tail as the last eight bytes (overlapping the last word): no copy of a
            // variable length; the length, mixed last, keeps overlaps from aliasing.
            if at < n {
                self.add(word(n - 8));
            }
            self.add(n as u64);
        } else if n >= 4 {
            let lo = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            let hi = u32::from_le_bytes([bytes[n - 4], bytes[n - 3], bytes[n - 2], bytes[n - 1]]);
            // Bytes 0..4 and n-4..n cover every byte; the length tells the overlap apart.
            self.add((u64::from(lo) | (u64::from(hi) << 32)) ^ ((n as u64) << 61));
        } else if n > 0 {
            let w = u64::from(bytes[0])
                | (u64::from(bytes[n / 2]) << 8)
                | (u64::from(bytes[n - 1]) << 16)
                | ((n as u64) << 24);
            self.add(w);
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
        // Every byte and the length count, including through the overlapping reads.
        let bytes = |b: &[u8]| {
            let mut x = FastHasher::default();
            x.write(b);
            x.finish()
        };
        for n in 1..40usize {
            let base: Vec<u8> = (0..n as u8).collect();
            for i in 0..n {
                let mut other = base.clone();
                other[i] ^= 0x40;
                assert_ne!(bytes(&base), bytes(&other), "length {n}, byte {i}");
            }
            assert_ne!(bytes(&base[..n - 1]), bytes(&base), "length {n}");
        }
        assert_ne!(bytes(b"ab"), bytes(b"abb"));
        assert_ne!(bytes(b"123456789"), bytes(b"1234567823456789"));
    }
}
