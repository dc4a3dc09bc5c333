//! [`NameMap`]: the one map type of the core — string keys, insertion order, a `Vec` inside.
//!
//! Every map the core keeps is small and keyed by a name: event properties and traits (a handful
//! of keys), consent categories (three to ten), the tracking plan (tens of events). A vector of
//! pairs searched linearly beats a B-tree at these sizes, keeps the order the caller gave (so a
//! message's properties go on the wire in the order they were set, like JavaScript objects), and
//! is one small piece of code per value type instead of a B-tree instantiation per map (which
//! matters for the browser bundle). Equality ignores order, like a map's should.

use std::fmt;

/// A map from names to `V`, in insertion order, with unique keys (see the module docs).
#[derive(Clone)]
pub struct NameMap<V> {
    entries: Vec<(String, V)>,
}

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        NameMap { entries: Vec::new() }
    }
}

impl<V> NameMap<V> {
    /// An empty map.
    pub const fn new() -> Self {
        NameMap { entries: Vec::new() }
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        NameMap {
            entries: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }

    // `get` and `get_mut` through `position`: one search loop per value type in the bundle.
    pub fn get(&self, key: &str) -> Option<&V> {
        Some(&self.entries[self.position(key)?].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let i = self.position(key)?;
        Some(&mut self.entries[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`; an existing key keeps its position. Returns the old value.
    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        match self.position(&key) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Appends `key` without checking for an existing entry: only for keys known to be new
    /// (a fresh map filled from distinct keys).
    #[cfg(feature = "serde")]
    pub(crate) fn push_unchecked(&mut self, key: String, value: V) {
        self.entries.push((key, value));
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        self.position(key).map(|i| self.entries.remove(i).1)
    }

    /// The value of `key`, inserting `make()` first when missing.
    pub fn get_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.position(key) {
            Some(i) => i,
            None => {
                self.entries.push((key.to_string(), make()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    pub fn iter(&self) -> Iter<'_, V> {
        Iter(self.entries.iter())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut V)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// Keeps the entries for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut V) -> bool) {
        retain(&mut self.entries, |(k, v)| keep(k, v));
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// `v.retain_mut(keep)`: keeps the elements for which `keep` returns true, in order. One plain
/// loop (std's two-phase loop with its drop guard is twice the code in the browser bundle, per
/// element type).
pub fn retain<T>(v: &mut Vec<T>, mut keep: impl FnMut(&mut T) -> bool) {
    let mut kept = 0;
    for i in 0..v.len() {
        if keep(&mut v[i]) {
            // `kept <= i`: a swap of the two elements without `swap`'s out-of-line bounds checks.
            if kept < i {
                let (head, tail) = v.split_at_mut(i);
                std::mem::swap(&mut head[kept], &mut tail[0]);
            }
            kept += 1;
        }
    }
    v.truncate(kept);
}

/// Iterator over `(&key, &value)` in insertion order.
pub struct Iter<'a, V>(std::slice::Iter<'a, (String, V)>);

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a String, &'a V);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<'a, V> IntoIterator for &'a NameMap<V> {
    type Item = (&'a String, &'a V);
    type IntoIter = Iter<'a, V>;
    fn into_iter(self) -> Iter<'a, V> {
        self.iter()
    }
}

impl<V> IntoIterator for NameMap<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<V> Extend<(String, V)> for NameMap<V> {
    fn extend<I: IntoIterator<Item = (String, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<V> FromIterator<(String, V)> for NameMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        let mut map = NameMap::new();
        map.extend(iter);
        map
    }
}

impl<V, const N: usize> From<[(String, V); N]> for NameMap<V> {
    fn from(entries: [(String, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<V> std::ops::Index<&str> for NameMap<V> {
    type Output = V;
    /// The value of `key`; panics when there is none (like `BTreeMap` and `serde_json::Map`).
    fn index(&self, key: &str) -> &V {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no entry named {key:?}"),
        }
    }
}

impl<V: PartialEq> PartialEq for NameMap<V> {
    /// Same keys with equal values, in any order.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<V: Eq> Eq for NameMap<V> {}

impl<V: fmt::Debug> fmt::Debug for NameMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(feature = "serde")]
mod serde_impls {
    use super::NameMap;
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    use serde::ser::{Serialize, SerializeMap, Serializer};

    impl<V: Serialize> Serialize for NameMap<V> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.len()))?;
            for (k, v) in self {
                map.serialize_entry(k, v)?;
            }
            map.end()
        }
    }

    impl<'de, V: Deserialize<'de>> Deserialize<'de> for NameMap<V> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V2<V>(std::marker::PhantomData<V>);
            impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
                type Value = NameMap<V>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<NameMap<V>, A::Error> {
                    let mut map = NameMap::new();
                    while let Some((k, v)) = a.next_entry::<String, V>()? {
                        map.insert(k, v);
                    }
                    Ok(map)
                }
            }
            d.deserialize_map(V2(std::marker::PhantomData))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_insertion_order_and_unique_keys() {
        let mut m = NameMap::new();
        assert_eq!(m.insert("b".into(), 1), None);
        m.insert("a".into(), 2);
        assert_eq!(m.insert("b".into(), 3), Some(1));
        assert_eq!(m.keys().map(String::as_str).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(m.get("b"), Some(&3));
        assert_eq!(m.remove("b"), Some(3));
        assert_eq!(m.len(), 1);
        *m.get_or_insert_with("c", || 7) += 1;
        assert_eq!(m.get("c"), Some(&8));
        m.retain(|k, _| k != "a");
        assert_eq!(m.keys().collect::<Vec<_>>(), ["c"]);
    }

    #[test]
    fn retain_keeps_order() {
        let mut m: NameMap<u8> = (0..6u8).map(|i| (i.to_string(), i)).collect();
        m.retain(|_, v| *v % 2 == 1);
        let kept: Vec<(String, u8)> = m.into_iter().collect();
        assert_eq!(kept, [("1".into(), 1), ("3".into(), 3), ("5".into(), 5)]);
        for drop_at in 0..5 {
            let mut v = vec![1, 2, 3, 4, 5];
            retain(&mut v, |x| *x != drop_at + 1 && *x != 5);
            let mut want = vec![1, 2, 3, 4, 5];
            want.retain(|x| *x != drop_at + 1 && *x != 5);
            assert_eq!(v, want);
        }
    }

    #[test]
    fn equality_ignores_order() {
        let a: NameMap<u8> = [("x".to_string(), 1), ("y".to_string(), 2)].into();
        let b: NameMap<u8> = [("y".to_string(), 2), ("x".to_string(), 1)].into();
        let c: NameMap<u8> = [("y".to_string(), 2)].into();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
