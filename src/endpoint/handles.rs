//! Connection handles that cannot outlive their connection: a slot index
//! and a generation, bumped each time the slot is freed, so a handle kept
//! past its connection's end is refused instead of reaching another
//! connection that reuses the slot.

/// A connection of an endpoint, as the application names it. Copyable;
/// stays refused forever once its connection was freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionHandle(pub u64);

impl ConnectionHandle {
    fn new(index: u32, generation: u32) -> Self {
        Self(u64::from(generation) << 32 | u64::from(index))
    }

    pub(crate) fn index(self) -> u32 {
        self.0 as u32
    }

    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

struct Slot<T> {
    /// Never 0, so that a zeroed handle is never valid.
    generation: u32,
    value: Option<T>,
}

/// Values in reusable slots, each reached by index (inside the endpoint)
/// or by a checked handle (from the application).
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Stores `value`; its handle.
    pub(crate) fn insert(&mut self, value: T) -> ConnectionHandle {
        self.len += 1;
        if let Some(i) = self.free.pop() {
            let slot = &mut self.slots[i as usize];
            slot.value = Some(value);
            return ConnectionHandle::new(i, slot.generation);
        }
        let i = self.slots.len() as u32;
        self.slots.push(Slot {
            generation: 1,
            value: Some(value),
        });
        ConnectionHandle::new(i, 1)
    }

    /// Frees slot `index`; its value.
    pub(crate) fn remove(&mut self, index: u32) -> Option<T> {
        let slot = self.slots.get_mut(index as usize)?;
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1).max(1);
        self.free.push(index);
        self.len -= 1;
        Some(value)
    }

    /// The handle of the value in slot `index`.
    pub(crate) fn handle(&self, index: u32) -> Option<ConnectionHandle> {
        let slot = self.slots.get(index as usize)?;
        slot.value
            .as_ref()
            .map(|_| ConnectionHandle::new(index, slot.generation))
    }

    pub(crate) fn get(&self, index: u32) -> Option<&T> {
        self.slots.get(index as usize)?.value.as_ref()
    }

    pub(crate) fn get_mut(&mut self, index: u32) -> Option<&mut T> {
        self.slots.get_mut(index as usize)?.value.as_mut()
    }

    /// The slot index of `h` while its value lives.
    pub(crate) fn check(&self, h: ConnectionHandle) -> Option<u32> {
        let slot = self.slots.get(h.index() as usize)?;
        (slot.generation == h.generation() && slot.value.is_some()).then_some(h.index())
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_handle_stays_refused_when_its_slot_is_reused() {
        let mut s = Slab::default();
        let a = s.insert("a");
        assert_eq!(s.check(a), Some(a.index()));
        assert_eq!(s.remove(a.index()), Some("a"));
        assert_eq!(s.check(a), None);
        let b = s.insert("b");
        assert_eq!(b.index(), a.index(), "the slot is reused");
        assert_eq!(s.check(a), None, "the old handle is not the new one");
        assert_eq!(s.check(b), Some(b.index()));
        assert_eq!(s.check(ConnectionHandle(0)), None);
        assert_eq!(s.len(), 1);
    }
}
