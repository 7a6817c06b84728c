//! The server's TLS certificates: self-signed ones that browsers accept
//! through `serverCertificateHashes`, generated at start and rotated
//! before they expire, or a certificate and key from a real CA.

use parking_lot::RwLock;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use wtransport::Identity;
use wtransport::tls::self_signed::SelfSignedIdentityBuilder;
use wtransport::tls::self_signed::time::OffsetDateTime;

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
    /// A name that cannot go in a certificate.
    #[error("a subject name is not valid in a certificate")]
    BadName,
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

/// One certificate with its hash and its validity.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) identity: Identity,
    pub(crate) hash: [u8; 32],
}

impl Issued {
    fn of(identity: Identity) -> Self {
        let hash = identity
            .certificate_chain()
            .as_slice()
            .first()
            .map(|leaf| *leaf.hash().as_ref())
            .unwrap_or_default();
        Self { identity, hash }
    }
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
    /// returns the identity to present from now on. A CA-issued
    /// certificate stays as it is.
    ///
    /// # Errors
    ///
    /// [`CertificateError::BadName`] cannot happen after a successful
    /// [`Certificates::new`], but is passed on.
    pub(crate) fn rotate(&self) -> Result<Identity, CertificateError> {
        let CertificateSource::SelfSigned {
            names,
            rotate_every,
        } = &self.source
        else {
            return Ok(self.identity());
        };
        let fresh = self_signed(names, *rotate_every)?;
        let mut state = self.state.write();
        let next = state.next.replace(fresh);
        if let Some(next) = next {
            state.current = next;
        }
        Ok(state.current.identity.clone_identity())
    }

    /// The identity to present now.
    pub(crate) fn identity(&self) -> Identity {
        self.state.read().current.identity.clone_identity()
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
    let validity = validity_for(rotate_every)?;
    let not_before = OffsetDateTime::now_utc() - CLOCK_SKEW;
    let identity = SelfSignedIdentityBuilder::new()
        .subject_alt_names(names)
        .not_before(not_before)
        .not_after(not_before + validity)
        .build()
        .map_err(|_| CertificateError::BadName)?;
    Ok(Issued::of(identity))
}

fn load_pem(certificate: &PathBuf, key: &PathBuf) -> Result<Issued, CertificateError> {
    let load = |what: &str, path: &PathBuf| {
        std::fs::read(path)
            .map_err(|e| CertificateError::Load(format!("{what} {}: {e}", path.display())))
    };
    let chain = load("certificate", certificate)?;
    let key_pem = load("key", key)?;
    let certs = pem::parse_many(&chain)
        .map_err(|e| CertificateError::Load(format!("certificate PEM: {e}")))?;
    let leaf = certs
        .iter()
        .find(|p| p.tag() == "CERTIFICATE")
        .ok_or_else(|| CertificateError::Load("no CERTIFICATE block in the file".into()))?;
    check_valid_now(leaf.contents(), SystemTime::now())?;
    let chain = certs
        .iter()
        .filter(|p| p.tag() == "CERTIFICATE")
        .map(|p| wtransport::tls::Certificate::from_der(p.contents().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertificateError::Load(format!("certificate: {e}")))?;
    let key = pem::parse_many(&key_pem)
        .map_err(|e| CertificateError::Load(format!("key PEM: {e}")))?
        .into_iter()
        .find(|p| p.tag() == "PRIVATE KEY")
        .ok_or_else(|| {
            CertificateError::Load("no PKCS#8 PRIVATE KEY block in the key file".into())
        })?;
    let identity = Identity::new(
        wtransport::tls::CertificateChain::new(chain),
        wtransport::tls::PrivateKey::from_der_pkcs8(key.into_contents()),
    );
    Ok(Issued::of(identity))
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

    fn leaf_der(identity: &Identity) -> Vec<u8> {
        identity.certificate_chain().as_slice()[0].der().to_vec()
    }

    #[test]
    fn self_signed_certificates_are_what_browsers_pin() {
        let certs =
            Certificates::new(CertificateSource::self_signed(["localhost", "127.0.0.1"])).unwrap();
        let der = leaf_der(&certs.identity());
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
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
        check_valid_now(&der, SystemTime::now()).unwrap();
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
        certs.rotate().unwrap();
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
    fn an_expired_certificate_is_refused() {
        let old = OffsetDateTime::now_utc() - Duration::from_secs(30 * 24 * 3600);
        let identity = SelfSignedIdentityBuilder::new()
            .subject_alt_names(["localhost"])
            .not_before(old)
            .not_after(old + Duration::from_secs(24 * 3600))
            .build()
            .unwrap();
        let err = check_valid_now(&leaf_der(&identity), SystemTime::now()).unwrap_err();
        assert!(matches!(err, CertificateError::NotValidNow { .. }), "{err}");
    }

    #[test]
    fn pem_files_load_and_an_expired_one_fails_with_its_dates() {
        let dir = std::env::temp_dir().join(format!("berth-wt-cert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, identity: &Identity| {
            let cert = dir.join(format!("{name}.pem"));
            let key = dir.join(format!("{name}.key"));
            std::fs::write(&cert, identity.certificate_chain().as_slice()[0].to_pem()).unwrap();
            std::fs::write(&key, identity.private_key().to_secret_pem()).unwrap();
            CertificateSource::PemFiles {
                certificate: cert,
                key,
            }
        };
        let fresh = SelfSignedIdentityBuilder::new()
            .subject_alt_names(["localhost"])
            .from_now_utc()
            .validity_days(3)
            .build()
            .unwrap();
        let certs = Certificates::new(write("fresh", &fresh)).unwrap();
        assert!(
            certs.hashes().is_empty(),
            "a CA's certificate is not pinned"
        );
        assert_eq!(certs.rotation_period(), None);

        let old = OffsetDateTime::now_utc() - Duration::from_secs(30 * 24 * 3600);
        let expired = SelfSignedIdentityBuilder::new()
            .subject_alt_names(["localhost"])
            .not_before(old)
            .not_after(old + Duration::from_secs(24 * 3600))
            .build()
            .unwrap();
        let err = Certificates::new(write("expired", &expired)).unwrap_err();
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
