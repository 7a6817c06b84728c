//! A fixed-size histogram of durations, for how long datagrams wait in a
//! port ([`crate::engine::PortStats::dwell`]).
//!
//! Log-linear buckets: one per microsecond below 16 µs, then eight per
//! power of two, so a quantile is known to within 12.5% from 16 µs up to
//! about 18 minutes, in 1.7 KiB that never grows.

use std::time::Duration;

/// Buckets per power of two above [`LINEAR`].
const SUB_BUCKETS: usize = 8;
/// log2 of [`SUB_BUCKETS`].
const SUB_BITS: u32 = 3;
/// Microseconds counted one bucket each.
const LINEAR: u64 = 16;
/// Powers of two above [`LINEAR`] with buckets of their own (16 µs .. 2^30 µs).
const OCTAVES: usize = 26;
/// All buckets; the last also takes everything longer.
const BUCKETS: usize = LINEAR as usize + OCTAVES * SUB_BUCKETS;

/// Counts of durations in log-linear buckets.
///
/// # Examples
///
/// ```
/// use berth::engine::LatencyHistogram;
/// use std::time::Duration;
///
/// let mut h = LatencyHistogram::default();
/// for us in 1..=100 {
///     h.record(Duration::from_micros(us), 1);
/// }
/// assert_eq!(h.count(), 100);
/// let p50 = h.quantile(0.5).unwrap();
/// assert!(p50 >= Duration::from_micros(50) && p50 <= Duration::from_micros(57));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    // Inline, not boxed: port stats are copied every 100 ms, and a copy
    // must not allocate (the port threads allocate nothing in steady state).
    counts: [u64; BUCKETS],
    /// All counted durations added up, in microseconds.
    total_micros: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            counts: [0; BUCKETS],
            total_micros: 0,
        }
    }
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count())
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .finish()
    }
}

impl LatencyHistogram {
    /// Counts `n` durations of `d`.
    pub fn record(&mut self, d: Duration, n: u64) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if let Some(count) = self.counts.get_mut(bucket(us)) {
            *count = count.saturating_add(n);
        }
        self.total_micros = self.total_micros.saturating_add(us.saturating_mul(n));
    }

    /// All counted durations added up (for a mean, or a Prometheus `_sum`).
    pub fn total(&self) -> Duration {
        Duration::from_micros(self.total_micros)
    }

    /// How many counted durations were at most `limit`, to the buckets'
    /// resolution: a bucket counts when all of it is at most `limit` (so a
    /// bound between bucket edges counts a little less than it could).
    pub fn count_up_to(&self, limit: Duration) -> u64 {
        let limit = u64::try_from(limit.as_micros()).unwrap_or(u64::MAX);
        self.counts
            .iter()
            .enumerate()
            .take_while(|&(index, _)| upper_edge(index) <= limit)
            .fold(0, |sum, (_, &count)| sum.saturating_add(count))
    }

    /// How many durations were counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().fold(0, |sum, &c| sum.saturating_add(c))
    }

    /// The duration below which a fraction `q` (0..=1) of the counted ones
    /// lie, as the upper edge of its bucket (so never an underestimate
    /// within the histogram's range); `None` when nothing was counted.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (index, &count) in self.counts.iter().enumerate() {
            seen = seen.saturating_add(count);
            if seen >= rank {
                return Some(Duration::from_micros(upper_edge(index)));
            }
        }
        Some(Duration::from_micros(upper_edge(BUCKETS - 1)))
    }

    /// What was counted in `self` but not in `earlier`, an older copy of the
    /// same histogram: the durations of the time between the two.
    #[must_use]
    pub fn since(&self, earlier: &Self) -> Self {
        let mut window = self.clone();
        for (count, &old) in window.counts.iter_mut().zip(earlier.counts.iter()) {
            *count = count.saturating_sub(old);
        }
        window.total_micros = window.total_micros.saturating_sub(earlier.total_micros);
        window
    }

    /// Adds what `other` counted (another port's, say).
    pub fn merge(&mut self, other: &Self) {
        for (count, &more) in self.counts.iter_mut().zip(other.counts.iter()) {
            *count = count.saturating_add(more);
        }
        self.total_micros = self.total_micros.saturating_add(other.total_micros);
    }
}

/// The bucket of `us` microseconds.
fn bucket(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    // us >= 16, so its top bit is at 4 or above.
    let top = 63 - us.leading_zeros();
    let octave = (top - LINEAR.trailing_zeros()) as usize;
    let sub = ((us >> (top - SUB_BITS)) as usize) & (SUB_BUCKETS - 1);
    (LINEAR as usize + octave * SUB_BUCKETS + sub).min(BUCKETS - 1)
}

/// The largest microsecond count in bucket `index`.
fn upper_edge(index: usize) -> u64 {
    if index < LINEAR as usize {
        return index as u64;
    }
    let octave = (index - LINEAR as usize) / SUB_BUCKETS;
    let sub = ((index - LINEAR as usize) % SUB_BUCKETS) as u64;
    let top = LINEAR.trailing_zeros() + octave as u32;
    let width = 1u64 << (top - SUB_BITS);
    (1u64 << top) + (sub + 1) * width - 1
}

#[cfg(test)]
mod tests {
    use super::{BUCKETS, LatencyHistogram, bucket, upper_edge};

    #[test]
    fn totals_and_counts_up_to_a_bound_follow_what_was_recorded() {
        use std::time::Duration;
        let mut h = LatencyHistogram::default();
        h.record(Duration::from_micros(5), 2);
        h.record(Duration::from_micros(100), 1);
        h.record(Duration::from_millis(3), 1);
        assert_eq!(h.total(), Duration::from_micros(5 * 2 + 100 + 3000));
        assert_eq!(h.count_up_to(Duration::from_micros(10)), 2);
        assert_eq!(h.count_up_to(Duration::from_micros(120)), 3);
        assert_eq!(h.count_up_to(Duration::from_secs(1)), 4);
        let earlier = h.clone();
        h.record(Duration::from_micros(7), 1);
        let window = h.since(&earlier);
        assert_eq!(
            (window.count(), window.total()),
            (1, Duration::from_micros(7))
        );
    }
    use std::time::Duration;

    #[test]
    fn every_value_falls_in_a_bucket_whose_upper_edge_covers_it() {
        let mut previous = 0;
        for us in (0..5_000u64).chain([1 << 20, (1 << 29) + 7, u64::MAX / 2]) {
            let b = bucket(us);
            assert!(b >= previous || us > 5_000, "buckets go up with the value");
            previous = b;
            if b < BUCKETS - 1 {
                assert!(upper_edge(b) >= us, "{us} µs in bucket {b}");
                assert!(b == 0 || upper_edge(b - 1) < us, "{us} µs in bucket {b}");
            }
        }
    }

    #[test]
    fn quantiles_are_within_an_eighth_above() {
        let mut h = LatencyHistogram::default();
        for us in 1..=10_000u64 {
            h.record(Duration::from_micros(us), 1);
        }
        for (q, exact) in [(0.5, 5_000.0), (0.9, 9_000.0), (0.99, 9_900.0)] {
            let got = h.quantile(q).unwrap().as_micros() as f64;
            assert!(
                got >= exact && got <= exact * 1.125,
                "q{q}: {got} vs {exact}"
            );
        }
        assert_eq!(LatencyHistogram::default().quantile(0.5), None);
    }

    #[test]
    fn a_window_is_the_difference_of_two_copies_and_merge_adds() {
        let mut h = LatencyHistogram::default();
        h.record(Duration::from_micros(100), 5);
        let before = h.clone();
        h.record(Duration::from_millis(3), 2);
        let window = h.since(&before);
        assert_eq!(window.count(), 2);
        assert!(window.quantile(0.0).unwrap() >= Duration::from_millis(3));
        let mut both = window.clone();
        both.merge(&before);
        assert_eq!(both, h);
    }

    #[test]
    fn huge_durations_land_in_the_last_bucket() {
        let mut h = LatencyHistogram::default();
        h.record(Duration::MAX, 1);
        assert_eq!(h.count(), 1);
        assert!(h.quantile(1.0).unwrap() >= Duration::from_secs(1000));
    }
}
