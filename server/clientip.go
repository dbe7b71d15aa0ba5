package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address failed logins are throttled by and access logs show. Forwarded
// headers are believed only when the peer is a trusted proxy (TRUSTED_PROXIES); from
// anyone else they are ignored, so a client cannot pick its own address.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	peer, viaSocket := remoteAddr(r)
	// On a unix socket the only peer is the local proxy that owns the socket.
	if !viaSocket && !s.trusted(peer) {
		return peer
	}
	// X-Forwarded-For lists hops left to right; the last one that is not a trusted
	// proxy is the client.
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		parts := strings.Split(strings.Join(xff, ","), ",")
		for i := len(parts) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
			if err != nil {
				break
			}
			a = a.Unmap()
			if !s.trusted(a) {
				return a
			}
		}
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); err == nil {
		return a.Unmap()
	}
	return peer
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func remoteAddr(r *http.Request) (addr netip.Addr, unixSocket bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		// A unix socket peer has no address.
		return netip.IPv6Loopback(), true
	}
	return a.Unmap(), false
}
