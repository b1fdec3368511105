/*
 * store_conf.c - yalu-store's config: one table, checked strictly.
 */
#include <stddef.h>
#include <string.h>

#include "yalu/conf.h"
#include "yalu/kafka.h"
#include "yalu/metrics.h"

#include "sto_int.h"

const struct yl_confkey sto_conf_spec[] = {
	{ "kafka", YL_CONF_KV, offsetof(struct sto_conf, kafka), NULL, 0, 0, 0,
	  NULL, "librdkafka properties, passed through verbatim" },
	{ "topics", YL_CONF_SECTION, offsetof(struct sto_conf, topics), NULL,
	  0, 0, 0, yl_topics_spec, "topic names and sizes" },
	{ "group", YL_CONF_STR, offsetof(struct sto_conf, group),
	  STO_DEFAULT_GROUP, 0, 0, 0, NULL, "consumer group of the archivers" },
	{ "db", YL_CONF_STR, offsetof(struct sto_conf, db), STO_DEFAULT_DB, 0,
	  0, 0, NULL, "path of the SQLite archive" },
	/*
	 * A batch is one transaction: bigger batches mean fewer fsyncs,
	 * smaller ones mean less to redo after a crash.
	 */
	{ "batch_size", YL_CONF_INT, offsetof(struct sto_conf, batch_size),
	  NULL, 500, 1, 100000, NULL, "messages per transaction" },
	{ "batch_ms", YL_CONF_INT, offsetof(struct sto_conf, batch_ms), NULL,
	  200, 1, 60000, NULL, "longest wait for a batch to fill, in ms" },
	{ "metrics", YL_CONF_SECTION, offsetof(struct sto_conf, metrics), NULL,
	  0, 0, 0, yl_metrics_spec,
	  "Prometheus /metrics and /health (restart to change)" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL }
};

int
sto_conf_load(const char *path, struct sto_conf *c, struct yl_errs *errs)
{
	char err[512];
	int rc;

	if (yl_conf_defaults(sto_conf_spec, c) == -1) {
		yl_errs_raw(errs, "out of memory");
		return -1;
	}
	rc = yl_conf_load(path, sto_conf_spec, c, errs);
	if (c->group != NULL && c->group[0] == '\0') {
		yl_errs_add(errs, path, 0, 0, "group: must not be empty");
		rc = -1;
	}
	if (c->db != NULL && c->db[0] == '\0') {
		yl_errs_add(errs, path, 0, 0, "db: must not be empty");
		rc = -1;
	}
	if (yl_metrics_check(&c->metrics, err, sizeof(err)) == -1) {
		yl_errs_add(errs, path, 0, 0, "%s", err);
		rc = -1;
	}
	/* A bad librdkafka property is a config error too, found now. */
	if (yl_kafka_check(&c->kafka, err, sizeof(err)) == -1) {
		yl_errs_add(errs, path, 0, 0, "%s", err);
		rc = -1;
	}
	return rc;
}

void
sto_conf_release(struct sto_conf *c)
{
	yl_conf_release(sto_conf_spec, c);
}
