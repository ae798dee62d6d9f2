//! Group commit for threads: many collectors store payments concurrently,
//! one writer thread appends everything queued and syncs once for all.
//!
//! A collector's [`GroupCommit::store`] returns only after its payment is
//! durable (or with the error that kept it from being stored), so the
//! acknowledgement rule of the store holds across threads; the cost of one
//! `fdatasync` is shared by every payment that arrived while the previous
//! one ran. It must not acknowledge a payment before its sync returned, and
//! must not reorder one collector's payments.

use super::{Store, StoreError};
use crate::core::offline::StoredPayment;
use crate::disk::Disk;
use crate::store::Keychain;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

type Reply = mpsc::SyncSender<Result<(), StoreError>>;

/// A [`Store`] owned by a writer thread, shared by collector threads.
#[derive(Debug)]
pub struct GroupCommit<D: Disk, K: Keychain> {
    queue: mpsc::Sender<(StoredPayment, Reply)>,
    writer: JoinHandle<Store<D, K>>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    syncs: AtomicU64,
    records: AtomicU64,
}

/// What the writer has done so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupStats {
    /// Syncs (batches committed or attempted).
    pub syncs: u64,
    /// Payments in those batches.
    pub records: u64,
}

impl GroupStats {
    /// Payments per sync.
    pub fn mean_batch(&self) -> f64 {
        if self.syncs == 0 { 0.0 } else { self.records as f64 / self.syncs as f64 }
    }
}

impl<D, K> GroupCommit<D, K>
where
    D: Disk + Send + 'static,
    K: Keychain + Send + 'static,
{
    /// Hands `store` to a new writer thread.
    pub fn start(mut store: Store<D, K>) -> Self {
        let (queue, requests) = mpsc::channel::<(StoredPayment, Reply)>();
        let counters = Arc::new(Counters::default());
        let shared = Arc::clone(&counters);
        let writer = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                while let Ok(first) = requests.recv() {
                    let mut waiting = Vec::new();
                    for (payment, reply) in std::iter::once(first).chain(requests.try_iter()) {
                        match store.append(&payment) {
                            Ok(()) => waiting.push(reply),
                            Err(e) => {
                                let _ = reply.send(Err(e));
                            }
                        }
                    }
                    if waiting.is_empty() {
                        continue;
                    }
                    let outcome = store.sync();
                    shared.syncs.fetch_add(1, Ordering::Relaxed);
                    shared.records.fetch_add(waiting.len() as u64, Ordering::Relaxed);
                    for reply in waiting {
                        // A collector that gave up waiting is not an error here.
                        let _ = reply.send(outcome.clone());
                    }
                }
                store
            })
            .expect("the writer thread starts");
        GroupCommit { queue, writer, counters }
    }

    /// Stores `payment`, returning once it is durable.
    pub fn store(&self, payment: StoredPayment) -> Result<(), StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let stopped = || StoreError::Io(Arc::new(io::Error::other("the store writer has stopped")));
        self.queue.send((payment, reply)).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }

    /// What the writer has done so far.
    pub fn stats(&self) -> GroupStats {
        GroupStats {
            syncs: self.counters.syncs.load(Ordering::Relaxed),
            records: self.counters.records.load(Ordering::Relaxed),
        }
    }

    /// Stops the writer once the queue is empty and hands the store back.
    ///
    /// # Panics
    ///
    /// If the writer thread panicked (a bug in the store).
    pub fn close(self) -> Store<D, K> {
        drop(self.queue);
        self.writer.join().expect("the store writer does not panic")
    }
}
