//! Connection IDs made by the application (`quic_config_set_cid_generator`):
//! how a fleet puts what its load balancers route by into every ID.

use std::ffi::c_void;
use std::sync::Arc;

use super::config::{quic_config, with_config, UserData};
use super::result::*;

/// Makes a new connection ID in `out` (`len` bytes, the configured
/// connection ID length), which arrives holding random bytes: overwrite
/// what the fleet routes by and leave the rest random.
pub type quic_cid_generator_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, out: *mut u8, len: usize)>;

/// Makes every connection ID that connections from this config issue, and
/// the SCID of the Retry packets sent with it, with `generator` instead of
/// at random: a fleet puts a server ID in the leading bytes, so that a
/// stateless load balancer keeps each connection on its server, even
/// after the client moves. Each ID must be unique to this server: leave
/// the rest of the random bytes it gets. Stateless reset tokens still
/// come from the endpoint's key. Pass a NULL generator for random IDs
/// again. (`quic_config_set_quic_lb` is a built-in generator after
/// QUIC-LB.)
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen).
///
/// Safety: `config` NULL or a live config; `generator` must be safe to
/// call with `userdata` from any thread that uses the config (or its
/// connections and endpoints), as long as they live, and must write
/// no more than `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_cid_generator(
    config: *mut quic_config,
    generator: quic_cid_generator_fn,
    userdata: *mut c_void,
) -> quic_result {
    with_config(config, "quic_config_set_cid_generator", |h| {
        let Some(generate) = generator else {
            return h.apply(|c| {
                c.set_cid_generator(None);
                Ok(())
            });
        };
        let ud = UserData(userdata);
        h.apply(|c| {
            c.set_cid_generator(Some(Arc::new(move |out: &mut [u8]| {
                // SAFETY: the caller vouched for `generate` and `userdata`
                // writing `out.len()` bytes.
                unsafe { generate(ud.ptr(), out.as_mut_ptr(), out.len()) };
            })));
            Ok(())
        })
    })
}
