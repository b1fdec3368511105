/*
 * classifyd.h - yalu-classify, the daemon: private interfaces between its
 * files. main.c reads top to bottom; the logic is here, callable by tests.
 *
 *   classify_conf.c     the config table (-n, SIGHUP)
 *   classify_offsets.c  per-partition tracker of in-flight offsets: only a
 *                       contiguous confirmed prefix is ever stored
 *   classify_tagged.c   decode one message, tag it, build the tagged JSON
 *                       and the feed topic
 *   classify_job.c      a produce in flight (tagged or dead letter) and the
 *                       DLQ headers
 *   classify_pub.c      the ZeroMQ PUB live feed, never blocking
 *   classify_kafka.c    consumer, producer, rebalances, delivery reports
 *   classify_daemon.c   the loop's steps: message, reload, status, drain
 */
#ifndef YALU_CLASSIFYD_H
#define YALU_CLASSIFYD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "yalu/conf.h"
#include "yalu/kafka.h"
#include "yalu/metrics.h"
#include "yalu/report.h"
#include "yalu/yaml.h"

#include "classify.h"

#define CLS_DEFAULT_PUBLISH	"tcp://127.0.0.1:7602"
#define CLS_DEFAULT_GROUP	"yalu-classify"
#define CLS_PUB_HWM		10000	/* messages per subscriber */
#define CLS_REVOKE_WAIT_MS	10000	/* in-flight produces at revoke */
#define CLS_DRAIN_WAIT_MS	30000	/* in-flight produces at SIGTERM */
#define CLS_RETRY_MAX_MS	5000	/* longest back-off of a re-produce */

/* ---------------------------------------------------------------- config */

struct cls_conf {
	struct yl_kv		 kafka;		/* librdkafka, verbatim */
	struct yl_topics	 topics;
	char			*group;
	char			*taxonomy;	/* NULL: cls_taxonomy_dir(NULL) */
	char			*publish;	/* "": no live feed */
	long long		 max_inflight;
	long long		 max_report_bytes;
	struct yl_metrics_conf	 metrics;	/* /metrics and /health */
};

extern const struct yl_confkey cls_conf_spec[];

/*
 * Loads path over the defaults into c (zeroed by the caller) and checks
 * what the table cannot (the kafka: properties). Returns 0, or -1 with
 * every problem in errs. The caller releases c with cls_conf_release().
 */
int		 cls_conf_load(const char *path, struct cls_conf *c,
		    struct yl_errs *errs);
void		 cls_conf_release(struct cls_conf *c);
/* The taxonomy directory the config names (or the default one). */
const char	*cls_conf_taxonomy(const struct cls_conf *c);

/* ------------------------------------------------------- offset tracker */

/*
 * Consumed offsets are stored only once the report they carry is safely
 * on reports.tagged or reports.dlq, and only over a contiguous prefix:
 * never past an offset whose produce is still unconfirmed. Every consumed
 * message gets a sequence number in its partition; confirmations may come
 * in any order. An epoch, new at every assignment, tells a confirmation of
 * an earlier assignment (revoked meanwhile) from a current one.
 */
struct cls_trk;

struct cls_trk	*cls_trk_new(void);
void		 cls_trk_free(struct cls_trk **);
/* Starts (again) tracking partition p, forgetting what was pending. */
int		 cls_trk_assign(struct cls_trk *, int32_t p);
/* Stops tracking p; pending offsets are forgotten (never stored). */
void		 cls_trk_revoke(struct cls_trk *, int32_t p);
int		 cls_trk_assigned(const struct cls_trk *, int32_t p);
/*
 * Records a consumed offset of p. Returns 0 with its epoch and sequence
 * number, or -1 if p is not assigned (or out of memory).
 */
int		 cls_trk_add(struct cls_trk *, int32_t p, int64_t offset,
		    uint32_t *epoch, uint64_t *seq);
/*
 * Confirms (p, epoch, seq). Returns 1 with *store, the offset to store
 * (last offset of the contiguous confirmed prefix + 1), when the prefix
 * grew; 0 when it did not (an earlier offset is still pending); -1 when
 * the confirmation is stale (p revoked or reassigned since, or seq already
 * confirmed).
 */
int		 cls_trk_confirm(struct cls_trk *, int32_t p, uint32_t epoch,
		    uint64_t seq, int64_t *store);
/* Is (p, epoch) still the current assignment of p? */
int		 cls_trk_current(const struct cls_trk *, int32_t p,
		    uint32_t epoch);
/* Unconfirmed offsets of p, and of every partition. */
size_t		 cls_trk_pending(const struct cls_trk *, int32_t p);
size_t		 cls_trk_pending_all(const struct cls_trk *);
/* The last offset stored for p (next one to consume), or -1. */
int64_t		 cls_trk_stored(const struct cls_trk *, int32_t p);

/* ------------------------------------------------------------ tagging */

/*
 * Builds the tagged form of r: every field of the report, then "ruleset"
 * and "tags" of result (the object yl_cls_run returned, borrowed) and
 * "classified_at". Returns a new reference, or NULL.
 */
json_t	*cls_tagged_build(const struct yl_report *r, json_t *result,
	    const char *classified_at);
/*
 * The live feed topic of a result's or tagged report's "tags":
 * "<relevance>.<first commodity id or none>", e.g. "high.seafood".
 * Returns 0, or -1 if it does not fit or tags lacks a relevance.
 */
int	cls_pub_topic(json_t *tags, char *buf, size_t bufsz);

/* What one consumed message became. */
struct cls_tagged {
	char	*json;		/* tagged report, compact JSON */
	size_t	 len;
	char	*topic;		/* live feed topic */
	char	*id;		/* report id, for logs */
	const char *reason;	/* refused: a short code for metrics
				   ("invalid_json", "too_large", ...) */
};

void	cls_tagged_clear(struct cls_tagged *);
/*
 * Decodes buf[0..len) strictly as a report, tags its body and builds the
 * tagged JSON. A report without "id" takes the message key (valid UTF-8,
 * 1-200 bytes) or else the content id. Returns 0 and fills out, or -1
 * with the reason to dead-letter it in err (and out->id if the report
 * had one).
 */
int	cls_tag_message(struct yl_cls *cls, const char *buf, size_t len,
	    const void *key, size_t keylen, size_t max_bytes,
	    struct cls_tagged *out, char *err, size_t errsz);

/* ----------------------------------------------------------------- jobs */

enum cls_job_kind { CLS_JOB_TAGGED, CLS_JOB_DLQ };

/*
 * One produce in flight, owned by the daemon from the consumed message
 * to its delivery report: the payload is handed to librdkafka without a
 * copy and freed with the job. The consumed bytes are kept so that a
 * tagged report the broker refuses for good (too large) can still become
 * a dead letter.
 */
struct cls_job {
	enum cls_job_kind  kind;
	int32_t		   partition;	/* of the consumed message */
	int64_t		   offset;
	uint32_t	   epoch;	/* tracker's, see cls_trk_add() */
	uint64_t	   seq;
	void		  *key;		/* may be NULL */
	size_t		   keylen;
	char		  *raw;		/* the consumed bytes */
	size_t		   rawlen;
	char		  *tagged;	/* tagged JSON, NULL for a dead letter */
	size_t		   taggedlen;
	char		  *topic;	/* live feed topic, with tagged */
	char		  *error;	/* dead letter: why */
	char		  *id;		/* report id, for logs; may be NULL */
	const char	  *reason;	/* dead letter: code for metrics */
	double		   t0;		/* consumed at (cls_clock()) */
	int		   attempts;
	long long	   retry_at;	/* yl_now_ms() */
	struct cls_job	  *next;	/* retry list */
};

/*
 * A dead-letter job for a consumed message (key and bytes copied), with
 * the reason why; cls_job_set_tagged() makes it a tagged one. NULL: ENOMEM.
 */
struct cls_job	*cls_job_new(int32_t partition, int64_t offset,
		    const void *key, size_t keylen, const void *raw,
		    size_t rawlen, const char *why);
/* Makes j a tagged job, taking t's buffers (t is cleared). */
void		 cls_job_set_tagged(struct cls_job *j, struct cls_tagged *t);
/* Turns a tagged job into a dead letter with reason why (code: its
   metrics label). 0 or -1. */
int		 cls_job_to_dlq(struct cls_job *j, const char *why,
		    const char *code);
void		 cls_job_free(struct cls_job **);
/* What to produce: the tagged JSON or, for a dead letter, the raw bytes. */
const void	*cls_job_payload(const struct cls_job *j, size_t *len);
/*
 * The headers of a dead letter: yalu-error, yalu-topic (the consumed
 * topic), yalu-partition, yalu-offset, yalu-stage=classify. A new list
 * the caller passes to librdkafka or destroys; NULL: ENOMEM.
 */
rd_kafka_headers_t *cls_dlq_headers(const struct cls_job *,
		    const char *src_topic);

/* ------------------------------------------------------------ live feed */

struct cls_pub;

/* Binds a PUB socket on endpoint. NULL with the reason in err. */
struct cls_pub	*cls_pub_new(const char *endpoint, int hwm, char *err,
		    size_t errsz);
void		 cls_pub_free(struct cls_pub **);
/*
 * Sends [topic, json] without ever blocking. Returns 0, or -1 if it was
 * dropped (a subscriber at its high-water mark).
 */
int		 cls_pub_send(struct cls_pub *, const char *topic,
		    const char *json, size_t len);
const char	*cls_pub_endpoint(const struct cls_pub *);

/* --------------------------------------------------------------- daemon */

struct cls_stats {
	unsigned long long	consumed, tagged, dead, retried;
	unsigned long long	published, pub_dropped;
};

/* Handles of the hot series of the daemon's metrics (classify_daemon.c). */
struct cls_metrics {
	struct yl_metric	*consumed, *tagged, *retries;
	struct yl_metric	*published, *pub_dropped;
	struct yl_metric	*inflight, *paused;
	struct yl_metric	*classify_s, *confirm_s;
	struct yl_metric	*delivery_failed;
	struct yl_kafka_lag	*lag;	/* yalu_classify_consumer_lag */
};

struct cls_daemon {
	const char		*config_path;
	struct cls_conf		 conf;
	struct yl_tax		*tax;
	struct yl_cls		*cls;
	rd_kafka_t		*consumer, *producer;
	struct cls_trk		*trk;
	struct cls_pub		*pub;		/* NULL: no live feed */
	struct cls_job		*retry_head, *retry_tail;
	size_t			 inflight;	/* jobs not yet confirmed */
	int			 paused;	/* backpressure */
	rd_kafka_topic_partition_list_t *paused_parts;	/* to resume */
	int			 closing;	/* draining: no more waits,
						   retries or commits at revoke */
	int			 fatal;		/* __FATAL seen */
	struct cls_stats	 st;
	struct yl_metrics	*metrics;	/* registry, maybe a server */
	struct cls_metrics	 m;
	long long		 last_status;
	int			 revoke_wait_ms;	/* at most CLS_REVOKE_WAIT_MS,
						   half the group timeouts */
};

/*
 * Creates the daemon from a loaded config and taxonomy, both consumed
 * (*conf is zeroed, *tax set to NULL): the producer, the consumer, the
 * live feed and the metrics (a thread: call after yl_daemon_detach()).
 * NULL with the reason in err.
 */
struct cls_daemon *cls_daemon_new(const char *config_path,
		    struct cls_conf *conf, struct yl_tax **tax, char *err,
		    size_t errsz);
void		 cls_daemon_free(struct cls_daemon **);
/*
 * Creates the topics (retrying while the broker is unreachable, until
 * SIGTERM) and subscribes. 0, or -1 (stopped or failed, logged).
 */
int		 cls_daemon_start(struct cls_daemon *);
/* The subscription alone (cls_daemon_start's last step). 0 or -1. */
int		 cls_daemon_subscribe(struct cls_daemon *);
/* One pass of the loop: delivery reports, retries, one message. */
void		 cls_daemon_step(struct cls_daemon *, int timeout_ms);
/* SIGHUP: reloads config and taxonomy, keeping the old on failure. */
void		 cls_daemon_reload(struct cls_daemon *);
/* Sends STATUS= now and then. */
void		 cls_daemon_status(struct cls_daemon *, int force);
/*
 * SIGTERM: waits for in-flight produces, commits the stored offsets,
 * closes the consumer. Returns the exit code (0 clean, 1 otherwise).
 */
int		 cls_daemon_drain(struct cls_daemon *);

/* Monotonic seconds, for latencies. */
double		 cls_clock(void);
/* Counts a dead letter confirmed on the DLQ, by reason code. */
void		 cls_metrics_dead(struct cls_daemon *, const char *code);
/* Counts a rebalance event (assign, revoke, lost, error). */
void		 cls_metrics_rebalance(struct cls_daemon *, const char *type);

/* classify_kafka.c, used by classify_daemon.c */
rd_kafka_t	*cls_kafka_producer(struct cls_daemon *, char *err,
		    size_t errsz);
rd_kafka_t	*cls_kafka_consumer(struct cls_daemon *, char *err,
		    size_t errsz);
/* Hands a job to the producer, or queues it for a retry. */
void		 cls_kafka_produce(struct cls_daemon *, struct cls_job *);
/* Re-produces the jobs whose back-off has passed. */
void		 cls_kafka_retry_due(struct cls_daemon *);
/* Pauses or resumes the whole assignment (backpressure). */
void		 cls_kafka_pause(struct cls_daemon *, int pause);
/* Polls the producer until partition p (or all, p = -1) has nothing
   pending, for at most wait_ms. Returns what is still pending. */
size_t		 cls_kafka_wait(struct cls_daemon *, int32_t p, int wait_ms);
/* Is err fatal, here or in either handle? */
int		 cls_kafka_fatal(struct cls_daemon *);

#endif
