//! A hub's own CA bundle (`ca_file`): read once when the roster is validated, and
//! turned into the TLS settings of the hub's HTTP client.
//!
//! With a `ca_file`, a hub is trusted by that file alone (as `curl --cacert` and
//! Python's `verify=` do): a certificate chained to one of its certificates, or one of
//! its certificates presented as the hub's own. The second is the usual self-signed
//! setup (`openssl req -x509 …`), whose certificate is marked CA:TRUE, which the
//! WebPKI rules refuse as a server certificate; the host name is checked either way.

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::small_file::{self, ReadError};

/// A CA bundle is small: more than this is a mistaken path.
const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Why a `ca_file` cannot be used. Messages name the file and never its contents.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CaError {
    #[error("ca_file {} cannot be read: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("ca_file {} is not a PEM bundle: {message}", path.display())]
    NotPem { path: PathBuf, message: String },
    #[error("ca_file {} holds no PEM certificate", path.display())]
    Empty { path: PathBuf },
    #[error("ca_file {}: {message}", path.display())]
    Unusable { path: PathBuf, message: String },
}

/// The certificates of one `ca_file`, read once.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CaBundle {
    path: PathBuf,
    certs: Vec<CertificateDer<'static>>,
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("path", &self.path)
            .field("certificates", &self.certs.len())
            .finish()
    }
}

impl CaBundle {
    /// Reads and parses the PEM file at `path`.
    pub fn read(path: &Path) -> Result<CaBundle, CaError> {
        let pem = small_file::read_regular(path, MAX_CA_FILE_BYTES).map_err(|e| {
            let message = match e {
                ReadError::Io(e) => e.to_string(),
                ReadError::NotRegular => "not a regular file".into(),
                ReadError::TooLarge { .. } => format!("larger than {MAX_CA_FILE_BYTES} bytes"),
            };
            CaError::Read {
                path: path.to_owned(),
                message,
            }
        })?;
        CaBundle::from_pem(path, &pem)
    }

    /// Parses PEM text; `path` is only named in messages.
    pub fn from_pem(path: &Path, pem: &[u8]) -> Result<CaBundle, CaError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CaError::NotPem {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(CaError::Empty {
                path: path.to_owned(),
            });
        }
        let bundle = CaBundle {
            path: path.to_owned(),
            certs,
        };
        // Refuse now what the client could not be built from later.
        bundle.client_config()?;
        Ok(bundle)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// TLS settings that trust this bundle alone (see the module doc).
    pub fn client_config(&self) -> Result<rustls::ClientConfig, CaError> {
        let unusable = |message: String| CaError::Unusable {
            path: self.path.clone(),
            message,
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in &self.certs {
            roots
                .add(cert.clone())
                .map_err(|e| unusable(format!("a certificate cannot be a trust anchor: {e}")))?;
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| unusable(e.to_string()))?;
        let verifier = BundleVerifier {
            webpki,
            pinned: self.certs.clone(),
        };
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| unusable(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// WebPKI verification against the bundle, plus the one case it refuses that curl and
/// Python accept: a bundle certificate marked CA:TRUE presented as the server's own.
#[derive(Debug)]
struct BundleVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for BundleVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let error = match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => return Ok(verified),
            Err(error) => error,
        };
        // WebPKI checks the validity period before the CA flag, so a certificate that
        // failed only on the flag is within its dates.
        let pinned = self
            .pinned
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref());
        if !pinned || !is_ca_used_as_end_entity(&error) {
            return Err(error);
        }
        let cert = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|e| rustls::Error::InvalidCertificate(pki_error(e)))?;
        cert.verify_is_valid_for_subject_name(server_name)
            .map_err(|e| rustls::Error::InvalidCertificate(pki_error(e)))?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

fn is_ca_used_as_end_entity(error: &rustls::Error) -> bool {
    matches!(
        error,
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))
            if matches!(other.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity))
    )
}

fn pki_error(error: webpki::Error) -> rustls::CertificateError {
    match error {
        webpki::Error::CertNotValidForName(_) => rustls::CertificateError::NotValidForName,
        other => rustls::CertificateError::Other(rustls::OtherError(Arc::new(other))),
    }
}

/// A refused TLS connection as a sentence that says what to do.
pub(crate) fn advice(error: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer => "the hub's certificate is signed by a CA this tool does not trust: set the hub's ca_file to the PEM of that CA (or of the hub's self-signed certificate)".to_string(),
            C::NotValidForName | C::NotValidForNameContext { .. } => "the hub's certificate is not issued for the host in api_url: write api_url with a name the certificate covers, or reissue the certificate for this name".to_string(),
            C::Expired | C::ExpiredContext { .. } => "the hub's certificate has expired (or this machine's clock is wrong): renew the certificate".to_string(),
            C::NotValidYet | C::NotValidYetContext { .. } => "the hub's certificate is not valid yet (or this machine's clock is wrong)".to_string(),
            C::Revoked => "the hub's certificate has been revoked: replace it".to_string(),
            other => format!("the hub's certificate was refused ({other:?}): check the certificate and the hub's ca_file"),
        },
        other => format!("the TLS handshake with the hub failed ({other}): is api_url's scheme right, and does the hub speak TLS there?"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused() {
        let err = CaBundle::from_pem(Path::new("ca.pem"), b"hello").unwrap_err();
        assert_eq!(err.to_string(), "ca_file ca.pem holds no PEM certificate");
        let err = CaBundle::read(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("ca_file /nonexistent/ca.pem cannot be read")
        );
    }

    #[test]
    fn advice_says_what_to_do() {
        let unknown = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert!(advice(&unknown).contains("set the hub's ca_file"));
        let name = rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
        assert!(advice(&name).contains("api_url"));
    }
}
