//! Closing replaced pages on a thread of their own.

use std::fs::File;
use std::mem;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

/// Closes the pages that signing replaced, on a thread of its own.
///
/// The last close of a replaced page frees its blocks, and some file systems wait for the disk
/// there (ext4 without a journal discards them synchronously): measured, that was most of the
/// time a signing thread spent off the CPU. Here the closes overlap the signing and the manifest.
///
/// The thread is woken once per [`CLOSE_BATCH`] replaced pages, not once per page: waking it for
/// every page (a futex call, an interrupt to the other core, two context switches) was ~7% of
/// the CPU samples of a 20,000-page `sign` on tmpfs, taken from the cores the workers need.
pub(crate) struct Closer {
    shared: Option<Arc<Handover>>,
    thread: Option<thread::JoinHandle<()>>,
}

/// The closer thread is woken when this many replaced pages wait, and takes them all.
const CLOSE_BATCH: usize = 32;

/// At most this many replaced pages wait (plus as many being closed), so that open files stay
/// far below the usual limit of 1,024 when the disk is slower than signing; a full queue makes
/// signing wait.
const CLOSE_QUEUE: usize = 128;

/// Replaced pages on their way from the signing threads to the closer thread.
#[derive(Default)]
struct Handover {
    queue: Mutex<Queue>,
    /// Signals the closer thread: a batch is ready, or the run is over.
    ready: Condvar,
    /// Signals waiting workers: the queue was emptied.
    room: Condvar,
}

/// What [`Handover`] guards.
#[derive(Default)]
struct Queue {
    files: Vec<File>,
    finished: bool,
}

impl Handover {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while holding the lock; a poisoned queue is still a valid one.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&self) {
        let mut queue = self.lock();
        loop {
            if queue.files.len() >= CLOSE_BATCH || (queue.finished && !queue.files.is_empty()) {
                let batch = mem::take(&mut queue.files);
                self.room.notify_all();
                drop(queue);
                drop(batch); // the closes, outside the lock
                queue = self.lock();
            } else if queue.finished {
                return;
            } else {
                queue = self
                    .ready
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }
}

impl Closer {
    /// Starts the thread.
    pub(crate) fn start() -> Closer {
        let shared = Arc::new(Handover::default());
        let worker = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("rendorix-closer".into())
            .spawn(move || worker.run())
            .ok();
        Closer {
            // Without the thread (it could not be started), pages are closed where replaced.
            shared: thread.as_ref().map(|_| shared),
            thread,
        }
    }

    /// Hands over a replaced page to be closed; waits while the queue is full.
    pub(crate) fn close(&self, file: File) {
        let Some(shared) = &self.shared else {
            return drop(file);
        };
        let mut queue = shared.lock();
        while queue.files.len() >= CLOSE_QUEUE {
            queue = shared
                .room
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
        queue.files.push(file);
        if queue.files.len() == CLOSE_BATCH {
            shared.ready.notify_one();
        }
    }

    /// Waits until every page handed over so far is closed, and ends the thread.
    pub(crate) fn finish(mut self) {
        self.end();
    }

    fn end(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.lock().finished = true;
            shared.ready.notify_one();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Closer {
    fn drop(&mut self) {
        self.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// `count` open files on unlinked temporary files, as replaced pages are.
    fn replaced_files(count: usize) -> Vec<File> {
        (0..count).map(|_| tempfile::tempfile().unwrap()).collect()
    }

    #[test]
    fn the_closer_closes_a_last_partial_batch_when_it_finishes() {
        let closer = Closer::start();
        let shared = Arc::clone(closer.shared.as_ref().unwrap());
        // Fewer than a batch: the thread is not woken before finish().
        for f in replaced_files(CLOSE_BATCH - 1) {
            closer.close(f);
        }
        assert_eq!(shared.lock().files.len(), CLOSE_BATCH - 1);
        closer.finish();
        // Closed by the thread, which took them out of the queue; none left behind.
        assert!(shared.lock().files.is_empty());
        assert!(shared.lock().finished);
    }

    #[test]
    fn a_full_queue_makes_signing_wait_until_it_is_emptied() {
        // No thread takes from this queue until the test does.
        let closer = Closer {
            shared: Some(Arc::new(Handover::default())),
            thread: None,
        };
        let shared = Arc::clone(closer.shared.as_ref().unwrap());
        thread::scope(|s| {
            let producer = s.spawn(|| {
                for f in replaced_files(CLOSE_QUEUE + 1) {
                    closer.close(f);
                }
            });
            while shared.lock().files.len() < CLOSE_QUEUE {
                thread::sleep(Duration::from_millis(1));
            }
            thread::sleep(Duration::from_millis(100));
            assert_eq!(shared.lock().files.len(), CLOSE_QUEUE);
            assert!(
                !producer.is_finished(),
                "handed over more than the queue holds"
            );
            let taken = mem::take(&mut shared.lock().files);
            shared.room.notify_all();
            producer.join().unwrap();
            assert_eq!(taken.len() + shared.lock().files.len(), CLOSE_QUEUE + 1);
        });
    }
}
