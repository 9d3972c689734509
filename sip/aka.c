/*
 * sip/aka.c: authentication vectors, AUTS, SQN bookkeeping, the RFC 3310
 * nonce, the AKAv1/AKAv2 Digest passwords and base64 (see aka.h). The
 * functions f1..f5* come from milenage.c; HMAC-MD5 from libcrypto.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sip/aka.h"

int
aka_keys_init(struct aka_keys *keys, enum aka_alg alg,
              const uint8_t k[AKA_K_LEN], const uint8_t *opc, const uint8_t *op)
{
	memset(keys, 0, sizeof(*keys));
	keys->alg = alg;
	memcpy(keys->k, k, AKA_K_LEN);
	if (alg == AKA_XOR)
		return 0;
	if (opc != NULL) {
		memcpy(keys->opc, opc, AKA_OP_LEN);
		return 0;
	}
	if (op != NULL && milenage_opc(k, op, keys->opc) == 0)
		return 0;
	OPENSSL_cleanse(keys, sizeof(*keys));
	return -1;
}

int
aka_auts_parse(sip_str b64, uint8_t auts[AKA_AUTS_LEN])
{
	uint8_t tmp[AKA_AUTS_LEN + 1];
	ssize_t n = aka_b64_decode(b64, tmp, sizeof(tmp));

	if (n != AKA_AUTS_LEN)
		return -1;
	memcpy(auts, tmp, AKA_AUTS_LEN);
	return 0;
}

int
aka_password(const struct aka_vector *v, int v2, uint8_t *out, size_t *len)
{
	char pw[AKA_V2_PASSWORD_LEN + 1];

	*len = 0;
	if (!v2) {
		if (v->xres_len > AKA_RES_MAX)
			return -1;
		memcpy(out, v->xres, v->xres_len);
		*len = v->xres_len;
		return 0;
	}
	if (aka_v2_password(v->xres, v->xres_len, v->ik, v->ck, pw) == -1)
		return -1;
	memcpy(out, pw, AKA_V2_PASSWORD_LEN);
	*len = AKA_V2_PASSWORD_LEN;
	OPENSSL_cleanse(pw, sizeof(pw));
	return 0;
}

void
aka_be_put(uint64_t v, uint8_t *out, size_t n)
{
	for (size_t i = n; i > 0; i--, v >>= 8)
		out[i - 1] = (uint8_t)(v & 0xff);
}

uint64_t
aka_be_get(const uint8_t *in, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | in[i];
	return v;
}

void
aka_sqn_put(uint64_t sqn, uint8_t out[AKA_SQN_LEN])
{
	aka_be_put(sqn, out, AKA_SQN_LEN);
}

uint64_t
aka_sqn_get(const uint8_t in[AKA_SQN_LEN])
{
	return aka_be_get(in, AKA_SQN_LEN);
}

uint64_t
aka_sqn_next(uint64_t sqn)
{
	uint64_t seq = aka_sqn_seq(sqn) + 1;
	unsigned ind = (aka_sqn_ind(sqn) + 1) & AKA_IND_MASK;

	return ((seq << AKA_IND_BITS) | ind) & AKA_SQN_MAX;
}

int
aka_vector_make(const struct aka_keys *keys, const uint8_t amf[AKA_AMF_LEN],
                uint64_t sqn, const uint8_t rand[AKA_RAND_LEN],
                struct aka_vector *v)
{
	struct aka_out o;
	uint8_t sq[AKA_SQN_LEN];
	int rc = -1;

	memset(v, 0, sizeof(*v));
	if (sqn > AKA_SQN_MAX)
		goto done;
	aka_sqn_put(sqn, sq);
	if (aka_f2345(keys, rand, &o) == -1)
		goto done;
	/* AUTN = (SQN xor AK) || AMF || MAC-A */
	if (aka_f1(keys, rand, sq, amf, v->autn + 8, NULL) == -1)
		goto done;
	for (int i = 0; i < AKA_SQN_LEN; i++)
		v->autn[i] = sq[i] ^ o.ak[i];
	memcpy(v->autn + 6, amf, AKA_AMF_LEN);
	memcpy(v->rand, rand, AKA_RAND_LEN);
	memcpy(v->xres, o.res, o.res_len);
	v->xres_len = o.res_len;
	memcpy(v->ck, o.ck, AKA_CK_LEN);
	memcpy(v->ik, o.ik, AKA_IK_LEN);
	memcpy(v->ak, o.ak, AKA_AK_LEN);
	v->sqn = sqn;
	rc = 0;
done:
	if (rc == -1)
		OPENSSL_cleanse(v, sizeof(*v));
	OPENSSL_cleanse(&o, sizeof(o));
	return rc;
}

int
aka_usim_check(const struct aka_keys *keys, const uint8_t rand[AKA_RAND_LEN],
               const uint8_t autn[AKA_AUTN_LEN], struct aka_out *out,
               uint64_t *sqn)
{
	uint8_t sq[AKA_SQN_LEN], xmac[AKA_MAC_LEN];

	if (aka_f2345(keys, rand, out) == -1)
		return -1;
	for (int i = 0; i < AKA_SQN_LEN; i++)
		sq[i] = autn[i] ^ out->ak[i];
	if (aka_f1(keys, rand, sq, autn + 6, xmac, NULL) == -1)
		return -1;
	*sqn = aka_sqn_get(sq);
	return CRYPTO_memcmp(xmac, autn + 8, AKA_MAC_LEN) == 0 ? 0 : 1;
}

static const uint8_t aka_amf_star[AKA_AMF_LEN] = {0, 0};

int
aka_auts_make(const struct aka_keys *keys, const uint8_t rand[AKA_RAND_LEN],
              uint64_t sqn_ms, uint8_t auts[AKA_AUTS_LEN])
{
	struct aka_out o;
	uint8_t sq[AKA_SQN_LEN];
	int rc = -1;

	aka_sqn_put(sqn_ms, sq);
	if (aka_f2345(keys, rand, &o) == -1 ||
	    aka_f1(keys, rand, sq, aka_amf_star, NULL, auts + 6) == -1)
		goto done;
	for (int i = 0; i < AKA_SQN_LEN; i++)
		auts[i] = sq[i] ^ o.akstar[i];
	rc = 0;
done:
	OPENSSL_cleanse(&o, sizeof(o));
	return rc;
}

int
aka_auts_check(const struct aka_keys *keys, const uint8_t rand[AKA_RAND_LEN],
               const uint8_t auts[AKA_AUTS_LEN], uint64_t *sqn_ms)
{
	struct aka_out o;
	uint8_t sq[AKA_SQN_LEN], xmac_s[AKA_MAC_LEN];
	int rc = -1;

	if (aka_f2345(keys, rand, &o) == -1)
		goto done;
	for (int i = 0; i < AKA_SQN_LEN; i++)
		sq[i] = auts[i] ^ o.akstar[i];
	if (aka_f1(keys, rand, sq, aka_amf_star, NULL, xmac_s) == -1)
		goto done;
	if (CRYPTO_memcmp(xmac_s, auts + 6, AKA_MAC_LEN) != 0) {
		rc = 1;
		goto done;
	}
	*sqn_ms = aka_sqn_get(sq);
	rc = 0;
done:
	OPENSSL_cleanse(&o, sizeof(o));
	return rc;
}

static const char aka_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
aka_b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		             in[i + 2];
		out[o++] = aka_b64[v >> 18];
		out[o++] = aka_b64[(v >> 12) & 63];
		out[o++] = aka_b64[(v >> 6) & 63];
		out[o++] = aka_b64[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = aka_b64[v >> 18];
		out[o++] = aka_b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? aka_b64[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* The value of a base64 digit, or -1. */
static int
aka_b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

ssize_t
aka_b64_decode(sip_str in, uint8_t *out, size_t max)
{
	size_t n = in.len, o = 0, pad = 0;
	uint32_t acc = 0;
	int bits = 0;

	while (n > 0 && in.s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (pad > 0 && (n + pad) % 4 != 0)
		return -1;
	if (n % 4 == 1)
		return -1; /* 6 bits cannot make a byte */
	for (size_t i = 0; i < n; i++) {
		int v = aka_b64_val(in.s[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= max)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) /* non-zero unused bits: not a canonical encoding */
		return -1;
	return (ssize_t)o;
}

int
aka_nonce_make(const uint8_t rand[AKA_RAND_LEN],
               const uint8_t autn[AKA_AUTN_LEN], const uint8_t *sdata,
               size_t sdata_len, char *out)
{
	uint8_t raw[AKA_RAND_LEN + AKA_AUTN_LEN + AKA_NONCE_SDATA_MAX];

	if (sdata_len > AKA_NONCE_SDATA_MAX)
		return -1;
	memcpy(raw, rand, AKA_RAND_LEN);
	memcpy(raw + AKA_RAND_LEN, autn, AKA_AUTN_LEN);
	if (sdata_len > 0)
		memcpy(raw + AKA_RAND_LEN + AKA_AUTN_LEN, sdata, sdata_len);
	return (int)aka_b64_encode(raw, AKA_RAND_LEN + AKA_AUTN_LEN + sdata_len,
	                           out);
}

int
aka_nonce_parse(sip_str nonce, uint8_t rand[AKA_RAND_LEN],
                uint8_t autn[AKA_AUTN_LEN], uint8_t *sdata, size_t *sdata_len)
{
	uint8_t raw[AKA_RAND_LEN + AKA_AUTN_LEN + AKA_NONCE_SDATA_MAX];
	ssize_t n;

	n = aka_b64_decode(nonce, raw, sizeof(raw));
	if (n < AKA_RAND_LEN + AKA_AUTN_LEN)
		return -1;
	memcpy(rand, raw, AKA_RAND_LEN);
	memcpy(autn, raw + AKA_RAND_LEN, AKA_AUTN_LEN);
	if (sdata_len != NULL)
		*sdata_len = (size_t)n - AKA_RAND_LEN - AKA_AUTN_LEN;
	if (sdata != NULL)
		memcpy(sdata, raw + AKA_RAND_LEN + AKA_AUTN_LEN,
		       (size_t)n - AKA_RAND_LEN - AKA_AUTN_LEN);
	return 0;
}

int
aka_v2_password(const uint8_t *res, size_t res_len,
                const uint8_t ik[AKA_IK_LEN], const uint8_t ck[AKA_CK_LEN],
                char out[AKA_V2_PASSWORD_LEN + 1])
{
	static const char label[] = "http-digest-akav2-password";
	uint8_t key[AKA_RES_MAX + AKA_IK_LEN + AKA_CK_LEN],
	    mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int rc = -1;

	out[0] = '\0';
	if (res_len > AKA_RES_MAX)
		return -1;
	memcpy(key, res, res_len);
	memcpy(key + res_len, ik, AKA_IK_LEN);
	memcpy(key + res_len + AKA_IK_LEN, ck, AKA_CK_LEN);
	if (HMAC(EVP_md5(), key, (int)(res_len + AKA_IK_LEN + AKA_CK_LEN),
	         (const unsigned char *)label, sizeof(label) - 1, mac,
	         &maclen) == NULL ||
	    maclen != 16)
		goto done;
	aka_b64_encode(mac, 16, out);
	rc = 0;
done:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}
