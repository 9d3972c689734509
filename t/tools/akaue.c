/*
 * t/tools/akaue.c: the UE's side of IMS AKA and Digest for afd's
 * end-to-end tests and load generators: a SIM (Milenage or the TS 34.108
 * XOR test algorithm) that takes a challenge's nonce and gives RES, CK, IK
 * or an AUTS, and a Digest client that computes the response. It uses the
 * same sip/ maths as afd, so tests check afd against the specifications
 * through the unit tests of those, not against themselves.
 *
 *   akaue [-a milenage|xor] -k K (-c OPC | -o OP) -n NONCE [-2] [-S SQN_MS]
 *         [-u USER -r REALM -m METHOD -U URI [-q QOP -N NC -C CNONCE]
 *          [-b BODYFILE]]
 *   akaue -p PASSWORD -u USER -r REALM -m METHOD -U URI -n NONCE
 *         [-q QOP -N NC -C CNONCE] [-b BODYFILE]
 *
 *   -a ALG     the SIM's algorithm (default milenage)
 *   -k, -c, -o K, OPc, OP in hex
 *   -n NONCE   the challenge's nonce (AKA: base64 of RAND || AUTN || ...)
 *   -2         AKAv2-MD5: the Digest password is RFC 4169's
 *   -S SQN_MS  answer with a synchronisation failure: print the AUTS for
 *              this RAND and SQN_MS (decimal or 0x hex) instead of RES
 *   -p PW      plain Digest with this password (no SIM)
 *   -u, -r, -m, -U, -q, -N, -C  the Digest fields; -b the body (auth-int)
 *
 * Prints key=value lines: sqn=, res=, ck=, ik= (hex) for AKA, auts=
 * (base64) with -S, password= for AKAv2, response= when -u is given.
 * Exit 0; 3 when AUTN's MAC is wrong (the network is not authentic; sqn=
 * is still printed); 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sip/aka.h"
#include "sip/digest.h"
#include "sip/milenage.h"

static void
usage(void)
{
	fprintf(stderr,
	        "usage: akaue [-a milenage|xor] -k K (-c OPC | -o OP) -n NONCE "
	        "[-2] [-S SQN_MS] [-u USER -r REALM -m METHOD -U URI "
	        "[-q QOP -N NC -C CNONCE] [-b BODY]]\n"
	        "       akaue -p PASSWORD -u USER -r REALM -m METHOD -U URI "
	        "-n NONCE [-q QOP -N NC -C CNONCE] [-b BODY]\n");
	exit(2);
}

static int
unhex(const char *s, uint8_t *out, size_t n)
{
	if (s == NULL || strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static void
phex(const char *name, const uint8_t *b, size_t n)
{
	printf("%s=", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

static sip_str
S(const char *s)
{
	return s ? (sip_str){s, strlen(s)} : SIP_STR_NULL;
}

/* The whole file as a string (NULL on error; the caller frees). */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
		*len = fread(buf, 1, (size_t)n, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

int
main(int argc, char **argv)
{
	const char *alg = "milenage", *k = NULL, *opc = NULL, *op = NULL;
	const char *nonce = NULL, *pw = NULL, *user = NULL, *realm = NULL;
	const char *method = NULL, *uri = NULL, *qop = NULL, *nc = NULL;
	const char *cnonce = NULL, *bodyf = NULL, *sqn_ms = NULL;
	uint8_t pwb[AKA_PASSWORD_MAX];
	size_t pwlen = 0;
	int v2 = 0, ch, rc = 0;

	while ((ch = getopt(argc, argv, "a:k:c:o:n:2S:p:u:r:m:U:q:N:C:b:")) !=
	       -1) {
		switch (ch) {
		case 'a':
			alg = optarg;
			break;
		case 'k':
			k = optarg;
			break;
		case 'c':
			opc = optarg;
			break;
		case 'o':
			op = optarg;
			break;
		case 'n':
			nonce = optarg;
			break;
		case '2':
			v2 = 1;
			break;
		case 'S':
			sqn_ms = optarg;
			break;
		case 'p':
			pw = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'r':
			realm = optarg;
			break;
		case 'm':
			method = optarg;
			break;
		case 'U':
			uri = optarg;
			break;
		case 'q':
			qop = optarg;
			break;
		case 'N':
			nc = optarg;
			break;
		case 'C':
			cnonce = optarg;
			break;
		case 'b':
			bodyf = optarg;
			break;
		default:
			usage();
		}
	}
	if (nonce == NULL || (pw == NULL && k == NULL))
		usage();
	if (pw == NULL) {
		struct aka_keys keys;
		enum aka_alg a;
		uint8_t kb[16], opcb[16], opb[16], rand[16], autn[16];
		struct aka_out o;
		struct aka_vector v;
		uint64_t sqn;

		if (aka_alg_parse(alg, &a) == -1 || unhex(k, kb, 16) == -1 ||
		    (opc && unhex(opc, opcb, 16) == -1) ||
		    (op && unhex(op, opb, 16) == -1) ||
		    aka_keys_init(&keys, a, kb, opc ? opcb : NULL,
		                  op ? opb : NULL) == -1) {
			fprintf(stderr, "akaue: bad -a, -k, -c or -o\n");
			return 2;
		}
		if (aka_nonce_parse(S(nonce), rand, autn, NULL, NULL) == -1) {
			fprintf(stderr, "akaue: the nonce is not base64 of "
			                "RAND || AUTN\n");
			return 2;
		}
		rc = aka_usim_check(&keys, rand, autn, &o, &sqn);
		if (rc == -1)
			return 2;
		printf("sqn=%llu\n", (unsigned long long)sqn);
		if (rc == 1) {
			printf("mac=bad\n");
			return 3;
		}
		if (sqn_ms != NULL) {
			uint8_t auts[AKA_AUTS_LEN];
			char b64[AKA_B64_LEN(AKA_AUTS_LEN) + 1];

			if (aka_auts_make(&keys, rand,
			                  strtoull(sqn_ms, NULL, 0),
			                  auts) == -1)
				return 2;
			aka_b64_encode(auts, sizeof(auts), b64);
			printf("auts=%s\n", b64);
			return 0;
		}
		phex("res", o.res, o.res_len);
		phex("ck", o.ck, 16);
		phex("ik", o.ik, 16);
		memset(&v, 0, sizeof(v));
		memcpy(v.xres, o.res, o.res_len);
		v.xres_len = o.res_len;
		memcpy(v.ck, o.ck, 16);
		memcpy(v.ik, o.ik, 16);
		if (aka_password(&v, v2, pwb, &pwlen) == -1)
			return 2;
		if (v2)
			printf("password=%.*s\n", (int)pwlen, (char *)pwb);
	}
	if (user != NULL) {
		char ha1[33], ha2[33], resp[33], *body = NULL;
		enum digest_qop q = DIGEST_QOP_NONE;
		size_t blen = 0;

		if (realm == NULL || method == NULL || uri == NULL)
			usage();
		if (qop != NULL) {
			q = strcmp(qop, "auth-int") == 0 ? DIGEST_QOP_AUTH_INT
			                                 : DIGEST_QOP_AUTH;
			if (nc == NULL || cnonce == NULL)
				usage();
		}
		if (bodyf != NULL && (body = slurp(bodyf, &blen)) == NULL) {
			fprintf(stderr, "akaue: cannot read %s\n", bodyf);
			return 2;
		}
		if (digest_ha1(S(user), S(realm),
		               pw ? (const uint8_t *)pw : pwb,
		               pw ? strlen(pw) : pwlen, ha1) == -1 ||
		    digest_ha2(S(method), S(uri), q,
		               (sip_str){body, body ? blen : 0}, ha2) == -1 ||
		    digest_response(ha1, S(nonce), S(nc), S(cnonce), q, ha2,
		                    resp) == -1) {
			free(body);
			return 2;
		}
		free(body);
		printf("response=%s\n", resp);
	}
	return 0;
}
