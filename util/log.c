/*
 * util/log.c: see log.h. Every line names the process that wrote it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

enum log_level log_level = LOG_L_INFO;
static char log_who[64] = "afd";

static const char *const log_names[] = {"error", "warn", "info", "debug",
                                        "trace"};

void
log_procname(const char *name)
{
	snprintf(log_who, sizeof(log_who), "%s", name);
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void
log_vemit(enum log_level lvl, const char *err, const char *fmt, va_list ap)
{
	char msg[2048];
	struct timespec ts;
	struct tm tm;

	if (lvl > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	/* One write per line so lines of different processes do not mix. */
	char line[2300];
	int n = snprintf(line, sizeof(line),
	                 "%02d:%02d:%02d.%03ld afd[%d] %s: %s: %s%s%s\n",
	                 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
	                 (int)getpid(), log_who, log_names[lvl], msg,
	                 err ? ": " : "", err ? err : "");
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

#define LOG_FN(fn, lvl)                                                        \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vemit(lvl, NULL, fmt, ap);                                 \
		va_end(ap);                                                    \
	}

LOG_FN(log_warnx, LOG_L_WARN)
LOG_FN(log_error, LOG_L_ERROR)
LOG_FN(log_info, LOG_L_INFO)
LOG_FN(log_debug, LOG_L_DEBUG)
LOG_FN(log_trace, LOG_L_TRACE)

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_L_WARN, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_L_ERROR, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_L_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

char *
log_sample(char *out, size_t outsz, const void *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = buf;
	size_t o = 0;

	if (outsz == 0)
		return out;
	for (size_t i = 0; i < len && o + 5 < outsz; i++) {
		unsigned char c = p[i];
		if (c == '\r' || c == '\n') {
			out[o++] = '\\';
			out[o++] = c == '\r' ? 'r' : 'n';
		} else if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}
