//! The application's register of used NEW_TOKEN tokens and 0-RTT tickets,
//! shared across a fleet or a restart, through the C ABI.

use std::ffi::{c_int, c_void};
use std::sync::Arc;

use super::config::{quic_config, with_config, UserData};
use super::result::*;
use crate::shared_register::{OnceKind, SharedRegister};

/// What the identifier in a `quic_register_query` belongs to.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum quic_register_kind {
    /// The 12-byte identifier of a NEW_TOKEN token a client's Initial
    /// presents (RFC 9000 §8.1.4: a token is good for one connection).
    NewToken = 1,
    /// The 16-byte nonce of the session ticket a 0-RTT flight resumes
    /// (RFC 9001 §9.2: early data is taken once).
    EarlyData = 2,
}

/// A question to the application's register (input to its callback; more
/// fields may follow in later versions, after `struct_size`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct quic_register_query {
    /// `sizeof(quic_register_query)` as this library knows it.
    pub struct_size: usize,
    /// What `id` identifies.
    pub kind: quic_register_kind,
    /// The identifier: random bytes, unique to one token or ticket.
    pub id: *const u8,
    /// Its length (12 or 16 bytes today; at most 64).
    pub id_len: usize,
    /// How long to remember it, in seconds: after that, the token or
    /// ticket can no longer be accepted anyway.
    pub keep_seconds: u64,
}

/// The application's register: records the query's `id` and returns 1 if
/// it had not been recorded before; returns 0 if it had. Any other value,
/// or 0, means "not a sure first use": the token then validates nothing
/// and the early data is refused (the connection goes on without them).
pub type quic_register_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, query: *const quic_register_query) -> c_int>;

/// Calls a C register.
struct CRegister {
    callback: unsafe extern "C" fn(*mut c_void, *const quic_register_query) -> c_int,
    userdata: UserData,
}

impl SharedRegister for CRegister {
    fn first_use(&self, kind: OnceKind, id: &[u8], keep_seconds: u64) -> bool {
        let query = quic_register_query {
            struct_size: std::mem::size_of::<quic_register_query>(),
            kind: match kind {
                OnceKind::NewToken => quic_register_kind::NewToken,
                OnceKind::EarlyData => quic_register_kind::EarlyData,
            },
            id: id.as_ptr(),
            id_len: id.len(),
            keep_seconds,
        };
        // SAFETY: the application vouched for the callback and userdata
        // (quic_config_set_shared_register); the query and `id` live for
        // the call.
        unsafe { (self.callback)(self.userdata.ptr(), &query) == 1 }
    }
}

/// Shares a server's registers of used NEW_TOKEN tokens and 0-RTT tickets
/// with the application, which keeps them where every server that could
/// see the same token or ticket reaches: the servers of a fleet sharing
/// ticket keys (`quic_config_set_ticket_keys`) and a token key
/// (`quic_config_set_token_key`), or one server across its restarts.
///
/// The library still keeps its own registers in memory and calls
/// `callback(userdata, query)` only for an identifier this config has not
/// seen: when `quic_token_check` meets a NEW_TOKEN token for the first time,
/// and when a client offers early data with a ticket not yet used here. A
/// result other than 1 counts as "used before".
///
/// Without a shared register, a server with ticket keys of its own refuses
/// 0-RTT for the first 20 seconds after the config is frozen: its register
/// starts empty, and a flight that an earlier process (or another server)
/// accepted could be replayed to it within that window. Setting a register
/// says it remembers such flights, and 0-RTT is taken at once. A server
/// with random ticket keys (the default) needs neither: no ticket older
/// than its config opens.
///
/// The callback runs on the thread that drives a connection (inside
/// `quic_conn_recv`) or checks a token (`quic_token_check`), possibly on
/// several threads at once; the handshake waits for it, so it should answer
/// quickly. Pass a NULL callback to remove it.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER` (NULL config);
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen).
///
/// Safety: `config` must be NULL or a live config; `callback` must be safe
/// to call with `userdata` from any thread, as long as the config or a
/// connection made from it lives.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_shared_register(
    config: *mut quic_config,
    callback: quic_register_fn,
    userdata: *mut c_void,
) -> quic_result {
    with_config(config, "quic_config_set_shared_register", |h| {
        let register = callback.map(|callback| {
            Arc::new(CRegister {
                callback,
                userdata: UserData(userdata),
            }) as Arc<dyn SharedRegister>
        });
        h.apply(|c| {
            c.set_shared_register(register);
            Ok(())
        })
    })
}
