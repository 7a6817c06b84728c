//! When a table that grew for a rush gives its memory back: the server's
//! tables that fill with a burst (handshakes in progress, tokens used)
//! keep their entries on random pages, so a table left at its peak size
//! stays resident.

/// A table this small is left at its size: shrinking it would gain little.
pub(super) const SHRINK_ABOVE: usize = 64;

/// The capacity to shrink a table of `len` entries to, if its `capacity`
/// is over four times what it holds (and over [`SHRINK_ABOVE`]): room for
/// twice its entries, so it does not grow again at once.
pub(super) const fn shrunk_capacity(len: usize, capacity: usize) -> Option<usize> {
    if capacity > SHRINK_ABOVE && capacity > 4 * len {
        Some(2 * len)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_large_mostly_empty_table_shrinks() {
        assert_eq!(shrunk_capacity(10, 8192), Some(20));
        assert_eq!(shrunk_capacity(0, 8192), Some(0));
        assert_eq!(shrunk_capacity(3_000, 8192), None);
        assert_eq!(shrunk_capacity(0, SHRINK_ABOVE), None);
    }
}
