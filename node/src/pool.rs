//! A fixed pool of threads for CPU work (signing, verifying: about a
//! millisecond of JSON-LD and RDF canonicalization each), kept off the async
//! executor so that a burst of issuance never delays the requests that only
//! read.
//!
//! Each worker owns a current-thread runtime: the JSON-LD code is async in
//! form (its loader could fetch) but never waits on I/O here.
//!
//! Every job has a deadline: a caller waits at most [`JOB_DEADLINE`], and a
//! job whose caller has given up is skipped, not run. Work for anonymous
//! clients (verification) goes through a lane that holds at most all
//! workers but one, so an issuer's job never waits behind more than that.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Semaphore};

type Job = Box<dyn FnOnce(&tokio::runtime::Runtime) + Send>;

/// How long a caller waits for a job, queueing included.
pub const JOB_DEADLINE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("the worker pool has stopped")]
    Stopped,
    #[error("the workers are busy: the job did not finish within {0:?}")]
    Deadline(Duration),
}

#[derive(Clone)]
pub struct Pool {
    jobs: mpsc::Sender<Job>,
    threads: usize,
    /// Permits for anonymous work: all workers but one.
    shared_lane: Arc<Semaphore>,
    deadline: Duration,
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
        Self {
            jobs: tx,
            threads,
            shared_lane: Arc::new(Semaphore::new((threads - 1).max(1))),
            deadline: JOB_DEADLINE,
        }
    }

    /// The same pool with another deadline (tests).
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `make()`'s future on a worker and waits for its output, at
    /// most until the deadline.
    pub async fn run<F, Fut, T>(&self, make: F) -> Result<T, PoolError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |rt| {
            // The caller gave up while the job queued: skip it.
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(rt.block_on(make()));
        });
        let run = async {
            self.jobs.send(job).await.map_err(|_| PoolError::Stopped)?;
            rx.await.map_err(|_| PoolError::Stopped)
        };
        tokio::time::timeout(self.deadline, run)
            .await
            .map_err(|_| PoolError::Deadline(self.deadline))?
    }

    /// [`run`](Self::run) for anonymous clients' work: through the shared
    /// lane, which never holds every worker.
    pub async fn run_shared<F, Fut, T>(&self, make: F) -> Result<T, PoolError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        let permit = tokio::time::timeout(self.deadline, self.shared_lane.clone().acquire_owned())
            .await
            .map_err(|_| PoolError::Deadline(self.deadline))?
            .map_err(|_| PoolError::Stopped)?;
        // The permit goes with the job: a caller that gives up does not free
        // the lane while its job still runs on a worker.
        self.run(move || {
            let fut = make();
            async move {
                let out = fut.await;
                drop(permit);
                out
            }
        })
        .await
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

    #[tokio::test]
    async fn a_job_past_its_deadline_fails_and_a_skipped_one_never_runs() {
        let pool = Pool::new(1).with_deadline(std::time::Duration::from_millis(200));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (started_tx, mut started) = mpsc::unbounded_channel::<()>();
        // Occupies the only worker until released.
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move || async move {
                    started_tx.send(()).unwrap();
                    wait.recv().ok()
                })
                .await
            })
        };
        started.recv().await.unwrap();
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let late = pool
            .run(move || async move { flag.store(true, std::sync::atomic::Ordering::SeqCst) })
            .await;
        assert!(matches!(late, Err(PoolError::Deadline(_))), "{late:?}");
        assert!(matches!(busy.await.unwrap(), Err(PoolError::Deadline(_))));
        release.send(()).unwrap();
        // The worker is free again, and the abandoned job was skipped.
        assert_eq!(pool.run(|| async { 7 }).await.unwrap(), 7);
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn the_shared_lane_leaves_a_worker_free() {
        let pool = Pool::new(2).with_deadline(std::time::Duration::from_secs(10));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(Mutex::new(wait));
        let (started_tx, mut started) = mpsc::unbounded_channel::<()>();
        // Two anonymous jobs that block until released: one runs, the
        // other waits for the lane.
        let shared: Vec<_> = (0..2)
            .map(|_| {
                let (pool, wait, started_tx) = (pool.clone(), wait.clone(), started_tx.clone());
                tokio::spawn(async move {
                    pool.run_shared(move || async move {
                        started_tx.send(()).unwrap();
                        wait.lock().unwrap().recv().ok()
                    })
                    .await
                })
            })
            .collect();
        started.recv().await.unwrap();
        // An issuer's job still gets a worker (without the lane, both
        // workers would be blocked and it would miss its deadline).
        assert_eq!(pool.run(|| async { 1 }).await.unwrap(), 1);
        assert!(started.try_recv().is_err(), "only one anonymous job runs");
        release.send(()).unwrap();
        release.send(()).unwrap();
        for s in shared {
            s.await.unwrap().unwrap();
        }
    }
}
