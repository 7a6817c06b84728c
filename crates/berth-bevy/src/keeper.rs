//! Keeps a client's connection alive while the app does not run frames.
//!
//! A game that stalls (a long frame, a loading screen, a debugger) stops
//! calling its systems, and with them the client's update: no keep-alives
//! would go out and the server would time the player out. So each client
//! lives behind a lock shared with a small thread of its own, which updates
//! it whenever the app has not touched it for [`STALL`]: its keep-alives do
//! not depend on the frame rate. In a running app the thread only looks at
//! a timestamp, 20 times a second. It ends with the resource.

use berth::engine::Client;
use berth::relay::RelayClient;
use parking_lot::{Mutex, MutexGuard};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How long the app may leave a client alone before the thread updates it.
pub(crate) const STALL: Duration = Duration::from_millis(100);
/// How often the thread looks.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// What the keeper thread can drive.
pub(crate) trait Keep: Send + 'static {
    /// Receives, runs timers and sends, as a frame would.
    fn keep(&mut self, now: Instant);
}

impl Keep for Client {
    fn keep(&mut self, now: Instant) {
        self.update(now);
    }
}

impl Keep for RelayClient {
    fn keep(&mut self, now: Instant) {
        self.update(now);
    }
}

/// A value and when the app last touched it.
#[derive(Debug)]
pub(crate) struct Slot<T> {
    pub(crate) value: T,
    touched: Instant,
}

/// A client shared with its keeper thread.
#[derive(Debug)]
pub(crate) struct Kept<T> {
    shared: Arc<Mutex<Slot<T>>>,
}

impl<T: Keep> Kept<T> {
    /// Shares `value` with a new keeper thread.
    pub(crate) fn new(value: T) -> Self {
        let shared = Arc::new(Mutex::new(Slot {
            value,
            touched: Instant::now(),
        }));
        let weak = Arc::downgrade(&shared);
        let spawned = std::thread::Builder::new()
            .name("berth-bevy-keeper".into())
            .spawn(move || keep(&weak));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no keeper thread: a stalled app may time out");
        }
        Self { shared }
    }

    /// The value, for the app; marks it touched.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        let mut slot = self.shared.lock();
        slot.touched = Instant::now();
        slot
    }
}

/// The keeper thread: until the value is dropped, updates it whenever the
/// app has left it alone for [`STALL`].
fn keep<T: Keep>(shared: &Weak<Mutex<Slot<T>>>) {
    loop {
        // A periodic look, not a synchronisation: nothing waits on it.
        std::thread::sleep(LOOK_EVERY);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut slot = shared.lock();
        let now = Instant::now();
        if now.saturating_duration_since(slot.touched) >= STALL {
            slot.value.keep(now);
        }
    }
}
