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
 * Creates the three topics if missing, through the admin API; a topic
 * that exists already is fine. reports.raw keeps data forever
 * (retention.ms=-1). Returns 0 or -1 with the reason.
 */
int		 yl_kafka_ensure_topics(rd_kafka_t *rk,
		    const struct yl_topics *, int timeout_ms, char *err,
		    size_t errsz);

#endif
