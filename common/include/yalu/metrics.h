/*
 * metrics.h - a small Prometheus registry and its HTTP endpoint.
 *
 * A daemon declares its metric families (counters, gauges, histograms with
 * fixed buckets) and updates them from its main thread; GNU libmicrohttpd
 * serves them from its own internal thread:
 *
 *   GET /metrics  text exposition format 0.0.4, families in the order they
 *                 were declared, series in the order they were created
 *   GET /health   200 "ok\n", or 503 and the reason the daemon gave
 *                 (yl_metrics_set_health), "starting\n" until it says ok
 *
 * Everything else is 404 (405 for a method other than GET or HEAD). One
 * mutex guards the registry: an update takes it for a few instructions, a
 * scrape for the time it takes to format the text, so the main thread is
 * never held up for long and a scrape always sees a consistent histogram.
 *
 * Hot paths keep the handle yl_metrics_counter() & co. return; the by-name
 * calls (yl_metrics_counter_add) hash the name and labels on every call,
 * which is fine for rare events such as refusals.
 *
 * Labels are written as they appear between the braces of the exposition
 * format: NULL or "" for none, or e.g. "reason=\"invalid_utf8\"" or
 * "topic=\"reports.raw\",partition=\"3\"". They are checked when a series
 * is created; yl_metrics_label_escape() quotes an arbitrary value.
 *
 * The server is a thread: start it (yl_metrics_new with a port) after
 * yl_daemon_detach(), since a fork does not carry threads over. Its address
 * is not reloaded on SIGHUP; a change needs a restart.
 */
#ifndef YALU_METRICS_H
#define YALU_METRICS_H

#include <stddef.h>

#include "yalu/conf.h"

/* yl_metrics_conf.port: let the kernel choose (tests; see yl_metrics_port). */
#define YL_METRICS_PORT_ANY	(-1)

/* The `metrics:` section of a daemon's config. */
struct yl_metrics_conf {
	char		*address;	/* numeric IPv4 or IPv6, or "localhost";
					   NULL: 127.0.0.1 */
	long long	 port;		/* 0: no HTTP server (the registry still
					   counts) */
	int		 allow_remote;	/* bind a non-loopback address */
};

/* Keys address, port and allow_remote; use with YL_CONF_SECTION. */
extern const struct yl_confkey yl_metrics_spec[];

enum yl_metric_type {
	YL_METRIC_COUNTER,
	YL_METRIC_GAUGE,
	YL_METRIC_HISTOGRAM
};

struct yl_metrics;
struct yl_metric;	/* one series: a family and one set of label values */

/*
 * Buckets for latencies in seconds, 100 us to 10 s: what classifying one
 * report or one Kafka round trip takes.
 */
extern const double	yl_metrics_latency_buckets[];
extern const size_t	yl_metrics_latency_nbuckets;

/*
 * Checks conf without binding anything (for -n): the address parses, is a
 * loopback address unless allow_remote, and the port is in range. Returns
 * 0, or -1 with "metrics: ..." in err.
 */
int	yl_metrics_check(const struct yl_metrics_conf *, char *err,
	    size_t errsz);

/*
 * A new registry; with a port, also the HTTP server, already listening when
 * this returns. conf may be NULL (no server). NULL with the reason in err,
 * e.g. "metrics: 127.0.0.1:9464: Address already in use".
 */
struct yl_metrics	*yl_metrics_new(const struct yl_metrics_conf *,
			    char *err, size_t errsz);
/* Stops the server (waits for its thread) and frees every series. */
void			 yl_metrics_free(struct yl_metrics **);
/* The port the server listens on, 0 when there is none. */
int			 yl_metrics_port(const struct yl_metrics *);

/*
 * Declares a family: its HELP text (may be NULL) and TYPE. A histogram
 * needs nbuckets > 0 strictly increasing finite upper bounds (copied; the
 * +Inf bucket is implied); the others pass NULL, 0. Declaring a name again
 * with the same type and buckets is a no-op that returns 0 (and adds a
 * missing HELP); with another type or other buckets, or an invalid name,
 * it returns -1.
 */
int	yl_metrics_declare(struct yl_metrics *, enum yl_metric_type,
	    const char *name, const char *help, const double *buckets,
	    size_t nbuckets);

/*
 * The series name{labels} of a declared family, created at zero on first
 * use. The handle stays valid until yl_metrics_free. NULL if the family is
 * not declared, the labels are malformed (or use "le" on a histogram), or
 * memory ran out.
 */
struct yl_metric	*yl_metrics_get(struct yl_metrics *, const char *name,
			    const char *labels);

/* Declare and get in one call. */
struct yl_metric	*yl_metrics_counter(struct yl_metrics *,
			    const char *name, const char *help,
			    const char *labels);
struct yl_metric	*yl_metrics_gauge(struct yl_metrics *,
			    const char *name, const char *help,
			    const char *labels);
struct yl_metric	*yl_metrics_histogram(struct yl_metrics *,
			    const char *name, const char *help,
			    const char *labels, const double *buckets,
			    size_t nbuckets);

/*
 * Updates through a handle. A NULL handle is ignored, and so is a call that
 * does not fit the type (set on a counter, observe on a gauge, a negative
 * or NaN counter increment), so a failed yl_metrics_get never crashes a
 * daemon.
 */
void	yl_metric_inc(struct yl_metric *);		/* counter, gauge */
void	yl_metric_add(struct yl_metric *, double);	/* counter, gauge */
void	yl_metric_set(struct yl_metric *, double);	/* gauge */
void	yl_metric_observe(struct yl_metric *, double);	/* histogram */

/*
 * Updates by name, creating the series on first use. An undeclared name is
 * declared on the spot with that type and no HELP (a histogram cannot be:
 * declare it first), so a forgotten declaration loses no counts. Returns 0,
 * or -1 (wrong type, bad name or labels, negative increment, no memory).
 */
int	yl_metrics_counter_add(struct yl_metrics *, const char *name,
	    const char *labels, double);
int	yl_metrics_gauge_set(struct yl_metrics *, const char *name,
	    const char *labels, double);
int	yl_metrics_observe(struct yl_metrics *, const char *name,
	    const char *labels, double);

/*
 * Removes the series name{labels} (labels as given to yl_metrics_get), so
 * that a scrape no longer shows it: a gauge of a Kafka partition this
 * daemon no longer owns, say. Any handle to it is invalid afterwards, so
 * only series updated by name should be removed. 0, or -1 when there was
 * no such series.
 */
int	yl_metrics_remove(struct yl_metrics *, const char *name,
	    const char *labels);

/*
 * What GET /health answers: ok, or 503 with reason (copied, at most 255
 * bytes, one line; NULL: "unhealthy").
 */
void	yl_metrics_set_health(struct yl_metrics *, int ok,
	    const char *reason);

/*
 * The exposition text, as GET /metrics serves it, in a malloc'ed
 * NUL-terminated buffer the caller frees. 0, or -1 when memory ran out.
 */
int	yl_metrics_render(struct yl_metrics *, char **out, size_t *len);

/*
 * Writes value as a quoted label value (backslash, double quote and newline
 * escaped), e.g. a"b -> "a\"b", for building a labels string. 0, or -1
 * when out is too small.
 */
int	yl_metrics_label_escape(const char *value, char *out, size_t outsz);

#endif
