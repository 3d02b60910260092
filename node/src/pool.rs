//! A fixed pool of threads for CPU work (signing, verifying: about a
//! millisecond of JSON-LD and RDF canonicalization each), kept off the async
//! executor so that a burst of issuance never delays the requests that only
//! read.
//!
//! Each worker owns a current-thread runtime: the JSON-LD code is async in
//! form (its loader could fetch) but never waits on I/O here.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

type Job = Box<dyn FnOnce(&tokio::runtime::Runtime) + Send>;

#[derive(Debug, thiserror::Error)]
#[error("the worker pool has stopped")]
pub struct PoolStopped;

#[derive(Clone)]
pub struct Pool {
    jobs: mpsc::Sender<Job>,
    threads: usize,
}

impl Pool {
    /// Starts `threads` workers; at most `threads * 4` jobs wait, so a
    /// caller past that waits its turn instead of piling work up in memory.
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::channel::<Job>(threads * 4);
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("cairn-worker-{n}"))
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .expect("a current-thread runtime starts");
                    loop {
                        let job = rx.lock().expect("pool lock").blocking_recv();
                        match job {
                            Some(job) => job(&rt),
                            None => return,
                        }
                    }
                })
                .expect("a worker thread starts");
        }
        Self { jobs: tx, threads }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `make()`'s future on a worker and waits for its output.
    pub async fn run<F, Fut, T>(&self, make: F) -> Result<T, PoolStopped>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |rt| {
            let _ = tx.send(rt.block_on(make()));
        });
        self.jobs.send(job).await.map_err(|_| PoolStopped)?;
        rx.await.map_err(|_| PoolStopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_workers_in_parallel() {
        let pool = Pool::new(2);
        let names = futures_util::future::join_all((0..8).map(|i| {
            let pool = pool.clone();
            async move {
                pool.run(move || async move {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    (i, std::thread::current().name().unwrap().to_owned())
                })
                .await
                .unwrap()
            }
        }))
        .await;
        assert_eq!(names.len(), 8);
        assert!(names.iter().all(|(_, n)| n.starts_with("cairn-worker-")));
        assert!(names.iter().enumerate().all(|(i, (j, _))| i == *j));
    }
}
