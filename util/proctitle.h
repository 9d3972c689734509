/*
 * util/proctitle.h: process titles for ps (nginx-style setproctitle: the
 * title is written over the argv and environ strings, whose contents are
 * first copied elsewhere) and the thread name (prctl PR_SET_NAME, for top
 * and pkill without -f).
 */
#ifndef AFD_PROCTITLE_H
#define AFD_PROCTITLE_H

/* Once, early in main(), before anything reads environ. */
void proctitle_init(int argc, char **argv);

/* "afd: master", "afd: tcp worker 3 [idle]", ... */
void proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
