package quic

/*
#include <quic.h>
#include <sys/socket.h>
#include <netinet/in.h>
*/
import "C"

import (
	"encoding/binary"
	"net/netip"
	"unsafe"
)

// putSockaddr writes addr into ss as a sockaddr_in or sockaddr_in6 and
// returns its length.
func putSockaddr(ss *C.struct_sockaddr_storage, addr netip.AddrPort) C.socklen_t {
	// An IPv4-mapped IPv6 address (what a dual-stack socket reports) is
	// the IPv4 address: libquic compares addresses to notice migration.
	ip := addr.Addr().Unmap()
	if ip.Is4() {
		sin := (*C.struct_sockaddr_in)(unsafe.Pointer(ss))
		*sin = C.struct_sockaddr_in{}
		sin.sin_family = C.AF_INET
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sin.sin_port))[:], addr.Port())
		a := ip.As4()
		copy((*[4]byte)(unsafe.Pointer(&sin.sin_addr))[:], a[:])
		return C.socklen_t(unsafe.Sizeof(*sin))
	}
	sin6 := (*C.struct_sockaddr_in6)(unsafe.Pointer(ss))
	*sin6 = C.struct_sockaddr_in6{}
	sin6.sin6_family = C.AF_INET6
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sin6.sin6_port))[:], addr.Port())
	a := ip.As16()
	copy((*[16]byte)(unsafe.Pointer(&sin6.sin6_addr))[:], a[:])
	return C.socklen_t(unsafe.Sizeof(*sin6))
}

// getSockaddr reads back what libquic wrote into ss; false for a length
// or family it does not know.
func getSockaddr(ss *C.struct_sockaddr_storage, n C.socklen_t) (netip.AddrPort, bool) {
	switch {
	case ss.ss_family == C.AF_INET && uintptr(n) >= unsafe.Sizeof(C.struct_sockaddr_in{}):
		sin := (*C.struct_sockaddr_in)(unsafe.Pointer(ss))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sin.sin_port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(*(*[4]byte)(unsafe.Pointer(&sin.sin_addr))), port), true
	case ss.ss_family == C.AF_INET6 && uintptr(n) >= unsafe.Sizeof(C.struct_sockaddr_in6{}):
		sin6 := (*C.struct_sockaddr_in6)(unsafe.Pointer(ss))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sin6.sin6_port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(*(*[16]byte)(unsafe.Pointer(&sin6.sin6_addr))), port), true
	}
	return netip.AddrPort{}, false
}
