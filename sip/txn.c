/*
 * sip/txn.c: the SIP transaction layer (RFC 3261 17, RFC 6026): the four
 * state machines, their timers in one binary min-heap, and the lookup of
 * transactions in one hash table keyed by side + branch + method (+ sent-by
 * for server transactions). See sip/txn.h for the contract.
 *
 * Each transaction has at most two timers running at once: a retransmission
 * timer (A, E or G) and a lifetime timer (B, D, F, H, I, J, K, L or M). It
 * sits in the heap once, at the earlier of the two.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sip/txn.h"

#define TXN_MAGIC "z9hG4bK"
#define TXN_NONE UINT64_MAX
#define TXN_HASH_MIN 64

enum txn_side { TXN_CLIENT = 'c', TXN_SERVER = 's' };

/* The match key of a transaction, or of a message being looked up. */
struct txn_key {
	char side;
	const char *method; /* "INVITE" for an ACK looking for its INVITE */
	size_t mlen;
	const char *branch;
	size_t blen;
	const char *host; /* server only; compared caseless */
	size_t hlen;
	uint16_t port;
};

struct txn {
	struct txn_table *tab;
	enum txn_kind kind;
	enum txn_state state;
	int reliable;
	int last_status;
	void *data;

	/* the key; the strings follow the struct in its block */
	char side;
	char *method;
	char *branch;
	char *host;
	uint16_t port;
	uint64_t hash;
	struct txn *hnext; /* hash chain */

	/* timers */
	uint64_t retx_at, life_at; /* TXN_NONE when stopped */
	uint64_t retx_ival;
	char life_name;  /* 'B', 'D', ... for the state machine */
	size_t heap_idx; /* SIZE_MAX when not in the heap */

	/* client: the request; server: the last response */
	char *buf;
	size_t len;
	/* ICT: the parsed request and the ACK of a non-2xx */
	struct sip_msg *req;
	char *ack;
	size_t ack_len;
};

struct txn_table {
	struct txn_timers tm;
	struct txn_cb cb;
	void *arg;
	struct txn **buckets;
	size_t nbuckets, count;
	struct txn **heap;
	size_t nheap, heap_cap;
};

static void txn_end(struct txn *t);
static void txn_shed(struct txn *t);

/* ---- keys and the hash table ---- */

static uint64_t
txn_fnv(uint64_t h, const char *s, size_t n, int lower)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (lower && c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		h ^= c;
		h *= 1099511628211ULL;
	}
	return h;
}

static uint64_t
txn_key_hash(const struct txn_key *k)
{
	uint64_t h = 14695981039346656037ULL;
	char port[2] = {(char)(k->port >> 8), (char)k->port};

	h = txn_fnv(h, &k->side, 1, 0);
	h = txn_fnv(h, k->method, k->mlen, 0);
	h = txn_fnv(h, "\0", 1, 0);
	h = txn_fnv(h, k->branch, k->blen, 0);
	h = txn_fnv(h, "\0", 1, 0);
	h = txn_fnv(h, k->host, k->hlen, 1);
	return txn_fnv(h, port, 2, 0);
}

static int
txn_key_eq(const struct txn *t, const struct txn_key *k)
{
	return t->side == k->side && strlen(t->method) == k->mlen &&
	       memcmp(t->method, k->method, k->mlen) == 0 &&
	       strlen(t->branch) == k->blen &&
	       memcmp(t->branch, k->branch, k->blen) == 0 &&
	       strlen(t->host) == k->hlen &&
	       strncasecmp(t->host, k->host, k->hlen) == 0 &&
	       t->port == k->port;
}

static struct txn *
txn_lookup(const struct txn_table *tab, const struct txn_key *k)
{
	uint64_t h = txn_key_hash(k);

	for (struct txn *t = tab->buckets[h & (tab->nbuckets - 1)]; t != NULL;
	     t = t->hnext)
		if (t->hash == h && txn_key_eq(t, k))
			return t;
	return NULL;
}

/* Double the bucket array when the load passes 1; on failure keep the
 * old one (longer chains, still correct). */
static void
txn_hash_grow(struct txn_table *tab)
{
	size_t n = tab->nbuckets * 2;
	struct txn **nb;

	if ((nb = talloc_zero_array(tab, struct txn *, n)) == NULL)
		return;
	for (size_t i = 0; i < tab->nbuckets; i++) {
		struct txn *t, *next;
		for (t = tab->buckets[i]; t != NULL; t = next) {
			next = t->hnext;
			t->hnext = nb[t->hash & (n - 1)];
			nb[t->hash & (n - 1)] = t;
		}
	}
	talloc_free(tab->buckets);
	tab->buckets = nb;
	tab->nbuckets = n;
}

static void
txn_hash_add(struct txn_table *tab, struct txn *t)
{
	struct txn **b;

	if (tab->count >= tab->nbuckets)
		txn_hash_grow(tab);
	b = &tab->buckets[t->hash & (tab->nbuckets - 1)];
	t->hnext = *b;
	*b = t;
	tab->count++;
}

static void
txn_hash_del(struct txn_table *tab, struct txn *t)
{
	struct txn **pp = &tab->buckets[t->hash & (tab->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == t) {
			*pp = t->hnext;
			tab->count--;
			return;
		}
}

/* ---- the timer heap, ordered by min(retx_at, life_at) ---- */

static uint64_t
txn_due(const struct txn *t)
{
	return t->retx_at < t->life_at ? t->retx_at : t->life_at;
}

static void
txn_heap_swap(struct txn_table *tab, size_t a, size_t b)
{
	struct txn *x = tab->heap[a];

	tab->heap[a] = tab->heap[b];
	tab->heap[b] = x;
	tab->heap[a]->heap_idx = a;
	tab->heap[b]->heap_idx = b;
}

static void
txn_heap_up(struct txn_table *tab, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (txn_due(tab->heap[p]) <= txn_due(tab->heap[i]))
			break;
		txn_heap_swap(tab, p, i);
		i = p;
	}
}

static void
txn_heap_down(struct txn_table *tab, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < tab->nheap &&
		    txn_due(tab->heap[l]) < txn_due(tab->heap[m]))
			m = l;
		if (r < tab->nheap &&
		    txn_due(tab->heap[r]) < txn_due(tab->heap[m]))
			m = r;
		if (m == i)
			return;
		txn_heap_swap(tab, i, m);
		i = m;
	}
}

static void
txn_heap_del(struct txn_table *tab, struct txn *t)
{
	size_t i = t->heap_idx;

	if (i == SIZE_MAX)
		return;
	t->heap_idx = SIZE_MAX;
	if (i == --tab->nheap)
		return;
	tab->heap[i] = tab->heap[tab->nheap];
	tab->heap[i]->heap_idx = i;
	txn_heap_down(tab, i);
	txn_heap_up(tab, i);
}

/*
 * Put t where its timers say: out of the heap when both are stopped.
 * Returns 0, or -1 when the heap could not grow (out of memory).
 */
static int
txn_heap_fix(struct txn *t)
{
	struct txn_table *tab = t->tab;

	if (txn_due(t) == TXN_NONE) {
		txn_heap_del(tab, t);
		return 0;
	}
	if (t->heap_idx != SIZE_MAX) {
		txn_heap_down(tab, t->heap_idx);
		txn_heap_up(tab, t->heap_idx);
		return 0;
	}
	if (tab->nheap == tab->heap_cap) {
		size_t n = tab->heap_cap ? tab->heap_cap * 2 : 64;
		struct txn **h =
		    talloc_realloc(tab, tab->heap, struct txn *, n);
		if (h == NULL)
			return -1;
		tab->heap = h;
		tab->heap_cap = n;
	}
	t->heap_idx = tab->nheap;
	tab->heap[tab->nheap++] = t;
	txn_heap_up(tab, t->heap_idx);
	return 0;
}

/* Arm the two timers (TXN_NONE stops one); returns txn_heap_fix()'s. */
static int
txn_arm(struct txn *t, uint64_t retx_at, char life_name, uint64_t life_at)
{
	t->retx_at = retx_at;
	t->life_name = life_name;
	t->life_at = life_at;
	return txn_heap_fix(t);
}

/* ---- the transaction object ---- */

/* Unhook from the lookup structures; the talloc destructor of a txn. */
static int
txn_destructor(struct txn *t)
{
	txn_hash_del(t->tab, t);
	txn_heap_del(t->tab, t);
	return 0;
}

/* The transaction reached Terminated: tell the owner, then free it. */
static void
txn_end(struct txn *t)
{
	t->state = TXN_TERMINATED;
	txn_hash_del(t->tab, t);
	txn_heap_del(t->tab, t);
	t->tab->cb.on_terminated(t->tab->arg, t);
	talloc_free(t);
}

/* A lifetime timer with value 0 ends the transaction at once; otherwise
 * arm it. Returns 1 if t ended, 0 if armed, -1 if t ended out of memory. */
static int
txn_wait(struct txn *t, char name, uint64_t wait, uint64_t now)
{
	if (wait == 0 || txn_arm(t, TXN_NONE, name, now + wait) < 0) {
		txn_end(t);
		return wait == 0 ? 1 : -1;
	}
	return 0;
}

/*
 * Send buf through the owner. On a transport error tell the TU and end the
 * transaction (17.1.4, 17.2.4). Returns 0, or -1 when t has ended.
 */
static int
txn_send(struct txn *t, const char *buf, size_t len)
{
	struct txn_table *tab = t->tab;

	if (tab->cb.send(tab->arg, t, buf, len) == 0)
		return 0;
	if (tab->cb.on_transport_error != NULL)
		tab->cb.on_transport_error(tab->arg, t);
	else if (tab->cb.on_timeout != NULL)
		tab->cb.on_timeout(tab->arg, t);
	txn_end(t);
	return -1;
}

/* Timeout B/F/H: tell the TU and end t. */
static void
txn_timeout(struct txn *t)
{
	if (t->tab->cb.on_timeout != NULL)
		t->tab->cb.on_timeout(t->tab->arg, t);
	txn_end(t);
}

/* A new transaction with key k, in the hash, no timers. NULL on failure.
 * The key's strings live in the same block as the transaction (one
 * allocation instead of four: a UDP server transaction lives 32 s, and a
 * busy registrar holds hundreds of thousands). */
static struct txn *
txn_new(struct txn_table *tab, const struct txn_key *k, enum txn_kind kind,
        int reliable)
{
	struct txn *t;
	size_t hlen = k->host ? k->hlen : 0;
	char *p;

	t = talloc_zero_size(tab, sizeof(*t) + k->mlen + k->blen + hlen + 3);
	if (t == NULL)
		return NULL;
	talloc_set_name_const(t, "struct txn");
	p = (char *)(t + 1);
	t->method = p;
	memcpy(p, k->method, k->mlen);
	p += k->mlen + 1;
	t->branch = p;
	memcpy(p, k->branch, k->blen);
	p += k->blen + 1;
	t->host = p;
	if (hlen > 0)
		memcpy(p, k->host, hlen);
	t->tab = tab;
	t->kind = kind;
	t->reliable = reliable;
	t->side = k->side;
	t->port = k->port;
	t->hash = txn_key_hash(k);
	t->retx_at = t->life_at = TXN_NONE;
	t->heap_idx = SIZE_MAX;
	txn_hash_add(tab, t);
	talloc_set_destructor(t, txn_destructor);
	return t;
}

/* ---- the table ---- */

/* Every live transaction ends with on_terminated before the table goes. */
static int
txn_table_destructor(struct txn_table *tab)
{
	for (size_t i = 0; i < tab->nbuckets; i++)
		while (tab->buckets[i] != NULL)
			txn_end(tab->buckets[i]);
	return 0;
}

struct txn_table *
txn_table_new(TALLOC_CTX *ctx, const struct txn_timers *tm,
              const struct txn_cb *cb, void *arg)
{
	struct txn_table *tab;

	if (cb == NULL || cb->send == NULL || cb->on_terminated == NULL)
		return NULL;
	if ((tab = talloc_zero(ctx, struct txn_table)) == NULL)
		return NULL;
	if (tm != NULL)
		tab->tm = *tm;
	if (tab->tm.t1 == 0)
		tab->tm.t1 = TXN_T1_DEFAULT;
	if (tab->tm.t2 == 0)
		tab->tm.t2 = TXN_T2_DEFAULT;
	if (tab->tm.t4 == 0)
		tab->tm.t4 = TXN_T4_DEFAULT;
	tab->cb = *cb;
	tab->arg = arg;
	tab->nbuckets = TXN_HASH_MIN;
	tab->buckets = talloc_zero_array(tab, struct txn *, tab->nbuckets);
	if (tab->buckets == NULL) {
		talloc_free(tab);
		return NULL;
	}
	talloc_set_destructor(tab, txn_table_destructor);
	return tab;
}

void
txn_table_compact(struct txn_table *tab)
{
	struct txn **nb;

	if (tab->count != 0 || tab->nheap != 0)
		return;
	TALLOC_FREE(tab->heap);
	tab->heap_cap = 0;
	if (tab->nbuckets == TXN_HASH_MIN)
		return;
	if ((nb = talloc_zero_array(tab, struct txn *, TXN_HASH_MIN)) == NULL)
		return; /* the big one still works */
	talloc_free(tab->buckets);
	tab->buckets = nb;
	tab->nbuckets = TXN_HASH_MIN;
}

size_t
txn_count(const struct txn_table *tab)
{
	return tab->count;
}

uint64_t
txn_next_deadline(const struct txn_table *tab)
{
	return tab->nheap ? txn_due(tab->heap[0]) : TXN_NONE;
}

/* ---- timers ---- */

/* The retransmission timer (A, E or G) of t fired at now. */
static void
txn_fire_retx(struct txn *t, uint64_t now)
{
	const struct txn_timers *tm = &t->tab->tm;

	switch (t->kind) {
	case TXN_ICT: /* A: doubles without bound, B ends it */
		t->retx_ival *= 2;
		break;
	case TXN_NICT: /* E: doubles up to T2; T2 in Proceeding */
		t->retx_ival *= 2;
		if (t->state == TXN_PROCEEDING || t->retx_ival > tm->t2)
			t->retx_ival = tm->t2;
		break;
	case TXN_IST: /* G */
		t->retx_ival *= 2;
		if (t->retx_ival > tm->t2)
			t->retx_ival = tm->t2;
		break;
	case TXN_NIST:
		t->retx_at = TXN_NONE;
		txn_heap_fix(t);
		return;
	}
	t->retx_at = now + t->retx_ival;
	if (txn_heap_fix(t) < 0) {
		t->retx_at = TXN_NONE; /* keep the lifetime timer */
		txn_heap_fix(t);
	}
	txn_send(t, t->buf, t->len);
}

/* The lifetime timer of t fired: B, F, H time out; the others end. */
static void
txn_fire_life(struct txn *t)
{
	switch (t->life_name) {
	case 'B':
	case 'F':
	case 'H':
		txn_timeout(t);
		break;
	default: /* D, I, J, K, L, M, N */
		txn_end(t);
		break;
	}
}

void
txn_run_timers(struct txn_table *tab, uint64_t now)
{
	while (tab->nheap > 0 && txn_due(tab->heap[0]) <= now) {
		struct txn *t = tab->heap[0];
		if (t->life_at <= now)
			txn_fire_life(t);
		else
			txn_fire_retx(t, now);
	}
}

/* ---- keys of messages ---- */

/* The port a Via's sent-by means: the default when absent. */
static uint16_t
txn_via_port(const struct sip_via *v)
{
	if (v->port != 0)
		return v->port;
	return sip_str_caseeq_lit(v->transport, "TLS") ? 5061 : 5060;
}

/*
 * The server key of req. A branch without the magic cookie gets the RFC
 * 2543 key, built in *scratch (a talloc string under ctx). Returns 0, or
 * -1 (no top Via, out of memory).
 */
static int
txn_server_key(TALLOC_CTX *ctx, const struct sip_msg *req, struct txn_key *k,
               char **scratch)
{
	const struct sip_via *v = req->via;
	sip_str m = req->method;
	const struct sip_addr *f = req->from;

	*scratch = NULL;
	if (v == NULL || !req->is_request)
		return -1;
	if (req->mid == SIP_M_ACK)
		m = SIP_STR_LIT("INVITE");
	*k = (struct txn_key){.side = TXN_SERVER,
	                      .method = m.s,
	                      .mlen = m.len,
	                      .branch = v->branch.s,
	                      .blen = v->branch.len,
	                      .host = v->host.s,
	                      .hlen = v->host.len,
	                      .port = txn_via_port(v)};
	if (v->branch.len >= sizeof(TXN_MAGIC) - 1 &&
	    memcmp(v->branch.s, TXN_MAGIC, sizeof(TXN_MAGIC) - 1) == 0)
		return 0;
	*scratch = talloc_asprintf(
	    ctx, "2543 %.*s|%.*s|%.*s|%u|%.*s", SIP_STR_FMT(req->ruri_raw),
	    f ? (int)f->tag.len : 0, f ? f->tag.s : "",
	    SIP_STR_FMT(req->call_id), req->cseq.num, SIP_STR_FMT(v->raw));
	if (*scratch == NULL)
		return -1;
	k->branch = *scratch;
	k->blen = strlen(*scratch);
	return 0;
}

static void
txn_client_key(struct txn_key *k, const char *branch, size_t blen,
               const char *method, size_t mlen)
{
	*k = (struct txn_key){.side = TXN_CLIENT,
	                      .method = method,
	                      .mlen = mlen,
	                      .branch = branch,
	                      .blen = blen,
	                      .host = "",
	                      .hlen = 0,
	                      .port = 0};
}

/* ---- client transactions ---- */

/*
 * The ACK of a non-2xx final response resp to the INVITE t->req (RFC 3261
 * 17.1.1.3), in t->ack. Returns 0 or -1 (out of memory).
 */
static int
txn_build_ack(struct txn *t, const struct sip_msg *resp)
{
	const struct sip_msg *r = t->req;
	struct sip_buf b;

	if (resp->first[SIP_HDR_TO] == NULL) /* not from sip_parse() */
		return -1;
	sip_buf_init(&b, t, 512);
	sip_buf_addf(&b, "ACK %.*s SIP/2.0\r\n", SIP_STR_FMT(r->ruri_raw));
	sip_buf_add(&b, "Via: ", 5);
	sip_buf_add_unfolded(&b, r->via->raw);
	sip_buf_add(&b, "\r\n", 2);
	for (const struct sip_hdr *h = r->first[SIP_HDR_ROUTE]; h != NULL;
	     h = h->next_same) {
		sip_buf_add(&b, "Route: ", 7);
		sip_buf_add_unfolded(&b, h->value);
		sip_buf_add(&b, "\r\n", 2);
	}
	sip_buf_add(&b, "Max-Forwards: 70\r\n", 18);
	sip_buf_add(&b, "From: ", 6);
	sip_buf_add_unfolded(&b, r->first[SIP_HDR_FROM]->value);
	sip_buf_add(&b, "\r\nTo: ", 6);
	sip_buf_add_unfolded(&b, resp->first[SIP_HDR_TO]->value);
	sip_buf_add(&b, "\r\nCall-ID: ", 11);
	sip_buf_add_unfolded(&b, r->call_id);
	sip_buf_addf(&b, "\r\nCSeq: %u ACK\r\n", r->cseq.num);
	sip_buf_finish(&b, SIP_STR_NULL);
	if (b.oom) {
		talloc_free(b.s);
		return -1;
	}
	t->ack = b.s;
	t->ack_len = b.len;
	return 0;
}

struct txn *
txn_client_new(struct txn_table *tab, const char *branch, const char *method,
               int reliable, const char *buf, size_t len, uint64_t now)
{
	const struct txn_timers *tm = &tab->tm;
	struct txn_key k;
	struct txn *t;
	struct sip_err err;
	int invite;

	if (branch == NULL || method == NULL || buf == NULL || len == 0 ||
	    strcmp(method, "ACK") == 0)
		return NULL;
	txn_client_key(&k, branch, strlen(branch), method, strlen(method));
	if (txn_lookup(tab, &k) != NULL)
		return NULL;
	invite = strcmp(method, "INVITE") == 0;
	t = txn_new(tab, &k, invite ? TXN_ICT : TXN_NICT, reliable);
	if (t == NULL)
		return NULL;
	if ((t->buf = talloc_memdup(t, buf, len)) == NULL)
		goto fail;
	t->len = len;
	if (invite &&
	    (sip_parse(t, t->buf, len, reliable ? SIP_TP_TCP : SIP_TP_UDP, len,
	               &t->req, &err) < 0 ||
	     !t->req->is_request || t->req->via == NULL))
		goto fail;
	t->state = invite ? TXN_CALLING : TXN_TRYING;
	t->retx_ival = tm->t1;
	if (txn_arm(t, reliable ? TXN_NONE : now + tm->t1, invite ? 'B' : 'F',
	            now + 64 * tm->t1) < 0)
		goto fail;
	if (txn_send(t, t->buf, t->len) < 0)
		return NULL;
	return t;
fail:
	talloc_free(t); /* never seen by the owner: no on_terminated */
	return NULL;
}

/* ICT: resp (matched) arrives. */
static void
txn_ict_recv(struct txn *t, const struct sip_msg *resp, uint64_t now)
{
	struct txn_table *tab = t->tab;
	int st = resp->status;

	switch (t->state) {
	case TXN_CALLING:
	case TXN_PROCEEDING:
		t->last_status = st;
		if (st < 200) {
			t->state = TXN_PROCEEDING;
			txn_arm(t, TXN_NONE, 0, TXN_NONE);
		} else if (st < 300) {
			t->state = TXN_ACCEPTED;
			txn_shed(t);
			if (txn_arm(t, TXN_NONE, 'M', now + 64 * tab->tm.t1) <
			    0) {
				tab->cb.on_response(tab->arg, t, resp);
				txn_end(t);
				return;
			}
		} else {
			if (txn_build_ack(t, resp) < 0) {
				tab->cb.on_response(tab->arg, t, resp);
				txn_end(t);
				return;
			}
			t->state = TXN_COMPLETED;
			txn_shed(t); /* the ACK is built: all it sends now */
			txn_arm(t, TXN_NONE, 0, TXN_NONE);
			tab->cb.on_response(tab->arg, t, resp);
			if (txn_send(t, t->ack, t->ack_len) == 0)
				txn_wait(t, 'D',
				         t->reliable ? 0 : TXN_TD_UNRELIABLE,
				         now);
			return;
		}
		tab->cb.on_response(tab->arg, t, resp);
		break;
	case TXN_COMPLETED: /* a retransmitted final: ACK it again */
		if (st >= 300)
			txn_send(t, t->ack, t->ack_len);
		break;
	case TXN_ACCEPTED: /* RFC 6026: 2xx (retransmitted or forked) up */
		if (st >= 200 && st < 300)
			tab->cb.on_response(tab->arg, t, resp);
		break;
	default:
		break;
	}
}

/* NICT: resp (matched) arrives. */
static void
txn_nict_recv(struct txn *t, const struct sip_msg *resp, uint64_t now)
{
	struct txn_table *tab = t->tab;

	if (t->state != TXN_TRYING && t->state != TXN_PROCEEDING)
		return; /* Completed absorbs retransmitted finals */
	t->last_status = resp->status;
	if (resp->status < 200) {
		t->state = TXN_PROCEEDING;
		tab->cb.on_response(tab->arg, t, resp);
		return;
	}
	t->state = TXN_COMPLETED;
	txn_arm(t, TXN_NONE, 0, TXN_NONE);
	tab->cb.on_response(tab->arg, t, resp);
	/* Completed never sends the request again: its copy goes now, not
	 * after Timer K (a NOTIFY's 1-2 KB times 5 s of them under load) */
	TALLOC_FREE(t->buf);
	t->len = 0;
	txn_wait(t, 'K', t->reliable ? 0 : tab->tm.t4, now);
}

int
txn_client_recv(struct txn_table *tab, const struct sip_msg *resp, uint64_t now)
{
	struct txn_key k;
	struct txn *t;

	if (resp == NULL || resp->is_request || resp->via == NULL ||
	    resp->via->branch.len == 0)
		return 0;
	txn_client_key(&k, resp->via->branch.s, resp->via->branch.len,
	               resp->cseq.method.s, resp->cseq.method.len);
	if ((t = txn_lookup(tab, &k)) == NULL)
		return 0;
	if (t->kind == TXN_ICT)
		txn_ict_recv(t, resp, now);
	else
		txn_nict_recv(t, resp, now);
	return 1;
}

struct txn *
txn_find_client(struct txn_table *tab, const char *branch, const char *method)
{
	struct txn_key k;

	txn_client_key(&k, branch, strlen(branch), method, strlen(method));
	return txn_lookup(tab, &k);
}

/* ---- server transactions ---- */

struct txn *
txn_server_match(struct txn_table *tab, const struct sip_msg *req)
{
	struct txn_key k;
	char *scratch;
	struct txn *t;

	if (req == NULL || txn_server_key(NULL, req, &k, &scratch) < 0)
		return NULL;
	t = txn_lookup(tab, &k);
	talloc_free(scratch);
	return t;
}

struct txn *
txn_cancel_target(struct txn_table *tab, const struct sip_msg *cancel)
{
	struct txn_key k;
	char *scratch;
	struct txn *t;

	if (cancel == NULL || cancel->mid != SIP_M_CANCEL ||
	    txn_server_key(NULL, cancel, &k, &scratch) < 0)
		return NULL;
	k.method = "INVITE";
	k.mlen = 6;
	t = txn_lookup(tab, &k);
	talloc_free(scratch);
	return t;
}

/* An ACK matched IST t. */
static enum txn_rx
txn_ist_ack(struct txn *t, uint64_t now, struct txn **out)
{
	switch (t->state) {
	case TXN_COMPLETED:
		t->state = TXN_CONFIRMED;
		txn_wait(t, 'I', t->reliable ? 0 : t->tab->tm.t4, now);
		return TXN_RX_ACK;
	case TXN_ACCEPTED:
		if (out != NULL)
			*out = t;
		return TXN_RX_ACK_2XX;
	default: /* Confirmed: a retransmitted ACK; Proceeding: too early */
		return TXN_RX_ACK;
	}
}

/* A retransmitted request matched t: send the last response again where
 * the state machine says so. */
static enum txn_rx
txn_server_retrans(struct txn *t)
{
	/* IST and NIST alike: Proceeding replays the last provisional,
	 * Completed the final; Trying has nothing to send, Accepted and
	 * Confirmed absorb. */
	if ((t->state == TXN_PROCEEDING || t->state == TXN_COMPLETED) &&
	    t->buf != NULL)
		txn_send(t, t->buf, t->len);
	return TXN_RX_RETRANS;
}

enum txn_rx
txn_server_recv(struct txn_table *tab, const struct sip_msg *req, int reliable,
                uint64_t now, struct txn **out)
{
	struct txn_key k;
	char *scratch;
	struct txn *t;
	enum txn_rx rx;

	if (out != NULL)
		*out = NULL;
	if (req == NULL || txn_server_key(NULL, req, &k, &scratch) < 0)
		return TXN_RX_ERROR;
	t = txn_lookup(tab, &k);
	if (req->mid == SIP_M_ACK) {
		if (t == NULL || t->kind != TXN_IST)
			rx = TXN_RX_UNMATCHED_ACK;
		else
			rx = txn_ist_ack(t, now, out);
	} else if (t != NULL) {
		rx = txn_server_retrans(t);
	} else {
		int inv = req->mid == SIP_M_INVITE;
		t = txn_new(tab, &k, inv ? TXN_IST : TXN_NIST, reliable);
		if (t != NULL) {
			t->state = inv ? TXN_PROCEEDING : TXN_TRYING;
			/* a non-INVITE the TU never answers (an absorbed
			 * retransmission whose answer never comes) ends when
			 * the client's Timer F has: nobody waits for it then
			 * (an INVITE may ring longer: the TU ends it) */
			if (!inv && txn_arm(t, TXN_NONE, 'N',
			                    now + 64 * tab->tm.t1) < 0)
				TALLOC_FREE(t); /* unhooked by its destructor */
		}
		if (t == NULL) {
			rx = TXN_RX_ERROR;
		} else {
			if (out != NULL)
				*out = t;
			rx = TXN_RX_NEW;
		}
	}
	talloc_free(scratch);
	return rx;
}

/* Keep a copy of the response as t's last. Returns 0 or -1. */
static int
txn_store(struct txn *t, int status, const char *buf, size_t len)
{
	char *copy = talloc_memdup(t, buf, len);

	if (copy == NULL)
		return -1;
	talloc_free(t->buf);
	t->buf = copy;
	t->len = len;
	t->last_status = status;
	return 0;
}

/*
 * t no longer sends its request again (ICT Accepted or Completed; an NICT
 * in Completed frees its own) or its last response (IST Accepted): free the
 * copy and its parse. Such a transaction only matches and absorbs for up to
 * 64*T1 (32 s) more, and at a thousand calls a second tens of thousands of them
 * wait at once: the key is all they need.
 */
static void
txn_shed(struct txn *t)
{
	TALLOC_FREE(t->req);
	TALLOC_FREE(t->buf);
	t->len = 0;
}

/* IST: the TU responds. */
static int
txn_ist_respond(struct txn *t, int status, const char *buf, size_t len,
                uint64_t now)
{
	const struct txn_timers *tm = &t->tab->tm;

	if (t->state == TXN_ACCEPTED) {
		if (status < 200 || status >= 300)
			return -1;
		return txn_send(t, buf, len); /* the TU's 2xx retransmission */
	}
	if (t->state != TXN_PROCEEDING)
		return -1;
	if (status >= 200 && status < 300) {
		/* Accepted never sends it again (the TU does): not kept */
		t->state = TXN_ACCEPTED;
		t->last_status = status;
		txn_shed(t);
		if (txn_arm(t, TXN_NONE, 'L', now + 64 * tm->t1) < 0) {
			txn_end(t);
			return -1;
		}
		return txn_send(t, buf, len);
	}
	if (txn_store(t, status, buf, len) < 0)
		return -1;
	if (status >= 300) {
		t->state = TXN_COMPLETED;
		t->retx_ival = tm->t1;
		if (txn_arm(t, t->reliable ? TXN_NONE : now + tm->t1, 'H',
		            now + 64 * tm->t1) < 0) {
			txn_end(t);
			return -1;
		}
	}
	return txn_send(t, t->buf, t->len);
}

/* NIST: the TU responds. */
static int
txn_nist_respond(struct txn *t, int status, const char *buf, size_t len,
                 uint64_t now)
{
	if (t->state != TXN_TRYING && t->state != TXN_PROCEEDING)
		return -1;
	if (txn_store(t, status, buf, len) < 0)
		return -1;
	if (status < 200) {
		t->state = TXN_PROCEEDING;
		return txn_send(t, t->buf, t->len);
	}
	t->state = TXN_COMPLETED;
	if (txn_send(t, t->buf, t->len) < 0)
		return -1;
	return txn_wait(t, 'J', t->reliable ? 0 : 64 * t->tab->tm.t1, now) < 0
	           ? -1
	           : 0;
}

int
txn_server_respond(struct txn *t, int status, const char *buf, size_t len,
                   uint64_t now)
{
	if (t == NULL || buf == NULL || len == 0 || status < 100 ||
	    status > 699 || (t->kind != TXN_IST && t->kind != TXN_NIST))
		return -1;
	if (t->kind == TXN_IST)
		return txn_ist_respond(t, status, buf, len, now);
	return txn_nist_respond(t, status, buf, len, now);
}

/* ---- accessors ---- */

void *
txn_data(const struct txn *t)
{
	return t->data;
}

void
txn_set_data(struct txn *t, void *data)
{
	t->data = data;
}

enum txn_kind
txn_kind(const struct txn *t)
{
	return t->kind;
}

enum txn_state
txn_state(const struct txn *t)
{
	return t->state;
}

const char *
txn_state_name(enum txn_state s)
{
	static const char *const names[] = {
	    [TXN_CALLING] = "Calling",       [TXN_TRYING] = "Trying",
	    [TXN_PROCEEDING] = "Proceeding", [TXN_COMPLETED] = "Completed",
	    [TXN_CONFIRMED] = "Confirmed",   [TXN_ACCEPTED] = "Accepted",
	    [TXN_TERMINATED] = "Terminated"};

	if ((unsigned)s >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[s];
}

const char *
txn_method(const struct txn *t)
{
	return t->method;
}

const char *
txn_branch(const struct txn *t)
{
	return t->branch;
}

int
txn_last_status(const struct txn *t)
{
	return t->last_status;
}

int
txn_reliable(const struct txn *t)
{
	return t->reliable;
}
