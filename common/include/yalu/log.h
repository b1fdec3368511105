/*
 * log.h - one line per event on stderr, with journald priority prefixes.
 *
 * Lines look like "<3>kafka: reports.tagged: delivery failed: Local: Message
 * timed out". Under systemd (JOURNAL_STREAM set) no timestamp is written,
 * journald adds its own; in a terminal a short timestamp helps.
 */
#ifndef YALU_LOG_H
#define YALU_LOG_H

#include <stdarg.h>

#define YL_LOG_ERR	3
#define YL_LOG_WARNING	4
#define YL_LOG_NOTICE	5
#define YL_LOG_INFO	6
#define YL_LOG_DEBUG	7

/* The highest priority that is written; checked before formatting. */
extern int yl_log_level;

/* verbose: 0 = info and above, 1 or more = debug too. */
void	yl_log_init(const char *progname, int verbose);

void	yl_log(int prio, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	yl_vlog(int prio, const char *fmt, va_list ap);

/* log_warn appends ": strerror(errno)", log_warnx does not (OpenBSD). */
void	yl_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	yl_log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	yl_log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	yl_log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define yl_log_info(...)	do { if (yl_log_level >= YL_LOG_INFO) \
	yl_log(YL_LOG_INFO, __VA_ARGS__); } while (0)
#define yl_log_debug(...)	do { if (yl_log_level >= YL_LOG_DEBUG) \
	yl_log(YL_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
