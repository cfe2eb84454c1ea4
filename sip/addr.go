package sip

import "bytes"

// nameAddr splits a From/To/Contact style value into its URI and the header
// parameters that follow it. Both forms of RFC 3261 section 20.10 occur:
//
//	"Alice \"A\" <x>" <sip:alice@example.com;transport=tcp>;tag=1928   name-addr
//	Alice <sip:alice@example.com>;tag=1928                             name-addr, token display name
//	sip:alice@example.com;tag=1928                                     addr-spec: ';' ends the URI
//
// The quoted display name is skipped first, so a '<' or '>' inside it is
// never mistaken for the URI. A missing '>' lets the URI run to the end.
func nameAddr(v []byte) (uri, params []byte) {
	v = trimLeftWS(v)
	i := 0
	if len(v) > 0 && v[0] == '"' {
		i = skipQuoted(v, 0)
		lt := bytes.IndexByte(v[i:], '<')
		if lt < 0 {
			return nil, nil
		}
		i += lt
	} else if lt := bytes.IndexByte(v, '<'); lt >= 0 {
		i = lt
	} else {
		if sc := bytes.IndexByte(v, ';'); sc >= 0 {
			return trimWS(v[:sc]), v[sc+1:]
		}
		return trimWS(v), nil
	}
	i++ // '<'
	gt := bytes.IndexByte(v[i:], '>')
	if gt < 0 {
		return trimWS(v[i:]), nil
	}
	uri = trimWS(v[i : i+gt])
	rest := v[i+gt+1:]
	if sc := bytes.IndexByte(rest, ';'); sc >= 0 {
		params = rest[sc+1:]
	}
	return uri, params
}

// displayName returns the display name of a From/To style value: the
// inside of a quoted display name (escapes kept), or the token words before
// '<'; nil for an addr-spec or a name-addr without one.
//
//	"Alice \"A\"" <sip:alice@example.com>   Alice \"A\"
//	Bob Smith <sip:bob@example.com>         Bob Smith
//	sip:carol@example.com;tag=1             (none)
func displayName(v []byte) []byte {
	v = trimLeftWS(v)
	if len(v) > 0 && v[0] == '"' {
		end := skipQuoted(v, 0)
		if end >= len(v) { // never closed, or nothing after it: not a name-addr
			return nil
		}
		return v[1 : end-1]
	}
	lt := bytes.IndexByte(v, '<')
	if lt <= 0 {
		return nil
	}
	return trimWS(v[:lt])
}

// userHost returns the user and host of a sip:, sips: or tel: URI; other
// schemes give nothing.
//
//	sip:alice:secret@[2001:db8::1]:5060;transport=udp?subject=x
//	    '-user-'      '----host-----'
//	sip:+15551234;npdi@gw.example.com;user=phone   user "+15551234": user parameters dropped
//	tel:+1-555-1234;phone-context=example.com      user "+1-555-1234", no host
func userHost(uri []byte) (user, host []byte) {
	colon := bytes.IndexByte(uri, ':')
	if colon <= 0 {
		return nil, nil
	}
	scheme, rest := uri[:colon], uri[colon+1:]
	switch {
	case eqFold(scheme, "sip"), eqFold(scheme, "sips"):
		// The userinfo ends at '@'; an '@' after '?' belongs to a URI header.
		hs := 0
		for k := 0; k < len(rest); k++ {
			if c := rest[k]; c == '@' {
				user = cutUser(rest[:k])
				hs = k + 1
				break
			} else if c == '?' {
				break
			}
		}
		return user, hostOf(rest[hs:])
	case eqFold(scheme, "tel"):
		return cutUser(rest), nil
	}
	return nil, nil
}

// cutUser drops the password and user parameters from a userinfo.
func cutUser(u []byte) []byte {
	for k := 0; k < len(u); k++ {
		switch u[k] {
		case ':', ';', '?':
			return trimWS(u[:k])
		}
	}
	return trimWS(u)
}

// hostOf returns the host at the start of hostport, keeping the brackets of
// an IPv6 reference so its colons are not read as a port separator.
func hostOf(hp []byte) []byte {
	hp = trimLeftWS(hp)
	if len(hp) > 0 && hp[0] == '[' {
		if rb := bytes.IndexByte(hp, ']'); rb >= 0 {
			return hp[:rb+1]
		}
		return hp
	}
	k := 0
	for k < len(hp) && classTab[hp[k]]&classHostStop == 0 {
		k++
	}
	return hp[:k]
}
