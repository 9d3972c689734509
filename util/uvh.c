/*
 * util/uvh.c: see uvh.h. The destructor refuses the free while libuv
 * still owns the handle: it starts uv_close(), moves the memory out of its
 * owner's tree, and the close callback frees it for good.
 */
#include "util/uvh.h"

static void
uvh_closed(uv_handle_t *h)
{
	talloc_set_destructor((void *)h, NULL);
	talloc_free(h);
}

static int
uvh_destructor(void *p)
{
	uv_handle_t *h = p;

	if (h->loop == NULL)
		return 0; /* never initialised */
	if (!uv_is_closing(h))
		uv_close(h, uvh_closed);
	/* Outlive the owner until uvh_closed(). */
	talloc_steal(NULL, h);
	return -1;
}

void *
uvh_alloc(TALLOC_CTX *ctx, size_t size, const char *name)
{
	void *h = talloc_zero_size(ctx, size);

	if (h == NULL)
		return NULL;
	talloc_set_name_const(h, name);
	talloc_set_destructor(h, uvh_destructor);
	return h;
}

void
uvh_close(void *h)
{
	if (h != NULL)
		talloc_free(h);
}
