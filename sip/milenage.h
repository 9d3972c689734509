/*
 * sip/milenage.h: the 3GPP authentication functions f1, f1*, f2, f3, f4,
 * f5 and f5* (TS 33.102 6.3), in two algorithm sets:
 *
 * - Milenage (3GPP TS 35.206), with OpenSSL libcrypto's AES-128 as the
 *   kernel, checked against every test set of TS 35.208;
 * - the XOR "test algorithm" of the 3GPP test USIM (TS 34.108 8.1.2), which
 *   lab and conformance test SIMs use.
 *
 * Every value is a byte string, big-endian as the specifications write
 * them. Nothing here allocates, logs or keeps state; K and OPc are secrets:
 * callers must never log them.
 */
#ifndef AFD_MILENAGE_H
#define AFD_MILENAGE_H

#include <stddef.h>
#include <stdint.h>

#define AKA_K_LEN 16
#define AKA_OP_LEN 16
#define AKA_RAND_LEN 16
#define AKA_SQN_LEN 6
#define AKA_AMF_LEN 2
#define AKA_MAC_LEN 8
#define AKA_AK_LEN 6
#define AKA_CK_LEN 16
#define AKA_IK_LEN 16
#define AKA_RES_MAX 16
#define AKA_MILENAGE_RES_LEN 8 /* f2 of Milenage: 64 bits */
#define AKA_XOR_RES_LEN 16     /* the test algorithm: 128 bits */

/* The algorithm set of a subscriber's SIM (subscribers.algorithm). */
enum aka_alg {
	AKA_MILENAGE = 0, /* "milenage" */
	AKA_XOR = 1,      /* "xor": TS 34.108 8.1.2 test USIM */
};

/* A subscriber's long-term keys. For AKA_MILENAGE opc is OPc (derive it
 * from OP with milenage_opc()); AKA_XOR ignores opc. */
struct aka_keys {
	enum aka_alg alg;
	uint8_t k[AKA_K_LEN];
	uint8_t opc[AKA_OP_LEN];
};

/* The outputs of f2..f5* for one RAND. res_len is 8 (Milenage) or 16
 * (XOR). */
struct aka_out {
	uint8_t res[AKA_RES_MAX];
	size_t res_len;
	uint8_t ck[AKA_CK_LEN];
	uint8_t ik[AKA_IK_LEN];
	uint8_t ak[AKA_AK_LEN];     /* f5 */
	uint8_t akstar[AKA_AK_LEN]; /* f5*, for AUTS (resynchronisation) */
};

/* "milenage" or "xor" (ASCII case-insensitive) into *alg: 0, or -1. */
int aka_alg_parse(const char *name, enum aka_alg *alg);
const char *aka_alg_name(enum aka_alg alg);

/*
 * Milenage (TS 35.206). All return 0, or -1 when libcrypto fails (no AES;
 * outputs are then zeroed).
 * milenage_opc: OPc = E_K(OP) xor OP.
 * milenage_f1: MAC-A (f1) and MAC-S (f1*) over SQN || AMF; either output
 *   may be NULL.
 * milenage_f2345: RES (8 bytes), CK, IK, AK (f5) and AK* (f5*) into *out.
 */
int milenage_opc(const uint8_t k[AKA_K_LEN], const uint8_t op[AKA_OP_LEN],
                 uint8_t opc[AKA_OP_LEN]);
int milenage_f1(const uint8_t k[AKA_K_LEN], const uint8_t opc[AKA_OP_LEN],
                const uint8_t rand[AKA_RAND_LEN],
                const uint8_t sqn[AKA_SQN_LEN], const uint8_t amf[AKA_AMF_LEN],
                uint8_t mac_a[AKA_MAC_LEN], uint8_t mac_s[AKA_MAC_LEN]);
int milenage_f2345(const uint8_t k[AKA_K_LEN], const uint8_t opc[AKA_OP_LEN],
                   const uint8_t rand[AKA_RAND_LEN], struct aka_out *out);

/*
 * The test algorithm of TS 34.108 8.1.2 (same interface; never fails):
 *   XDOUT = K xor RAND (128 bits)
 *   RES   = XDOUT (all 128 bits; res_len 16)
 *   CK    = XDOUT rotated left by 8 bits  (XDOUT[1..15] || XDOUT[0])
 *   IK    = XDOUT rotated left by 16 bits (XDOUT[2..15] || XDOUT[0..1])
 *   AK    = XDOUT bytes 3..8 (bits 24..71); f5* gives the same AK
 *   CDOUT = SQN || AMF
 *   MAC   = XDOUT bytes 0..7 xor CDOUT: f1 and f1* are the same function
 *           (for MAC-S the caller passes AMF* = 0000, TS 33.102 6.3.3).
 */
void aka_xor_f1(const uint8_t k[AKA_K_LEN], const uint8_t rand[AKA_RAND_LEN],
                const uint8_t sqn[AKA_SQN_LEN], const uint8_t amf[AKA_AMF_LEN],
                uint8_t mac[AKA_MAC_LEN]);
void aka_xor_f2345(const uint8_t k[AKA_K_LEN], const uint8_t rand[AKA_RAND_LEN],
                   struct aka_out *out);

/* The algorithm switch: f1/f1* and f2..f5* of keys->alg. mac_a / mac_s
 * may be NULL. 0, or -1 (libcrypto failed). */
int aka_f1(const struct aka_keys *keys, const uint8_t rand[AKA_RAND_LEN],
           const uint8_t sqn[AKA_SQN_LEN], const uint8_t amf[AKA_AMF_LEN],
           uint8_t mac_a[AKA_MAC_LEN], uint8_t mac_s[AKA_MAC_LEN]);
int aka_f2345(const struct aka_keys *keys, const uint8_t rand[AKA_RAND_LEN],
              struct aka_out *out);

#endif
