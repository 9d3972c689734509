/*
 * sip/sip.h: the SIP message library (RFC 3261 syntax): parse requests and
 * responses from a datagram or a byte stream, reach their headers, print them
 * back, build responses.
 *
 * Zero-copy: every sip_str points into the buffer the message was parsed
 * from, which must outlive the message. Everything the parser allocates hangs
 * off the talloc context given to it (normally the message itself).
 * The core headers (Via, From, To, Call-ID, CSeq, Max-Forwards,
 * Content-Length) are parsed by sip_parse(); every other header is kept as a
 * raw value and parsed on demand with the sip_parse_* helpers below.
 *
 * This library knows nothing of processes, sockets or the database.
 */
#ifndef AFD_SIP_H
#define AFD_SIP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <talloc.h>

/* Limits: what afd accepts. */
#define SIP_MAX_MSG_DEFAULT (64 * 1024) /* bytes of one message */
#define SIP_MAX_HEADERS 256             /* header fields in one message */
#define SIP_MAX_VIAS 64                 /* Via values in one message */
#define SIP_MAX_HDR_LEN 8192            /* bytes of one header field */

/* A slice of a buffer; s is not NUL-terminated. */
typedef struct sip_str {
	const char *s;
	size_t len;
} sip_str;

#define SIP_STR_LIT(lit) ((sip_str){(lit), sizeof(lit) - 1})
#define SIP_STR_NULL ((sip_str){NULL, 0})
/* printf("%.*s", SIP_STR_FMT(s)) */
#define SIP_STR_FMT(x) (int)(x).len, (x).s

int sip_str_eq(sip_str a, sip_str b);     /* byte for byte */
int sip_str_caseeq(sip_str a, sip_str b); /* ASCII case-insensitive */
int sip_str_caseeq_lit(sip_str a, const char *lit);
char *sip_str_dup(TALLOC_CTX *ctx, sip_str s); /* NUL-terminated copy */
sip_str sip_str_trim(sip_str s);               /* strip SP/HTAB/CR/LF */

enum sip_method {
	SIP_M_UNKNOWN = 0,
	SIP_M_INVITE,
	SIP_M_ACK,
	SIP_M_BYE,
	SIP_M_CANCEL,
	SIP_M_OPTIONS,
	SIP_M_REGISTER,
	SIP_M_SUBSCRIBE,
	SIP_M_NOTIFY,
	SIP_M_PRACK,
	SIP_M_UPDATE,
	SIP_M_INFO,
	SIP_M_MESSAGE,
	SIP_M_REFER,
	SIP_M_PUBLISH,
	SIP_M__COUNT
};

/* The method's id from its name (case-sensitive, RFC 3261 7.1). */
enum sip_method sip_method_id(sip_str name);
const char *sip_method_name(enum sip_method m);

/*
 * Header ids, for the headers anyone looks up by name. Long and compact
 * names map to the same id; anything else is SIP_HDR_OTHER.
 */
enum sip_hdr_id {
	SIP_HDR_OTHER = 0,
	SIP_HDR_VIA,     /* v */
	SIP_HDR_FROM,    /* f */
	SIP_HDR_TO,      /* t */
	SIP_HDR_CALL_ID, /* i */
	SIP_HDR_CSEQ,
	SIP_HDR_MAX_FORWARDS,
	SIP_HDR_CONTACT,        /* m */
	SIP_HDR_CONTENT_LENGTH, /* l */
	SIP_HDR_CONTENT_TYPE,   /* c */
	SIP_HDR_EXPIRES,
	SIP_HDR_MIN_EXPIRES,
	SIP_HDR_REQUIRE,
	SIP_HDR_PROXY_REQUIRE,
	SIP_HDR_SUPPORTED, /* k */
	SIP_HDR_UNSUPPORTED,
	SIP_HDR_ALLOW,
	SIP_HDR_ACCEPT,
	SIP_HDR_ROUTE,
	SIP_HDR_RECORD_ROUTE,
	SIP_HDR_PATH,
	SIP_HDR_SERVICE_ROUTE,
	SIP_HDR_AUTHORIZATION,
	SIP_HDR_WWW_AUTHENTICATE,
	SIP_HDR_USER_AGENT,
	SIP_HDR_SERVER,
	SIP_HDR_EVENT, /* o */
	SIP_HDR_SUBSCRIPTION_STATE,
	SIP_HDR_P_ASSOCIATED_URI,
	SIP_HDR_P_CHARGING_VECTOR,
	SIP_HDR_DATE,
	SIP_HDR_RSEQ,
	SIP_HDR_RACK,
	SIP_HDR__COUNT
};

enum sip_hdr_id sip_hdr_id(sip_str name); /* case-insensitive, compact too */

struct sip_hdr {
	enum sip_hdr_id id;
	sip_str name;         /* as received */
	sip_str value;        /* as received, outer whitespace trimmed; may hold
	                         folded line breaks (CRLF + SP/HTAB) */
	struct sip_hdr *next; /* next header field in message order */
	struct sip_hdr *next_same; /* next field with the same id (not for
	                              SIP_HDR_OTHER) */
	sip_str raw; /* the whole field as received, with its line end;
	                sip_msg_print() prints raw while value lies inside
	                it: to change a header, point value elsewhere or set
	                raw to SIP_STR_NULL */
};

/* A ;name=value parameter (URI, header or Via). value.s is NULL when the
 * parameter has no '='; a quoted value keeps its quotes. */
struct sip_param {
	sip_str name;
	sip_str value;
	struct sip_param *next;
};

/* The value of the first parameter named name (case-insensitive), or NULL. */
const struct sip_param *sip_param_find(const struct sip_param *list,
                                       const char *name);

enum sip_scheme {
	SIP_SCHEME_SIP,
	SIP_SCHEME_SIPS,
	SIP_SCHEME_TEL,
	SIP_SCHEME_OTHER
};

struct sip_uri {
	sip_str raw; /* the whole URI */
	enum sip_scheme scheme;
	sip_str user; /* still %-escaped; for tel: the number */
	sip_str password;
	sip_str host;             /* IPv6 references keep their brackets */
	uint16_t port;            /* 0 when absent */
	struct sip_param *params; /* ;name=value after host[:port] (tel: after
	                             the number) */
	sip_str headers;          /* raw text after '?', empty when none */
};

/* Parse a URI (sip:, sips:, tel:; other schemes are kept raw with
 * scheme SIP_SCHEME_OTHER). Returns 0, or -1 if malformed. */
int sip_parse_uri(TALLOC_CTX *ctx, sip_str in, struct sip_uri *out);

/* Are two parsed URIs equal by RFC 3261 19.1.4? sip/sips: same scheme,
 * user and password equal (case-sensitive, escapes decoded), host equal
 * (caseless), same port (absent is not 5060), user/ttl/method/maddr/
 * transport parameters in both or neither and equal, other parameters
 * equal when in both, headers equal. Other schemes (tel:, ...): byte
 * equality of the whole URI. 1 or 0. */
int sip_uri_eq(const struct sip_uri *a, const struct sip_uri *b);

/* name-addr or addr-spec, with header parameters: From, To, Contact, Route,
 * Record-Route, Path, Service-Route, P-Associated-URI. */
struct sip_addr {
	sip_str raw;     /* the whole value */
	sip_str display; /* without quotes, still escaped; empty when none */
	struct sip_uri uri;
	int angle;                /* 1 if written as <uri> */
	struct sip_param *params; /* header params after the URI */
	sip_str tag;              /* the tag param, when present */
	int star;                 /* Contact: "*" */
	struct sip_addr *next;    /* the next value of a list */
};

/* Parse one comma-separated list of name-addr/addr-spec values (a whole
 * header value; commas inside quotes and <> do not split). Returns 0 with
 * *out the first value, or -1 if any value is malformed. */
int sip_parse_addr_list(TALLOC_CTX *ctx, sip_str in, struct sip_addr **out);

/* All values of every header field with this id, in order, as one list
 * (e.g. every Contact of a REGISTER). 0 and *out = NULL when none. */
int sip_msg_addrs(TALLOC_CTX *ctx, const struct sip_hdr *first,
                  struct sip_addr **out);

struct sip_via {
	sip_str raw;       /* this one via-parm */
	sip_str transport; /* UDP, TCP, TLS, SCTP, ... */
	sip_str host;
	uint16_t port;        /* 0 when absent */
	sip_str branch;       /* empty when absent */
	sip_str received;     /* empty when absent */
	int rport;            /* 1 if an rport param is present */
	uint16_t rport_value; /* 0 when rport had no value */
	/* 1 when the via-parm parsed whole and its sent-by names no port or
	 * one other than 0: an answer may go to it (RFC 3261 18.2.2). 0: the
	 * answer goes to the source address and port. */
	int usable;
	struct sip_param *params;
	struct sip_via *next; /* next Via value (same or following field) */
};

/* Split a comma-separated list of token values (Require, Supported, Allow,
 * Accept, ...) into trimmed items; returns the count (at most max). */
int sip_split_tokens(sip_str in, sip_str *items, int max);

/* Does a token list header (every field with that id) contain tok? */
int sip_hdr_has_token(const struct sip_hdr *first, const char *tok);

struct sip_cseq {
	uint32_t num;
	sip_str method;
	enum sip_method mid;
};

enum sip_transport { SIP_TP_UDP, SIP_TP_TCP };

struct sip_msg {
	const char *buf; /* the message's bytes (exactly one message) */
	size_t len;
	int is_request;

	/* request line */
	sip_str method;
	enum sip_method mid;
	sip_str ruri_raw;
	struct sip_uri ruri;
	/* status line */
	int status;
	sip_str reason;

	struct sip_hdr *hdrs; /* every header field in order */
	unsigned nhdrs;
	struct sip_hdr *first[SIP_HDR__COUNT]; /* first field of each id */

	/* core headers, parsed by sip_parse() */
	struct sip_via *via; /* every Via value, top first */
	struct sip_addr *from, *to;
	sip_str call_id;
	struct sip_cseq cseq;
	int max_forwards;    /* -1 when absent */
	long content_length; /* -1 when absent */

	sip_str body;

	sip_str start;   /* the start line as received, with its CRLF */
	sip_str version; /* "SIP/2.0" (see sip_check_request()) */
	sip_str eoh;     /* the empty line ending the headers as received
	                    ("\r\n"; empty when a datagram had none) */
};

/*
 * What went wrong with a message, for the answer.
 * status 0: no answer is possible (drop it, count it, log it);
 * otherwise the status to answer with and a reason phrase naming the
 * problem ("Missing Call-ID", "Malformed CSeq", ...).
 */
struct sip_err {
	int status;
	char reason[96];
};

/*
 * Parse one message: a whole UDP datagram, or one message that
 * sip_stream_frame() cut from a stream. The message is allocated under ctx;
 * buf must outlive it. For requests the mandatory headers are checked
 * (RFC 3261 8.1.1: Via, From, To, Call-ID, CSeq, Max-Forwards), for
 * responses Via, From, To, Call-ID, CSeq. On UDP a Content-Length larger
 * than the data is an error (400); octets after the body are ignored.
 * A message longer than max is 513.
 * Returns 0 and *out, or -1 with *err filled; when the request was parsed
 * far enough to be answered, *out is still set (for building the error
 * response) and err->status is non-zero.
 * (afd: *out is set exactly when 0 is returned or err->status != 0; a
 * response with a bad core header, and anything without a usable top Via
 * or start line, gets status 0 and *out NULL; err->reason still says why.)
 */
int sip_parse(TALLOC_CTX *ctx, const char *buf, size_t len,
              enum sip_transport tp, size_t max, struct sip_msg **out,
              struct sip_err *err);

/*
 * What sip_parse() leaves to the server: checks on a request that parsed
 * but that RFC 4475 says a server must still refuse. In order:
 * SIP-Version not SIP/2.0: 505; Request-URI scheme not sip, sips or tel:
 * 416; Request-URI with escaped headers ('?'): 400; a Contact, Route or
 * Record-Route value that does not parse (e.g. an addr-spec Contact with
 * '?', empty params): 400. Method policy (501/405), Require (420) and
 * Max-Forwards 0 (483) are the service's. Returns 0 (also for a response),
 * or -1 with *err set.
 */
int sip_check_request(const struct sip_msg *m, struct sip_err *err);

/* A header value (or any slice) that is 1*DIGIT within 0..2^32-1, with
 * outer whitespace: 0 and *out, or -1. */
int sip_str_to_u32(sip_str s, uint32_t *out);

/*
 * Stream framing (TCP). Looks at the unconsumed bytes of a connection.
 * Leading CRLFs are keep-alives: *skip gets their count, and *pings the
 * number of complete "\r\n\r\n" pings among them (each is answered with
 * "\r\n", RFC 5626 4.4.1). Returns the length of the complete message that
 * starts at buf + *skip, 0 if more bytes are needed, or -1 on a framing
 * error (no or malformed Content-Length, header section or message larger
 * than max): the connection must be closed.
 * *skip and *pings are set whatever the result (a half ping, "\r\n" or
 * "\r\n\r", is left unskipped until the rest arrives).
 */
ssize_t sip_stream_frame(const char *buf, size_t len, size_t max, size_t *skip,
                         int *pings);

/*
 * The same for a connection that keeps *scanned (a size_t set to 0 at
 * first and whenever the caller consumes bytes from buf): the part of the
 * data already searched for the end of the headers is not searched again,
 * so a header section arriving a few bytes at a time costs O(n), not
 * O(n^2).
 */
ssize_t sip_stream_frame_r(const char *buf, size_t len, size_t max,
                           size_t *skip, int *pings, size_t *scanned);

/*
 * After a framing error (-1): buf is where the message starts (the data
 * given to sip_stream_frame plus its *skip). When the error is a complete
 * header section, within max, without any Content-Length, returns the
 * section's length, so that the caller can answer it (400 Missing
 * Content-Length, RFC 3261 18.3) before it closes the connection; else 0.
 */
ssize_t sip_stream_no_cl(const char *buf, size_t len, size_t max);

/* Print a parsed message: for a message nobody changed this is the original
 * bytes. Returns a talloc string under ctx, length in *len. */
char *sip_msg_print(TALLOC_CTX *ctx, const struct sip_msg *msg, size_t *len);

/* An output buffer that grows in a talloc context. */
struct sip_buf {
	char *s;
	size_t len, cap;
	int oom; /* set when an allocation failed; the contents are then bad */
};

void sip_buf_init(struct sip_buf *b, TALLOC_CTX *ctx, size_t cap);
void sip_buf_add(struct sip_buf *b, const char *s, size_t n);
void sip_buf_adds(struct sip_buf *b, sip_str s);
void sip_buf_addf(struct sip_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A received value with CR and LF dropped: folding undone (RFC 3261 folding
 * keeps the whitespace after the line break), and no stray CR or LF of a
 * request can reach an answer. */
void sip_buf_add_unfolded(struct sip_buf *b, sip_str v);
/* "Name: value\r\n" */
void sip_buf_hdr(struct sip_buf *b, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The standard reason phrase of a status code ("Not Found"). */
const char *sip_reason(int status);

/*
 * Start a response to req (RFC 3261 8.2.6.2): status line (reason NULL: the
 * standard phrase), every Via in order, From, To (with ";tag=" to_tag added
 * when the request's To has no tag and to_tag is not empty), Call-ID, CSeq.
 * The caller adds headers with sip_buf_hdr(), then sip_buf_finish().
 */
void sip_resp_start(struct sip_buf *b, const struct sip_msg *req, int status,
                    const char *reason, sip_str to_tag);

/* The part of sip_resp_start() after the Vias: From, To (with to_tag added
 * as there), Call-ID, CSeq, each as received with folding undone. For a
 * caller that writes its own status line and Vias. */
void sip_resp_fields(struct sip_buf *b, const struct sip_msg *req,
                     sip_str to_tag);

/* Add Content-Length (and the body, which may be empty) and the blank line. */
void sip_buf_finish(struct sip_buf *b, sip_str body);

/*
 * Build the whole response to req with no extra headers (for errors):
 * sip_resp_start + extra (raw header lines ending CRLF, may be NULL) +
 * sip_buf_finish. Returns a talloc string under ctx, length in *len.
 */
char *sip_resp_simple(TALLOC_CTX *ctx, const struct sip_msg *req, int status,
                      const char *reason, sip_str to_tag, const char *extra,
                      size_t *len);

#endif
