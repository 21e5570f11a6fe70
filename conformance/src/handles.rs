//! The table from [`Part`] numbers to a backend's own partition handles.

use crate::Part;

/// A backend's partitions, numbered in the order they were made. A dropped one keeps its
/// number, so numbers are never reused.
pub struct Handles<T> {
    slots: Vec<Option<T>>,
}

impl<T> Default for Handles<T> {
    fn default() -> Self {
        Self { slots: Vec::new() }
    }
}

impl<T> Handles<T> {
    /// Numbers a new partition.
    pub fn add(&mut self, handle: T) -> Part {
        self.slots.push(Some(handle));
        Part(u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 partitions"))
    }

    /// Numbers two new partitions, in order.
    pub fn add_pair(&mut self, (head, tail): (T, T)) -> (Part, Part) {
        (self.add(head), self.add(tail))
    }

    /// The partition numbered `part`; panics if it was dropped, as a case must not use it.
    pub fn get(&self, part: Part) -> &T {
        self.slot(part)
            .as_ref()
            .expect("the case used a dropped partition")
    }

    /// The partition numbered `part`, to change it.
    pub fn get_mut(&mut self, part: Part) -> &mut T {
        self.slot_mut(part)
            .as_mut()
            .expect("the case used a dropped partition")
    }

    /// Takes the partition numbered `part` out, to drop it.
    pub fn take(&mut self, part: Part) -> T {
        self.slot_mut(part)
            .take()
            .expect("the case dropped a partition twice")
    }

    /// The partitions not yet dropped.
    pub fn live(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }

    fn slot(&self, part: Part) -> &Option<T> {
        &self.slots[part.0 as usize]
    }

    fn slot_mut(&mut self, part: Part) -> &mut Option<T> {
        &mut self.slots[part.0 as usize]
    }
}
