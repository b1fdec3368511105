/*
 * kafka.h - librdkafka set-up shared by the daemons and the CLI.
 *
 * Every daemon's config has a `kafka:` map passed verbatim to librdkafka
 * (kcat's -X, Fluent Bit's rdkafka.*), so SASL, TLS and tuning need no
 * code. $YALU_KAFKA, when set, overrides bootstrap.servers.
 */
#ifndef YALU_KAFKA_H
#define YALU_KAFKA_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "yalu/conf.h"

/* Topic settings, shared by every daemon's config (`topics:`). */
struct yl_topic {
	char		*name;
	long long	 partitions;
	long long	 replication;
};

struct yl_topics {
	struct yl_topic	raw, tagged, dlq;
};

/* The `topics:` section; use with YL_CONF_SECTION and offsetof(..). */
extern const struct yl_confkey yl_topics_spec[];

/*
 * A new librdkafka conf with every property of props set (and
 * $YALU_KAFKA as bootstrap.servers), log and error callbacks routed to
 * yl_log. NULL with "kafka: property: reason" in err.
 */
rd_kafka_conf_t	*yl_kafka_conf(const struct yl_kv *props, char *err,
		    size_t errsz);
/* Checks props by building and discarding a conf (for -n). */
int		 yl_kafka_check(const struct yl_kv *props, char *err,
		    size_t errsz);

/*
 * A daemon's own defaults and requirements on top of the kafka: map:
 * conf_default sets key unless the map gives it; conf_force sets it
 * whatever the map says (correctness depends on it), warning if the map
 * asked for something else. 0, or -1 with librdkafka's reason in err.
 */
int		 yl_kafka_conf_default(rd_kafka_conf_t *, const struct yl_kv *,
		    const char *key, const char *val, char *err, size_t errsz);
int		 yl_kafka_conf_force(rd_kafka_conf_t *, const struct yl_kv *,
		    const char *key, const char *val, char *err, size_t errsz);

/*
 * One such setting, for yl_kafka_conf_with: a table of them ends in
 * YL_KAFKA_END. Values may be computed (a group id) in an automatic table.
 */
struct yl_kafka_set {
	const char	*key;
	const char	*val;
	int		 force;		/* conf_force, else conf_default */
};
#define YL_KAFKA_FORCE(k, v)	{ (k), (v), 1 }
#define YL_KAFKA_DEFAULT(k, v)	{ (k), (v), 0 }
#define YL_KAFKA_END		{ NULL, NULL, 0 }
/* What "ok" to a producer stands for: every replica has the message once. */
#define YL_KAFKA_DURABLE \
	YL_KAFKA_FORCE("enable.idempotence", "true"), \
	YL_KAFKA_FORCE("acks", "all")

/*
 * A member of consumer group g that loses nothing: the daemon stores a
 * message's offset only once the next stage has it, and auto-commit
 * commits what is stored, never more. Rebalances are cooperative, and a
 * new group starts at the earliest offset (it must read what came before
 * it started).
 */
#define YL_KAFKA_MEMBER(g) \
	YL_KAFKA_FORCE("group.id", (g)), \
	YL_KAFKA_FORCE("enable.auto.offset.store", "false"), \
	YL_KAFKA_FORCE("enable.auto.commit", "true"), \
	YL_KAFKA_FORCE("partition.assignment.strategy", "cooperative-sticky"), \
	YL_KAFKA_DEFAULT("auto.offset.reset", "earliest")

/*
 * yl_kafka_conf, then each setting of set in order. NULL with "kafka:
 * what: reason" in err (what names the handle: "producer").
 */
rd_kafka_conf_t	*yl_kafka_conf_with(const struct yl_kv *props,
		    const struct yl_kafka_set *set, const char *what,
		    char *err, size_t errsz);
/*
 * rd_kafka_new, which takes conf over; on failure conf is destroyed and
 * err says "kafka: what: reason".
 */
rd_kafka_t	*yl_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf,
		    const char *what, char *err, size_t errsz);

/*
 * Creates the three topics if missing, through the admin API; a topic
 * that exists already is fine. reports.raw keeps data forever
 * (retention.ms=-1). Returns 0 or -1 with the reason.
 */
int		 yl_kafka_ensure_topics(rd_kafka_t *rk,
		    const struct yl_topics *, int timeout_ms, char *err,
		    size_t errsz);

/* ------------------------------------------------------ consumer lag */

struct yl_metrics;

/*
 * How often librdkafka reports the statistics the lag gauges come from,
 * unless the kafka: map sets statistics.interval.ms itself.
 */
#define YL_KAFKA_STATS_MS	"5000"

/*
 * Consumer lag per partition, as a gauge <metric>{topic,partition} (e.g.
 * yalu_store_consumer_lag), fed from librdkafka's statistics: the daemon
 * sets statistics.interval.ms on its consumer (YL_KAFKA_LAG_STATS) and
 * passes each statistics document its stats_cb receives to
 * yl_kafka_lag_update. The lag of a partition is what the broker holds
 * past the last offset the daemon stored as done (consumer_lag_stored),
 * or past the committed one when nothing is stored yet, or, when the group
 * has finished nothing of it at all, everything it holds (the daemons
 * start a new group at the earliest offset). A partition the consumer no
 * longer owns loses its series.
 */
struct yl_kafka_lag;

/*
 * Declares the gauge in m (borrowed; must outlive the tracker). NULL when
 * memory ran out or the name is not a metric name.
 */
struct yl_kafka_lag	*yl_kafka_lag_new(struct yl_metrics *m,
			    const char *metric, const char *help);
/* Frees the tracker; its series stay in the registry. */
void			 yl_kafka_lag_free(struct yl_kafka_lag **);
/*
 * The setting that has librdkafka report statistics (every
 * YL_KAFKA_STATS_MS unless the kafka: map says otherwise), for the
 * consumer's yl_kafka_conf_with table; the daemon then sets its stats_cb.
 */
#define YL_KAFKA_LAG_STATS \
	YL_KAFKA_DEFAULT("statistics.interval.ms", YL_KAFKA_STATS_MS)
/*
 * Reads one statistics document: sets the gauge of every partition the
 * consumer owns whose lag is known, removes the others. Returns the number
 * of partitions set, or -1 when json is not librdkafka's statistics
 * (nothing is changed then).
 */
int			 yl_kafka_lag_update(struct yl_kafka_lag *,
			    const char *json, size_t len);
/* Removes every series of the tracker (the consumer is closed). */
void			 yl_kafka_lag_clear(struct yl_kafka_lag *);

#endif
