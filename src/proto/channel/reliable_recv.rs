//! The receive half of a reliable channel: duplicates dropped, fragments
//! reassembled, messages released in order (or at once, unordered).

use super::FRAGMENT_LEN;
use super::reliable_send::WINDOW;
use crate::wire::frame_body::{FragmentBody, MessageId};
use std::collections::VecDeque;

/// Why a reliable frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecvError {
    /// The id is further ahead than a sender may go.
    OutOfWindow,
    /// The fragment count exceeds what the largest message needs, or
    /// changed between fragments, or a fragment other than the last is
    /// not full.
    BadFragment,
}

#[derive(Debug, Default)]
enum Slot {
    #[default]
    Empty,
    /// Released already (unordered), waiting only for the window to pass.
    Done,
    /// Complete, waiting for earlier ids (ordered).
    Message(Vec<u8>),
    Assembling(Assembly),
}

#[derive(Debug)]
struct Assembly {
    count: u16,
    received: u16,
    parts: Vec<Option<Vec<u8>>>,
}

/// One reliable channel's receive state.
#[derive(Debug)]
pub(crate) struct ReliableRecv {
    ordered: bool,
    max_fragments: u16,
    /// The lowest id not yet released.
    next: MessageId,
    /// Slot `i` is id `next + i`; grows only as far as ids arrive.
    slots: VecDeque<Slot>,
    /// Bytes held in slots: out-of-order messages and partial fragments.
    held: usize,
}

impl ReliableRecv {
    pub(crate) fn new(ordered: bool, max_message_len: usize) -> Self {
        let max_fragments = max_message_len.div_ceil(FRAGMENT_LEN).max(2);
        Self {
            ordered,
            max_fragments: u16::try_from(max_fragments).unwrap_or(u16::MAX),
            next: MessageId::default(),
            slots: VecDeque::new(),
            held: 0,
        }
    }

    /// Bytes held: out-of-order messages and partial fragments.
    pub(crate) const fn held_bytes(&self) -> usize {
        self.held
    }

    /// The slot for `id`: `Ok(None)` for an id already released.
    ///
    /// Ids in the half of the id space behind `next` are late duplicates
    /// (a copy delayed in the network past later resends); ids ahead past
    /// the window are refused, as no honest sender goes there.
    fn slot(&mut self, id: MessageId) -> Result<Option<&mut Slot>, RecvError> {
        let ahead = id.since(self.next);
        if ahead >= MessageId::SPACE / 2 {
            return Ok(None);
        }
        if ahead >= WINDOW {
            return Err(RecvError::OutOfWindow);
        }
        let index = usize::from(ahead);
        if self.slots.len() <= index {
            self.slots.resize_with(index + 1, Slot::default);
        }
        Ok(self.slots.get_mut(index))
    }

    /// Takes a whole message; `deliver` gets every message it releases.
    /// Returns whether it was new.
    pub(crate) fn message(
        &mut self,
        id: MessageId,
        bytes: &[u8],
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<bool, RecvError> {
        // The common case, in order with nothing held: no slot to touch.
        if id == self.next && self.slots.is_empty() {
            deliver(bytes);
            self.next = self.next.add(1);
            return Ok(true);
        }
        let hold = self.ordered && id != self.next;
        let Some(slot) = self.slot(id)? else {
            return Ok(false);
        };
        if !matches!(slot, Slot::Empty) {
            return Ok(false);
        }
        if hold {
            *slot = Slot::Message(bytes.to_vec());
            self.held += bytes.len();
        } else {
            *slot = Slot::Done;
            deliver(bytes);
        }
        self.release(deliver);
        Ok(true)
    }

    /// Takes a fragment; a completed message is handled as
    /// [`ReliableRecv::message`] would. Returns whether it was new.
    pub(crate) fn fragment(
        &mut self,
        fragment: &FragmentBody<'_>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<bool, RecvError> {
        let FragmentBody {
            id,
            index,
            count,
            data,
        } = *fragment;
        let last = usize::from(index) + 1 == usize::from(count);
        if count > self.max_fragments
            || data.len() > FRAGMENT_LEN
            || (!last && data.len() != FRAGMENT_LEN)
        {
            return Err(RecvError::BadFragment);
        }
        let hold = self.ordered && id != self.next;
        let Some(slot) = self.slot(id)? else {
            return Ok(false);
        };
        if matches!(slot, Slot::Empty) {
            *slot = Slot::Assembling(Assembly {
                count,
                received: 0,
                parts: std::iter::repeat_with(|| None)
                    .take(usize::from(count))
                    .collect(),
            });
        }
        let Slot::Assembling(assembly) = slot else {
            return Ok(false);
        };
        if assembly.count != count {
            return Err(RecvError::BadFragment);
        }
        let Some(part) = assembly.parts.get_mut(usize::from(index)) else {
            return Err(RecvError::BadFragment);
        };
        if part.is_some() {
            return Ok(false);
        }
        *part = Some(data.to_vec());
        assembly.received += 1;
        if assembly.received < assembly.count {
            self.held += data.len();
            return Ok(true);
        }
        let message: Vec<u8> = assembly.parts.drain(..).flatten().flatten().collect();
        // The earlier fragments were held; the whole message now is, or is not.
        let earlier = message.len() - data.len();
        if hold {
            *slot = Slot::Message(message);
            self.held += data.len();
        } else {
            *slot = Slot::Done;
            deliver(&message);
            self.held -= earlier.min(self.held);
        }
        self.release(deliver);
        Ok(true)
    }

    /// Releases what the front allows and moves the window past it.
    fn release(&mut self, deliver: &mut dyn FnMut(&[u8])) {
        while let Some(front) = self.slots.front_mut() {
            match front {
                Slot::Done => {}
                Slot::Message(_) => {
                    if let Slot::Message(bytes) = std::mem::take(front) {
                        self.held -= bytes.len().min(self.held);
                        deliver(&bytes);
                    }
                }
                Slot::Empty | Slot::Assembling(_) => return,
            }
            self.slots.pop_front();
            self.next = self.next.add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(recv: &mut ReliableRecv, id: u16, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        recv.message(MessageId::wrapping(id), bytes, &mut |m| {
            got.push(m.to_vec())
        })
        .unwrap();
        got
    }

    #[test]
    fn ordered_holds_until_the_gap_fills_then_releases_in_order() {
        let mut recv = ReliableRecv::new(true, 1 << 18);
        assert!(collect(&mut recv, 1, b"b").is_empty());
        assert!(collect(&mut recv, 2, b"c").is_empty());
        assert_eq!(recv.held_bytes(), 2);
        assert_eq!(collect(&mut recv, 0, b"a"), [b"a", b"b", b"c"]);
        assert_eq!(recv.held_bytes(), 0);
        assert!(collect(&mut recv, 1, b"b").is_empty(), "duplicate");
    }

    #[test]
    fn unordered_releases_at_once_and_only_once() {
        let mut recv = ReliableRecv::new(false, 1 << 18);
        assert_eq!(collect(&mut recv, 3, b"d"), [b"d"]);
        assert!(collect(&mut recv, 3, b"d").is_empty());
        assert_eq!(collect(&mut recv, 0, b"a"), [b"a"]);
        assert_eq!(recv.held_bytes(), 0);
    }

    #[test]
    fn ids_beyond_the_window_are_refused_and_old_ones_ignored() {
        let mut recv = ReliableRecv::new(true, 1 << 18);
        let mut sink = |_: &[u8]| {};
        assert_eq!(
            recv.message(MessageId::wrapping(WINDOW), b"x", &mut sink),
            Err(RecvError::OutOfWindow)
        );
        // An id just behind 0 (wrapped) is an old duplicate.
        assert_eq!(
            recv.message(MessageId::wrapping(MessageId::SPACE - 1), b"x", &mut sink),
            Ok(false)
        );
    }

    #[test]
    fn fragments_reassemble_in_any_order_and_bad_shapes_are_refused() {
        let mut recv = ReliableRecv::new(true, 3 * FRAGMENT_LEN);
        let parts = [
            vec![1u8; FRAGMENT_LEN],
            vec![2u8; FRAGMENT_LEN],
            vec![3u8; 10],
        ];
        let mut got = Vec::new();
        for index in [2u16, 0, 1] {
            let f = FragmentBody {
                id: MessageId::wrapping(0),
                index,
                count: 3,
                data: &parts[usize::from(index)],
            };
            recv.fragment(&f, &mut |m| got.push(m.to_vec())).unwrap();
        }
        assert_eq!(got, [parts.concat()]);
        assert_eq!(recv.held_bytes(), 0);
        let mut sink = |_: &[u8]| {};
        let too_many = FragmentBody {
            id: MessageId::wrapping(1),
            index: 0,
            count: 4,
            data: &parts[0],
        };
        assert_eq!(
            recv.fragment(&too_many, &mut sink),
            Err(RecvError::BadFragment)
        );
        let short_middle = FragmentBody {
            id: MessageId::wrapping(1),
            index: 0,
            count: 3,
            data: b"short",
        };
        assert_eq!(
            recv.fragment(&short_middle, &mut sink),
            Err(RecvError::BadFragment)
        );
    }
}
