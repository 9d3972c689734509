/*
 * sip/milenage.c: Milenage (3GPP TS 35.206) on OpenSSL's AES-128, and the
 * XOR test algorithm of TS 34.108 8.1.2 (see milenage.h). The constants are
 * those of TS 35.206 4.1: r1 = 64, r2 = 0, r3 = 32, r4 = 64, r5 = 96 bits;
 * c1 = 0, c2 = 1, c3 = 2, c4 = 4, c5 = 8 (in the last bit positions).
 * Intermediate values hold key material: they are wiped before returning.
 */
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sip/milenage.h"

int
aka_alg_parse(const char *name, enum aka_alg *alg)
{
	if (name == NULL)
		return -1;
	if (strcasecmp(name, "milenage") == 0)
		*alg = AKA_MILENAGE;
	else if (strcasecmp(name, "xor") == 0)
		*alg = AKA_XOR;
	else
		return -1;
	return 0;
}

const char *
aka_alg_name(enum aka_alg alg)
{
	return alg == AKA_XOR ? "xor" : "milenage";
}

/*
 * The AES-128-ECB encryptor (no padding), keyed with k; NULL on failure.
 * One context for the process's life (a worker is one thread), re-keyed
 * per call: fetching the cipher and making a context cost more than the
 * few blocks Milenage encrypts. Not to be freed; milenage_done() wipes it.
 */
static EVP_CIPHER_CTX *milenage_ctx;
static EVP_CIPHER *milenage_cipher;

static EVP_CIPHER_CTX *
milenage_aes(const uint8_t k[AKA_K_LEN])
{
	if (milenage_cipher == NULL && (milenage_cipher = EVP_CIPHER_fetch(
	                                    NULL, "AES-128-ECB", NULL)) == NULL)
		return NULL;
	if (milenage_ctx == NULL &&
	    (milenage_ctx = EVP_CIPHER_CTX_new()) == NULL)
		return NULL;
	if (EVP_EncryptInit_ex2(milenage_ctx, milenage_cipher, k, NULL, NULL) !=
	        1 ||
	    EVP_CIPHER_CTX_set_padding(milenage_ctx, 0) != 1) {
		EVP_CIPHER_CTX_free(milenage_ctx);
		milenage_ctx = NULL;
		return NULL;
	}
	return milenage_ctx;
}

/* Done with the key of the last milenage_aes(): wipe its schedule (the
 * context stays, to be keyed again). */
static void
milenage_done(EVP_CIPHER_CTX *c)
{
	if (c != NULL)
		EVP_CIPHER_CTX_reset(c);
}

/* out = E_K(in), one block: 0 or -1. */
static int
milenage_block(EVP_CIPHER_CTX *c, const uint8_t in[16], uint8_t out[16])
{
	int n = 0;

	if (EVP_EncryptUpdate(c, out, &n, in, 16) != 1 || n != 16)
		return -1;
	return 0;
}

int
milenage_opc(const uint8_t k[AKA_K_LEN], const uint8_t op[AKA_OP_LEN],
             uint8_t opc[AKA_OP_LEN])
{
	EVP_CIPHER_CTX *c;
	int rc = -1;

	if ((c = milenage_aes(k)) == NULL)
		goto done;
	if (milenage_block(c, op, opc) == -1)
		goto done;
	for (int i = 0; i < 16; i++)
		opc[i] ^= op[i];
	rc = 0;
done:
	if (rc == -1)
		memset(opc, 0, AKA_OP_LEN);
	milenage_done(c);
	return rc;
}

/* TEMP = E_K(RAND xor OPc). */
static int
milenage_temp(EVP_CIPHER_CTX *c, const uint8_t opc[16], const uint8_t rand[16],
              uint8_t temp[16])
{
	uint8_t in[16];
	int rc;

	for (int i = 0; i < 16; i++)
		in[i] = rand[i] ^ opc[i];
	rc = milenage_block(c, in, temp);
	OPENSSL_cleanse(in, sizeof(in));
	return rc;
}

int
milenage_f1(const uint8_t k[AKA_K_LEN], const uint8_t opc[AKA_OP_LEN],
            const uint8_t rand[AKA_RAND_LEN], const uint8_t sqn[AKA_SQN_LEN],
            const uint8_t amf[AKA_AMF_LEN], uint8_t mac_a[AKA_MAC_LEN],
            uint8_t mac_s[AKA_MAC_LEN])
{
	EVP_CIPHER_CTX *c;
	uint8_t temp[16], in1[16], x[16], out[16];
	int rc = -1;

	if ((c = milenage_aes(k)) == NULL ||
	    milenage_temp(c, opc, rand, temp) == -1)
		goto done;
	/* IN1 = SQN || AMF || SQN || AMF */
	memcpy(in1, sqn, 6);
	memcpy(in1 + 6, amf, 2);
	memcpy(in1 + 8, in1, 8);
	/* OUT1 = E_K(TEMP xor rot(IN1 xor OPc, r1 = 64) xor c1) xor OPc */
	for (int i = 0; i < 16; i++)
		x[(i + 8) % 16] = in1[i] ^ opc[i];
	for (int i = 0; i < 16; i++)
		x[i] ^= temp[i];
	if (milenage_block(c, x, out) == -1)
		goto done;
	for (int i = 0; i < 16; i++)
		out[i] ^= opc[i];
	if (mac_a != NULL)
		memcpy(mac_a, out, 8);
	if (mac_s != NULL)
		memcpy(mac_s, out + 8, 8);
	rc = 0;
done:
	if (rc == -1) {
		if (mac_a != NULL)
			memset(mac_a, 0, AKA_MAC_LEN);
		if (mac_s != NULL)
			memset(mac_s, 0, AKA_MAC_LEN);
	}
	OPENSSL_cleanse(temp, sizeof(temp));
	OPENSSL_cleanse(x, sizeof(x));
	OPENSSL_cleanse(out, sizeof(out));
	milenage_done(c);
	return rc;
}

/* OUTn = E_K(rot(TEMP xor OPc, r) xor c) xor OPc, with r in bytes and c
 * the last byte's constant. */
static int
milenage_out(EVP_CIPHER_CTX *c, const uint8_t opc[16], const uint8_t temp[16],
             int r, uint8_t cn, uint8_t out[16])
{
	uint8_t x[16];
	int rc;

	/* rot(X, r)[i] = X[(i + r) mod 16]: a left rotation by r bytes */
	for (int i = 0; i < 16; i++)
		x[i] = temp[(i + r) % 16] ^ opc[(i + r) % 16];
	x[15] ^= cn;
	rc = milenage_block(c, x, out);
	for (int i = 0; i < 16; i++)
		out[i] ^= opc[i];
	OPENSSL_cleanse(x, sizeof(x));
	return rc;
}

int
milenage_f2345(const uint8_t k[AKA_K_LEN], const uint8_t opc[AKA_OP_LEN],
               const uint8_t rand[AKA_RAND_LEN], struct aka_out *o)
{
	EVP_CIPHER_CTX *c;
	uint8_t temp[16], out[16];
	int rc = -1;

	memset(o, 0, sizeof(*o));
	if ((c = milenage_aes(k)) == NULL ||
	    milenage_temp(c, opc, rand, temp) == -1)
		goto done;
	/* f2, f5: OUT2, r2 = 0, c2 = 1: AK = OUT2[0..47], RES = OUT2[64..127]
	 */
	if (milenage_out(c, opc, temp, 0, 1, out) == -1)
		goto done;
	memcpy(o->ak, out, AKA_AK_LEN);
	memcpy(o->res, out + 8, 8);
	o->res_len = AKA_MILENAGE_RES_LEN;
	/* f3: OUT3, r3 = 32, c3 = 2 */
	if (milenage_out(c, opc, temp, 4, 2, o->ck) == -1)
		goto done;
	/* f4: OUT4, r4 = 64, c4 = 4 */
	if (milenage_out(c, opc, temp, 8, 4, o->ik) == -1)
		goto done;
	/* f5*: OUT5, r5 = 96, c5 = 8: AK* = OUT5[0..47] */
	if (milenage_out(c, opc, temp, 12, 8, out) == -1)
		goto done;
	memcpy(o->akstar, out, AKA_AK_LEN);
	rc = 0;
done:
	if (rc == -1)
		OPENSSL_cleanse(o, sizeof(*o));
	OPENSSL_cleanse(temp, sizeof(temp));
	OPENSSL_cleanse(out, sizeof(out));
	milenage_done(c);
	return rc;
}

void
aka_xor_f1(const uint8_t k[AKA_K_LEN], const uint8_t rand[AKA_RAND_LEN],
           const uint8_t sqn[AKA_SQN_LEN], const uint8_t amf[AKA_AMF_LEN],
           uint8_t mac[AKA_MAC_LEN])
{
	/* XMAC = XDOUT[0..63] xor CDOUT, CDOUT = SQN || AMF */
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(k[i] ^ rand[i] ^ sqn[i]);
	for (int i = 0; i < 2; i++)
		mac[6 + i] = (uint8_t)(k[6 + i] ^ rand[6 + i] ^ amf[i]);
}

void
aka_xor_f2345(const uint8_t k[AKA_K_LEN], const uint8_t rand[AKA_RAND_LEN],
              struct aka_out *o)
{
	uint8_t xd[16];

	memset(o, 0, sizeof(*o));
	for (int i = 0; i < 16; i++)
		xd[i] = k[i] ^ rand[i];
	memcpy(o->res, xd, 16);
	o->res_len = AKA_XOR_RES_LEN;
	for (int i = 0; i < 16; i++) {
		o->ck[i] = xd[(i + 1) % 16];
		o->ik[i] = xd[(i + 2) % 16];
	}
	memcpy(o->ak, xd + 3, AKA_AK_LEN);
	memcpy(o->akstar, xd + 3, AKA_AK_LEN);
	OPENSSL_cleanse(xd, sizeof(xd));
}

int
aka_f1(const struct aka_keys *keys, const uint8_t rand[AKA_RAND_LEN],
       const uint8_t sqn[AKA_SQN_LEN], const uint8_t amf[AKA_AMF_LEN],
       uint8_t mac_a[AKA_MAC_LEN], uint8_t mac_s[AKA_MAC_LEN])
{
	if (keys->alg == AKA_XOR) {
		if (mac_a != NULL)
			aka_xor_f1(keys->k, rand, sqn, amf, mac_a);
		if (mac_s != NULL)
			aka_xor_f1(keys->k, rand, sqn, amf, mac_s);
		return 0;
	}
	return milenage_f1(keys->k, keys->opc, rand, sqn, amf, mac_a, mac_s);
}

int
aka_f2345(const struct aka_keys *keys, const uint8_t rand[AKA_RAND_LEN],
          struct aka_out *out)
{
	if (keys->alg == AKA_XOR) {
		aka_xor_f2345(keys->k, rand, out);
		return 0;
	}
	return milenage_f2345(keys->k, keys->opc, rand, out);
}
