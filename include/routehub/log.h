/*
 * routehub/log.h — one line per event on stderr.
 *
 * Any thread. Each line is formatted into a local buffer and written with a
 * single write(2), so lines from several threads never interleave. Format:
 *   2026-11-22T00:41:03.123Z info  peer sdwan 10.1.1.4: Established (hold 90s)
 * Levels separate the peer's faults (notice/warn), local faults (error) and
 * our own bugs (crit, followed by abort).
 */
#ifndef ROUTEHUB_LOG_H
#define ROUTEHUB_LOG_H

enum log_level {
	LOG_LVL_DEBUG = 0,
	LOG_LVL_INFO,
	LOG_LVL_NOTICE,
	LOG_LVL_WARN,
	LOG_LVL_ERROR,
	LOG_LVL_CRIT,
};

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)  log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...)  log_msg(LOG_LVL_ERROR, __VA_ARGS__)

/* Our own broken invariant: log with the function name and abort. */
#define BUG_ON(cond)                                                                       \
	do {                                                                               \
		if (__builtin_expect(!!(cond), 0)) {                                       \
			log_msg(LOG_LVL_CRIT, "BUG in %s (%s:%d): %s", __func__, __FILE__, \
			        __LINE__, #cond);                                          \
			__builtin_trap();                                                  \
		}                                                                          \
	} while (0)

#endif
