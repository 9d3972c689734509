/*
 * t/bench/benchauth.h: the answer a bench client (regload -A, auth_bench)
 * gives afd's 401 for one of the subscribers t/bench/bench.sh provisions:
 * Digest MD5 with the password "bench-pw", or AKAv1-MD5 with RES from the
 * SIM of TS 35.208 test set 1 (K and OPc below, as provisioned). Only
 * header code: the two programs share nothing else.
 */
#ifndef AFD_BENCHAUTH_H
#define AFD_BENCHAUTH_H

#include <stdint.h>

#include "sip/aka.h"
#include "sip/digest.h"

/*
 * The response (qop=auth, nc 00000001, cnonce) of user in realm to nonce
 * for a REGISTER to uri, into resp. aka: AKAv1-MD5 (RES from the nonce's
 * RAND and AUTN), else Digest with the password. 0, or -1 (a nonce that
 * is not AKA's, an AUTN the SIM refuses, a libcrypto failure).
 */
static int
bench_auth_response(int aka, sip_str user, sip_str realm, sip_str uri,
                    sip_str nonce, sip_str cnonce,
                    char resp[DIGEST_HEX_LEN + 1])
{
	static const uint8_t k[16] = {0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99,
	                              0xb4, 0x9f, 0xaa, 0x5f, 0x0a, 0x2e,
	                              0xe2, 0x38, 0xa6, 0xbc};
	static const uint8_t opc[16] = {0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a,
	                                0x9f, 0x4e, 0x48, 0xa5, 0x99, 0x4e,
	                                0x37, 0xa0, 0x2b, 0xaf};
	static struct aka_keys keys;
	static int keys_ok;
	char ha1[DIGEST_HEX_LEN + 1], ha2[DIGEST_HEX_LEN + 1];

	if (aka) {
		uint8_t rnd[AKA_RAND_LEN], autn[AKA_AUTN_LEN];
		struct aka_out o;
		uint64_t sqn;
		size_t sdl;

		if (!keys_ok) {
			if (aka_keys_init(&keys, AKA_MILENAGE, k, opc, NULL) ==
			    -1)
				return -1;
			keys_ok = 1;
		}
		if (aka_nonce_parse(nonce, rnd, autn, NULL, &sdl) == -1 ||
		    aka_usim_check(&keys, rnd, autn, &o, &sqn) != 0 ||
		    digest_ha1(user, realm, o.res, o.res_len, ha1) == -1)
			return -1;
	} else if (digest_ha1(user, realm, (const uint8_t *)"bench-pw", 8,
	                      ha1) == -1)
		return -1;
	if (digest_ha2((sip_str){"REGISTER", 8}, uri, DIGEST_QOP_AUTH,
	               (sip_str){"", 0}, ha2) == -1 ||
	    digest_response(ha1, nonce, (sip_str){"00000001", 8}, cnonce,
	                    DIGEST_QOP_AUTH, ha2, resp) == -1)
		return -1;
	return 0;
}

#endif
