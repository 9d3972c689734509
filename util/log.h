/*
 * util/log.h: logging for every afd process (OpenBSD log.c style).
 * Lines go to stderr as "afd[pid] <who>: <level>: message"; <who> is the
 * process's name set with log_procname() ("master", "udp worker",
 * "tcp worker 3"). Bad input from the network is never fatal.
 */
#ifndef AFD_LOG_H
#define AFD_LOG_H

#include <stddef.h>

enum log_level {
	LOG_L_ERROR,
	LOG_L_WARN,
	LOG_L_INFO,
	LOG_L_DEBUG,
	LOG_L_TRACE
};

extern enum log_level log_level;

void log_procname(const char *name);
int log_level_parse(const char *s, enum log_level *out); /* 0 or -1 */

void log_warn(const char *fmt, ...)
    __attribute__((format(printf, 1, 2))); /* + strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Startup errors and broken invariants only: log and exit(1). */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* A short printable sample of untrusted bytes for a log line: at most
 * outsz-1 chars, non-printables as \xHH, CR LF as \r \n. Returns out. */
char *log_sample(char *out, size_t outsz, const void *buf, size_t len);

#endif
