/*
 * schema/db_pcache.c: SQLite's own page cache (pcache1), wrapped so that
 * the end of every write transaction does not walk the whole cache.
 *
 * Why: at the end of each transaction the pager truncates its cache to the
 * database's size (pager_end_transaction: xTruncate(dbSize + 1)). pcache1
 * does that work only when its largest key "seen since the last truncate"
 * (iMaxKey) reaches the limit, and when that key is far beyond it, it
 * walks every hash bucket and every page of the cache. The b-tree's
 * balance_nonroot(), which splits and merges pages, puts pages back in
 * ascending order by swapping their numbers through a temporary key, the
 * locking page (PENDING_BYTE / page size + 1: 262145 with 4 KiB pages).
 * pcache1's rekey raises iMaxKey to it and only a truncate lowers it, so
 * every transaction that split a page of an index with keys in no order
 * (Call-IDs, nonces) ends with a walk of the whole cache: with the
 * registrar's 32 MiB cache (db_reg.c) some 8,000 pages and 8,192 buckets,
 * 8% of the UDP worker's CPU at 10,000 Digest registrations a second,
 * none of it needed (the temporary key is given back within the swap).
 *
 * The wrapper forwards every method to pcache1 and keeps, per cache, a
 * bound on the keys it holds: the largest key a page was fetched or
 * rekeyed to, leaving out the temporary key, whose pages it counts
 * instead. A truncate below which no page can lie (no page at the
 * temporary key, the bound under the limit) has nothing to remove and is
 * not passed on; any other is, and lowers the bound as pcache1 does. A
 * page fetched at the temporary key itself (the pager's refusal of the
 * locking page of a corrupt file) raises the bound to it: every truncate
 * is then passed on until one lowers it, as without the wrapper.
 *
 * One table of methods per process, installed before SQLite initializes
 * (sqlite3_config can change it only then): daemon/main.c calls
 * db_pcache_setup() first thing, db_open() calls it too (tests, tools).
 */
#include <stdint.h>

#include "util/log.h"
#include "schema/db.h"

/* SQLite's PENDING_BYTE (the default, which only test builds change):
 * the page that holds it is the locking page, never part of a b-tree. */
#define DB_PCACHE_PENDING_BYTE 0x40000000u

struct db_pcache {
	sqlite3_pcache *under; /* pcache1's cache */
	unsigned max_key;      /* no page has a larger key, but temp_key's */
	unsigned temp_key;     /* balance_nonroot's temporary page number */
	unsigned at_temp;      /* pages rekeyed to temp_key, not yet back */
};

static sqlite3_pcache_methods2 db_pcache_under;
static struct db_pcache_counts db_pcache_n;
static int db_pcache_done;

static int
db_pcache_init(void *arg)
{
	return db_pcache_under.xInit(arg);
}

static void
db_pcache_shutdown(void *arg)
{
	if (db_pcache_under.xShutdown != NULL)
		db_pcache_under.xShutdown(arg);
}

static sqlite3_pcache *
db_pcache_create(int page_size, int extra, int purgeable)
{
	struct db_pcache *c;

	if ((c = sqlite3_malloc(sizeof(*c))) == NULL)
		return NULL;
	c->under = db_pcache_under.xCreate(page_size, extra, purgeable);
	if (c->under == NULL) {
		sqlite3_free(c);
		return NULL;
	}
	c->max_key = 0;
	c->temp_key = page_size > 0
	                  ? DB_PCACHE_PENDING_BYTE / (unsigned)page_size + 1
	                  : 0;
	c->at_temp = 0;
	return (sqlite3_pcache *)c;
}

static void
db_pcache_cachesize(sqlite3_pcache *p, int n)
{
	struct db_pcache *c = (struct db_pcache *)p;

	db_pcache_under.xCachesize(c->under, n);
}

static int
db_pcache_pagecount(sqlite3_pcache *p)
{
	struct db_pcache *c = (struct db_pcache *)p;

	return db_pcache_under.xPagecount(c->under);
}

static sqlite3_pcache_page *
db_pcache_fetch(sqlite3_pcache *p, unsigned key, int create)
{
	struct db_pcache *c = (struct db_pcache *)p;
	sqlite3_pcache_page *pg = db_pcache_under.xFetch(c->under, key, create);

	/* a page found is below the bound already, or at temp_key and
	 * counted; one made now raises the bound (temp_key too: see above) */
	if (pg != NULL && key > c->max_key &&
	    (key != c->temp_key || c->at_temp == 0))
		c->max_key = key;
	return pg;
}

static void
db_pcache_unpin(sqlite3_pcache *p, sqlite3_pcache_page *pg, int discard)
{
	struct db_pcache *c = (struct db_pcache *)p;

	db_pcache_under.xUnpin(c->under, pg, discard);
}

static void
db_pcache_rekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned from,
                unsigned to)
{
	struct db_pcache *c = (struct db_pcache *)p;

	db_pcache_under.xRekey(c->under, pg, from, to);
	if (from == c->temp_key && c->at_temp > 0)
		c->at_temp--;
	if (to == c->temp_key && c->max_key < to)
		c->at_temp++;
	else if (to > c->max_key)
		c->max_key = to;
}

static void
db_pcache_truncate(sqlite3_pcache *p, unsigned limit)
{
	struct db_pcache *c = (struct db_pcache *)p;

	if (c->at_temp == 0 && c->max_key < limit) {
		db_pcache_n.skipped++;
		return; /* no page at limit or above: nothing to remove */
	}
	db_pcache_n.passed++;
	db_pcache_under.xTruncate(c->under, limit);
	if (limit <= c->temp_key)
		c->at_temp = 0;
	if (limit == 0)
		c->max_key = 0;
	else if (c->max_key > limit - 1)
		c->max_key = limit - 1;
}

static void
db_pcache_destroy(sqlite3_pcache *p)
{
	struct db_pcache *c = (struct db_pcache *)p;

	db_pcache_under.xDestroy(c->under);
	sqlite3_free(c);
}

static void
db_pcache_shrink(sqlite3_pcache *p)
{
	struct db_pcache *c = (struct db_pcache *)p;

	if (db_pcache_under.xShrink != NULL)
		db_pcache_under.xShrink(c->under);
}

int
db_pcache_setup(void)
{
	sqlite3_pcache_methods2 m;

	if (db_pcache_done)
		return 0;
	/* after sqlite3_initialize both calls fail: SQLite keeps pcache1 */
	if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &db_pcache_under) !=
	        SQLITE_OK ||
	    db_pcache_under.iVersion < 1 || db_pcache_under.xCreate == NULL)
		return -1;
	m = db_pcache_under;
	m.iVersion = 1;
	m.pArg = db_pcache_under.pArg;
	m.xInit = db_pcache_under.xInit != NULL ? db_pcache_init : NULL;
	m.xShutdown = db_pcache_shutdown;
	m.xCreate = db_pcache_create;
	m.xCachesize = db_pcache_cachesize;
	m.xPagecount = db_pcache_pagecount;
	m.xFetch = db_pcache_fetch;
	m.xUnpin = db_pcache_unpin;
	m.xRekey = db_pcache_rekey;
	m.xTruncate = db_pcache_truncate;
	m.xDestroy = db_pcache_destroy;
	m.xShrink = db_pcache_shrink;
	if (sqlite3_config(SQLITE_CONFIG_PCACHE2, &m) != SQLITE_OK)
		return -1;
	db_pcache_done = 1;
	return 0;
}

void
db_pcache_counts(struct db_pcache_counts *n)
{
	*n = db_pcache_n;
}
