/*
 * util/uvh.h: libuv handles in talloc trees. A handle made with uvh_new()
 * hangs off its owner; freeing the handle (or its owner) uv_close()s it,
 * and the memory is released only in the close callback, as libuv
 * requires (until then it is kept under the talloc null context).
 */
#ifndef AFD_UVH_H
#define AFD_UVH_H

#include <talloc.h>
#include <uv.h>

/* A zeroed handle of the given type under ctx; NULL when out of memory.
 * Initialise it with uv_<type>_init() before anything frees it. */
#define uvh_new(ctx, type) ((type *)uvh_alloc((ctx), sizeof(type), #type))
void *uvh_alloc(TALLOC_CTX *ctx, size_t size, const char *name);

/* Close h now (same as talloc_free(h)); NULL is fine. */
void uvh_close(void *h);

#endif
