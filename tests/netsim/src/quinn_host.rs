//! quinn-proto's ends of a [`crate::download`]: each an `Endpoint` with one
//! connection, driven by hand.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use quinn_proto::{
    ClientConfig, Connection, ConnectionHandle, DatagramEvent, Dir, Endpoint, EndpointConfig,
    Event, ServerConfig, StreamEvent, StreamId,
};

use crate::{addrs, Host};

/// One end: its endpoint and connection, the server's body to write, the
/// client's stream being read.
struct End {
    endpoint: Endpoint,
    conn: Option<(ConnectionHandle, Connection)>,
    base: Instant,
    /// The peer's address.
    peer: SocketAddr,
    resp: Vec<u8>,
    body: Option<Arc<[u8]>>,
    /// Server: the stream it writes, and how much of the body went in.
    outgoing: Option<StreamId>,
    written: usize,
    incoming: Option<StreamId>,
    got: usize,
    end: bool,
}

impl End {
    fn at(&self, ns: u64) -> Instant {
        self.base + Duration::from_nanos(ns)
    }

    fn endpoint_events(&mut self) {
        if let Some((h, c)) = &mut self.conn {
            while let Some(ev) = c.poll_endpoint_events() {
                if let Some(back) = self.endpoint.handle_event(*h, ev) {
                    c.handle_event(back);
                }
            }
        }
    }

    /// Application work after anything happened: the server writes once
    /// connected, the client reads what is readable.
    fn app(&mut self) {
        let Some((_, c)) = &mut self.conn else {
            return;
        };
        while let Some(e) = c.poll() {
            match e {
                Event::Connected if self.body.is_some() => {
                    self.outgoing = c.streams().open(Dir::Uni);
                }
                Event::Stream(StreamEvent::Opened { dir: Dir::Uni }) => {
                    self.incoming = c.streams().accept(Dir::Uni);
                }
                _ => {}
            }
        }
        // The server writes what quinn-proto takes (its send window and the
        // peer's credit), the rest when there is room again.
        if let (Some(id), Some(body)) = (self.outgoing, &self.body) {
            let mut st = c.send_stream(id);
            while self.written < body.len() {
                match st.write(&body[self.written..]) {
                    Ok(n) if n > 0 => self.written += n,
                    _ => break,
                }
            }
            if self.written == body.len() {
                st.finish().expect("finish");
                self.body = None;
            }
        }
        let Some(id) = self.incoming else { return };
        let mut rs = c.recv_stream(id);
        let Ok(mut chunks) = rs.read(true) else {
            return;
        };
        loop {
            match chunks.next(usize::MAX) {
                Ok(Some(chunk)) => self.got += chunk.bytes.len(),
                Ok(None) => {
                    self.end = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let _ = chunks.finalize();
    }
}

impl Host for End {
    fn transmit(&mut self, now: u64, buf: &mut Vec<u8>) -> bool {
        let at = self.at(now);
        let Some((_, c)) = &mut self.conn else {
            return false;
        };
        let sent = match c.poll_transmit(at, 1, buf) {
            Some(t) => {
                buf.truncate(t.size);
                true
            }
            None => false,
        };
        self.endpoint_events();
        sent
    }

    fn receive(&mut self, now: u64, datagram: &[u8]) {
        let at = self.at(now);
        match self.endpoint.handle(
            at,
            self.peer,
            None,
            None,
            BytesMut::from(datagram),
            &mut self.resp,
        ) {
            Some(DatagramEvent::ConnectionEvent(_, ev)) => {
                if let Some((_, c)) = &mut self.conn {
                    c.handle_event(ev);
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                if let Ok((h, c)) = self.endpoint.accept(incoming, at, &mut self.resp, None) {
                    self.conn = Some((h, c));
                }
            }
            Some(DatagramEvent::Response(_)) | None => {}
        }
        self.endpoint_events();
        self.app();
    }

    fn timeout(&mut self) -> Option<u64> {
        let t = self.conn.as_mut()?.1.poll_timeout()?;
        Some(t.saturating_duration_since(self.base).as_nanos() as u64)
    }

    fn on_timeout(&mut self, now: u64) {
        let at = self.at(now);
        if let Some((_, c)) = &mut self.conn {
            c.handle_timeout(at);
        }
        self.endpoint_events();
        self.app();
    }
}

/// A download of `body` by a quinn-proto client from a quinn-proto server.
pub struct QuinnDownload {
    client: End,
    server: End,
}

impl QuinnDownload {
    /// Client and server with these configurations.
    pub fn new(client: &ClientConfig, server: &Arc<ServerConfig>, body: Arc<[u8]>) -> Self {
        let base = Instant::now();
        let mut cep = Endpoint::new(Arc::new(EndpointConfig::default()), None, false, None);
        let sep = Endpoint::new(
            Arc::new(EndpointConfig::default()),
            Some(server.clone()),
            false,
            None,
        );
        let conn = cep
            .connect(base, client.clone(), addrs().1, "localhost")
            .expect("connect");
        let end = |endpoint, conn, peer, body| End {
            endpoint,
            conn,
            base,
            peer,
            resp: Vec::new(),
            body,
            outgoing: None,
            written: 0,
            incoming: None,
            got: 0,
            end: false,
        };
        Self {
            client: end(cep, Some(conn), addrs().1, None),
            server: end(sep, None, addrs().0, Some(body)),
        }
    }

    /// The server's connection, once accepted.
    pub fn server(&mut self) -> Option<&mut Connection> {
        self.server.conn.as_mut().map(|(_, c)| c)
    }
}

impl crate::download::Download for QuinnDownload {
    fn hosts(&mut self) -> (&mut dyn Host, &mut dyn Host) {
        (&mut self.client, &mut self.server)
    }

    fn received(&self) -> (usize, bool) {
        (self.client.got, self.client.end)
    }
}
