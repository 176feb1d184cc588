//! libquic's ends of a [`crate::download`], through its Rust API.

use std::sync::Arc;

use quic::config::Config;
use quic::conn::{Connection, Event};
use quic::packet::header;
use quic::tls::TlsContext;

use crate::{addrs, Host};

/// The client: reads everything, counting bytes.
struct Client {
    conn: Connection,
    got: usize,
    end: bool,
}

impl Host for Client {
    fn transmit(&mut self, now: u64, buf: &mut Vec<u8>) -> bool {
        self.conn.send(buf, now).is_some()
    }

    fn receive(&mut self, now: u64, datagram: &[u8]) {
        self.conn.recv(datagram, addrs().1, now);
        while let Some(e) = self.conn.poll_event() {
            if let Event::StreamDataReceived {
                data, end_stream, ..
            } = e
            {
                self.got += data.len();
                self.end |= end_stream;
            }
        }
    }

    fn timeout(&mut self) -> Option<u64> {
        self.conn.timer()
    }

    fn on_timeout(&mut self, now: u64) {
        self.conn.handle_timer(now);
    }
}

/// The server: made by the client's first datagram; writes the whole body
/// on stream 1 once its handshake completes.
struct Server {
    conn: Option<Connection>,
    config: Arc<Config>,
    tls: Arc<TlsContext>,
    body: Arc<[u8]>,
}

impl Host for Server {
    fn transmit(&mut self, now: u64, buf: &mut Vec<u8>) -> bool {
        self.conn
            .as_mut()
            .is_some_and(|c| c.send(buf, now).is_some())
    }

    fn receive(&mut self, now: u64, datagram: &[u8]) {
        let (config, tls) = (&self.config, &self.tls);
        if self.conn.is_none() {
            let Ok(h) = header::parse(datagram, 8) else {
                return;
            };
            let Ok(c) = Connection::new_server(config.clone(), tls.clone(), h.dcid, None) else {
                return;
            };
            self.conn = Some(c);
        }
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        conn.recv(datagram, addrs().0, now);
        while let Some(e) = conn.poll_event() {
            if let Event::HandshakeCompleted { .. } = e {
                conn.stream_send(1, &self.body, true)
                    .expect("the body fits the send buffer");
            }
        }
    }

    fn timeout(&mut self) -> Option<u64> {
        self.conn.as_ref().and_then(|c| c.timer())
    }

    fn on_timeout(&mut self, now: u64) {
        if let Some(c) = &mut self.conn {
            c.handle_timer(now);
        }
    }
}

/// A download of `body` by a libquic client from a libquic server.
pub struct LibquicDownload {
    client: Client,
    server: Server,
}

impl LibquicDownload {
    /// Client and server with these configurations and TLS contexts.
    pub fn new(
        client: (&Arc<Config>, &Arc<TlsContext>),
        server: (&Arc<Config>, &Arc<TlsContext>),
        body: Arc<[u8]>,
    ) -> Self {
        let mut conn = Connection::new_client(client.0.clone(), client.1.clone())
            .expect("a client connection");
        conn.connect(addrs().1, 0).expect("connect");
        Self {
            client: Client {
                conn,
                got: 0,
                end: false,
            },
            server: Server {
                conn: None,
                config: server.0.clone(),
                tls: server.1.clone(),
                body,
            },
        }
    }

    /// The server's connection, once the client's first datagram made it.
    pub fn server(&self) -> Option<&Connection> {
        self.server.conn.as_ref()
    }
}

impl crate::download::Download for LibquicDownload {
    fn hosts(&mut self) -> (&mut dyn Host, &mut dyn Host) {
        (&mut self.client, &mut self.server)
    }

    fn received(&self) -> (usize, bool) {
        (self.client.got, self.client.end)
    }
}
