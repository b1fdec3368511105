/*
 * classify_conf.c - yalu-classify's config: one table, checked strictly.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "yalu/conf.h"
#include "yalu/kafka.h"
#include "yalu/metrics.h"

#include "classifyd.h"
#include "cls_cli.h"

const struct yl_confkey cls_conf_spec[] = {
	{ "kafka", YL_CONF_KV, offsetof(struct cls_conf, kafka), NULL, 0, 0, 0,
	  NULL, "librdkafka properties, passed through verbatim" },
	{ "topics", YL_CONF_SECTION, offsetof(struct cls_conf, topics), NULL,
	  0, 0, 0, yl_topics_spec, "topic names and sizes" },
	{ "group", YL_CONF_STR, offsetof(struct cls_conf, group),
	  CLS_DEFAULT_GROUP, 0, 0, 0, NULL,
	  "consumer group shared by every yalu-classify" },
	{ "taxonomy", YL_CONF_STR, offsetof(struct cls_conf, taxonomy), NULL,
	  0, 0, 0, NULL, "taxonomy directory (default: the installed one)" },
	{ "publish", YL_CONF_STR, offsetof(struct cls_conf, publish),
	  CLS_DEFAULT_PUBLISH, 0, 0, 0, NULL,
	  "ZeroMQ PUB endpoint of the live feed; empty: none" },
	{ "max_inflight", YL_CONF_INT, offsetof(struct cls_conf, max_inflight),
	  NULL, 5000, 1, 1000000, NULL,
	  "reports produced but unconfirmed before consuming pauses" },
	{ "max_report_bytes", YL_CONF_INT, offsetof(struct cls_conf,
	  max_report_bytes), NULL, 1048576, 64, 1LL << 30, NULL,
	  "larger messages are dead-lettered" },
	{ "metrics", YL_CONF_SECTION, offsetof(struct cls_conf, metrics), NULL,
	  0, 0, 0, yl_metrics_spec, "Prometheus /metrics and /health" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL }
};

int
cls_conf_load(const char *path, struct cls_conf *c, struct yl_errs *errs)
{
	char err[1024];
	int bad = 0;

	if (yl_conf_defaults(cls_conf_spec, c) == -1) {
		yl_errs_raw(errs, "out of memory");
		return -1;
	}
	if (yl_conf_load(path, cls_conf_spec, c, errs) == -1)
		bad = 1;
	/* What the table cannot see: librdkafka's own judgement. */
	if (yl_kafka_check(&c->kafka, err, sizeof(err)) == -1) {
		yl_errs_add(errs, path, 0, 0, "%s", err);
		bad = 1;
	}
	if (yl_metrics_check(&c->metrics, err, sizeof(err)) == -1) {
		yl_errs_add(errs, path, 0, 0, "%s", err);
		bad = 1;
	}
	if (c->group == NULL || c->group[0] == '\0') {
		yl_errs_add(errs, path, 0, 0, "group: must not be empty");
		bad = 1;
	}
	if (c->taxonomy != NULL && c->taxonomy[0] == '\0') {
		yl_errs_add(errs, path, 0, 0, "taxonomy: must not be empty "
		    "(leave it out for the default)");
		bad = 1;
	}
	if (c->publish != NULL && c->publish[0] != '\0' &&
	    strstr(c->publish, "://") == NULL) {
		yl_errs_add(errs, path, 0, 0, "publish: '%s' is not a ZeroMQ "
		    "endpoint (tcp://host:port, ipc://path)", c->publish);
		bad = 1;
	}
	return bad ? -1 : 0;
}

void
cls_conf_release(struct cls_conf *c)
{
	yl_conf_release(cls_conf_spec, c);
}

const char *
cls_conf_taxonomy(const struct cls_conf *c)
{
	return cls_taxonomy_dir(c->taxonomy);
}
