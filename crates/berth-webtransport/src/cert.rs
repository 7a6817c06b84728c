//! The server's TLS certificates: self-signed ones that browsers accept
//! through `serverCertificateHashes`, generated at start and rotated
//! before they expire, or a certificate and key from a real CA.

use parking_lot::RwLock;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;
use web_transport_quinn::quinn::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer,
};

/// The longest validity browsers accept for a certificate they pin by
/// hash (the WebTransport spec's limit).
pub const MAX_PINNED_VALIDITY: Duration = Duration::from_secs(14 * 24 * 3600);

/// How far back a self-signed certificate's validity starts, so that a
/// browser whose clock runs a little behind still accepts it.
const CLOCK_SKEW: Duration = Duration::from_secs(3600);

/// Where the server's certificate comes from.
#[derive(Debug, Clone)]
pub enum CertificateSource {
    /// Self-signed ECDSA P-256 certificates for `names` (host names or IP
    /// addresses), each valid for at most [`MAX_PINNED_VALIDITY`] counting
    /// an hour of clock skew, a new one taking over every `rotate_every`.
    /// Browsers accept them only through `serverCertificateHashes`, so
    /// tokens carry the hashes ([`Certificates::hashes`]).
    SelfSigned {
        /// Subject alternative names: what the URL's host will be.
        names: Vec<String>,
        /// How long each certificate is the one presented. Each is made one
        /// period before it takes over (its hash is served from then on)
        /// and is presented for one period, so its validity covers two,
        /// plus an hour of clock skew: at most about 6.9 days.
        rotate_every: Duration,
    },
    /// A certificate chain and private key in PEM files, from a CA the
    /// browsers trust; no hashes are served. Loaded once, at start.
    PemFiles {
        /// The certificate chain, leaf first.
        certificate: PathBuf,
        /// The leaf's private key (PKCS#8).
        key: PathBuf,
    },
}

impl CertificateSource {
    /// Self-signed certificates for `names`, rotated every 6 days.
    pub fn self_signed(names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self::SelfSigned {
            names: names.into_iter().map(Into::into).collect(),
            rotate_every: Duration::from_secs(6 * 24 * 3600),
        }
    }
}

/// Why certificates could not be made or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// A rotation period too long for browsers' 14-day limit, or zero.
    #[error(
        "a self-signed certificate rotated every {0:?} would be valid for longer than the 14 days browsers accept"
    )]
    RotationTooLong(Duration),
    /// A name that cannot go in a certificate, or no key could be made.
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(String),
    /// The PEM files could not be read or parsed.
    #[error("cannot load the certificate or key: {0}")]
    Load(String),
    /// The certificate's validity has ended, or not yet begun.
    #[error("the certificate is not valid now (valid from {not_before} until {not_after})")]
    NotValidNow {
        /// Start of validity.
        not_before: String,
        /// End of validity.
        not_after: String,
    },
}

/// A certificate chain (leaf first), its key, and the leaf's hash.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
    pub(crate) hash: [u8; 32],
}

impl Issued {
    fn new(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        let hash = chain.first().map_or([0; 32], |leaf| sha256(leaf));
        Self { chain, key, hash }
    }

    /// A copy, for a TLS configuration to own.
    pub(crate) fn copy(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            hash: self.hash,
        }
    }
}

/// The SHA-256 of a certificate's DER: what `serverCertificateHashes` holds.
pub(crate) fn sha256(der: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut hash = [0; 32];
    hash.copy_from_slice(digest.as_ref());
    hash
}

/// The certificate a server presents now and, for self-signed ones, the
/// next: both hashes are served, so a token fetched just before a
/// rotation still connects after it.
#[derive(Debug)]
pub struct Certificates {
    source: CertificateSource,
    state: RwLock<Pair>,
}

#[derive(Debug)]
struct Pair {
    current: Issued,
    next: Option<Issued>,
}

impl Certificates {
    /// Makes (self-signed) or loads (PEM) the first certificate.
    ///
    /// # Errors
    ///
    /// [`CertificateError`]: a rotation period too long, a bad name,
    /// unreadable files, or a certificate not valid now.
    pub fn new(source: CertificateSource) -> Result<Self, CertificateError> {
        let pair = match &source {
            CertificateSource::SelfSigned {
                names,
                rotate_every,
            } => {
                validity_for(*rotate_every)?;
                Pair {
                    current: self_signed(names, *rotate_every)?,
                    next: Some(self_signed(names, *rotate_every)?),
                }
            }
            CertificateSource::PemFiles { certificate, key } => Pair {
                current: load_pem(certificate, key)?,
                next: None,
            },
        };
        Ok(Self {
            source,
            state: RwLock::new(pair),
        })
    }

    /// SHA-256 hashes of the certificates a browser may meet from now
    /// until the next rotation: the one presented, then the next. Empty
    /// for a CA-issued certificate, which browsers verify themselves.
    pub fn hashes(&self) -> Vec<[u8; 32]> {
        if matches!(self.source, CertificateSource::PemFiles { .. }) {
            return Vec::new();
        }
        let state = self.state.read();
        std::iter::once(state.current.hash)
            .chain(state.next.as_ref().map(|next| next.hash))
            .collect()
    }

    /// The hash of the certificate presented now.
    pub fn current_hash(&self) -> [u8; 32] {
        self.state.read().current.hash
    }

    /// How often the certificate is rotated; `None` when it never
    /// needs to.
    pub const fn rotation_period(&self) -> Option<Duration> {
        match &self.source {
            CertificateSource::SelfSigned { rotate_every, .. } => Some(*rotate_every),
            CertificateSource::PemFiles { .. } => None,
        }
    }

    /// Makes the next certificate the one presented and makes a new next;
    /// returns the certificate to present from now on. A CA-issued
    /// certificate stays as it is.
    ///
    /// # Errors
    ///
    /// [`CertificateError::Generate`] when no new certificate can be made.
    pub(crate) fn rotate(&self) -> Result<Issued, CertificateError> {
        let CertificateSource::SelfSigned {
            names,
            rotate_every,
        } = &self.source
        else {
            return Ok(self.current());
        };
        let fresh = self_signed(names, *rotate_every)?;
        let mut state = self.state.write();
        let next = state.next.replace(fresh);
        if let Some(next) = next {
            state.current = next;
        }
        Ok(state.current.copy())
    }

    /// The certificate to present now.
    pub(crate) fn current(&self) -> Issued {
        self.state.read().current.copy()
    }
}

/// How long a self-signed certificate rotated every `rotate_every` must be
/// valid: made one period ahead, presented for one, plus the clock skew.
fn validity_for(rotate_every: Duration) -> Result<Duration, CertificateError> {
    let validity = rotate_every
        .checked_mul(2)
        .and_then(|d| d.checked_add(CLOCK_SKEW))
        .filter(|d| *d <= MAX_PINNED_VALIDITY && !rotate_every.is_zero())
        .ok_or(CertificateError::RotationTooLong(rotate_every))?;
    Ok(validity)
}

fn self_signed(names: &[String], rotate_every: Duration) -> Result<Issued, CertificateError> {
    let generate = |e: rcgen::Error| CertificateError::Generate(e.to_string());
    let validity = validity_for(rotate_every)?;
    let not_before = OffsetDateTime::now_utc() - CLOCK_SKEW;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(generate)?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(generate)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "berth self-signed");
    params.not_before = not_before;
    params.not_after = not_before + validity;
    let cert = params.self_signed(&key).map_err(generate)?;
    Ok(Issued::new(
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    ))
}

fn load_pem(certificate: &PathBuf, key: &PathBuf) -> Result<Issued, CertificateError> {
    let load = |what: &str, path: &PathBuf| {
        std::fs::read(path)
            .map_err(|e| CertificateError::Load(format!("{what} {}: {e}", path.display())))
    };
    let chain = load("certificate", certificate)?;
    let key_pem = load("key", key)?;
    let chain: Vec<CertificateDer<'static>> = pem::parse_many(&chain)
        .map_err(|e| CertificateError::Load(format!("certificate PEM: {e}")))?
        .into_iter()
        .filter(|p| p.tag() == "CERTIFICATE")
        .map(|p| CertificateDer::from(p.into_contents()))
        .collect();
    let leaf = chain
        .first()
        .ok_or_else(|| CertificateError::Load("no CERTIFICATE block in the file".into()))?;
    check_valid_now(leaf, SystemTime::now())?;
    let key = pem::parse_many(&key_pem)
        .map_err(|e| CertificateError::Load(format!("key PEM: {e}")))?
        .into_iter()
        .find(|p| p.tag() == "PRIVATE KEY")
        .ok_or_else(|| {
            CertificateError::Load("no PKCS#8 PRIVATE KEY block in the key file".into())
        })?;
    Ok(Issued::new(
        chain,
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.into_contents())),
    ))
}

/// Refuses a certificate (DER) whose validity does not include `now`.
pub(crate) fn check_valid_now(der: &[u8], now: SystemTime) -> Result<(), CertificateError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| CertificateError::Load(format!("certificate: {e}")))?;
    let validity = cert.validity();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if secs < validity.not_before.timestamp() || secs > validity.not_after.timestamp() {
        return Err(CertificateError::NotValidNow {
            not_before: validity.not_before.to_string(),
            not_after: validity.not_after.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate valid from `not_before` for `days`, as PEM
    /// (certificate, key).
    fn pem_pair(not_before: OffsetDateTime, days: u64) -> (String, String) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.not_before = not_before;
        params.not_after = not_before + Duration::from_secs(days * 24 * 3600);
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn self_signed_certificates_are_what_browsers_pin() {
        let certs =
            Certificates::new(CertificateSource::self_signed(["localhost", "127.0.0.1"])).unwrap();
        let current = certs.current();
        let der = current.chain[0].as_ref();
        assert_eq!(current.hash, sha256(der));
        let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
        let validity = cert.validity();
        let secs = validity.not_after.timestamp() - validity.not_before.timestamp();
        assert!(
            secs as u64 <= MAX_PINNED_VALIDITY.as_secs(),
            "valid {secs} s"
        );
        // ECDSA P-256: the id-ecPublicKey algorithm with the prime256v1 curve.
        let spki = &cert.public_key().algorithm;
        assert_eq!(spki.algorithm.to_id_string(), "1.2.840.10045.2.1");
        let curve = spki.parameters.as_ref().unwrap().as_oid().unwrap();
        assert_eq!(curve.to_id_string(), "1.2.840.10045.3.1.7");
        check_valid_now(der, SystemTime::now()).unwrap();
    }

    #[test]
    fn rotation_presents_the_served_next_and_serves_a_new_next() {
        let certs = Certificates::new(CertificateSource::SelfSigned {
            names: vec!["localhost".into()],
            rotate_every: Duration::from_secs(60),
        })
        .unwrap();
        let before = certs.hashes();
        assert_eq!(before.len(), 2);
        assert_ne!(before[0], before[1]);
        assert_eq!(certs.rotate().unwrap().hash, before[1]);
        let after = certs.hashes();
        assert_eq!(after[0], before[1], "the next became the one presented");
        assert_eq!(certs.current_hash(), before[1]);
        assert!(
            !after.contains(&before[0]),
            "the old one is no longer served"
        );
        assert_ne!(after[1], before[1]);
    }

    #[test]
    fn a_rotation_period_past_the_browser_limit_is_refused() {
        let source = CertificateSource::SelfSigned {
            names: vec!["localhost".into()],
            rotate_every: Duration::from_secs(7 * 24 * 3600),
        };
        assert!(matches!(
            Certificates::new(source),
            Err(CertificateError::RotationTooLong(_))
        ));
    }

    #[test]
    fn pem_files_load_and_an_expired_one_fails_with_its_dates() {
        let dir = std::env::temp_dir().join(format!("berth-wt-cert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, (cert, key): (String, String)| {
            let certificate = dir.join(format!("{name}.pem"));
            let key_path = dir.join(format!("{name}.key"));
            std::fs::write(&certificate, cert).unwrap();
            std::fs::write(&key_path, key).unwrap();
            CertificateSource::PemFiles {
                certificate,
                key: key_path,
            }
        };
        let fresh = write("fresh", pem_pair(OffsetDateTime::now_utc(), 3));
        let certs = Certificates::new(fresh).unwrap();
        assert!(
            certs.hashes().is_empty(),
            "a CA's certificate is not pinned"
        );
        assert_eq!(certs.rotation_period(), None);

        let month_ago = OffsetDateTime::now_utc() - Duration::from_secs(30 * 24 * 3600);
        let expired = write("expired", pem_pair(month_ago, 1));
        let err = Certificates::new(expired).unwrap_err();
        assert!(matches!(err, CertificateError::NotValidNow { .. }), "{err}");
        assert!(err.to_string().contains("not valid now"), "{err}");
        let missing = Certificates::new(CertificateSource::PemFiles {
            certificate: dir.join("nothing.pem"),
            key: dir.join("nothing.key"),
        })
        .unwrap_err();
        assert!(matches!(missing, CertificateError::Load(_)), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
