/*
 * sip/sip_impl.h: what the files of the SIP library share and nobody else
 * needs: the character classes of RFC 3261's grammar, a bump allocator that
 * serves a message's small parts from a block inside the message, and the
 * internal entry points of the parsers (each takes (p, end) or a sip_str and
 * never reads outside it).
 */
#ifndef AFD_SIP_IMPL_H
#define AFD_SIP_IMPL_H

#include <stddef.h>
#include <string.h>

#include "sip/sip.h"

/* Parameters in one list (URI or header): more is an attack, not SIP. */
#define SIP_MAX_PARAMS 64

/* Character classes (sip_ctype[] bits). */
#define SIP_C_TOKEN 0x01 /* token (RFC 3261 25.1) */
#define SIP_C_LWS 0x02   /* SP HTAB CR LF */
#define SIP_C_UNRES 0x04 /* unreserved: alphanum mark */
#define SIP_C_USER 0x08  /* user-unreserved & = + $ , ; ? / */
#define SIP_C_PARAM 0x10 /* param-unreserved [ ] / : & + $ */
#define SIP_C_HOST 0x20  /* alphanum - . _ */
#define SIP_C_HEX 0x40
#define SIP_C_WORD 0x80 /* word (Call-ID) */

extern const unsigned char sip_ctype[256];

#define SIP_IS(c, cls) (sip_ctype[(unsigned char)(c)] & (cls))

/*
 * Allocation for parsed parts: from the free block [p, end) when it has
 * room, else talloc_zero_size(ctx). The memory is zeroed. A sip_mem with an
 * empty block is plain talloc.
 */
struct sip_mem {
	TALLOC_CTX *ctx;
	char *p, *end;
	int grow; /* when the block is used up, get another from ctx */
};

#define SIP_MEM_BLOCK 4096

void *sip_mem_zalloc(struct sip_mem *m, size_t n);

#define SIP_MEM_NEW(m, type) ((type *)sip_mem_zalloc((m), sizeof(type)))

/* Skip SP/HTAB/CR/LF (folding is whitespace inside a header value). */
static inline const char *
sip_skip_lws(const char *p, const char *end)
{
	while (p < end && SIP_IS(*p, SIP_C_LWS))
		p++;
	return p;
}

/* Skip a run of characters of class cls. */
static inline const char *
sip_skip_cls(const char *p, const char *end, unsigned cls)
{
	while (p < end && SIP_IS(*p, cls))
		p++;
	return p;
}

/*
 * Skip a quoted-string starting at p (*p == '"'), with its quoted-pairs.
 * Returns the position after the closing quote, or NULL if unterminated.
 */
const char *sip_skip_quoted(const char *p, const char *end);

/* Skip characters of class cls and %HH escapes; NULL on a bad escape. */
const char *sip_skip_escaped(const char *p, const char *end, unsigned cls);

/* Parse a 1*DIGIT decimal (whole slice) into *out; -1 if empty, not digits
 * or larger than max. */
int sip_parse_num(const char *p, const char *end, uint64_t max, uint64_t *out);

/*
 * Header parameters: *( SWS ";" SWS name [ SWS "=" SWS value ] ) from p; stops
 * before the first character that is not part of a parameter (',', '>', end,
 * ...). Returns the position reached, or NULL if a parameter is malformed.
 * The list is appended to *list.
 */
const char *sip_parse_hparams(struct sip_mem *m, const char *p, const char *end,
                              struct sip_param **list);

/* URI parameters ";name[=value]" up to end (or '?'); see uri.c. */
const char *sip_parse_uparams(struct sip_mem *m, const char *p, const char *end,
                              struct sip_param **list);

/* host (hostname, IPv4 or [IPv6]) at p; NULL if there is none. */
const char *sip_parse_host(const char *p, const char *end, sip_str *host);
/* 1*DIGIT port at p, at most 65535; NULL if malformed. */
const char *sip_parse_port(const char *p, const char *end, uint16_t *port);

int sip_parse_uri_mem(struct sip_mem *m, sip_str in, struct sip_uri *out);
int sip_parse_addr_list_mem(struct sip_mem *m, sip_str in,
                            struct sip_addr **out);
/* Parse a Via value (a list) and append its via-parms to *tail; *count is
 * incremented per via-parm and parsing fails past max. */
int sip_parse_via_list(struct sip_mem *m, sip_str in, struct sip_via ***tail,
                       int *count, int max);

#endif
