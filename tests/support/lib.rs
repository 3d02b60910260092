//! Helpers shared by Cairn's end-to-end tests: finding and running the
//! `cairn` binary, and fixtures.
//!
//! The tests run the real binary, so it must be built first: this crate is a
//! separate package, and Cargo builds a package's binaries for the integration
//! tests of that package only. `cargo build --workspace` then
//! `cargo test --workspace` does it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// The passphrase `cairn()` puts in `CAIRN_PASSPHRASE`.
pub const PASSPHRASE: &str = "test passphrase";

/// The issuer name `new_key` writes into key files.
pub const ISSUER_NAME: &str = "Board of Nursing";

/// The path of the `cairn` binary: `target/<profile>/cairn`, next to the
/// `deps` directory that holds the running test executable (or next to the
/// running binary, for `cairn-load`).
pub fn cairn_path() -> PathBuf {
    built_binary("cairn")
}

/// The path of the `cairn-node` binary (see [`cairn_path`]).
pub fn cairn_node_path() -> PathBuf {
    built_binary("cairn-node")
}

fn built_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    // target/<profile>/deps/<test>-<hash>, or target/<profile>/cairn-load
    let dir = exe
        .parent()
        .unwrap_or_else(|| panic!("unexpected executable location {}", exe.display()));
    let profile_dir = match dir.file_name() {
        Some(name) if name == "deps" => dir.parent().unwrap_or(dir),
        _ => dir,
    };
    let bin = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        panic!(
            "the {name} binary is not built: {} does not exist. \
             Run `cargo build --workspace` (same profile as the tests), \
             then `cargo test --workspace`.",
            bin.display()
        );
    }
    bin
}

/// A `cairn` command with `CAIRN_PASSPHRASE` set to [`PASSPHRASE`] and stdin
/// closed, so nothing can wait on a terminal. Tests that need another
/// passphrase, or none, override or remove the variable.
pub fn cairn() -> Command {
    let mut cmd = Command::new(cairn_path());
    cmd.env("CAIRN_PASSPHRASE", PASSPHRASE).stdin(Stdio::null());
    cmd
}

/// The repository root (the tests crate lives in `<root>/tests`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is inside the repository")
        .to_owned()
}

/// The outcome of a finished command.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics, showing the output, unless the command exited 0.
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, 0, "expected success, got {self:#?}");
        self
    }

    /// Asserts the command failed the way every `cairn` failure must: a
    /// non-zero exit and exactly one line on stderr starting with `cairn: `.
    /// Returns that line.
    #[track_caller]
    pub fn one_line_error(&self) -> &str {
        assert_ne!(self.code, 0, "expected a failure, got {self:#?}");
        assert!(
            !self.stderr.contains("panicked"),
            "cairn panicked: {self:#?}"
        );
        let line = self.stderr.trim_end_matches(['\n', '\r']);
        assert!(
            !line.is_empty() && !line.contains('\n'),
            "expected exactly one line on stderr: {self:#?}"
        );
        assert!(
            line.starts_with("cairn: "),
            "expected stderr to start with `cairn: `: {self:#?}"
        );
        line
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// Runs a command to completion, capturing its output.
#[track_caller]
pub fn run(cmd: &mut Command) -> Run {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or_else(|| {
        panic!(
            "{cmd:?} was killed by a signal ({:?})\nstdout: {stdout}\nstderr: {stderr}",
            out.status
        )
    });
    Run {
        code,
        stdout,
        stderr,
    }
}

/// A realistic Open Badges 3.0 Achievement (badge class). Every term is
/// defined by the OB 3.0.3 context: `alignment` and `tag` by the Achievement
/// type's scoped context, `targetName` and `targetUrl` by the Alignment
/// type's, `narrative`, `name` and `description` at the top level.
pub fn achievement_json() -> Value {
    json!({
        "id": "https://board.example/badges/registered-nurse",
        "type": ["Achievement"],
        "name": [
            {"@value": "Registered Nurse", "@language": "en"},
            {"@value": "Infirmière autorisée", "@language": "fr"}
        ],
        "description": "Licensed to practise as a registered nurse.",
        "criteria": {
            "narrative": "Passed the national licensing examination and completed \
                          1,000 hours of supervised clinical practice."
        },
        "alignment": [{
            "type": ["Alignment"],
            "targetName": "NCLEX-RN",
            "targetUrl": "https://www.ncsbn.org/exams/nclex-rn.page"
        }],
        "tag": ["nursing", "licensure"]
    })
}

/// Writes `value` as pretty JSON.
#[track_caller]
pub fn write_json(path: &Path, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("JSON serializes") + "\n";
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Reads a JSON file.
#[track_caller]
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// Writes [`achievement_json`] to `dir/achievement.json` and returns the path.
pub fn write_achievement(dir: &Path) -> PathBuf {
    let path = dir.join("achievement.json");
    write_json(&path, &achievement_json());
    path
}

/// The value after `label:` on a line of `cairn key` output
/// (`did:     did:key:z6Mk...`).
pub fn field(stdout: &str, label: &str) -> Option<String> {
    let prefix = format!("{label}:");
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|v| v.trim().to_owned())
}

/// The setup most tests share: a temporary directory holding an Ed25519
/// issuer key (`board.key`) and an achievement file.
pub struct Board {
    pub dir: tempfile::TempDir,
    pub key: PathBuf,
    pub did: String,
    pub achievement: PathBuf,
}

impl Board {
    #[track_caller]
    pub fn create() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (key, did) = new_key(dir.path(), "board");
        let achievement = write_achievement(dir.path());
        Self {
            dir,
            key,
            did,
            achievement,
        }
    }
}

/// Creates an Ed25519 issuer key file `dir/<name>.key` named
/// [`ISSUER_NAME`]; returns its path and DID.
#[track_caller]
pub fn new_key(dir: &Path, name: &str) -> (PathBuf, String) {
    new_key_of_type(dir, name, "ed25519")
}

/// Like [`new_key`], with a `--signing-key` type (`ed25519` or `p256`).
#[track_caller]
pub fn new_key_of_type(dir: &Path, name: &str, signing_key: &str) -> (PathBuf, String) {
    let path = dir.join(format!("{name}.key"));
    let r = run(cairn().args(["key", "new", "--out"]).arg(&path).args([
        "--name",
        ISSUER_NAME,
        "--signing-key",
        signing_key,
    ]))
    .success();
    let did = field(&r.stdout, "did")
        .unwrap_or_else(|| panic!("`cairn key new` printed no `did:` line: {r:#?}"));
    (path, did)
}

/// `cairn issue --key KEY --achievement ACHIEVEMENT --recipient RECIPIENT`,
/// for a test to add arguments or change the environment.
pub fn issue_command(key: &Path, achievement: &Path, recipient: &str) -> Command {
    let mut cmd = cairn();
    cmd.arg("issue")
        .arg("--key")
        .arg(key)
        .arg("--achievement")
        .arg(achievement)
        .args(["--recipient", recipient]);
    cmd
}

/// Runs `cairn issue ... --out OUT` plus `extra` arguments, without checking
/// the outcome.
pub fn issue(key: &Path, achievement: &Path, recipient: &str, out: &Path, extra: &[&str]) -> Run {
    run(issue_command(key, achievement, recipient)
        .arg("--out")
        .arg(out)
        .args(extra))
}

/// Issues a credential to `dir/<name>.json` and returns its path; panics if
/// `cairn issue` fails.
#[track_caller]
pub fn issue_ok(
    dir: &Path,
    key: &Path,
    achievement: &Path,
    recipient: &str,
    name: &str,
    extra: &[&str],
) -> PathBuf {
    let out = dir.join(format!("{name}.json"));
    issue(key, achievement, recipient, &out, extra).success();
    out
}

/// Runs `cairn verify --json` on `files` (plus `extra` arguments) and
/// returns the exit code and the parsed report.
#[track_caller]
pub fn verify_json(files: &[&Path], extra: &[&str]) -> (i32, Value) {
    let r = run(cairn().args(["verify", "--json"]).args(extra).args(files));
    assert!(!r.stderr.contains("panicked"), "cairn panicked: {r:#?}");
    let report = r.json();
    (r.code, report)
}

/// The status (`pass`, `fail`, `could-not-check`) of the check `name` in one
/// credential's report; panics if the check is absent.
#[track_caller]
pub fn check_status<'a>(credential_report: &'a Value, name: &str) -> &'a str {
    check(credential_report, name)["status"]
        .as_str()
        .unwrap_or_else(|| panic!("check `{name}` has no status: {credential_report:#}"))
}

/// The check `name` in one credential's report; panics if absent.
#[track_caller]
pub fn check<'a>(credential_report: &'a Value, name: &str) -> &'a Value {
    credential_report["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("report has no checks: {credential_report:#}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("report has no check `{name}`: {credential_report:#}"))
}

/// A real anvil (from the npm package pinned in package.json) on a free
/// loopback port, stopped when dropped.
pub struct Anvil {
    child: std::process::Child,
    pub url: String,
}

impl Anvil {
    /// Starts anvil with extra arguments (`--no-mining`, ...) and waits until
    /// it answers JSON-RPC. The port is anvil's own pick (`--port 0`), read
    /// from its banner, so tests running side by side never collide.
    #[track_caller]
    pub fn start(args: &[&str]) -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        let bin = repo_root().join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
        assert!(
            bin.is_file(),
            "{} is missing: run `npm ci --ignore-scripts` in the repository root",
            bin.display()
        );
        let mut child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("anvil starts");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(addr) = line.strip_prefix("Listening on ") {
                        break addr.trim().to_owned();
                    }
                }
                _ => panic!("anvil exited before listening"),
            }
        };
        // Keep reading, so anvil never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let started = std::time::Instant::now();
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
        loop {
            let answered = std::net::TcpStream::connect(&addr).and_then(|mut s| {
                write!(
                    s,
                    "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )?;
                let mut reply = String::new();
                s.read_to_string(&mut reply)?;
                Ok(reply.contains("\"result\""))
            });
            if answered.unwrap_or(false) {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "anvil at {addr} does not answer eth_chainId"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Self {
            child,
            url: format!("http://{addr}"),
        }
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Anvil {
    /// Calls a JSON-RPC method and returns its `result`.
    #[track_caller]
    pub fn rpc(&self, method: &str, params: Value) -> Value {
        let reply: Value = reqwest::blocking::Client::new()
            .post(&self.url)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("anvil {method}: {e}"));
        assert!(reply.get("error").is_none(), "anvil {method}: {reply}");
        reply["result"].clone()
    }

    /// Gives `address` 100 ether.
    pub fn fund(&self, address: &str) {
        self.rpc("anvil_setBalance", json!([address, "0x56BC75E2D63100000"]));
    }
}

/// A running `cairn-node` on a free loopback port, killed when dropped.
pub struct NodeProcess {
    child: std::process::Child,
    /// The node's base URL, `http://127.0.0.1:<port>`.
    pub url: String,
    pub data_dir: PathBuf,
    /// Where its log (stderr) goes.
    pub log: PathBuf,
    http: reqwest::blocking::Client,
}

impl NodeProcess {
    /// Starts `cairn-node --data-dir DIR --listen 127.0.0.1:0 ARGS...` and
    /// waits until it listens. Its stderr goes to `DIR.log` (appended across
    /// restarts).
    #[track_caller]
    pub fn start(data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::start_wrapped(&[], data_dir, args, envs)
    }

    /// [`NodeProcess::start`] through a wrapper command (`unshare ... sh -c
    /// '... exec "$@"'`), which ends by running the node with its arguments.
    #[track_caller]
    pub fn start_wrapped(
        wrapper: &[&str],
        data_dir: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Self {
        use std::io::{BufRead, BufReader};
        let log = data_dir.with_extension("log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("the node log opens");
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(cairn_node_path());
                c
            }
            None => Command::new(cairn_node_path()),
        };
        cmd.arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("CAIRN_PASSPHRASE", PASSPHRASE)
            .env("RUST_LOG", "info")
            .env_remove("CAIRN_RPC_URL")
            .env_remove("CAIRN_CONTRACT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("cairn-node starts");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("cairn-node listening on ") {
                        break url.trim().to_owned();
                    }
                }
                _ => {
                    let _ = child.wait();
                    panic!(
                        "cairn-node exited before listening; its log:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    )
                }
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            url,
            data_dir: data_dir.to_owned(),
            log,
            http: reqwest::blocking::Client::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit; returns the exit code.
    #[track_caller]
    pub fn terminate(mut self) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        self.child.wait().expect("the node exits").code()
    }

    /// The node's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET, the answer checked against `openapi.json`.
    #[track_caller]
    pub fn get(&self, path: &str) -> Reply {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        checked("GET", path, r)
    }

    /// `POST /credentials/issue` of `credential` with `token`: the status
    /// and the body.
    #[track_caller]
    pub fn issue(&self, token: &str, credential: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/credentials/issue", self.url))
            .bearer_auth(token)
            .json(&json!({ "credential": credential }))
            .send()
            .unwrap();
        let r = checked("POST", "/credentials/issue", r);
        let status = r.status().as_u16();
        (status, r.json().unwrap())
    }

    /// Posts NDJSON to the bulk endpoint, under an idempotency key if
    /// given; returns the result lines (the summary last).
    pub fn bulk(
        &self,
        token: &str,
        key: Option<&str>,
        body: impl Into<reqwest::blocking::Body>,
    ) -> Vec<Value> {
        let mut req = self
            .http
            .post(format!("{}/credentials/issue/bulk", self.url))
            .bearer_auth(token)
            .header("content-type", "application/x-ndjson")
            .body(body);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let r = checked("POST", "/credentials/issue/bulk", req.send().unwrap());
        assert_eq!(r.status(), 200);
        r.text()
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// GET, expecting 200 and JSON.
    #[track_caller]
    pub fn get_json(&self, path: &str) -> Value {
        let r = self.get(path);
        let status = r.status();
        let text = r.text().unwrap();
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Waits until the node's anchorer runs (its chain is connected and
    /// the issuer binding registered): before, verification has no chain
    /// to read and nothing is anchored.
    #[track_caller]
    pub fn wait_anchoring(&self) {
        self.poll(std::time::Duration::from_secs(60), || {
            match self.get_json("/health")["chain"]["anchoring"] == true {
                true => Ok(()),
                false => Err("the node's anchorer never started".to_owned()),
            }
        })
    }

    /// Polls `/credentials/{id}/proof` until the credential is anchored.
    #[track_caller]
    pub fn wait_anchored(&self, id: &str, timeout: std::time::Duration) -> Value {
        self.poll(timeout, || {
            let proof = self.get_json(&format!("/credentials/{}/proof", encode(id)));
            match proof["status"] == "anchored" {
                true => Ok(proof),
                false => Err(format!("{id} not anchored after {timeout:?}: {proof}")),
            }
        })
    }

    /// Calls `ready` until it gives a value; after `timeout`, fails with
    /// what it said last and the node's log.
    #[track_caller]
    pub fn poll<T>(
        &self,
        timeout: std::time::Duration,
        mut ready: impl FnMut() -> Result<T, String>,
    ) -> T {
        let started = std::time::Instant::now();
        loop {
            match ready() {
                Ok(value) => return value,
                Err(last) => assert!(
                    started.elapsed() < timeout,
                    "{last}\nlog:\n{}",
                    self.log_text()
                ),
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a credential id for a path segment.
pub fn encode(id: &str) -> String {
    cairn_verifier::credential::path_segment(id)
}

/// `cairn-node token create --data-dir DIR`: a fresh bearer token.
#[track_caller]
pub fn node_token(data_dir: &Path) -> String {
    node_token_as(data_dir, "admin")
}

/// A new token of `role` (admin, issuer or viewer).
pub fn node_token_as(data_dir: &Path, role: &str) -> String {
    let out = Command::new(cairn_node_path())
        .args(["token", "create", "--role", role, "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("cairn-node token create runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// An unsigned Open Badge (a registered nurse's licence) for an earner
/// named by email address, unhashed, for `POST /credentials/issue` with
/// `options.recipientEmail`.
pub fn nurse_badge(email: &str) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": "Registered Nurse",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{
                "type": "IdentityObject",
                "identityType": "emailAddress",
                "hashed": false,
                "identityHash": email,
            }],
            "achievement": {
                "id": "https://board.example/achievements/rn",
                "type": ["Achievement"],
                "name": "Registered Nurse",
                "description": "Licensed to practise as a registered nurse.",
                "criteria": {"narrative": "Passed the board examination."},
            },
        },
    })
}

/// An unsigned credential for `POST /credentials/issue`: the node adds the
/// id, issuer and `validFrom`.
pub fn unsigned_credential(subject: &str) -> Value {
    json!({
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
        ],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": "Registered Nurse",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "id": subject,
            "achievement": achievement_json(),
        }
    })
}

/// Creates an issuer key in `dir`, funds its account on anvil and deploys a
/// registry with `cairn contract deploy`; returns (key file, registry
/// address, account).
#[track_caller]
pub fn deploy(anvil: &Anvil, dir: &Path) -> (PathBuf, String, String) {
    let (key, _) = new_key(dir, "board");
    let show = run(cairn().args(["key", "show"]).arg(&key)).success();
    let account = field(&show.stdout, "address").expect("`cairn key show` prints the address");
    anvil.fund(&account);
    let r = run(cairn()
        .args(["contract", "deploy", "--rpc-url", &anvil.url, "--key"])
        .arg(&key))
    .success();
    let registry = r.stdout.trim().to_owned();
    assert!(registry.starts_with("0x") && registry.len() == 42, "{r:#?}");
    (key, registry, account)
}

/// An issuance request's credential whose `evidence` holds `n` blank nodes,
/// each typed `VerifiableCredential` and pointing at all the others through
/// `credentialSubject`: alike blank nodes that RDFC-1.0 can tell apart only
/// by trying their orders (factorial work without a bound).
pub fn poison_credential(n: usize) -> Value {
    let mut vc = unsigned_credential("did:example:poison");
    vc["evidence"] = Value::Array(
        (0..n)
            .map(|i| {
                json!({
                    "id": format!("_:e{i}"),
                    "type": ["VerifiableCredential"],
                    "credentialSubject": (0..n)
                        .filter(|&j| j != i)
                        .map(|j| json!({"id": format!("_:e{j}")}))
                        .collect::<Vec<_>>(),
                })
            })
            .collect(),
    );
    vc
}

/// A response as the tests see it, once checked against the node's
/// `openapi.json` (see [`checked`]).
#[derive(Debug)]
pub struct Reply {
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    pub fn status(&self) -> reqwest::StatusCode {
        self.status
    }

    pub fn headers(&self) -> &reqwest::header::HeaderMap {
        &self.headers
    }

    pub fn json<T: serde::de::DeserializeOwned>(self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.body)
    }

    pub fn text(self) -> Result<String, std::string::FromUtf8Error> {
        String::from_utf8(self.body)
    }

    pub fn bytes(self) -> Result<Vec<u8>, std::convert::Infallible> {
        Ok(self.body)
    }
}

/// The node's OpenAPI document, as committed.
static OPENAPI: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| {
    serde_json::from_str(include_str!("../../node/src/openapi.json")).expect("openapi.json is JSON")
});

/// Reads a response and holds it to `openapi.json`: the path and method are
/// documented, the status is one the operation lists, the media type one
/// that status lists, and a JSON body validates against its schema. A
/// mismatch fails the test that saw it, naming what differs: the document
/// says exactly what the server does.
#[track_caller]
pub fn checked(method: &str, path: &str, response: reqwest::blocking::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().expect("the body reads").to_vec();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_owned());
    if let Err(e) = conforms(
        method,
        path,
        status.as_u16(),
        content_type.as_deref(),
        &body,
    ) {
        panic!(
            "{method} {path} answered {status} against openapi.json: {e}\nbody: {}",
            String::from_utf8_lossy(&body[..body.len().min(2000)])
        );
    }
    Reply {
        status,
        headers,
        body,
    }
}

/// Whether a response conforms to `openapi.json` (see [`checked`]).
pub fn conforms(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), String> {
    let doc = &*OPENAPI;
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let template = doc["paths"].as_object().expect("paths").keys().find(|t| {
        let ts: Vec<&str> = t.split('/').collect();
        ts.len() == segments.len()
            && ts
                .iter()
                .zip(&segments)
                .all(|(t, s)| (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s)
    });
    let Some(template) = template else {
        // Unrouted paths answer the fallback problem.
        return match status {
            404 | 405 if content_type == Some("application/problem+json") => Ok(()),
            _ => Err(format!("no path in openapi.json matches {path}")),
        };
    };
    let Some(op) = doc["paths"][template].get(method.to_ascii_lowercase()) else {
        return match status {
            405 => Ok(()),
            _ => Err(format!("{template} documents no {method}")),
        };
    };
    let responses = &op["responses"];
    let Some(response) = responses
        .get(status.to_string())
        .or_else(|| responses.get("default"))
    else {
        return Err(format!(
            "{method} {template} documents no {status} response"
        ));
    };
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return match body.is_empty() {
            true => Ok(()),
            false => Err(format!("{status} documents no body, but one came")),
        };
    };
    let Some(ct) = content_type else {
        return Err(format!(
            "no Content-Type; {status} documents {:?}",
            content.keys().collect::<Vec<_>>()
        ));
    };
    let Some(media) = content.get(ct) else {
        return Err(format!(
            "{ct} is not among {status}'s media types {:?}",
            content.keys().collect::<Vec<_>>()
        ));
    };
    if !(ct == "application/json" || ct.ends_with("+json")) {
        return Ok(());
    }
    let Some(schema) = media.get("schema") else {
        return Ok(());
    };
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the {ct} body is not JSON: {e}"))?;
    let mut root = schema.clone();
    if let Value::Object(o) = &mut root {
        o.insert("components".into(), doc["components"].clone());
    }
    let validator = jsonschema::validator_for(&root)
        .map_err(|e| format!("the schema of {status} does not compile: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    match errors.is_empty() {
        true => Ok(()),
        false => Err(errors.join("; ")),
    }
}

/// `key`'s chain account on anvil, sending to `registry`.
pub async fn connect_chain(
    anvil: &Anvil,
    key: &cairn::key::IssuerKey,
    registry: &str,
) -> cairn::anchor::RpcChain {
    cairn::anchor::RpcChain::connect(
        &anvil.url,
        key.account_key(),
        registry.parse().unwrap(),
        cairn::anchor::ChainConfig {
            confirmations: 1,
            poll_interval: std::time::Duration::from_millis(20),
            ..cairn::anchor::ChainConfig::default()
        },
    )
    .await
    .unwrap()
}

/// Forgeries of an anchored credential `good` issued with the key file
/// `key` (anchoring in `registry` on `anvil`), each of which a verifier
/// must fail.
pub struct Forgeries {
    /// Its Merkle path altered.
    pub altered: Value,
    /// Naming a root that was never anchored.
    pub unanchored: Value,
    /// Signed by a key that is not the issuer's, naming the issuer.
    pub impostor: Value,
    /// Signed by the issuer and anchored, but from an account the issuer
    /// never bound: an attacker holding a signed credential (not the key
    /// file) can anchor it anywhere.
    pub unbound: Value,
}

impl Forgeries {
    pub fn of(anvil: &Anvil, key: &Path, registry: &str, good: &Value) -> Self {
        use cairn::key::{IssuerKey, SigningKeyType};
        use cairn_verifier::context::Contexts;
        use cairn_verifier::integrity::{Canonicalizer, SigningKey};
        use cairn_verifier::merkle::{credential_digest, Batch};
        use cairn_verifier::proof::{anchor_proof, with_anchor_proof};

        let anchor_entry = good["proof"][1].clone();
        let mut altered = good.clone();
        altered["proof"][1]["path"][0] = json!("00".repeat(32));
        let mut unanchored = good.clone();
        unanchored["proof"][1]["root"] = json!("ab".repeat(32));
        let stranger = IssuerKey::generate(None, SigningKeyType::Ed25519).unwrap();
        let mut unsigned = good.clone();
        unsigned.as_object_mut().unwrap().remove("proof");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let canonicalizer = Canonicalizer::new(Contexts::standard());
        let impostor = rt
            .block_on(canonicalizer.sign(
                unsigned.clone(),
                &SigningKey::from_jwk(stranger.signing_jwk()).unwrap(),
                &stranger.identity.verification_method,
                "2026-01-01T00:00:00Z",
            ))
            .unwrap();
        let impostor = with_anchor_proof(impostor, anchor_entry.clone());
        let unbound = {
            let issuer = IssuerKey::load(key, PASSPHRASE).unwrap();
            let mut fresh = unsigned;
            fresh["id"] = json!(format!(
                "urn:uuid:5e1f0000-0000-4000-8000-{:012}",
                std::process::id()
            ));
            let signed = rt
                .block_on(canonicalizer.sign(
                    fresh,
                    &SigningKey::from_jwk(issuer.signing_jwk()).unwrap(),
                    &issuer.identity.verification_method,
                    "2026-01-01T00:00:00Z",
                ))
                .unwrap();
            let attacker = IssuerKey::generate(None, SigningKeyType::Ed25519).unwrap();
            anvil.fund(&attacker.identity.address);
            let batch = Batch::build(&[credential_digest(&signed).unwrap()]).unwrap();
            let record = rt.block_on(async {
                let chain = connect_chain(anvil, &attacker, registry).await;
                chain.anchor(batch.root(), 1).await.unwrap().record
            });
            with_anchor_proof(
                signed,
                anchor_proof(&record, &batch.proof(0).unwrap(), &anchor_entry["binding"]),
            )
        };
        Forgeries {
            altered,
            unanchored,
            impostor,
            unbound,
        }
    }
}

/// A PNG of `w` x `h` RGBA pixels, with a text chunk of its own that
/// baking must leave where it is.
pub fn png_image(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .add_text_chunk("Software".into(), "a drawing program".into())
        .unwrap();
    let mut writer = encoder.write_header().unwrap();
    let pixels: Vec<u8> = (0..w * h * 4).map(|i| (i * 31 % 253) as u8).collect();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}

/// A request with the node's token: (status, JSON body), the response held
/// to the node's openapi.json.
pub fn send(
    node: &NodeProcess,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let method_name = method.as_str().to_owned();
    let mut r = reqwest::blocking::Client::new()
        .request(method, format!("{}{path}", node.url))
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(b);
    }
    let r = checked(&method_name, path, r.send().unwrap());
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

/// `bytes` as a `data:` URL.
pub fn data_url(media_type: &str, bytes: &[u8]) -> String {
    use base64::Engine;
    format!(
        "data:{media_type};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The issuer's node on anvil: its key, its registry, one confirmation,
/// batches sealed after a second; `extra` flags after those.
pub fn start_on_anvil(
    data: &Path,
    anvil: &Anvil,
    key: &Path,
    registry: &str,
    extra: &[&str],
) -> NodeProcess {
    let mut args = vec![
        "--key",
        key.to_str().unwrap(),
        "--rpc-url",
        &anvil.url,
        "--contract",
        registry,
        "--confirmations",
        "1",
        "--batch-max-age",
        "1",
    ];
    args.extend_from_slice(extra);
    NodeProcess::start(data, &args, &[])
}

/// Waits until the node says `id` is `status` and the chain has it.
pub fn wait_status_confirmed(node: &NodeProcess, id: &str, status: &str) {
    node.poll(std::time::Duration::from_secs(60), || {
        let s = node.get_json(&format!("/credentials/{}/status", encode(id)));
        match s["status"] == status && s["onChain"] == "confirmed" {
            true => Ok(()),
            false => Err(format!("{id}: {s}")),
        }
    })
}

/// A verification report's checks as (name, status) pairs, in order.
pub fn check_statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::conforms;

    #[test]
    fn the_openapi_check_can_fail() {
        let problem = br#"{"type": "urn:cairn:problem:unknown-credential", "title": "Not Found", "status": 404, "detail": "no credential x"}"#;
        let ct = Some("application/problem+json");
        assert_eq!(conforms("GET", "/credentials/x", 404, ct, problem), Ok(()));
        // A status the operation does not list, another media type, a
        // body that breaks the schema, a path nobody documents.
        assert!(conforms("GET", "/credentials/x", 418, ct, problem).is_err());
        assert!(conforms("GET", "/credentials/x", 404, Some("text/plain"), problem).is_err());
        let no_detail = br#"{"type": "x", "title": "Not Found", "status": 404}"#;
        assert!(conforms("GET", "/credentials/x", 404, ct, no_detail).is_err());
        assert!(conforms(
            "GET",
            "/nowhere/at/all",
            200,
            Some("application/json"),
            b"{}"
        )
        .is_err());
        assert!(conforms("POST", "/health", 200, Some("application/json"), b"{}").is_err());
    }
}
