/*
 * ingest.h - yalu-ingest: the front door (ZeroMQ ROUTER and a spool
 * directory) that hands reports to Kafka and acknowledges them only once
 * Kafka has them.
 *
 * The pieces, one file each, all callable by tests without a process:
 *
 *   ing_conf.c       the config table, strict loading, reload rules
 *   ing_normalize.c  what the door does to a report: UTF-8, boilerplate,
 *                    dateline and byline, content id, received_at
 *   ing_request.c    strict decoding of one ZeroMQ request into a report
 *   ing_server.c     the producer, the ROUTER, delivery reports, drain
 *   ing_spool.c      the spool directory (incoming -> done | rejected)
 *   ing_cmd_submit.c `yalu submit`
 */
#ifndef YALU_INGEST_H
#define YALU_INGEST_H

#include <stddef.h>
#include <time.h>

#include "yalu/conf.h"
#include "yalu/kafka.h"
#include "yalu/metrics.h"
#include "yalu/report.h"

#define ING_DEFAULT_ENDPOINT	"tcp://127.0.0.1:7601"
#define ING_DEFAULT_MAX_BYTES	(1024LL * 1024)
#define ING_MAX_MAX_BYTES	(64LL * 1024 * 1024)

/* `yalu submit [--endpoint E] [--parallel N] [--timeout S] FILE...` */
int	ing_cmd_submit(int argc, char **argv);

/* ------------------------------------------------------------ config */

struct ing_conf {
	char			*listen;	/* ZeroMQ endpoint to bind */
	char			*spool;		/* spool dir, or NULL */
	long long		 max_report_bytes;
	long long		 max_inflight;	/* pending deliveries */
	long long		 drain_timeout;	/* seconds, on SIGTERM */
	struct yl_strlist	 boilerplate;	/* POSIX EREs, per line */
	struct yl_kv		 kafka;		/* librdkafka properties */
	struct yl_topics	 topics;
	struct yl_metrics_conf	 metrics;	/* /metrics and /health */
};

extern const struct yl_confkey ing_conf_spec[];
/* The patterns used when the config has no `boilerplate:` key. */
extern const char *const ing_default_boilerplate[];

/*
 * Loads and validates path into a new config: the table, then what the
 * table cannot say (patterns compile, kafka properties are accepted, the
 * producer's delivery guarantees are not weakened). Returns NULL with every
 * problem, "path:line:col: problem" one per line, in errs.
 */
struct ing_conf	*ing_conf_load(const char *path, struct yl_errs *errs);
void		 ing_conf_free(struct ing_conf **);
/*
 * For SIGHUP: moves what a reload may not change (listen, spool, kafka,
 * topics, metrics) from old into new, logging each such change as needing a
 * restart. Both stay valid; free old afterwards.
 */
void		 ing_conf_keep_fixed(struct ing_conf *new,
		    struct ing_conf *old);

/* ----------------------------------------------------- normalization */

/*
 * Why a report was refused, for the counters. The reason text sent to the
 * client is separate and more precise.
 */
enum ing_refusal {
	ING_OK = 0,
	ING_R_ENVELOPE,		/* no empty delimiter frame */
	ING_R_FRAMES,		/* not 1 or 2 frames */
	ING_R_SIZE,		/* over max_report_bytes */
	ING_R_UTF8,		/* invalid UTF-8 or a NUL byte */
	ING_R_JSON,		/* not JSON, not an object */
	ING_R_FIELD,		/* unknown field, wrong type, body missing */
	ING_R_EMPTY,		/* nothing but white space (and boilerplate) */
	ING_R_KAFKA,		/* librdkafka refused to queue it */
	ING_R_SHUTDOWN,		/* arrived while draining */
	ING_R_FILETYPE,		/* spool: not .txt or .json */
	ING_R_INTERNAL,		/* out of memory */
	ING_R_MAX
};

const char	*ing_refusal_name(enum ing_refusal);

struct ing_norm;	/* compiled boilerplate patterns */

/*
 * Compiles the patterns (POSIX extended, matched case-insensitively
 * against each line without its line ending). NULL with
 * "boilerplate[i]: reason" in err.
 */
struct ing_norm	*ing_norm_new(const struct yl_strlist *patterns, char *err,
		    size_t errsz);
void		 ing_norm_free(struct ing_norm **);

/*
 * Normalizes r in place, as the door does to every accepted report:
 *  - the body must be valid UTF-8 without NUL bytes and not blank;
 *  - lines matching a boilerplate pattern are removed (with their line
 *    ending), and then trailing white space; nothing else of the body
 *    changes, so evidence offsets refer to the body as stored;
 *  - a dateline or a byline near the top (or a date line near the end)
 *    fills published_at and source when the report has none; the lines
 *    themselves stay in the body;
 *  - id, when absent, is the content id of the normalized body;
 *  - received_at is set to now.
 * Returns ING_OK, or the refusal with the reason in err ("invalid UTF-8 at
 * byte 17", "body: empty").
 */
enum ing_refusal ing_normalize(const struct ing_norm *, struct yl_report *r,
		    char *err, size_t errsz);

/*
 * The dateline and byline finders, exposed for tests. ing_find_dateline
 * writes the ISO 8601 form ("2026-11-03", "2026-01-17T19:21:00") into iso,
 * or the date as written when it is no calendar date ("Nov. 31"); now
 * (UTC) completes a date without a year ("Nov. 3"). ing_find_byline writes
 * the name of a "By <Name>" line. Return 0 when found, -1 when not.
 */
int	ing_find_dateline(const char *body, size_t len, const struct tm *now,
	    char *iso, size_t isosz);
int	ing_find_byline(const char *body, size_t len, char *name,
	    size_t namesz);

/* ----------------------------------------------------------- requests */

struct ing_frame {
	const void	*data;
	size_t		 len;
};

/*
 * The envelope of a ROUTER message: the number of frames up to and
 * including the first empty frame, or 0 when there is none.
 */
size_t	ing_envelope_len(const struct ing_frame *f, size_t n);

/*
 * Decodes the frames of one request (after the envelope): [report-json] or
 * [meta-json, raw-body], strictly. Returns ING_OK and *out (a report not
 * yet normalized), or the refusal with the reason in err, worded for the
 * client ("expected 1 or 2 frames, got 3", "unknown field 'foo'").
 */
enum ing_refusal ing_request_decode(const struct ing_frame *f, size_t n,
		    size_t max_bytes, struct yl_report **out, char *err,
		    size_t errsz);

/* ------------------------------------------------------------ metrics */

/* Where a report came in. */
enum ing_source { ING_SRC_ZMQ, ING_SRC_SPOOL, ING_SRC_MAX };

/* What became of a spool file. */
enum ing_spool_outcome { ING_SPOOL_DONE, ING_SPOOL_REJECTED,
	ING_SPOOL_RETRY, ING_SPOOL_MAX };

/*
 * yalu_ingest_* metrics (ing_metrics.c): the registry, its HTTP endpoint
 * when conf has a port (a thread: create after yl_daemon_detach), and the
 * handles of every series, all created at start so a scrape shows each
 * refusal reason at 0 before it first happens. The reason labels are
 * ing_refusal_name(), a fixed set.
 */
struct ing_metrics;

struct ing_metrics	*ing_metrics_new(const struct yl_metrics_conf *conf,
			    char *err, size_t errsz);
void			 ing_metrics_free(struct ing_metrics **);
struct yl_metrics	*ing_metrics_registry(struct ing_metrics *);
void	ing_metrics_received(struct ing_metrics *, enum ing_source);
void	ing_metrics_refused(struct ing_metrics *, enum ing_refusal);
/* A delivery report: ok, or a failure; seconds since it came in. */
void	ing_metrics_delivered(struct ing_metrics *, enum ing_source, int ok,
	    double seconds);
void	ing_metrics_queue_full(struct ing_metrics *);
void	ing_metrics_spool(struct ing_metrics *, enum ing_spool_outcome);
void	ing_metrics_inflight(struct ing_metrics *, size_t);
/* GET /health: 200 "ok", or 503 with why ("starting", "stopping"). */
void	ing_metrics_health(struct ing_metrics *, int ok, const char *why);

/* ------------------------------------------------------------- server */

/* Counters, ready to be exported as metrics. */
struct ing_stats {
	unsigned long long	received;	/* requests and spool files */
	unsigned long long	accepted;	/* delivered to Kafka */
	unsigned long long	refused;
	unsigned long long	refused_by[ING_R_MAX];
	unsigned long long	delivery_failed;
	unsigned long long	queue_full;	/* times we backed off */
	unsigned long long	spool_done;
	unsigned long long	spool_rejected;
};

struct ing_server;

/*
 * Creates the producer (idempotent, acks=all), makes sure the topics exist
 * (retrying until they do or SIGTERM), binds the ROUTER and opens the
 * spool. Takes ownership of *conf. NULL with the reason in err.
 */
struct ing_server	*ing_server_new(struct ing_conf **conf, char *err,
			    size_t errsz);
void			 ing_server_free(struct ing_server **);
/*
 * One pass of the loop: waits up to timeout_ms for requests (unless
 * max_inflight deliveries are pending), handles them, polls the producer,
 * scans the spool when due and updates STATUS. Returns 0, or -1 when the
 * producer hit a fatal error and the daemon must stop.
 */
int			 ing_server_step(struct ing_server *, int timeout_ms);
/* SIGHUP: reloads path; keeps the old config on failure. 0 or -1. */
int			 ing_server_reload(struct ing_server *,
			    const char *path);
/*
 * SIGTERM: stops accepting (late requests get "err shutting down"),
 * waits up to drain_timeout for every pending delivery, answers the
 * clients, purges what is left (their clients get the error). Returns the
 * number of deliveries given up.
 */
size_t			 ing_server_drain(struct ing_server *);
const struct ing_stats	*ing_server_stats(const struct ing_server *);
size_t			 ing_server_inflight(const struct ing_server *);

/* ------------------------------------------------------------- spool */

struct ing_spool;

/* Creates <dir>/incoming, done and rejected if missing. */
struct ing_spool	*ing_spool_new(const char *dir, char *err,
			    size_t errsz);
void			 ing_spool_free(struct ing_spool **);

/* What the spool asks of the server for each file it picks up. */
struct ing_spool_ops {
	/*
	 * Submit a decoded, normalized report read from name. Returns 0
	 * when queued (the server later calls ing_spool_delivered), -1
	 * when it cannot be queued now (the file stays for the next scan).
	 */
	int	(*submit)(void *arg, struct yl_report *r, const char *name);
	/* The file could not be used: count and log (the spool moves it). */
	void	(*refused)(void *arg, const char *name, enum ing_refusal,
		    const char *reason);
};

/*
 * Scans incoming/ once: every regular file not starting with '.' and not
 * already in flight is read, decoded, normalized and submitted, up to
 * max_files of them. Returns the number submitted.
 */
size_t	ing_spool_scan(struct ing_spool *, const struct ing_norm *,
	    size_t max_bytes, size_t max_files,
	    const struct ing_spool_ops *, void *arg);
/*
 * The delivery report for name: ok moves it to done/; a permanent failure
 * to rejected/ with the reason; a transient one leaves it in incoming/
 * for a later scan (and pauses scanning for a while).
 */
void	ing_spool_delivered(struct ing_spool *, const char *name, int ok,
	    int transient, const char *reason);
/* Moves name from incoming/ to rejected/ and writes name.reason. */
int	ing_spool_reject(struct ing_spool *, const char *name,
	    const char *reason);
size_t	ing_spool_inflight(const struct ing_spool *);

#endif
