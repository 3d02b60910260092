//! `cairn-load`: the node's end-to-end load benchmark (docs/performance.md).
//!
//! Starts the release `cairn-node` beside this binary on a fresh data
//! directory (dev chain), then measures:
//! - issuance over HTTP, one credential per `POST /credentials/issue` from
//!   many concurrent clients, and through `POST /credentials/issue/bulk`:
//!   signing, the synced RocksDB write and the 201 included;
//! - `GET /credentials/{id}/proof` requests per second and latency
//!   percentiles on loopback;
//! - with `--million`, the node's resident memory while 1,000,000
//!   credentials pass through (issued, sealed, anchored);
//! - with `--burst N` (alone), anchoring a burst on anvil with one block a
//!   second: `--confirmations 5 --batch-size 1000`, N credentials in one
//!   bulk request, then the seconds from the last 201 to the last anchor at
//!   its depth, the anchor transactions and the peak backlog.
//!
//! Build and run: `cargo build --release --bins && target/release/cairn-load`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

#[derive(Parser)]
#[command(about = "Load benchmark for cairn-node")]
struct Args {
    /// Credentials to issue one request each.
    #[arg(long, default_value_t = 20_000)]
    single: u64,
    /// Credentials to issue in one bulk request.
    #[arg(long, default_value_t = 50_000)]
    bulk: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Connections requesting proofs.
    #[arg(long, default_value_t = 32)]
    proof_connections: usize,
    /// Seconds of proof requests.
    #[arg(long, default_value_t = 10)]
    proof_seconds: u64,
    /// Then this many seconds of badge page views (`GET /b/{share}`, with
    /// the analytics counting each), on as many connections as proofs.
    #[arg(long, default_value_t = 0)]
    page_seconds: u64,
    /// Then verify this many of the issued credentials with
    /// `cairn verify --rpc-url` (the node's dev chain JSON-RPC) from one
    /// NDJSON file, and report the rate.
    #[arg(long, default_value_t = 0)]
    verify: usize,
    /// Also pass 1,000,000 credentials through and report memory.
    #[arg(long)]
    million: bool,
    /// Then measure the median latency of `POST /credentials/issue` from
    /// one client, idle and while four clients send a poison credential
    /// (RDFC-1.0's factorial case, n = 9) to `POST /credentials/verify` in
    /// a loop; this many issuance requests each time.
    #[arg(long, default_value_t = 0)]
    poison: usize,
    /// Only the anchoring benchmark: anvil with one block a second, this
    /// many credentials in one bulk request (needs `npm ci` for anvil).
    #[arg(long, default_value_t = 0)]
    burst: u64,
    /// Then issue this many credentials in one bulk request from a badge
    /// class (`options.achievement`, only the recipient in each line), to
    /// compare with whole credentials.
    #[arg(long, default_value_t = 0)]
    badge: u64,
    /// The node to run [default: cairn-node beside this binary].
    #[arg(long)]
    node_bin: Option<PathBuf>,
}

fn credential(n: u64) -> Value {
    json!({"credential": {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
        ],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": "Registered Nurse",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "id": format!("did:example:load{n}"),
            "achievement": {
                "id": "https://board.example/badges/registered-nurse",
                "type": ["Achievement"],
                "name": "Registered Nurse",
                "description": "Licensed to practise as a registered nurse.",
                "criteria": {"narrative": "Passed the national licensing examination."}
            }
        }
    }})
}

/// An NDJSON bulk request body of `count` credentials from number `from`.
fn bulk_body(from: u64, count: u64) -> Vec<u8> {
    let mut body = Vec::with_capacity(count as usize * 700);
    for n in from..from + count {
        serde_json::to_writer(&mut body, &credential(n)).unwrap();
        body.push(b'\n');
    }
    body
}

struct Node {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
    token: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(bin: &std::path::Path, dir: tempfile::TempDir, args: &[&str]) -> Node {
    use std::io::{BufRead, BufReader};
    let data = dir.path().join("node");
    let mut child = std::process::Command::new(bin)
        .arg("--data-dir")
        .arg(&data)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "warn")
        .env("CAIRN_PASSPHRASE", cairn_tests::PASSPHRASE)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the node listens").unwrap();
        if let Some(u) = line.strip_prefix("cairn-node listening on ") {
            break u.to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let out = std::process::Command::new(bin)
        .args(["token", "create", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    Node {
        child,
        url,
        _dir: dir,
        token,
    }
}

/// The node's resident set size in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn issue_single(
    node: &Node,
    client: &reqwest::Client,
    count: u64,
    concurrency: usize,
) -> (f64, Vec<String>) {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let next = next.clone();
        let client = client.clone();
        let url = format!("{}/credentials/issue", node.url);
        let token = node.token.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return ids;
                }
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&credential(n))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                // The id is in the Location header: no need to parse the body.
                let location = r.headers()["location"].to_str().unwrap().to_owned();
                let _ = r.bytes().await.unwrap();
                ids.push(location.trim_start_matches("/credentials/").to_owned());
            }
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    (count as f64 / started.elapsed().as_secs_f64(), ids)
}

async fn issue_bulk(node: &Node, client: &reqwest::Client, from: u64, count: u64) -> f64 {
    post_bulk(node, client, bulk_body(from, count), count).await
}

/// Posts one NDJSON bulk upload of `count` items, checks that all were
/// issued, and gives the rate.
async fn post_bulk(node: &Node, client: &reqwest::Client, body: Vec<u8>, count: u64) -> f64 {
    let started = Instant::now();
    let r = client
        .post(format!("{}/credentials/issue/bulk", node.url))
        .bearer_auth(&node.token)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let summary: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["summary"]["issued"], count, "{summary}");
    count as f64 / started.elapsed().as_secs_f64()
}

/// `count` credentials in one bulk request from a badge class made for the
/// run: each line names the class and a recipient, the node builds the rest.
async fn issue_bulk_badge(node: &Node, client: &reqwest::Client, from: u64, count: u64) -> f64 {
    let achievement = &credential(0)["credential"]["credentialSubject"]["achievement"];
    let mut class = achievement.clone();
    class.as_object_mut().unwrap().remove("id");
    let r = client
        .post(format!("{}/achievements", node.url))
        .bearer_auth(&node.token)
        .json(&class)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut body = Vec::with_capacity(count as usize * 150);
    for n in from..from + count {
        let line = json!({"credential": {"credentialSubject": {"id": format!("did:example:load{n}")}},
                          "options": {"achievement": id}});
        serde_json::to_writer(&mut body, &line).unwrap();
        body.push(b'\n');
    }
    post_bulk(node, client, body, count).await
}

async fn wait_anchored(node: &Node, client: &reqwest::Client, id: &str) {
    let url = format!("{}/credentials/{id}/proof", node.url);
    loop {
        let v: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        if v["status"] == "anchored" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// GETs `urls` round robin from `concurrency` connections for `seconds`:
/// the rate and each request's microseconds, sorted.
async fn gets(urls: Vec<String>, seconds: u64, concurrency: usize) -> (f64, Vec<u32>) {
    let stop = Arc::new(AtomicBool::new(false));
    let urls = Arc::new(urls);
    let mut tasks = Vec::new();
    let started = Instant::now();
    for c in 0..concurrency {
        let stop = stop.clone();
        let urls = urls.clone();
        tasks.push(tokio::spawn(async move {
            // One connection per task, kept alive.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut micros = Vec::new();
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let url = &urls[i % urls.len()];
                i += concurrency;
                let t = Instant::now();
                let r = client.get(url).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await.unwrap();
                micros.push(t.elapsed().as_micros() as u32);
            }
            micros
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort_unstable();
    (rate, all)
}

/// Median milliseconds of `rounds` sequential issuance requests.
async fn issue_latency(node: &Node, client: &reqwest::Client, rounds: usize, from: u64) -> f64 {
    let mut micros = Vec::with_capacity(rounds);
    for n in from..from + rounds as u64 {
        let t = Instant::now();
        let r = client
            .post(format!("{}/credentials/issue", node.url))
            .bearer_auth(&node.token)
            .json(&credential(n))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let _ = r.bytes().await.unwrap();
        micros.push(t.elapsed().as_micros() as u32);
    }
    micros.sort_unstable();
    percentile(&micros, 0.5)
}

/// Issuance latency idle and under four poison senders; prints both.
async fn poison(node: &Node, client: &reqwest::Client, rounds: usize) {
    let idle = issue_latency(node, client, rounds, 10_000_000).await;
    let mut vc = cairn_tests::poison_credential(9);
    vc["issuer"] = json!({"id": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "type": ["Profile"]});
    vc["validFrom"] = json!("2026-01-01T00:00:00Z");
    vc["proof"] = json!({"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
        "verificationMethod": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "proofPurpose": "assertionMethod", "created": "2026-01-01T00:00:00Z", "proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a22gkfUKods5D2UAUL5n2Brbx"});
    let body = json!({"verifiableCredential": vc});
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let (client, stop, sent, body) =
                (client.clone(), stop.clone(), sent.clone(), body.clone());
            let url = format!("{}/credentials/verify", node.url);
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let r = client.post(&url).json(&body).send().await.unwrap();
                    let _ = r.bytes().await;
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    let loaded = issue_latency(node, client, rounds, 20_000_000).await;
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    println!(
        "POST /credentials/issue median, one client: idle {idle:.2} ms; with 4 clients sending the n = 9 poison to /credentials/verify: {loaded:.2} ms ({:.1}x; {:.0} poison requests/s answered)",
        loaded / idle,
        sent.load(Ordering::Relaxed) as f64 / secs
    );
}

/// One line: what was asked, the rate and the latency percentiles.
fn print_rate(what: &str, connections: usize, rate: f64, sorted: &[u32]) {
    println!(
        "{what} ({connections} connections): {rate:>8.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(sorted, 0.50),
        percentile(sorted, 0.99),
        percentile(sorted, 1.0)
    );
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0
}

fn main() {
    let args = Args::parse();
    let bin = args.node_bin.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .unwrap()
            .with_file_name("cairn-node")
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if args.burst > 0 {
        return burst(&bin, args.burst);
    }
    let node = start_node(
        &bin,
        tempfile::tempdir().unwrap(),
        &["--batch-max-age", "2"],
    );
    let pid = node.child.id();
    println!(
        "cairn-node {} (pid {pid}), {} cores",
        bin.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    rt.block_on(async {
        let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build().unwrap();
        let (rate, ids) = issue_single(&node, &client, args.single, args.concurrency).await;
        println!("issue, one per request ({} clients): {:>8.0} credentials/s over {}", args.concurrency, rate, args.single);
        let rate = issue_bulk(&node, &client, args.single, args.bulk).await;
        println!("issue, bulk NDJSON:                  {:>8.0} credentials/s over {}", rate, args.bulk);
        if args.badge > 0 {
            let rate = issue_bulk_badge(&node, &client, args.single + args.bulk, args.badge).await;
            println!("issue, bulk NDJSON from a badge class: {:>6.0} credentials/s over {}", rate, args.badge);
        }
        wait_anchored(&node, &client, ids.last().unwrap()).await;
        println!("rss after {} credentials: {:.0} MiB", args.single + args.bulk, rss_mib(pid));
        let sample: Vec<String> = ids.iter().step_by((ids.len() / 1000).max(1)).cloned().collect();
        let urls = sample.iter().map(|id| format!("{}/credentials/{id}/proof", node.url)).collect();
        let (rate, lat) = gets(urls, args.proof_seconds, args.proof_connections).await;
        print_rate("GET /credentials/{id}/proof", args.proof_connections, rate, &lat);
        if args.page_seconds > 0 {
            let mut pages = Vec::with_capacity(sample.len());
            for id in &sample {
                let page: Value = client
                    .get(format!("{}/credentials/{id}/page", node.url))
                    .bearer_auth(&node.token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                pages.push(page["shareUrl"].as_str().unwrap().to_owned());
            }
            let (rate, lat) = gets(pages, args.page_seconds, args.proof_connections).await;
            print_rate("GET /b/{share} badge pages, counted", args.proof_connections, rate, &lat);
            let report: Value = client
                .get(format!("{}/analytics", node.url))
                .bearer_auth(&node.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            // Counts still in memory are in the report too: it must hold
            // every view made, no more, no fewer.
            let counted = report["totals"]["pageViews"].as_u64().unwrap();
            println!("GET /analytics counts {counted} page views of the {} made", lat.len());
            assert_eq!(counted, lat.len() as u64, "every badge page view is counted once");
        }
        if args.poison > 0 {
            poison(&node, &client, args.poison).await;
        }
        if args.verify > 0 {
            let started = Instant::now();
            let mut ndjson = Vec::new();
            for id in ids.iter().take(args.verify) {
                let url = format!("{}/credentials/{id}", node.url);
                let vc = client.get(&url).send().await.unwrap().bytes().await.unwrap();
                ndjson.extend_from_slice(&vc);
                ndjson.push(b'\n');
            }
            let file = node._dir.path().join("credentials.ndjson");
            std::fs::write(&file, ndjson).unwrap();
            println!("fetched {} anchored credentials in {:.1} s", args.verify.min(ids.len()), started.elapsed().as_secs_f64());
            let cairn = bin.with_file_name("cairn");
            let started = Instant::now();
            let out = tokio::process::Command::new(&cairn)
                .args(["verify", "--json", "--rpc-url", &format!("{}/devchain", node.url)])
                .arg(&file)
                .output()
                .await
                .unwrap();
            let secs = started.elapsed().as_secs_f64();
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(report["verdict"], "valid", "{}", String::from_utf8_lossy(&out.stderr));
            let n = report["credentials"].as_array().unwrap().len();
            println!("cairn verify --rpc-url, {n} credentials of one NDJSON file: {:.0} credentials/s ({secs:.2} s, every check incl. anchor, binding, revocation)", n as f64 / secs);
        }
        if args.million {
            let mut issued = args.single + args.bulk;
            let target = 1_000_000u64;
            let started = Instant::now();
            let mut peak: f64 = 0.0;
            while issued < target {
                let chunk = (target - issued).min(100_000);
                issue_bulk(&node, &client, issued, chunk).await;
                issued += chunk;
                let rss = rss_mib(pid);
                peak = peak.max(rss);
                println!("  {issued:>8} issued, {:>5.0} s, rss {rss:.0} MiB", started.elapsed().as_secs_f64());
            }
            println!(
                "1,000,000 credentials: {:.0} credentials/s overall, peak rss {peak:.0} MiB, final rss {:.0} MiB",
                (target - args.single - args.bulk) as f64 / started.elapsed().as_secs_f64(),
                rss_mib(pid)
            );
        }
    });
}

/// The anchoring benchmark (`--burst N`): see the module's documentation.
fn burst(bin: &std::path::Path, n: u64) {
    let anvil = cairn_tests::Anvil::start(&["--block-time", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let (key, registry, _) = cairn_tests::deploy(&anvil, dir.path());
    let node = start_node(
        bin,
        dir,
        &[
            "--key",
            key.to_str().unwrap(),
            "--rpc-url",
            &anvil.url,
            "--contract",
            &registry,
            "--confirmations",
            "5",
            "--batch-size",
            "1000",
        ],
    );
    println!(
        "cairn-node {} against anvil (1 s blocks), 5 confirmations, --batch-size 1000",
        bin.display()
    );
    let client = reqwest::blocking::Client::new();
    let get = |path: &str| -> Value {
        client
            .get(format!("{}{path}", node.url))
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    };
    // Waits for the issuer binding's registration: the node anchors only
    // after it.
    loop {
        let chain = &get("/health")["chain"];
        if chain["anchoring"] == true {
            break;
        }
        // A node from before `anchoring` was reported: its binding is
        // registered within seconds of the chain connecting.
        if chain.is_object() && chain["anchoring"].is_null() {
            std::thread::sleep(Duration::from_secs(10));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let body = bulk_body(0, n);
    // The backlog, sampled every 20 ms from the bulk request's start.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (stop, url) = (stop.clone(), node.url.clone());
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            let (mut sealed, mut queued) = (0usize, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let get = |path: &str| -> Option<Value> {
                    client.get(format!("{url}{path}")).send().ok()?.json().ok()
                };
                if let Some(b) = get("/batches?state=sealed") {
                    sealed = sealed.max(b["batches"].as_array().map_or(0, Vec::len));
                }
                if let Some(h) = get("/health") {
                    queued = queued.max(h["queued"].as_u64().unwrap_or(0));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (sealed, queued)
        })
    };
    let started = Instant::now();
    let r = client
        .post(format!("{}/credentials/issue/bulk", node.url))
        .bearer_auth(&node.token)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().unwrap();
    let last_201 = Instant::now();
    let summary: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["summary"]["issued"], n, "{summary}");
    let batches = loop {
        let all = get("/batches?limit=1000");
        let batches = all["batches"].as_array().unwrap().clone();
        if get("/health")["queued"] == 0 && batches.iter().all(|b| b["state"] == "anchored") {
            break batches;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let done = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let (peak_sealed, peak_queued) = sampler.join().unwrap();
    let leaves: Vec<u64> = batches
        .iter()
        .map(|b| b["leafCount"].as_u64().unwrap())
        .collect();
    println!(
        "{n} credentials in one bulk request: last 201 after {:.1} s ({:.0} credentials/s)",
        (last_201 - started).as_secs_f64(),
        n as f64 / (last_201 - started).as_secs_f64()
    );
    println!(
        "last anchor at depth {:.1} s after the last 201; {} anchor transactions, batches of {leaves:?}",
        (done - last_201).as_secs_f64(),
        batches.len()
    );
    println!("peak backlog: {peak_sealed} sealed batches, {peak_queued} queued credentials");
}
