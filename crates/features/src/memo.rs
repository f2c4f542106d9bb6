//! Per-thread memos of pure functions of a string.
//!
//! Command lines repeat heavily in real telemetry (service hosts, updaters, the same
//! scripts on every host: the OTRF corpus has 497 distinct command lines in 1,728 starts,
//! a synthetic fleet 9 k in 95 k), so each thread remembers what the recipes derived from
//! recent command lines and executable paths. Bounded by entries and by key bytes: cleared
//! when either is full. Long command lines are kept too (up to a sixteenth of the budget):
//! they are the most expensive to featurise, and an agent's long encoded script repeats as
//! often as a short one.

use crate::fasthash::FastBuild;
use std::rc::Rc;

const MEMO_ENTRIES: usize = 4096;
const MEMO_KEY_BYTES: usize = 4 << 20;
const MEMO_MAX_KEY: usize = MEMO_KEY_BYTES / 16;

/// One thread's memo of `f(variant, key)`, where `variant` stands for the function's other
/// inputs (a bucket count, a recipe generation): a new variant empties the memo.
pub(crate) struct Memo<V> {
    variant: usize,
    key_bytes: usize,
    map: std::collections::HashMap<Box<[u8]>, Rc<V>, FastBuild>,
}

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo {
            variant: usize::MAX,
            key_bytes: 0,
            map: Default::default(),
        }
    }
}

impl<V> Memo<V> {
    pub(crate) fn get_or_insert(
        &mut self,
        variant: usize,
        key: &[u8],
        compute: impl FnOnce() -> V,
    ) -> Rc<V> {
        if self.variant != variant {
            self.variant = variant;
            self.clear();
        }
        if let Some(v) = self.map.get(key) {
            return v.clone();
        }
        let v = Rc::new(compute());
        if key.len() <= MEMO_MAX_KEY {
            if self.map.len() >= MEMO_ENTRIES || self.key_bytes + key.len() > MEMO_KEY_BYTES {
                self.clear();
            }
            self.key_bytes += key.len();
            self.map.insert(key.into(), v.clone());
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
