//! Per-thread memos of pure functions of a string.
//!
//! Command lines repeat heavily in real telemetry (service hosts, updaters, the same
//! scripts on every host: the OTRF corpus has 497 distinct command lines in 1,728 starts,
//! a synthetic fleet 9 k in 95 k), so each thread remembers what the recipes derived from
//! recent command lines and executable paths. Bounded by entries and by key bytes: cleared
//! when either is full. Long command lines are kept too (up to a sixteenth of the budget):
//! they are the most expensive to featurise, and an agent's long encoded script repeats as
//! often as a short one.

use crate::fasthash::{FastBuild, FastHasher};
use std::hash::Hasher;
use std::rc::Rc;

const MEMO_ENTRIES: usize = 4096;
const MEMO_KEY_BYTES: usize = 4 << 20;

/// Marks an absent part in a stored key (a present part's length is below it).
const ABSENT: u32 = u32::MAX;

/// One thread's memo of `f(variant, key)`, where `variant` stands for the function's other
/// inputs (a bucket count, a recipe generation): a new variant empties the memo.
///
/// A key is a few parts (an event's fields), each present or absent. Lookups hash and
/// compare the parts where they lie, so a hit copies nothing; the parts are copied into
/// one stored key (each length-prefixed, so no two keys spell the same bytes) only when
/// a value is stored.
pub struct Memo<V> {
    variant: usize,
    key_bytes: usize,
    /// Entries, and key bytes, at which the memo starts over; keys longer than a
    /// sixteenth of the bytes are not kept.
    max_entries: usize,
    max_key_bytes: usize,
    /// By the key's 64-bit hash: the stored key and the value. Two keys with one hash share
    /// an entry, the later replacing the earlier: a miss, never a wrong hit.
    map: std::collections::HashMap<u64, Entry<V>, FastBuild>,
}

/// A stored key and its value.
type Entry<V> = (Box<[u8]>, Rc<V>);

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo::bounded(MEMO_ENTRIES, MEMO_KEY_BYTES)
    }
}

fn part_len(part: Option<&[u8]>) -> u32 {
    // A part of 4 GiB cannot occur in a record; saturating keeps keys defined.
    part.map_or(ABSENT, |p| u32::try_from(p.len()).unwrap_or(ABSENT - 1))
}

fn hash_parts(parts: &[Option<&[u8]>]) -> u64 {
    let mut h = FastHasher::default();
    for &p in parts {
        // Tagged: a zero word would leave the hasher's state unchanged, so an empty first
        // part would hash as if it were not there.
        h.write_u64((1 << 40) | u64::from(part_len(p)));
        if let Some(p) = p {
            h.write(p);
        }
    }
    h.finish()
}

/// Whether `stored` is the key `parts` spell.
fn same_key(stored: &[u8], parts: &[Option<&[u8]>]) -> bool {
    let mut rest = stored;
    for &p in parts {
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return false;
        };
        let len = u32::from_le_bytes(*len);
        if len != part_len(p) {
            return false;
        }
        rest = tail;
        if let Some(p) = p {
            match rest.split_at_checked(p.len()) {
                Some((text, tail)) if text == p => rest = tail,
                _ => return false,
            }
        }
    }
    rest.is_empty()
}

fn stored_key(parts: &[Option<&[u8]>]) -> Box<[u8]> {
    let mut key = Vec::with_capacity(parts.iter().map(|p| 4 + p.map_or(0, <[u8]>::len)).sum());
    for &p in parts {
        key.extend_from_slice(&part_len(p).to_le_bytes());
        key.extend_from_slice(p.unwrap_or_default());
    }
    key.into_boxed_slice()
}

impl<V> Memo<V> {
    /// An empty memo that starts over at `max_entries` entries or `max_key_bytes` bytes of
    /// keys.
    pub fn bounded(max_entries: usize, max_key_bytes: usize) -> Self {
        Memo {
            variant: usize::MAX,
            key_bytes: 0,
            max_entries,
            max_key_bytes,
            map: Default::default(),
        }
    }

    /// The value for one string key.
    pub(crate) fn get_or_insert(
        &mut self,
        variant: usize,
        key: &[u8],
        compute: impl FnOnce() -> V,
    ) -> Rc<V> {
        self.get_or_insert_parts(variant, &[Some(key)], compute)
    }

    /// The value for the key made of `parts` (absent parts differ from empty ones).
    pub(crate) fn get_or_insert_parts(
        &mut self,
        variant: usize,
        parts: &[Option<&[u8]>],
        compute: impl FnOnce() -> V,
    ) -> Rc<V> {
        self.use_variant(variant);
        let hash = hash_parts(parts);
        if let Some(v) = self.lookup(hash, parts) {
            return v;
        }
        self.store(hash, parts, compute())
    }

    /// The value stored for one string key, if any.
    pub fn get(&mut self, variant: usize, key: &[u8]) -> Option<Rc<V>> {
        self.use_variant(variant);
        let parts = [Some(key)];
        self.lookup(hash_parts(&parts), &parts)
    }

    /// Store `value` for one string key (not kept if the key is too long to keep).
    pub fn put(&mut self, variant: usize, key: &[u8], value: V) -> Rc<V> {
        self.use_variant(variant);
        let parts = [Some(key)];
        self.store(hash_parts(&parts), &parts, value)
    }

    fn use_variant(&mut self, variant: usize) {
        if self.variant != variant {
            self.variant = variant;
            self.clear();
        }
    }

    fn lookup(&self, hash: u64, parts: &[Option<&[u8]>]) -> Option<Rc<V>> {
        match self.map.get(&hash) {
            Some((stored, v)) if same_key(stored, parts) => Some(v.clone()),
            _ => None,
        }
    }

    fn store(&mut self, hash: u64, parts: &[Option<&[u8]>], value: V) -> Rc<V> {
        let v = Rc::new(value);
        let len: usize = parts.iter().map(|p| 4 + p.map_or(0, <[u8]>::len)).sum();
        if len <= self.max_key_bytes / 16 {
            if self.map.len() >= self.max_entries || self.key_bytes + len > self.max_key_bytes {
                self.clear();
            }
            self.key_bytes += len;
            if let Some((old, _)) = self.map.insert(hash, (stored_key(parts), v.clone())) {
                self.key_bytes -= old.len();
            }
        }
        v
    }

    fn clear(&mut self) {
        self.map.clear();
        self.key_bytes = 0;
    }
}

/// Per-feature results of a recipe group (`FeatureRecipe::categorical_groups`) by the
/// group's values (`FeatureRow::categorical_key`): direct-mapped, so a lookup is one hash
/// and one comparison, and bounded (a few MB for Elastic's 100-position groups).
#[derive(Clone)]
pub(crate) struct BlockMemo<V> {
    slots: Vec<Option<BlockEntry<V>>>,
}

/// A group's key bytes and its per-feature results.
type BlockEntry<V> = (Box<[u8]>, Box<[V]>);

impl<V: Copy> BlockMemo<V> {
    const SLOTS: usize = 1024;

    pub(crate) fn new() -> Self {
        BlockMemo { slots: Vec::new() }
    }

    fn slot(key: &[u8]) -> usize {
        (xxhash_rust::xxh3::xxh3_64_with_seed(key, 0) as usize) % Self::SLOTS
    }

    /// The results stored for exactly this key.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&[V]> {
        match self.slots.get(Self::slot(key)) {
            Some(Some((k, values))) if **k == *key => Some(values),
            _ => None,
        }
    }

    /// Store `values` for `key`, replacing whatever shared its slot.
    pub(crate) fn put(&mut self, key: &[u8], values: &[V]) {
        if self.slots.is_empty() {
            self.slots.resize(Self::SLOTS, None);
        }
        self.slots[Self::slot(key)] = Some((key.into(), values.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_keys_tell_absent_empty_and_split_apart() {
        let mut memo = Memo::default();
        let keys: [&[Option<&[u8]>]; 6] = [
            &[Some(b"ab"), None],
            &[Some(b"a"), Some(b"b")],
            &[Some(b"ab"), Some(b"")],
            &[None, Some(b"ab")],
            &[Some(b""), Some(b"ab")],
            &[Some(b"ab")],
        ];
        let mut computed = 0;
        for round in 0..2 {
            for (i, k) in keys.iter().enumerate() {
                let v = memo.get_or_insert_parts(7, k, || {
                    computed += 1;
                    i
                });
                assert_eq!(*v, i, "round {round}, key {i}");
            }
        }
        // Every key computed once: the second round hit each stored value.
        assert_eq!(computed, keys.len());
        // A new variant starts over.
        let v = memo.get_or_insert_parts(8, keys[0], || 99);
        assert_eq!(*v, 99);
    }

    #[test]
    fn stored_values_are_found_until_the_variant_or_the_bounds_change() {
        let mut memo = Memo::bounded(3, 1 << 10);
        assert!(memo.get(1, b"a").is_none());
        memo.put(1, b"a", 10);
        assert_eq!(memo.get(1, b"a").as_deref(), Some(&10));
        assert!(memo.get(1, b"b").is_none());
        // A key over a sixteenth of the key bytes is not kept, and leaves the rest alone.
        memo.put(1, &[b'x'; 100], 11);
        assert!(memo.get(1, &[b'x'; 100]).is_none());
        assert_eq!(memo.get(1, b"a").as_deref(), Some(&10));
        // Full at three entries: the fourth starts over.
        memo.put(1, b"b", 12);
        memo.put(1, b"c", 13);
        memo.put(1, b"d", 14);
        assert!(memo.get(1, b"a").is_none());
        assert_eq!(memo.get(1, b"d").as_deref(), Some(&14));
        // Another variant starts over.
        assert!(memo.get(2, b"d").is_none());
    }
}
