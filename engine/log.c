/*
 * log.c — the event log (routehub/log.h). Any thread; no locks: one write(2)
 * per line. The level is a relaxed atomic: a reload may change it while
 * other threads log, and a line logged at the old level is harmless.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "routehub/log.h"

static _Atomic int log_level_cur = LOG_LVL_INFO;

void
log_set_level(enum log_level lvl)
{
	atomic_store_explicit(&log_level_cur, (int)lvl, memory_order_relaxed);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&log_level_cur, memory_order_relaxed);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "notice", "warn", "error", "crit"};
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, r;

	if ((int)lvl < atomic_load_explicit(&log_level_cur, memory_order_relaxed))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-6s ",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	             tm.tm_sec, ts.tv_nsec / 1000000, names[lvl]);
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (r < 0)
		r = 0;
	n += r;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: lines of several threads do not interleave. */
	r = (int)write(STDERR_FILENO, line, (size_t)n);
	(void)r;
}
