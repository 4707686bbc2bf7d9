//! A list that object versions share: a copy-on-write vector in fixed-size chunks of shared
//! elements, so that cloning an object whose list holds S entries and changing one entry costs
//! O(S / CHUNK + CHUNK) reference-count updates instead of a deep copy of S entries.
//!
//! Owns: [`SharedList`]. Used for lists that grow with the size of the world and are rewritten
//! one entry at a time (a Link's `status.mirrorServices`, one entry per mirrored Service, written
//! once per mirrored Service). Inputs/outputs: elements; it serializes, compares and prints
//! exactly like a `Vec<T>` (equality is element-wise; shared chunks compare by pointer first).
//! Must not touch: anything but its elements.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// Elements per chunk. A write copies one chunk's pointers and the chunk table.
const CHUNK: usize = 64;

#[derive(Clone)]
pub struct SharedList<T> {
    chunks: Vec<Arc<Vec<Arc<T>>>>,
    len: usize,
}

impl<T> Default for SharedList<T> {
    fn default() -> Self {
        SharedList {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> SharedList<T> {
    pub fn new() -> SharedList<T> {
        SharedList::default()
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter().map(|e| &**e))
    }
    /// (chunk, offset) of position `i`; chunks may hold fewer than `CHUNK` after removals.
    fn locate(&self, mut i: usize) -> Option<(usize, usize)> {
        if i >= self.len {
            return None;
        }
        // Full chunks first: every chunk but those touched by a removal holds exactly CHUNK.
        for (c, chunk) in self.chunks.iter().enumerate() {
            if i < chunk.len() {
                return Some((c, i));
            }
            i -= chunk.len();
        }
        None
    }
    pub fn get(&self, i: usize) -> Option<&T> {
        let (c, o) = self.locate(i)?;
        Some(&self.chunks[c][o])
    }
    pub fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(Arc::new(value)),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(Arc::new(value));
                self.chunks.push(Arc::new(chunk));
            }
        }
        self.len += 1;
    }
    /// Replaces the element at `i`; false if out of range.
    pub fn set(&mut self, i: usize, value: T) -> bool {
        let Some((c, o)) = self.locate(i) else {
            return false;
        };
        Arc::make_mut(&mut self.chunks[c])[o] = Arc::new(value);
        true
    }
    /// Removes the element at `i`, keeping the order of the others.
    pub fn remove(&mut self, i: usize) -> Option<T>
    where
        T: Clone,
    {
        let (c, o) = self.locate(i)?;
        let removed = Arc::make_mut(&mut self.chunks[c]).remove(o);
        if self.chunks[c].is_empty() {
            self.chunks.remove(c);
        }
        self.len -= 1;
        Some(Arc::unwrap_or_clone(removed))
    }
    /// Keeps the elements for which `keep` is true (a rebuild: O(len)).
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let kept: Vec<Arc<T>> = self
            .chunks
            .iter()
            .flat_map(|c| c.iter())
            .filter(|e| keep(e))
            .cloned()
            .collect();
        *self = SharedList::from_arcs(kept);
    }
    fn from_arcs(items: Vec<Arc<T>>) -> SharedList<T> {
        let len = items.len();
        let chunks = items.chunks(CHUNK).map(|c| Arc::new(c.to_vec())).collect();
        SharedList { chunks, len }
    }
}

impl<T> FromIterator<T> for SharedList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        SharedList::from_arcs(iter.into_iter().map(Arc::new).collect())
    }
}

impl<T> From<Vec<T>> for SharedList<T> {
    fn from(v: Vec<T>) -> Self {
        v.into_iter().collect()
    }
}

impl<T: PartialEq> PartialEq for SharedList<T> {
    fn eq(&self, other: &Self) -> bool {
        if self.len != other.len {
            return false;
        }
        // Versions of one list share most chunks: compare those by pointer.
        if self.chunks.len() == other.chunks.len()
            && self
                .chunks
                .iter()
                .zip(&other.chunks)
                .all(|(a, b)| a.len() == b.len())
        {
            return self.chunks.iter().zip(&other.chunks).all(|(a, b)| {
                Arc::ptr_eq(a, b)
                    || a.iter()
                        .zip(b.iter())
                        .all(|(x, y)| Arc::ptr_eq(x, y) || x == y)
            });
        }
        self.iter().zip(other.iter()).all(|(x, y)| x == y)
    }
}

impl<T: Eq> Eq for SharedList<T> {}

impl<T: fmt::Debug> fmt::Debug for SharedList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Serialize> Serialize for SharedList<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for SharedList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<T>::deserialize(d)?.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_ops(n: usize) -> (SharedList<u32>, Vec<u32>) {
        let mut l = SharedList::new();
        let mut v = Vec::new();
        for i in 0..n as u32 {
            l.push(i);
            v.push(i);
        }
        (l, v)
    }

    #[test]
    fn behaves_like_a_vec() {
        let (mut l, mut v) = model_ops(300);
        assert!(l.iter().eq(v.iter()));
        assert!(l.set(130, 7));
        v[130] = 7;
        assert!(!l.set(300, 1));
        assert_eq!(l.remove(64), Some(v.remove(64)));
        assert_eq!(l.remove(0), Some(v.remove(0)));
        assert_eq!(l.remove(v.len() - 1), Some(v.pop().unwrap()));
        assert_eq!(l.remove(v.len()), None);
        assert!(l.iter().eq(v.iter()));
        assert_eq!(l.len(), v.len());
        for (i, x) in v.iter().enumerate() {
            assert_eq!(l.get(i), Some(x));
        }
        l.push(9);
        v.push(9);
        assert!(l.set(200, 5));
        v[200] = 5;
        assert!(l.iter().eq(v.iter()));
        l.retain(|x| x % 3 != 0);
        v.retain(|x| x % 3 != 0);
        assert!(l.iter().eq(v.iter()));
        assert_eq!(l, SharedList::from(v.clone()));
        assert_eq!(format!("{l:?}"), format!("{v:?}"));
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            serde_json::to_string(&v).unwrap()
        );
        let back: SharedList<u32> =
            serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, l);
    }

    #[test]
    fn a_write_leaves_earlier_versions_alone() {
        let (l, v) = model_ops(200);
        let mut m = l.clone();
        m.set(100, 1000);
        assert!(l.iter().eq(v.iter()), "the original is unchanged");
        assert_ne!(l, m);
        assert_eq!(m.get(100), Some(&1000));
        // Unchanged chunks stay shared.
        let shared = l
            .chunks
            .iter()
            .zip(&m.chunks)
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count();
        assert_eq!(shared, l.chunks.len() - 1);
        // Equal content compares equal whatever the chunking.
        let mut a = SharedList::from(vec![1, 2, 3]);
        a.remove(0);
        let b = SharedList::from(vec![2, 3]);
        assert_eq!(a, b);
        assert_ne!(a, SharedList::from(vec![2, 4]));
    }
}
