//! What this run has written and not deleted, shared by all clients.
//!
//! A download pins its object until it ends, and a delete takes only objects nobody is
//! reading and removes them before the request goes out. So no client reads an object
//! another is deleting, and "not found" on a read is a real loss, never a race of
//! this run with itself. Each object costs a few words: its contents are regenerated
//! from its seed.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use rand::Rng;

/// Which client wrote an object, and its sequence number there: together, its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectId {
    pub client: u32,
    pub n: u32,
}

/// An object committed by this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectRecord {
    pub id: ObjectId,
    pub seed: u64,
    pub size: u64,
}

struct Slot {
    record: ObjectRecord,
    readers: u32,
}

#[derive(Default)]
struct State {
    live: Vec<Slot>,
    position: HashMap<ObjectId, usize>,
}

impl State {
    fn remove(&mut self, i: usize) -> ObjectRecord {
        let slot = self.live.swap_remove(i);
        self.position.remove(&slot.record.id);
        if let Some(moved) = self.live.get(i) {
            self.position.insert(moved.record.id, i);
        }
        slot.record
    }
}

/// Attempts at finding an object nobody reads before a delete gives up for now.
const DELETE_TRIES: usize = 8;

#[derive(Default)]
pub struct Registry {
    state: Mutex<State>,
}

impl Registry {
    /// Records an object whose upload has been committed.
    pub fn add(&self, record: ObjectRecord) {
        let mut s = self.state.lock();
        let i = s.live.len();
        s.live.push(Slot { record, readers: 0 });
        s.position.insert(record.id, i);
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.state.lock().live.is_empty()
    }

    /// A random live object, pinned against deletion until the guard is dropped.
    pub fn checkout<R: Rng>(self: &Arc<Self>, rng: &mut R) -> Option<ReadGuard> {
        let mut s = self.state.lock();
        if s.live.is_empty() {
            return None;
        }
        let i = rng.gen_range(0..s.live.len());
        s.live[i].readers += 1;
        Some(ReadGuard {
            registry: self.clone(),
            record: s.live[i].record,
        })
    }

    /// Removes a random object that nobody is reading, for a delete.
    pub fn take_for_delete<R: Rng>(&self, rng: &mut R) -> Option<ObjectRecord> {
        let mut s = self.state.lock();
        for _ in 0..DELETE_TRIES {
            if s.live.is_empty() {
                return None;
            }
            let i = rng.gen_range(0..s.live.len());
            if s.live[i].readers == 0 {
                return Some(s.remove(i));
            }
        }
        None
    }

    /// Sizes of the live objects of one client, by sequence number.
    pub fn live_of(&self, client: u32) -> HashMap<u32, u64> {
        let s = self.state.lock();
        s.live
            .iter()
            .filter(|slot| slot.record.id.client == client)
            .map(|slot| (slot.record.id.n, slot.record.size))
            .collect()
    }

    fn release(&self, id: ObjectId) {
        let mut s = self.state.lock();
        if let Some(&i) = s.position.get(&id) {
            s.live[i].readers -= 1;
        }
    }
}

/// A pinned object: it stays out of deletes' reach while this lives.
pub struct ReadGuard {
    registry: Arc<Registry>,
    record: ObjectRecord,
}

impl ReadGuard {
    pub fn record(&self) -> ObjectRecord {
        self.record
    }
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        self.registry.release(self.record.id);
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn record(client: u32, n: u32) -> ObjectRecord {
        ObjectRecord {
            id: ObjectId { client, n },
            seed: (client as u64) << 32 | n as u64,
            size: n as u64 * 10,
        }
    }

    #[test]
    fn a_pinned_object_is_never_taken_for_deletion() {
        let reg = Arc::new(Registry::default());
        let mut rng = StdRng::seed_from_u64(3);
        reg.add(record(0, 1));
        let guard = reg.checkout(&mut rng).unwrap();
        assert_eq!(guard.record(), record(0, 1));
        assert_eq!(reg.take_for_delete(&mut rng), None);
        drop(guard);
        assert_eq!(reg.take_for_delete(&mut rng), Some(record(0, 1)));
        assert!(reg.is_empty());
        assert!(reg.checkout(&mut rng).is_none());
    }

    #[test]
    fn removal_keeps_every_other_object_reachable() {
        let reg = Arc::new(Registry::default());
        let mut rng = StdRng::seed_from_u64(4);
        for n in 0..50 {
            reg.add(record(n % 3, n));
        }
        // Pin some, delete around them, release: the counts and positions stay right.
        let pins: Vec<ReadGuard> = (0..10).filter_map(|_| reg.checkout(&mut rng)).collect();
        let pinned: Vec<ObjectId> = pins.iter().map(|g| g.record().id).collect();
        let mut deleted = Vec::new();
        while let Some(r) = reg.take_for_delete(&mut rng) {
            assert!(!pinned.contains(&r.id), "{:?} is being read", r.id);
            deleted.push(r.id);
            if deleted.len() == 30 {
                break;
            }
        }
        drop(pins);
        let mut left: Vec<u32> = (0..3)
            .flat_map(|c| reg.live_of(c).into_keys().collect::<Vec<_>>())
            .collect();
        left.sort();
        let mut expected: Vec<u32> = (0..50)
            .filter(|n| !deleted.iter().any(|d| d.n == *n))
            .collect();
        expected.sort();
        assert_eq!(left, expected);
        assert_eq!(reg.live_of(1).get(&1), expected.contains(&1).then_some(&10));
        while reg.take_for_delete(&mut rng).is_some() {}
        assert!(
            reg.is_empty(),
            "nothing stays pinned after the guards are gone"
        );
    }
}
