//! The device identity: an Ed25519 key and a self-signed certificate made on
//! first use, kept in the agent home (`device.key`, mode 0600, and
//! `device.crt`). The server knows the device by the SHA-256 fingerprint of
//! the certificate; peers pin it, as WebRTC pins DTLS fingerprints.
//!
//! The same key signs file manifests, so a receiver can tie what it was
//! offered to the certificate it authenticated.

use std::sync::Arc;

use anyhow::Context;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::SignatureScheme;
use sha2::{Digest, Sha256};

use crate::home::{write_private, Home};

const KEY_FILE: &str = "device.key";
const CERT_FILE: &str = "device.crt";

/// The one TLS crypto implementation the agent uses (QUIC, HTTPS, manifests):
/// aws-lc-rs, installed as the process default on first use so libraries
/// that build their own TLS configurations (the HTTP client) find it too.
pub fn crypto() -> Arc<CryptoProvider> {
    if let Some(provider) = CryptoProvider::get_default() {
        return provider.clone();
    }
    // Losing a race to install is fine: someone installed one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    CryptoProvider::get_default()
        .expect("a crypto provider was just installed")
        .clone()
}

pub struct Identity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    signer: Arc<dyn rustls::sign::SigningKey>,
    fingerprint: String,
}

impl Identity {
    /// The home's identity, made on first use.
    pub fn load_or_create(home: &Home) -> anyhow::Result<Identity> {
        let key_path = home.path(KEY_FILE);
        let cert_path = home.path(CERT_FILE);
        match (std::fs::read(&key_path), std::fs::read(&cert_path)) {
            (Ok(key), Ok(cert)) => Identity::from_der(cert, key),
            _ => Identity::replace(home),
        }
    }

    /// Makes and stores a new identity in place of the home's current one
    /// (after the server refused the old one: revoked, or copied elsewhere).
    pub fn replace(home: &Home) -> anyhow::Result<Identity> {
        let identity = Identity::generate()?;
        write_private(&home.path(KEY_FILE), identity.key.secret_pkcs8_der())?;
        write_private(&home.path(CERT_FILE), identity.cert.as_ref())?;
        Ok(identity)
    }

    /// A fresh identity that is never stored (tests, throwaway agents).
    pub fn generate() -> anyhow::Result<Identity> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
        let cert =
            rcgen::CertificateParams::new(vec!["mesh-agent".to_owned()])?.self_signed(&key)?;
        Identity::from_der(cert.der().to_vec(), key.serialize_der())
    }

    fn from_der(cert: Vec<u8>, key: Vec<u8>) -> anyhow::Result<Identity> {
        let key = PrivatePkcs8KeyDer::from(key);
        let signer = crypto()
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(key.clone_key()))
            .context(
                "the device key is damaged; remove device.key and device.crt and log in again",
            )?;
        let cert = CertificateDer::from(cert);
        let fingerprint = fingerprint(&cert);
        Ok(Identity {
            cert,
            key,
            signer,
            fingerprint,
        })
    }

    /// SHA-256 of the certificate, lowercase hex: what the server and peers know.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn cert(&self) -> CertificateDer<'static> {
        self.cert.clone()
    }

    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }

    /// An Ed25519 signature of `message` by the device key.
    pub fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let signer = self
            .signer
            .choose_scheme(&[SignatureScheme::ED25519])
            .context("the device key is not an Ed25519 key")?;
        Ok(signer.sign(message)?)
    }
}

/// SHA-256 of a certificate (DER), lowercase hex.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    hex(&Sha256::digest(cert.as_ref()))
}

/// Checks an Ed25519 signature made by the key of `cert`.
pub fn verify(cert: &CertificateDer<'_>, message: &[u8], signature: &[u8]) -> anyhow::Result<()> {
    let provider = crypto();
    let algorithm = provider
        .signature_verification_algorithms
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == SignatureScheme::ED25519)
        .and_then(|(_, algorithms)| algorithms.first())
        .context("no Ed25519 verifier")?;
    let cert = webpki::EndEntityCert::try_from(cert).context("unreadable peer certificate")?;
    cert.verify_signature(*algorithm, message, signature)
        .map_err(|_| anyhow::anyhow!("the signature does not match the sender's certificate"))
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_is_made_once_and_kept_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let home = Home::open(dir.path()).unwrap();
        let first = Identity::load_or_create(&home).unwrap();
        let second = Identity::load_or_create(&home).unwrap();
        assert_eq!(first.fingerprint(), second.fingerprint());
        assert_eq!(first.fingerprint().len(), 64);
        let mode = std::fs::metadata(home.path(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn signatures_verify_against_the_signers_certificate_only() {
        let alice = Identity::generate().unwrap();
        let mallory = Identity::generate().unwrap();
        let signature = alice.sign(b"manifest").unwrap();
        assert!(verify(&alice.cert(), b"manifest", &signature).is_ok());
        assert!(verify(&alice.cert(), b"tampered", &signature).is_err());
        assert!(verify(&mallory.cert(), b"manifest", &signature).is_err());
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(unhex(&hex(&[0, 1, 254, 255])).unwrap(), [0, 1, 254, 255]);
        assert!(unhex("zz").is_none());
        assert!(unhex("abc").is_none());
    }
}
