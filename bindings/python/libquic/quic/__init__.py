"""The QUIC layer, laid out as aioquic.quic."""
