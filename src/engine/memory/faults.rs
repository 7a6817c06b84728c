//! Seeded faults for the in-memory network: loss, duplication, reordering, delay.

use std::time::Duration;

/// What an in-memory network does to each datagram.
///
/// The default is a perfect link: nothing lost, duplicated or late. Every
/// choice comes from a generator seeded with [`Faults::seed`], so a run
/// driven by a fake clock from one thread replays exactly.
///
/// # Examples
///
/// ```
/// use berth::engine::Faults;
/// use std::time::Duration;
///
/// let faults = Faults::default()
///     .loss(0.2)
///     .duplicate(0.05)
///     .reorder(0.1, Duration::from_millis(30))
///     .delay(Duration::from_millis(50), Duration::from_millis(100))
///     .seed(7);
/// # let _ = faults;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[must_use]
pub struct Faults {
    pub(crate) loss: f64,
    pub(crate) duplicate: f64,
    pub(crate) reorder: f64,
    pub(crate) hold_back: Duration,
    pub(crate) delay: Duration,
    pub(crate) jitter: Duration,
    pub(crate) seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            hold_back: Duration::ZERO,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            seed: 0,
        }
    }
}

/// A probability from a user: NaN and out-of-range values are clamped to 0..=1.
fn probability(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
}

impl Faults {
    /// Chance that a datagram is lost, 0..=1.
    pub fn loss(mut self, probability_lost: f64) -> Self {
        self.loss = probability(probability_lost);
        self
    }

    /// Chance that a delivered datagram arrives twice, 0..=1; the copy
    /// gets its own delay.
    pub fn duplicate(mut self, probability_duplicated: f64) -> Self {
        self.duplicate = probability(probability_duplicated);
        self
    }

    /// Chance, 0..=1, that a datagram is held back by up to `hold_back`
    /// more than its delay, so later datagrams overtake it.
    pub fn reorder(mut self, probability_reordered: f64, hold_back: Duration) -> Self {
        self.reorder = probability(probability_reordered);
        self.hold_back = hold_back;
        self
    }

    /// Each datagram takes `min` plus up to `jitter` more to arrive.
    pub const fn delay(mut self, min: Duration, jitter: Duration) -> Self {
        self.delay = min;
        self.jitter = jitter;
        self
    }

    /// Seed of the generator behind every choice.
    pub const fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// The copies of one datagram that arrive, each after its delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Never arrives.
    Lost,
    /// Arrives once, after this long.
    Once(Duration),
    /// Arrives twice, after each delay.
    Twice(Duration, Duration),
}

/// Draws each datagram's [`Fate`] from [`Faults`] with a seeded generator.
#[derive(Debug, Clone)]
pub(crate) struct FaultInjector {
    faults: Faults,
    state: u64,
}

impl FaultInjector {
    pub(crate) const fn new(faults: Faults) -> Self {
        Self {
            faults,
            state: faults.seed,
        }
    }

    /// What happens to the next datagram.
    pub(crate) fn fate(&mut self) -> Fate {
        if self.chance(self.faults.loss) {
            return Fate::Lost;
        }
        let first = self.delay();
        if self.chance(self.faults.duplicate) {
            Fate::Twice(first, self.delay())
        } else {
            Fate::Once(first)
        }
    }

    fn delay(&mut self) -> Duration {
        let mut delay = self.faults.delay + self.up_to(self.faults.jitter);
        if self.chance(self.faults.reorder) {
            delay += self.up_to(self.faults.hold_back);
        }
        delay
    }

    /// True with probability `p` (always false at 0, always true at 1).
    fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        // 53 random bits as a float in [0, 1).
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        unit < p
    }

    /// A uniform duration in `0..=max`, to the nanosecond.
    fn up_to(&mut self, max: Duration) -> Duration {
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.next() % nanos.saturating_add(1))
    }

    /// SplitMix64: small, fast, and good enough to scatter test faults.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fates(faults: Faults, n: usize) -> Vec<Fate> {
        let mut injector = FaultInjector::new(faults);
        (0..n).map(|_| injector.fate()).collect()
    }

    #[test]
    fn a_perfect_link_delivers_everything_at_once() {
        assert!(
            fates(Faults::default(), 1000)
                .iter()
                .all(|f| *f == Fate::Once(Duration::ZERO))
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_fates_and_another_seed_does_not() {
        let faults = Faults::default()
            .loss(0.3)
            .duplicate(0.1)
            .delay(Duration::from_millis(10), Duration::from_millis(20));
        assert_eq!(fates(faults.seed(1), 500), fates(faults.seed(1), 500));
        assert_ne!(fates(faults.seed(1), 500), fates(faults.seed(2), 500));
    }

    #[test]
    fn rates_are_near_what_was_asked() {
        let n = 100_000;
        let all = fates(Faults::default().loss(0.2).duplicate(0.05).seed(9), n);
        let lost = all.iter().filter(|f| **f == Fate::Lost).count();
        let twice = all.iter().filter(|f| matches!(f, Fate::Twice(..))).count();
        // 0.2 ± 0.01 lost; 5% of the 80% delivered are duplicated.
        assert!((19_000..21_000).contains(&lost), "lost {lost}");
        assert!((3_500..4_500).contains(&twice), "duplicated {twice}");
    }

    #[test]
    fn delays_stay_in_their_range() {
        let min = Duration::from_millis(50);
        let jitter = Duration::from_millis(100);
        let hold = Duration::from_millis(30);
        let faults = Faults::default().delay(min, jitter).reorder(0.5, hold);
        let mut longest = Duration::ZERO;
        for fate in fates(faults, 10_000) {
            let Fate::Once(d) = fate else {
                panic!("no loss or duplication was asked for: {fate:?}")
            };
            assert!(d >= min && d <= min + jitter + hold, "{d:?}");
            longest = longest.max(d);
        }
        assert!(longest > min + jitter, "nothing was held back");
    }

    #[test]
    fn probabilities_are_clamped() {
        let faults = Faults::default().loss(f64::NAN).duplicate(7.0);
        assert_eq!(faults.loss, 0.0);
        assert_eq!(faults.duplicate, 1.0);
        assert!(
            fates(faults.loss(-1.0), 100)
                .iter()
                .all(|f| matches!(f, Fate::Twice(..)))
        );
    }
}
