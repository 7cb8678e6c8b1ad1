//! Reading several buckets as one ordered stream: a reader's scope is a few buckets (a grid and
//! the areas above it; a crew's stations), each an index range in key order. Each bucket is read
//! in turn with a limit, and once `limit + 1` keys are known, later buckets are read only below
//! the largest of them: no bucket is read past what the page can hold. Both backends run their
//! range queries through [`Merge`].

use std::collections::BTreeSet;

/// The smallest `limit + 1` keys seen across the buckets read so far.
#[derive(Debug)]
pub struct Merge<K: Ord + Copy> {
    limit: usize,
    keys: BTreeSet<K>,
}

impl<K: Ord + Copy> Merge<K> {
    /// A merge for a page of `limit` keys (one more is kept to tell whether more follow).
    pub fn new(limit: usize) -> Merge<K> {
        Merge {
            limit,
            keys: BTreeSet::new(),
        }
    }

    /// How many keys to ask the next bucket for (`limit + 1`).
    pub fn ask(&self) -> usize {
        self.limit + 1
    }

    /// The largest key the next bucket needs to be read up to (inclusive), once the page and
    /// its one extra are known; `None` while any key could still enter the page.
    pub fn bound(&self) -> Option<K> {
        (self.keys.len() > self.limit)
            .then(|| self.keys.last().copied())
            .flatten()
    }

    /// Takes one bucket's keys (ascending, at most [`Merge::ask`] of them).
    pub fn add(&mut self, keys: impl IntoIterator<Item = K>) {
        self.keys.extend(keys);
        while self.keys.len() > self.limit + 1 {
            self.keys.pop_last();
        }
    }

    /// The page's keys in order, and whether more follow them.
    pub fn finish(self) -> (Vec<K>, bool) {
        let more = self.keys.len() > self.limit;
        (self.keys.into_iter().take(self.limit).collect(), more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_buckets_make_one_page_in_order_without_repeats() {
        let mut m = Merge::new(4);
        assert_eq!(m.ask(), 5);
        m.add([3, 9, 12]);
        assert_eq!(
            m.bound(),
            None,
            "fewer than a page and one: anything may still enter"
        );
        m.add([1, 3, 5, 7, 8]);
        assert_eq!(m.bound(), Some(8), "the next bucket is read up to 8 only");
        m.add([2]);
        assert_eq!(m.finish(), (vec![1, 2, 3, 5], true));

        let mut short = Merge::new(10);
        short.add([4, 2]);
        short.add([2]);
        assert_eq!(short.finish(), (vec![2, 4], false));
    }
}
