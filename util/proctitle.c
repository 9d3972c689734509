/*
 * util/proctitle.c: see proctitle.h. Assumes Linux, where the argv and
 * environ strings are contiguous: the title may use all of that space once
 * environ has been moved to the heap (the copies live as long as the
 * process, on purpose).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "util/proctitle.h"

extern char **environ;

static char *proctitle_start;         /* argv[0] */
static size_t proctitle_len;          /* bytes usable from there */
static char **volatile proctitle_env; /* the moved environment, for good */

void
proctitle_init(int argc, char **argv)
{
	char *end, **env;
	int n = 0;

	if (argc < 1 || argv[0] == NULL)
		return;
	end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc; i++)
		if (argv[i] == end)
			end = argv[i] + strlen(argv[i]) + 1;
	for (n = 0; environ[n] != NULL; n++)
		;
	env = malloc(sizeof(char *) * (size_t)(n + 1));
	if (env == NULL)
		return;
	for (int i = 0; i < n; i++) {
		if (environ[i] == end)
			end = environ[i] + strlen(environ[i]) + 1;
		env[i] = strdup(environ[i]);
		if (env[i] == NULL)
			env[i] = environ[i]; /* keep the old string */
	}
	env[n] = NULL;
	environ = proctitle_env = env;
	/* argv[1..] stay readable until the first title; callers copy what
	 * they need (conf_load keeps its own path). */
	proctitle_start = argv[0];
	proctitle_len = (size_t)(end - argv[0]);
}

void
proctitle_set(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* The kernel's comm name (15 characters): "afd udp worker". */
	char comm[16];
	const char *rest = strncmp(buf, "afd: ", 5) == 0 ? buf + 5 : buf;
	memcpy(comm, "afd ", 4);
	strncpy(comm + 4, rest, sizeof(comm) - 5);
	comm[sizeof(comm) - 1] = '\0';
	prctl(PR_SET_NAME, comm, 0, 0, 0);
	if (proctitle_start == NULL || proctitle_len < 2)
		return;
	memset(proctitle_start, 0, proctitle_len);
	snprintf(proctitle_start, proctitle_len, "%s", buf);
}
