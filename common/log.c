/*
 * log.c - stderr logging with journald priority prefixes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "yalu/log.h"

int yl_log_level = YL_LOG_INFO;
static const char *yl_progname = "yalu";
static int yl_log_stamp;	/* timestamps only when not under journald */

void
yl_log_init(const char *progname, int verbose)
{
	if (progname != NULL)
		yl_progname = progname;
	yl_log_level = verbose > 0 ? YL_LOG_DEBUG : YL_LOG_INFO;
	yl_log_stamp = getenv("JOURNAL_STREAM") == NULL &&
	    getenv("INVOCATION_ID") == NULL && isatty(STDERR_FILENO);
}

void
yl_vlog(int prio, const char *fmt, va_list ap)
{
	char line[2048];
	char stamp[32] = "";
	int n;

	if (prio > yl_log_level)
		return;
	if (yl_log_stamp) {
		time_t now = time(NULL);
		struct tm tm;

		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S ", &tm);
	}
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	/* One write per line so concurrent writers do not interleave. */
	fprintf(stderr, "<%d>%s%s: %s\n", prio, stamp, yl_progname, line);
}

void
yl_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yl_vlog(prio, fmt, ap);
	va_end(ap);
}

static void
log_with_errno(int prio, const char *fmt, va_list ap)
{
	char buf[1536];
	int saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	yl_log(prio, "%s: %s", buf, strerror(saved));
	errno = saved;
}

void
yl_log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_with_errno(YL_LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
yl_log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yl_vlog(YL_LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
yl_log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_with_errno(YL_LOG_ERR, fmt, ap);
	va_end(ap);
}

void
yl_log_errx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yl_vlog(YL_LOG_ERR, fmt, ap);
	va_end(ap);
}
