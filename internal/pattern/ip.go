package pattern

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ipLike reports whether s has the shape EventBridge treats as an IP address
// literal: four dot-separated digit runs, or hex digits and colons with at
// least one colon. Only such strings are ever parsed as addresses.
func ipLike(s string) (v4, v6 bool) {
	if s == "" {
		return false, false
	}
	dots, colons := 0, 0
	digitRun := 0
	onlyDigitsDots, onlyHexColons := true, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digitRun++
		case c == '.':
			if digitRun == 0 {
				onlyDigitsDots = false
			}
			digitRun = 0
			dots++
			onlyHexColons = false
		case c == ':':
			colons++
			onlyDigitsDots = false
		case (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
			onlyDigitsDots = false
		default:
			return false, false
		}
	}
	v4 = onlyDigitsDots && dots == 3 && digitRun > 0
	v6 = onlyHexColons && colons > 0
	return v4, v6
}

// parseIP parses an IP address literal the way EventBridge does: dotted
// quads with decimal octets (leading zeros allowed), IPv6 without embedded
// dotted quads or zones, and IPv4-mapped IPv6 addresses read as IPv4.
func parseIP(s string) (netip.Addr, bool) {
	v4, v6 := ipLike(s)
	switch {
	case v4:
		var b [4]byte
		for i, part := range strings.SplitN(s, ".", 4) {
			n := 0
			for j := 0; j < len(part); j++ {
				n = n*10 + int(part[j]-'0')
				if n > 255 {
					return netip.Addr{}, false
				}
			}
			b[i] = byte(n)
		}
		return netip.AddrFrom4(b), true
	case v6:
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// ipRange is an inclusive range of addresses of one family.
type ipRange struct {
	lo, hi netip.Addr
}

func (r ipRange) contains(a netip.Addr) bool {
	return a.BitLen() == r.lo.BitLen() && r.lo.Compare(a) <= 0 && a.Compare(r.hi) <= 0
}

// parseCIDR checks a cidr operand with EventBridge's rules (one '/', mask
// below the address width) and returns the network's address range.
func parseCIDR(s string) (ipRange, error) {
	parts := strings.Split(s, "/")
	for len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1] // the reference splitter drops trailing empty fields
	}
	if len(parts) != 2 {
		return ipRange{}, fmt.Errorf("malformed CIDR %q, exactly one '/' required", s)
	}
	bits, err := strconv.ParseInt(parts[1], 10, 32)
	if err != nil {
		return ipRange{}, fmt.Errorf("malformed CIDR %q, mask bits must be an integer", s)
	}
	if bits < 0 {
		return ipRange{}, fmt.Errorf("malformed CIDR %q, mask bits must not be negative", s)
	}
	addr, ok := parseIP(parts[0])
	if !ok {
		return ipRange{}, fmt.Errorf("malformed CIDR %q, %q is not an IP address", s, parts[0])
	}
	width := int64(addr.BitLen())
	if bits >= width {
		return ipRange{}, fmt.Errorf("malformed CIDR %q, IPv%d mask bits must be less than %d", s, map[int64]int{32: 4, 128: 6}[width], width)
	}
	lo := addr.AsSlice()
	hi := addr.AsSlice()
	for i := range lo {
		keep := bits - int64(i*8) // network bits within this byte
		var mask byte
		switch {
		case keep >= 8:
			mask = 0xff
		case keep > 0:
			mask = byte(0xff << (8 - keep))
		}
		lo[i] &= mask
		hi[i] |= ^mask
	}
	l, _ := netip.AddrFromSlice(lo)
	h, _ := netip.AddrFromSlice(hi)
	return ipRange{lo: l, hi: h}, nil
}
