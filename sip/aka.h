/*
 * sip/aka.h: IMS AKA on top of the authentication functions of milenage.h:
 * the authentication vector a challenge carries (TS 33.102 6.3.2), the
 * resynchronisation token AUTS (TS 33.102 6.3.3 / 6.3.5), SQN bookkeeping
 * (TS 33.102 Annex C.1.1.1-style SEQ || IND), the RFC 3310 nonce
 * (base64 of RAND || AUTN || server data), the Digest "password" of AKAv1
 * (RFC 3310: RES as raw bytes) and AKAv2 (RFC 4169), and base64
 * (RFC 4648 section 4, the standard alphabet with '=' padding).
 *
 * Nothing here allocates or logs. RAND comes from the caller (RAND_bytes).
 * K, OPc, RES/XRES, CK, IK and AK are secrets: never log them.
 */
#ifndef AFD_AKA_H
#define AFD_AKA_H

#include <stddef.h>
#include <stdint.h>

#include "sip/milenage.h"
#include "sip/sip.h"

#define AKA_AUTN_LEN 16 /* (SQN xor AK) || AMF || MAC-A */
#define AKA_AUTS_LEN 14 /* (SQN_MS xor AK*) || MAC-S */
#define AKA_SQN_MAX ((UINT64_C(1) << 48) - 1)

/* The vector issued for one challenge. */
struct aka_vector {
	uint8_t rand[AKA_RAND_LEN];
	uint8_t autn[AKA_AUTN_LEN];
	uint8_t xres[AKA_RES_MAX]; /* expected RES: xres_len bytes */
	size_t xres_len;           /* 8 (Milenage) or 16 (XOR) */
	uint8_t ck[AKA_CK_LEN];
	uint8_t ik[AKA_IK_LEN];
	uint8_t ak[AKA_AK_LEN];
	uint64_t sqn; /* the SQN inside AUTN */
};

/*
 * Fill *keys for a subscriber: alg and K, and for Milenage OPc: opc when
 * given, else derived from op (milenage_opc). opc and op may be NULL
 * (XOR needs neither). 0, or -1 when Milenage has neither or libcrypto
 * fails (*keys is then zeroed).
 */
int aka_keys_init(struct aka_keys *keys, enum aka_alg alg,
                  const uint8_t k[AKA_K_LEN], const uint8_t *opc,
                  const uint8_t *op);

/* v to/from n (at most 8) big-endian bytes: an SQN (6), the issue time
 * in afd's nonces (8). */
void aka_be_put(uint64_t v, uint8_t *out, size_t n);
uint64_t aka_be_get(const uint8_t *in, size_t n);

/* A 48-bit SQN to/from its 6 big-endian bytes. */
void aka_sqn_put(uint64_t sqn, uint8_t out[AKA_SQN_LEN]);
uint64_t aka_sqn_get(const uint8_t in[AKA_SQN_LEN]);

/*
 * Make the vector for (keys, amf, sqn, rand): XRES, CK, IK, AK from f2..f5,
 * MAC-A = f1(K, RAND, SQN, AMF), AUTN = (SQN xor AK) || AMF || MAC-A.
 * sqn must be <= AKA_SQN_MAX. 0, or -1 (libcrypto failed, sqn too big; *v
 * is then zeroed).
 */
int aka_vector_make(const struct aka_keys *keys, const uint8_t amf[AKA_AMF_LEN],
                    uint64_t sqn, const uint8_t rand[AKA_RAND_LEN],
                    struct aka_vector *v);

/*
 * The USIM's side, for tests and load generators: check AUTN against
 * (keys, rand) and compute RES, CK, IK. Returns 0 with *out filled and
 * *sqn the SQN recovered from AUTN, 1 when MAC-A is wrong (network not
 * authenticated), -1 on a libcrypto failure. No SQN range check is made.
 */
int aka_usim_check(const struct aka_keys *keys,
                   const uint8_t rand[AKA_RAND_LEN],
                   const uint8_t autn[AKA_AUTN_LEN], struct aka_out *out,
                   uint64_t *sqn);

/*
 * The USIM's AUTS for a synchronisation failure (tests, load generators):
 * AUTS = (SQN_MS xor AK*) || MAC-S, MAC-S = f1*(K, RAND, SQN_MS, AMF*)
 * with AMF* = 0000 (TS 33.102 6.3.3). 0 or -1.
 */
int aka_auts_make(const struct aka_keys *keys, const uint8_t rand[AKA_RAND_LEN],
                  uint64_t sqn_ms, uint8_t auts[AKA_AUTS_LEN]);

/*
 * The network's side of a resynchronisation (TS 33.102 6.3.5): from the
 * RAND of the challenge the UE refused and the AUTS it sent, recover
 * SQN_MS = first 6 bytes xor f5*(RAND) and check MAC-S = f1*(K, RAND,
 * SQN_MS, 0000) in constant time. Returns 0 with *sqn_ms set, 1 when MAC-S
 * is wrong (do not resynchronise: the AUTS is not from this SIM), -1 on a
 * libcrypto failure.
 */
int aka_auts_check(const struct aka_keys *keys,
                   const uint8_t rand[AKA_RAND_LEN],
                   const uint8_t auts[AKA_AUTS_LEN], uint64_t *sqn_ms);

/* The auts parameter of an Authorization (RFC 3310 3.4: base64 of the
 * 14-byte AUTS) into auts: 0, or -1 when it is not base64 of 14 bytes. */
int aka_auts_parse(sip_str b64, uint8_t auts[AKA_AUTS_LEN]);

/*
 * SQN bookkeeping (TS 33.102 Annex C.1.1.1 and C.3.2): SQN = SEQ || IND,
 * IND the low AKA_IND_BITS bits. Each new vector takes SEQ + 1 and the next
 * IND (IND + 1 mod 32), so a USIM that keeps an array of SEQ_MS per IND
 * accepts it, and vectors used out of order (up to 32) are still fresh.
 * SEQ wraps to 0 after 2^43 - 1 (never reached in practice).
 * aka_sqn_next(sqn): the SQN for the next vector after the last issued one.
 * After a resynchronisation the last issued SQN becomes SQN_MS (the highest
 * the USIM accepted): the next vector is aka_sqn_next(sqn_ms), whose SEQ is
 * SEQ_MS + 1 (TS 33.102 6.3.5: "SQN_HE is set to SQN_MS").
 * The data layer (db_auth_sqn_take) computes the same in SQL; a unit test
 * keeps the two in step.
 */
#define AKA_IND_BITS 5
#define AKA_IND_MASK ((1u << AKA_IND_BITS) - 1)
uint64_t aka_sqn_next(uint64_t sqn);
static inline uint64_t
aka_sqn_seq(uint64_t sqn)
{
	return (sqn & AKA_SQN_MAX) >> AKA_IND_BITS;
}
static inline unsigned
aka_sqn_ind(uint64_t sqn)
{
	return (unsigned)(sqn & AKA_IND_MASK);
}

/*
 * Base64 (RFC 4648 section 4). aka_b64_encode writes the padded text and a
 * NUL into out (room for AKA_B64_LEN(n) + 1 bytes) and returns its length.
 * aka_b64_decode decodes in (whitespace not allowed; '=' padding optional,
 * at most two, only at the end; non-zero unused bits refused) into out
 * (room for max bytes): the decoded length, or -1 when in is not base64 or
 * decodes to more than max bytes.
 */
#define AKA_B64_LEN(n) ((((n) + 2) / 3) * 4)
size_t aka_b64_encode(const uint8_t *in, size_t n, char *out);
ssize_t aka_b64_decode(sip_str in, uint8_t *out, size_t max);

/*
 * The RFC 3310 nonce: base64(RAND || AUTN || server data). server data
 * (may be NULL / 0) is at most AKA_NONCE_SDATA_MAX bytes.
 * aka_nonce_make: into out (room for AKA_NONCE_MAX + 1): its length, or -1
 *   when sdata is too long.
 * aka_nonce_parse: RAND, AUTN and the server data (copied to sdata, room
 *   for AKA_NONCE_SDATA_MAX; may be NULL) out of a nonce as received
 *   (without quotes): 0 with *sdata_len, or -1 (not base64, shorter than 32
 *   bytes, or more server data than AKA_NONCE_SDATA_MAX).
 */
#define AKA_NONCE_SDATA_MAX 32
#define AKA_NONCE_MAX                                                          \
	AKA_B64_LEN(AKA_RAND_LEN + AKA_AUTN_LEN + AKA_NONCE_SDATA_MAX)
int aka_nonce_make(const uint8_t rand[AKA_RAND_LEN],
                   const uint8_t autn[AKA_AUTN_LEN], const uint8_t *sdata,
                   size_t sdata_len, char *out);
int aka_nonce_parse(sip_str nonce, uint8_t rand[AKA_RAND_LEN],
                    uint8_t autn[AKA_AUTN_LEN], uint8_t *sdata,
                    size_t *sdata_len);

/*
 * The Digest password (the "passwd" of HA1 = MD5(username:realm:passwd)).
 * AKAv1-MD5 (RFC 3310 3.3): RES itself, as raw bytes: pass v->xres,
 *   v->xres_len to digest_ha1().
 * AKAv2-MD5 (RFC 4169 3): base64(PRF(RES || IK || CK,
 *   "http-digest-akav2-password")), PRF = HMAC-MD5 keyed with RES || IK ||
 *   CK: a 24-character text written with a NUL into out (room for
 *   AKA_V2_PASSWORD_LEN + 1). 0, or -1 (libcrypto failed).
 */
#define AKA_V2_PASSWORD_LEN 24
/* The password for a vector: v2 = 0: XRES (xres_len bytes), v2 = 1: the
 * AKAv2 text (24 bytes, no NUL counted). Into out (room for
 * AKA_PASSWORD_MAX), length in *len. 0 or -1. */
#define AKA_PASSWORD_MAX (AKA_V2_PASSWORD_LEN + 1)
int aka_password(const struct aka_vector *v, int v2, uint8_t *out, size_t *len);
int aka_v2_password(const uint8_t *res, size_t res_len,
                    const uint8_t ik[AKA_IK_LEN], const uint8_t ck[AKA_CK_LEN],
                    char out[AKA_V2_PASSWORD_LEN + 1]);

#endif
