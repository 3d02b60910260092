//! The issuer key file: the issuer's `did:key` signing key and its Ethereum
//! account key, encrypted at rest.
//!
//! Format (JSON, one object):
//! - `format`, `version`: identify the file, so a foreign JSON file is refused
//!   before any passphrase is asked for;
//! - `name`, `did`, `verificationMethod`, `address`, `signingKeyType`: the public
//!   half, readable without the passphrase (`cairn key show`);
//! - `kdf`: scrypt parameters and salt; `nonce`, `ciphertext`: XChaCha20-Poly1305
//!   over the secret half.
//!
//! The public half is the AEAD's associated data, so editing the DID or address
//! in the file makes decryption fail rather than silently pair a secret key with
//! someone else's identity. On unlock the DID and address are also derived again
//! from the secrets and compared.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use did_method_key::DIDKey;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use ssi::jwk::JWK;
use zeroize::Zeroizing;

const FORMAT: &str = "cairn-issuer-key";
const VERSION: u32 = 1;

/// scrypt cost used for new files: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s),
/// the interactive-login figure from the scrypt paper and RFC 7914.
const SCRYPT_LOG_N: u8 = 15;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
/// Upper bound on the cost accepted from a file, so a crafted file cannot make
/// `cairn` allocate more than 256 MiB (128 * r * 2^log_n bytes) or spin for
/// minutes.
const MAX_SCRYPT_LOG_N: u8 = 18;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a Cairn issuer key file ({reason})")]
    Foreign { path: PathBuf, reason: String },
    #[error("{path}: wrong passphrase, or the file was altered")]
    Decrypt { path: PathBuf },
    #[error("{path}: the key inside does not match the DID or address written in the file")]
    Mismatch { path: PathBuf },
    #[error("{path} already exists; refusing to overwrite an issuer key")]
    Exists { path: PathBuf },
    #[error("key generation failed: {0}")]
    Generate(String),
}

/// Which kind of key signs credentials, and so which Data Integrity cryptosuite
/// the issuer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningKeyType {
    /// Ed25519, signing with `eddsa-rdfc-2022` (the default).
    Ed25519,
    /// NIST P-256, signing with `ecdsa-rdfc-2019`.
    P256,
}

impl SigningKeyType {
    pub fn cryptosuite(self) -> &'static str {
        match self {
            SigningKeyType::Ed25519 => "eddsa-rdfc-2022",
            SigningKeyType::P256 => "ecdsa-rdfc-2019",
        }
    }
}

impl std::str::FromStr for SigningKeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ed25519" => Ok(Self::Ed25519),
            "p256" | "p-256" => Ok(Self::P256),
            other => Err(format!(
                "unknown signing key type `{other}` (expected ed25519 or p256)"
            )),
        }
    }
}

/// The public half of an issuer key: safe to print and to share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerIdentity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub did: String,
    pub verification_method: String,
    /// The EIP-55 checksummed address of the issuer's chain account.
    pub address: String,
    pub signing_key_type: SigningKeyType,
}

/// An unlocked issuer key.
pub struct IssuerKey {
    pub identity: IssuerIdentity,
    signing: JWK,
    account: k256::ecdsa::SigningKey,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets, even in debug output.
        f.debug_struct("IssuerKey")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyFile {
    format: String,
    version: u32,
    #[serde(flatten)]
    identity: IssuerIdentity,
    kdf: Kdf,
    nonce: String,
    ciphertext: String,
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Kdf {
    alg: String,
    log_n: u8,
    r: u32,
    p: u32,
    salt: String,
}

/// The secret half, as encrypted.
#[derive(Serialize, Deserialize)]
struct Secrets {
    signing: JWK,
    /// Hex of the 32-byte secp256k1 scalar.
    account: String,
}

impl IssuerKey {
    /// Generates a fresh issuer: a signing key of the given type and a
    /// secp256k1 chain account.
    pub fn generate(name: Option<String>, kind: SigningKeyType) -> Result<Self, KeyError> {
        let signing = match kind {
            SigningKeyType::Ed25519 => {
                JWK::generate_ed25519().map_err(|e| KeyError::Generate(e.to_string()))?
            }
            SigningKeyType::P256 => JWK::generate_p256(),
        };
        let account = k256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        Self::from_parts(name, kind, signing, account)
    }

    fn from_parts(
        name: Option<String>,
        kind: SigningKeyType,
        signing: JWK,
        account: k256::ecdsa::SigningKey,
    ) -> Result<Self, KeyError> {
        let did = DIDKey::generate(&signing).map_err(|e| KeyError::Generate(e.to_string()))?;
        let vm = DIDKey::generate_url(&signing).map_err(|e| KeyError::Generate(e.to_string()))?;
        let identity = IssuerIdentity {
            name,
            did: did.to_string(),
            verification_method: vm.to_string(),
            address: eth_address(account.verifying_key()),
            signing_key_type: kind,
        };
        Ok(Self {
            identity,
            signing,
            account,
        })
    }

    /// The private JWK that signs credentials.
    pub fn signing_jwk(&self) -> &JWK {
        &self.signing
    }

    /// The secp256k1 key of the issuer's chain account.
    pub fn account_key(&self) -> &k256::ecdsa::SigningKey {
        &self.account
    }

    /// Writes the key encrypted under `passphrase` to a new file with mode 0600.
    /// An existing file is never overwritten.
    pub fn save(&self, path: &Path, passphrase: &str) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let kdf = Kdf {
            alg: "scrypt".into(),
            log_n: SCRYPT_LOG_N,
            r: SCRYPT_R,
            p: SCRYPT_P,
            salt: B64.encode(salt),
        };
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let secrets = Zeroizing::new(
            serde_json::to_vec(&Secrets {
                signing: self.signing.clone(),
                account: hex::encode(self.account.to_bytes()),
            })
            .expect("secrets serialize"),
        );
        let mut file = KeyFile {
            format: FORMAT.into(),
            version: VERSION,
            identity: self.identity.clone(),
            kdf,
            nonce: B64.encode(nonce),
            ciphertext: String::new(),
        };
        let cipher = cipher_for(&file.kdf, passphrase, path)?;
        let aad = associated_data(&file);
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &secrets,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Generate("encryption failed".into()))?;
        file.ciphertext = B64.encode(ciphertext);
        let mut text = serde_json::to_vec_pretty(&file).expect("key file serializes");
        text.push(b'\n');

        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut out = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_owned(),
                }
            } else {
                io(e)
            }
        })?;
        out.write_all(&text).map_err(io)?;
        out.sync_all().map_err(io)?;
        Ok(())
    }

    /// Reads and decrypts a key file.
    pub fn load(path: &Path, passphrase: &str) -> Result<Self, KeyError> {
        Self::decode(path, &read(path)?, passphrase)
    }

    /// Decrypts the bytes of a key file; `path` only names it in errors.
    pub fn decode(path: &Path, bytes: &[u8], passphrase: &str) -> Result<Self, KeyError> {
        let file = parse_key_file(path, bytes)?;
        let nonce: [u8; 24] = B64
            .decode(&file.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| foreign(path, "bad nonce"))?;
        let ciphertext = B64
            .decode(&file.ciphertext)
            .map_err(|_| foreign(path, "bad ciphertext"))?;
        let cipher = cipher_for(&file.kdf, passphrase, path)?;
        let aad = associated_data(&file);
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    &XNonce::from(nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| KeyError::Decrypt {
                    path: path.to_owned(),
                })?,
        );
        let secrets: Secrets = serde_json::from_slice(&plain).map_err(|_| KeyError::Mismatch {
            path: path.to_owned(),
        })?;
        let account_bytes =
            Zeroizing::new(
                hex::decode(&secrets.account).map_err(|_| KeyError::Mismatch {
                    path: path.to_owned(),
                })?,
            );
        let account = k256::ecdsa::SigningKey::from_slice(&account_bytes).map_err(|_| {
            KeyError::Mismatch {
                path: path.to_owned(),
            }
        })?;
        let key = Self::from_parts(
            file.identity.name.clone(),
            file.identity.signing_key_type,
            secrets.signing,
            account,
        )
        .map_err(|_| KeyError::Mismatch {
            path: path.to_owned(),
        })?;
        if key.identity != file.identity {
            return Err(KeyError::Mismatch {
                path: path.to_owned(),
            });
        }
        Ok(key)
    }
}

/// Reads the public half of a key file without the passphrase.
pub fn read_identity(path: &Path) -> Result<IssuerIdentity, KeyError> {
    decode_identity(path, &read(path)?)
}

/// The public half of a key file's bytes; `path` only names it in errors.
pub fn decode_identity(path: &Path, bytes: &[u8]) -> Result<IssuerIdentity, KeyError> {
    Ok(parse_key_file(path, bytes)?.identity)
}

fn read(path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })
}

fn parse_key_file(path: &Path, bytes: &[u8]) -> Result<KeyFile, KeyError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| foreign(path, &format!("not JSON: {e}")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(foreign(path, "no \"format\": \"cairn-issuer-key\""));
    }
    if value.get("version").and_then(|v| v.as_u64()) != Some(VERSION as u64) {
        return Err(foreign(path, "unsupported version"));
    }
    serde_json::from_value(value).map_err(|e| foreign(path, &e.to_string()))
}

fn foreign(path: &Path, reason: &str) -> KeyError {
    KeyError::Foreign {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

fn associated_data(file: &KeyFile) -> Vec<u8> {
    serde_json::to_vec(&(&file.format, file.version, &file.identity, &file.kdf))
        .expect("header serializes")
}

fn cipher_for(kdf: &Kdf, passphrase: &str, path: &Path) -> Result<XChaCha20Poly1305, KeyError> {
    if kdf.alg != "scrypt" {
        return Err(foreign(path, &format!("unsupported kdf `{}`", kdf.alg)));
    }
    if kdf.log_n > MAX_SCRYPT_LOG_N || kdf.r == 0 || kdf.r > 8 || kdf.p == 0 || kdf.p > 4 {
        return Err(foreign(path, "scrypt parameters out of range"));
    }
    let salt = B64
        .decode(&kdf.salt)
        .map_err(|_| foreign(path, "bad salt"))?;
    let params = scrypt::Params::new(kdf.log_n, kdf.r, kdf.p, 32)
        .map_err(|_| foreign(path, "scrypt parameters out of range"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(passphrase.as_bytes(), &salt, &params, key.as_mut())
        .map_err(|_| foreign(path, "scrypt failed"))?;
    Ok(XChaCha20Poly1305::new(key.as_ref().into()))
}

/// The EIP-55 checksummed Ethereum address of a secp256k1 public key:
/// the last 20 bytes of keccak256 over the uncompressed point without its
/// 0x04 prefix.
pub fn eth_address(key: &k256::ecdsa::VerifyingKey) -> String {
    use sha3::{Digest, Keccak256};
    let point = key.to_encoded_point(false);
    let hash = Keccak256::digest(&point.as_bytes()[1..]);
    let lower = hex::encode(&hash[12..]);
    let check = Keccak256::digest(lower.as_bytes());
    let mut out = String::from("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (check[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0xf;
        out.push(if c.is_ascii_alphabetic() && nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_matches_known_vector() {
        // Hardhat/anvil dev account 0: a widely published key/address pair.
        let sk = k256::ecdsa::SigningKey::from_slice(
            &hex::decode("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            eth_address(sk.verifying_key()),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
    }

    #[test]
    fn round_trip_and_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let key = IssuerKey::generate(Some("Board".into()), SigningKeyType::Ed25519).unwrap();
        key.save(&path, "correct horse").unwrap();
        let back = IssuerKey::load(&path, "correct horse").unwrap();
        assert_eq!(back.identity, key.identity);
        assert!(back.identity.did.starts_with("did:key:z6Mk"));
        assert!(matches!(
            IssuerKey::load(&path, "wrong"),
            Err(KeyError::Decrypt { .. })
        ));
        assert!(matches!(key.save(&path, "x"), Err(KeyError::Exists { .. })));
    }

    #[test]
    fn edited_identity_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let key = IssuerKey::generate(None, SigningKeyType::P256).unwrap();
        key.save(&path, "pw").unwrap();
        let other = IssuerKey::generate(None, SigningKeyType::P256).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace(&key.identity.did, &other.identity.did)).unwrap();
        assert!(matches!(
            IssuerKey::load(&path, "pw"),
            Err(KeyError::Decrypt { .. })
        ));
    }
}
