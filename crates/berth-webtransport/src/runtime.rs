//! The tokio runtime WebTransport runs on, owned by berth's handles and
//! never dropped from inside itself.

use std::future::Future;
use std::io;

/// A multi-threaded tokio runtime that shuts down in the background when
/// dropped, so dropping it from a port's thread never blocks.
#[derive(Debug)]
pub(crate) struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    /// `threads` workers (at least one), named `name`.
    pub(crate) fn new(name: &str, threads: usize) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name(name)
            .enable_all()
            .build()?;
        Ok(Self(Some(runtime)))
    }

    fn handle(&self) -> Option<&tokio::runtime::Runtime> {
        self.0.as_ref()
    }

    /// Runs `task` on the runtime.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        if let Some(runtime) = self.handle() {
            runtime.spawn(task);
        }
    }

    /// Runs `task` to completion from outside the runtime.
    pub(crate) fn block_on<T>(&self, task: impl Future<Output = T>) -> Option<T> {
        self.handle().map(|runtime| runtime.block_on(task))
    }

    /// Enters the runtime's context (for constructors that spawn).
    pub(crate) fn enter(&self) -> Option<tokio::runtime::EnterGuard<'_>> {
        self.handle().map(tokio::runtime::Runtime::enter)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
