/*
 * daemon.h - what every yalu daemon shares: the command line (-f -n -d -v),
 * signals that only set flags, and systemd notification.
 */
#ifndef YALU_DAEMON_H
#define YALU_DAEMON_H

#include <signal.h>

#define YL_EX_CONFIG	78	/* sysexits.h EX_CONFIG */
#define YL_EX_USAGE	64

struct yl_daemon_opts {
	const char	*config;	/* -f */
	int		 check_only;	/* -n */
	int		 foreground;	/* -d */
	int		 verbose;	/* -v, repeatable */
};

/*
 * Parses "-f config -n -d -v". Returns 0, or -1 after printing usage (the
 * caller exits YL_EX_USAGE). -h prints usage and exits 0.
 */
int	yl_daemon_getopt(int argc, char **argv, const char *prog,
	    const char *default_config, struct yl_daemon_opts *o);

/* Set by the handlers; the main loop acts on them (Redis, OpenBSD). */
extern volatile sig_atomic_t yl_sig_term;	/* SIGTERM, SIGINT */
extern volatile sig_atomic_t yl_sig_hup;	/* SIGHUP */

/* Installs the handlers and ignores SIGPIPE. */
void	yl_daemon_signals(void);
/*
 * Detaches unless -d was given or systemd supervises us (NOTIFY_SOCKET).
 * Returns 0 or -1.
 */
int	yl_daemon_detach(const struct yl_daemon_opts *);

/* sd_notify wrappers; they do nothing without NOTIFY_SOCKET. */
void	yl_notify_ready(const char *status);
void	yl_notify_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	yl_notify_reloading(void);
void	yl_notify_reloaded(void);
void	yl_notify_stopping(void);
/* Sends WATCHDOG=1 if the unit has a watchdog, at most every half period. */
void	yl_notify_watchdog(void);

/* Monotonic milliseconds. */
long long yl_now_ms(void);

#endif
