/*
 * daemon.c - command line, signals and sd_notify shared by the daemons.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "yalu/daemon.h"
#include "yalu/log.h"

volatile sig_atomic_t yl_sig_term;
volatile sig_atomic_t yl_sig_hup;

static void
usage(FILE *fp, const char *prog, const char *def)
{
	fprintf(fp, "usage: %s [-dnv] [-f config]\n"
	    "  -f config  configuration file (default %s)\n"
	    "  -n         check the configuration and exit (78 if invalid)\n"
	    "  -d         stay in the foreground\n"
	    "  -v         more verbose logging (debug)\n", prog, def);
}

int
yl_daemon_getopt(int argc, char **argv, const char *prog,
    const char *default_config, struct yl_daemon_opts *o)
{
	int ch;

	memset(o, 0, sizeof(*o));
	o->config = default_config;
	optind = 1;
	while ((ch = getopt(argc, argv, "f:ndvh")) != -1) {
		switch (ch) {
		case 'f':
			o->config = optarg;
			break;
		case 'n':
			o->check_only = 1;
			break;
		case 'd':
			o->foreground = 1;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			usage(stdout, prog, default_config);
			exit(0);
		default:
			usage(stderr, prog, default_config);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr, prog, default_config);
		return -1;
	}
	return 0;
}

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		yl_sig_hup = 1;
	else
		yl_sig_term = 1;
}

void
yl_daemon_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

int
yl_daemon_detach(const struct yl_daemon_opts *o)
{
	if (o->foreground || getenv("NOTIFY_SOCKET") != NULL)
		return 0;
	/* Keep stderr: under a supervisor it is the log. */
	return daemon(0, 1);
}

long long
yl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
yl_notify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status ? status : "ready");
}

void
yl_notify_status(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", buf);
}

void
yl_notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* MONOTONIC_USEC lets newer systemd match the reload to us. */
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
}

void
yl_notify_reloaded(void)
{
	sd_notify(0, "READY=1");
}

void
yl_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void
yl_notify_watchdog(void)
{
	static long long last;
	static uint64_t usec;
	static int checked, enabled;
	long long now;

	if (!checked) {
		enabled = sd_watchdog_enabled(0, &usec) > 0;
		checked = 1;
	}
	if (!enabled)
		return;
	now = yl_now_ms();
	if (now - last >= (long long)(usec / 2000)) {
		sd_notify(0, "WATCHDOG=1");
		last = now;
	}
}
