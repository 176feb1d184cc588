//! The exported C functions called from Rust as a C program would: NULL
//! pointers, truncated and malformed input, short buffers. Each must return
//! its documented code and leave out-parameters untouched on error.

use std::ffi::CStr;
use std::ptr::{null, null_mut};

use quic::ffi::*;

const ODCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

fn empty_info() -> quic_header_info {
    quic_header_info {
        struct_size: std::mem::size_of::<quic_header_info>(),
        packet_type: quic_packet_type::OneRtt,
        is_long: false,
        fixed_bit: false,
        version: 0xdead_beef,
        dcid: null(),
        dcid_len: 77,
        scid: null(),
        scid_len: 0,
        token: null(),
        token_len: 0,
        supported_versions: null(),
        supported_versions_count: 0,
        packet_len: 0,
    }
}

fn initial(version: u32) -> Vec<u8> {
    let mut p = vec![0xc3];
    p.extend_from_slice(&version.to_be_bytes());
    p.push(8);
    p.extend_from_slice(&ODCID);
    p.extend_from_slice(&[0, 0, 0x44, 0x9e]);
    p.resize(1200, 0);
    p
}

#[test]
fn header_parse_reports_each_error() {
    let pkt = initial(1);
    let mut info = empty_info();
    // SAFETY (all calls below): pointers come from live Rust buffers with
    // the lengths passed, or are NULL on purpose.
    unsafe {
        assert_eq!(
            quic_header_parse(null(), 5, 8, &mut info),
            QUIC_RESULT_NULL_PARAMETER
        );
        assert_eq!(
            quic_header_parse(pkt.as_ptr(), pkt.len(), 8, null_mut()),
            QUIC_RESULT_NULL_PARAMETER
        );
        assert_eq!(
            quic_header_parse(pkt.as_ptr(), pkt.len(), 21, &mut info),
            QUIC_RESULT_INVALID_ARGUMENT
        );
        assert_eq!(info.version, 0xdead_beef, "untouched on error");
        for n in 0..pkt.len() {
            assert_eq!(
                quic_header_parse(pkt.as_ptr(), n, 8, &mut info),
                QUIC_RESULT_PACKET_TRUNCATED,
                "prefix {n}"
            );
        }
        assert_eq!(info.dcid_len, 77, "untouched on error");
        assert_eq!(
            quic_header_parse(pkt.as_ptr(), pkt.len(), 8, &mut info),
            QUIC_RESULT_OK
        );
        assert_eq!(info.packet_type, quic_packet_type::Initial);
        assert_eq!(std::slice::from_raw_parts(info.dcid, info.dcid_len), ODCID);
        assert_eq!(info.packet_len, 1200);

        // A Version Negotiation packet whose list is not whole versions.
        let vn = [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            quic_header_parse(vn.as_ptr(), vn.len(), 0, &mut info),
            QUIC_RESULT_PACKET_MALFORMED
        );
        // A 21-byte CID in a v1 long header.
        let mut long = vec![0xc0, 0, 0, 0, 1, 21];
        long.resize(64, 0);
        assert_eq!(
            quic_header_parse(long.as_ptr(), long.len(), 0, &mut info),
            QUIC_RESULT_CONNECTION_ID_TOO_LONG
        );
    }
}

#[test]
fn version_negotiation_round_trip_and_errors() {
    let mut out = [0u8; 64];
    let mut len = 12345usize;
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            quic_version_negotiation_encode(
                ODCID.as_ptr(),
                8,
                null(),
                0,
                null(),
                0,
                out.as_mut_ptr(),
                10,
                &mut len
            ),
            QUIC_RESULT_BUFFER_TOO_SMALL
        );
        assert_eq!(len, 12345);
        assert_eq!(
            quic_version_negotiation_encode(
                ODCID.as_ptr(),
                8,
                null(),
                0,
                null(),
                0,
                out.as_mut_ptr(),
                out.len(),
                null_mut()
            ),
            QUIC_RESULT_NULL_PARAMETER
        );
        let too_long = [0u8; 256];
        assert_eq!(
            quic_version_negotiation_encode(
                too_long.as_ptr(),
                256,
                null(),
                0,
                null(),
                0,
                out.as_mut_ptr(),
                out.len(),
                &mut len
            ),
            QUIC_RESULT_CONNECTION_ID_TOO_LONG
        );
        assert_eq!(
            quic_version_negotiation_encode(
                ODCID.as_ptr(),
                8,
                null(),
                0,
                null(),
                0,
                out.as_mut_ptr(),
                out.len(),
                &mut len
            ),
            QUIC_RESULT_OK
        );
        let mut info = empty_info();
        assert_eq!(
            quic_header_parse(out.as_ptr(), len, 0, &mut info),
            QUIC_RESULT_OK
        );
        assert_eq!(info.packet_type, quic_packet_type::VersionNegotiation);
        let mut versions = Vec::new();
        for i in 0..info.supported_versions_count {
            let mut v = 0;
            assert_eq!(
                quic_header_supported_version(&info, i, &mut v),
                QUIC_RESULT_OK
            );
            versions.push(v);
        }
        assert_eq!(versions, vec![1, 0x6b33_43cf]);
        assert_eq!(
            quic_header_supported_version(null(), 0, null_mut()),
            QUIC_RESULT_NULL_PARAMETER
        );
    }
}

#[test]
fn retry_encode_verify_and_errors() {
    let scid = [0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5];
    let mut out = [0u8; 128];
    let mut len = 0usize;
    // SAFETY: as above.
    unsafe {
        for version in [1u32, 0x6b33_43cf] {
            assert_eq!(
                quic_retry_encode(
                    version,
                    ODCID.as_ptr(),
                    8,
                    null(),
                    0,
                    scid.as_ptr(),
                    8,
                    b"token".as_ptr(),
                    5,
                    out.as_mut_ptr(),
                    out.len(),
                    &mut len
                ),
                QUIC_RESULT_OK
            );
            assert_eq!(len, 36);
            assert_eq!(
                quic_retry_verify(version, ODCID.as_ptr(), 8, out.as_ptr(), len),
                QUIC_RESULT_OK
            );
            // The tag binds the original DCID.
            assert_eq!(
                quic_retry_verify(version, scid.as_ptr(), 8, out.as_ptr(), len),
                QUIC_RESULT_RETRY_TAG_MISMATCH
            );
        }
        let call = |version: u32, token: &[u8], cap: usize, out_len: *mut usize| {
            quic_retry_encode(
                version,
                ODCID.as_ptr(),
                8,
                null(),
                0,
                scid.as_ptr(),
                8,
                token.as_ptr(),
                token.len(),
                out.as_ptr() as *mut u8,
                cap,
                out_len,
            )
        };
        let mut len = 0;
        assert_eq!(
            call(7, b"t", 128, &mut len),
            QUIC_RESULT_UNSUPPORTED_VERSION
        );
        assert_eq!(call(1, b"", 128, &mut len), QUIC_RESULT_INVALID_ARGUMENT);
        assert_eq!(
            call(1, b"token", 35, &mut len),
            QUIC_RESULT_BUFFER_TOO_SMALL
        );
        assert_eq!(
            call(1, b"token", 128, null_mut()),
            QUIC_RESULT_NULL_PARAMETER
        );
        assert_eq!(
            quic_retry_verify(1, null(), 8, out.as_ptr(), 36),
            QUIC_RESULT_NULL_PARAMETER
        );
        assert_eq!(
            quic_retry_verify(1, ODCID.as_ptr(), 8, out.as_ptr(), 3),
            QUIC_RESULT_PACKET_TRUNCATED
        );
    }
}

#[test]
fn every_result_code_has_a_description() {
    let codes = [
        QUIC_RESULT_OK,
        QUIC_RESULT_DONE,
        QUIC_RESULT_NULL_PARAMETER,
        QUIC_RESULT_INVALID_ARGUMENT,
        QUIC_RESULT_BUFFER_TOO_SMALL,
        QUIC_RESULT_INVALID_STATE,
        QUIC_RESULT_ALREADY_USED,
        QUIC_RESULT_FILE_UNREADABLE,
        QUIC_RESULT_INVALID_ADDRESS,
        QUIC_RESULT_CLOSING,
        QUIC_RESULT_WOULD_BLOCK,
        QUIC_RESULT_HANDSHAKE_PENDING,
        QUIC_RESULT_STREAM_LIMIT,
        QUIC_RESULT_INVALID_STREAM,
        QUIC_RESULT_STREAM_FINISHED,
        QUIC_RESULT_STREAM_RESET,
        QUIC_RESULT_DATAGRAM_UNSUPPORTED,
        QUIC_RESULT_DATAGRAM_TOO_LARGE,
        QUIC_RESULT_PACKET_TRUNCATED,
        QUIC_RESULT_PACKET_MALFORMED,
        QUIC_RESULT_CONNECTION_ID_TOO_LONG,
        QUIC_RESULT_FIXED_BIT_ZERO,
        QUIC_RESULT_UNSUPPORTED_VERSION,
        QUIC_RESULT_DECRYPTION_FAILED,
        QUIC_RESULT_RETRY_TAG_MISMATCH,
        QUIC_RESULT_CRYPTO_FAILURE,
        QUIC_RESULT_TLS_CERTIFICATE,
        QUIC_RESULT_TLS_PRIVATE_KEY,
        QUIC_RESULT_TLS_CA,
        QUIC_RESULT_TLS_SETUP,
        QUIC_RESULT_PANIC,
        QUIC_RESULT_INTERNAL,
    ];
    let unknown = unsafe_str(quic_result_str(-12_345));
    let mut seen = std::collections::HashSet::new();
    for c in codes {
        let s = unsafe_str(quic_result_str(c));
        assert_ne!(s, unknown, "code {c} has no description");
        assert!(
            seen.insert(s.clone()),
            "two codes share the description {s:?}"
        );
    }
    assert!(quic_result_is_fatal(QUIC_RESULT_PANIC));
    assert!(!quic_result_is_fatal(QUIC_RESULT_DONE));
    assert!(unsafe_str(quic_version_string())
        .starts_with(concat!("libquic ", env!("CARGO_PKG_VERSION"))));
}

fn unsafe_str(p: *const std::ffi::c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: the library returns static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Threads racing to make the first connections from one unfrozen config:
/// every one succeeds, the config ends frozen, and its setters are refused
/// from then on. (The C test test_threads.c shares a frozen config.)
#[test]
fn threads_race_to_freeze_a_shared_config() {
    let mut cfg = null_mut();
    // SAFETY: a writable out-pointer.
    assert_eq!(unsafe { quic_config_new(true, &mut cfg) }, QUIC_RESULT_OK);
    // SAFETY: a live config and a NUL-terminated name.
    unsafe {
        assert_eq!(quic_config_set_verify_peer(cfg, false), QUIC_RESULT_OK);
        assert!(!quic_config_is_frozen(cfg));
    }
    let shared = cfg as usize;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let cfg = shared as *const quic_config;
                (0..5)
                    .map(|_| {
                        let mut conn = null_mut();
                        // SAFETY: the config outlives the threads (joined
                        // before it is freed); `conn` is writable.
                        let rc = unsafe { quic_conn_new(cfg, null(), &mut conn) };
                        // SAFETY: NULL or the connection just made.
                        unsafe { quic_conn_free(conn) };
                        rc
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap().iter().all(|rc| *rc == QUIC_RESULT_OK));
    }
    // SAFETY: the live config, freed once at the end.
    unsafe {
        assert!(quic_config_is_frozen(cfg));
        assert_eq!(
            quic_config_set_verify_peer(cfg, true),
            QUIC_RESULT_ALREADY_USED
        );
        quic_config_free(cfg);
    }
}

/// Bytes a C caller can store in a `bool` or an enum field that are no
/// valid Rust value (2 in a bool, 99 in an enum) are refused with
/// INVALID_ARGUMENT before anything reads them; so is a `struct_size` that
/// ends inside such a field.
#[test]
#[cfg_attr(miri, ignore)] // the configs reach OpenSSL
fn bools_and_enums_from_the_caller_are_checked_before_use() {
    let mut server = null_mut();
    // SAFETY: writable out-pointers, live configs, buffers of the given sizes.
    unsafe {
        assert_eq!(quic_config_new(false, &mut server), QUIC_RESULT_OK);
        assert_eq!(
            quic_config_set_token_key(server, [0x5a; 32].as_ptr()),
            QUIC_RESULT_OK
        );
    }
    let pkt = initial(1);
    let mut info = empty_info();
    // SAFETY: the packet's bytes and a writable info.
    assert_eq!(
        unsafe { quic_header_parse(pkt.as_ptr(), pkt.len(), 8, &mut info) },
        QUIC_RESULT_OK
    );
    let mut peer: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut peer_len = 0;
    // SAFETY: a NUL-terminated string and writable out-parameters.
    let rc = unsafe { quic_sockaddr_parse(c"192.0.2.1:4000".as_ptr(), &mut peer, &mut peer_len) };
    assert_eq!(rc, QUIC_RESULT_OK);

    // The header info as a C caller's bytes, one field changed.
    let size = std::mem::size_of::<quic_header_info>();
    let bytes_of = |info: &quic_header_info| {
        let mut b = vec![0u8; size];
        // SAFETY: `info` is `size` readable bytes (padding included).
        unsafe {
            std::ptr::copy_nonoverlapping(
                (info as *const quic_header_info).cast(),
                b.as_mut_ptr(),
                size,
            )
        };
        b
    };
    let check = |b: &[u8]| {
        let mut tok = quic_token_info {
            struct_size: std::mem::size_of::<quic_token_info>(),
            kind: quic_token_kind::None,
            original_dcid: [0; 20],
            original_dcid_len: 0,
            retry_scid: [0; 20],
            retry_scid_len: 0,
        };
        // SAFETY: `b` holds a whole quic_header_info's bytes whose pointers
        // point into `pkt`; a live config; a parsed address.
        unsafe {
            quic_token_check(
                server,
                b.as_ptr().cast(),
                (&peer as *const libc::sockaddr_storage).cast(),
                peer_len,
                &mut tok,
            )
        }
    };
    let good = bytes_of(&info);
    assert_eq!(check(&good), QUIC_RESULT_OK);
    for (offset, value) in [
        (std::mem::offset_of!(quic_header_info, is_long), 2u8),
        (std::mem::offset_of!(quic_header_info, fixed_bit), 0xff),
        (std::mem::offset_of!(quic_header_info, packet_type), 99),
    ] {
        let mut bad = good.clone();
        bad[offset] = value;
        assert_eq!(
            check(&bad),
            QUIC_RESULT_INVALID_ARGUMENT,
            "byte {offset} = {value}"
        );
    }
    // A struct_size ending inside the enum is no sizeof.
    let mut cut = good.clone();
    let inside = std::mem::offset_of!(quic_header_info, packet_type) + 2;
    cut[..8].copy_from_slice(&inside.to_ne_bytes());
    assert_eq!(check(&cut), QUIC_RESULT_INVALID_ARGUMENT);

    // quic_conn_params.address_validated: 2 is refused before anything
    // else is looked at (a server config without a certificate would
    // otherwise give INVALID_STATE, as 1 does).
    let odcid = ODCID;
    let params = quic_conn_params {
        struct_size: std::mem::size_of::<quic_conn_params>(),
        original_dcid: odcid.as_ptr(),
        original_dcid_len: odcid.len(),
        retry_scid: null(),
        retry_scid_len: 0,
        session_ticket: null(),
        session_ticket_len: 0,
        address_token: null(),
        address_token_len: 0,
        address_validated: true,
    };
    let psize = std::mem::size_of::<quic_conn_params>();
    let mut pbytes = vec![0u8; psize];
    // SAFETY: `params` is `psize` readable bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (&params as *const quic_conn_params).cast(),
            pbytes.as_mut_ptr(),
            psize,
        )
    };
    let new = |b: &[u8]| {
        let mut conn = null_mut();
        // SAFETY: a live config, a whole params struct's bytes, a writable out.
        let rc = unsafe { quic_conn_new(server, b.as_ptr().cast(), &mut conn) };
        // SAFETY: NULL or a connection just made.
        unsafe { quic_conn_free(conn) };
        rc
    };
    assert_eq!(new(&pbytes), QUIC_RESULT_INVALID_STATE);
    pbytes[std::mem::offset_of!(quic_conn_params, address_validated)] = 2;
    assert_eq!(new(&pbytes), QUIC_RESULT_INVALID_ARGUMENT);
    // SAFETY: the config is freed once.
    unsafe { quic_config_free(server) };
}
