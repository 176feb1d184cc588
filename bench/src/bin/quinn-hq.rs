//! The quinn side of `make bench`'s UDP loopback row: a minimal
//! HTTP/0.9-over-QUIC ("hq-interop") server and client on quinn 0.11 and
//! tokio, as quinn's users run it: quinn-udp's GSO, GRO and ECN, CUBIC,
//! PMTU discovery up to 1452 bytes (quinn's defaults). The flow-control
//! limits are set to what libquic's quic-client grows to (16 MB per
//! stream, 24 MB per connection), so neither stack is held back by a
//! smaller window.
//!
//!   quinn-hq server LISTEN CERT KEY ROOT   (prints "listening on ADDR")
//!   quinn-hq client CA OUTPUT-DIR ADDR PATH
//!
//! The server answers each bidirectional stream's "GET /PATH\r\n" with the
//! file under ROOT; the client writes what arrives to OUTPUT-DIR/PATH and
//! exits 0 once the stream finished.

use std::net::SocketAddr;
use std::sync::Arc;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ALPN: &[u8] = b"hq-interop";

fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.stream_receive_window(quinn::VarInt::from_u32(16 << 20))
        .receive_window(quinn::VarInt::from_u32(24 << 20))
        .send_window(24 << 20)
        .max_idle_timeout(Some(quinn::VarInt::from_u32(30_000).into()));
    Arc::new(t)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    // AES-128-GCM and X25519 first, as libquic negotiates by default.
    Arc::new(rustls::crypto::ring::default_provider())
}

async fn server(listen: SocketAddr, cert: &str, key: &str, root: String) {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("certificate")
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).expect("key");
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let mut config =
        quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(tls).unwrap()));
    config.transport_config(transport());
    let endpoint = quinn::Endpoint::server(config, listen).expect("bind");
    println!("listening on {}", endpoint.local_addr().unwrap());
    while let Some(incoming) = endpoint.accept().await {
        let root = root.clone();
        tokio::spawn(async move {
            let Ok(conn) = incoming.await else { return };
            while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                let root = root.clone();
                tokio::spawn(async move {
                    let request = recv.read_to_end(1024).await.unwrap_or_default();
                    let request = String::from_utf8_lossy(&request);
                    let path = request
                        .trim()
                        .strip_prefix("GET /")
                        .unwrap_or("")
                        .to_string();
                    if let Ok(mut file) = tokio::fs::File::open(format!("{root}/{path}")).await {
                        let mut buf = vec![0u8; 1 << 16];
                        loop {
                            let n = file.read(&mut buf).await.unwrap_or(0);
                            if n == 0 || send.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                    let _ = send.finish();
                    let _ = send.stopped().await;
                });
            }
        });
    }
}

async fn client(ca: &str, out: &str, addr: SocketAddr, path: &str) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let mut config = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls).unwrap()));
    config.transport_config(transport());
    let local: SocketAddr = if addr.is_ipv6() {
        "[::]:0".parse().unwrap()
    } else {
        "0.0.0.0:0".parse().unwrap()
    };
    let mut endpoint = quinn::Endpoint::client(local).map_err(|e| e.to_string())?;
    endpoint.set_default_client_config(config);
    let conn = endpoint
        .connect(addr, "localhost")
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
    send.write_all(format!("GET /{path}\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    send.finish().map_err(|e| e.to_string())?;
    let mut file = tokio::fs::File::create(format!("{out}/{path}"))
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 16];
    while let Some(n) = recv.read(&mut buf).await.map_err(|e| e.to_string())? {
        file.write_all(&buf[..n]).await.map_err(|e| e.to_string())?;
    }
    file.flush().await.map_err(|e| e.to_string())?;
    conn.close(0u32.into(), b"done");
    endpoint.wait_idle().await;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match args.get(1).map(String::as_str) {
        Some("server") if args.len() == 6 => {
            let listen = args[2].parse().expect("LISTEN address");
            rt.block_on(server(listen, &args[3], &args[4], args[5].clone()));
        }
        Some("client") if args.len() == 6 => {
            let addr = args[4].parse().expect("ADDR");
            if let Err(e) = rt.block_on(client(&args[2], &args[3], addr, &args[5])) {
                eprintln!("quinn-hq client: {e}");
                std::process::exit(1);
            }
        }
        _ => {
            eprintln!("usage: quinn-hq server LISTEN CERT KEY ROOT | client CA OUT ADDR PATH");
            std::process::exit(2);
        }
    }
}
