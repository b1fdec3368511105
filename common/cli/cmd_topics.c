/*
 * cmd_topics.c - `yalu topics ensure [-f CONFIG] [--bootstrap B]`: creates
 * reports.raw, reports.tagged and reports.dlq if they are missing.
 */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yalu/conf.h"
#include "yalu/kafka.h"
#include "yalu/log.h"

#include "yalu_cli.h"

struct topics_conf {
	struct yl_kv		kafka;
	struct yl_topics	topics;
};

/* Any daemon's config works: only kafka: and topics: are read. */
static const struct yl_confkey topics_conf_spec[] = {
	{ "kafka", YL_CONF_KV, offsetof(struct topics_conf, kafka), NULL, 0, 0,
	  0, NULL, "librdkafka properties" },
	{ "topics", YL_CONF_SECTION, offsetof(struct topics_conf, topics), NULL,
	  0, 0, 0, yl_topics_spec, "topic names and sizes" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL }
};

int
cli_cmd_topics(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bootstrap", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct topics_conf tc;
	struct yl_errs errs = { 0 };
	const char *config = NULL, *bootstrap = NULL;
	char err[1024];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	int ch, rc = 0;

	while ((ch = getopt_long(argc, argv, "f:b:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			config = optarg;
			break;
		case 'b':
			bootstrap = optarg;
			break;
		default:
			fprintf(stderr, "usage: yalu topics ensure [-f CONFIG] "
			    "[--bootstrap HOST:PORT]\n");
			return ch == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc || strcmp(argv[optind], "ensure") != 0) {
		fprintf(stderr, "usage: yalu topics ensure [-f CONFIG] "
		    "[--bootstrap HOST:PORT]\n");
		return 2;
	}
	memset(&tc, 0, sizeof(tc));
	yl_conf_defaults(topics_conf_spec, &tc);
	if (config != NULL) {
		/* Other keys of a daemon config are not ours to judge. */
		struct yl_ydoc *doc = yl_ydoc_load(config, err, sizeof(err));
		const struct yl_ynode *k, *t;

		if (doc == NULL) {
			fprintf(stderr, "yalu: %s\n", err);
			return 78;
		}
		if ((k = yl_ymap_get(doc->root, "kafka")) != NULL &&
		    k->type == YL_Y_MAP) {
			size_t i;

			for (i = 0; i + 1 < k->n; i += 2)
				if (k->kids[i + 1]->type == YL_Y_SCALAR)
					yl_kv_set(&tc.kafka, k->kids[i]->str,
					    k->kids[i + 1]->str);
		}
		if ((t = yl_ymap_get(doc->root, "topics")) != NULL &&
		    yl_conf_apply(doc, t, yl_topics_spec, &tc.topics,
		    &errs) == -1) {
			fprintf(stderr, "%s", errs.buf);
			yl_ydoc_free(&doc);
			yl_errs_clear(&errs);
			yl_conf_release(topics_conf_spec, &tc);
			return 78;
		}
		yl_ydoc_free(&doc);
	}
	if (bootstrap != NULL)
		yl_kv_set(&tc.kafka, "bootstrap.servers", bootstrap);
	if ((conf = yl_kafka_conf(&tc.kafka, err, sizeof(err))) == NULL) {
		fprintf(stderr, "yalu: %s\n", err);
		yl_conf_release(topics_conf_spec, &tc);
		return 78;
	}
	if ((rk = yl_kafka_new(RD_KAFKA_PRODUCER, conf, "admin", err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "yalu: %s\n", err);
		yl_conf_release(topics_conf_spec, &tc);
		return 1;
	}
	if (yl_kafka_ensure_topics(rk, &tc.topics, 15000, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "yalu: %s\n", err);
		rc = 1;
	} else
		printf("topics ok: %s (%lld partitions), %s (%lld), %s (%lld)\n",
		    tc.topics.raw.name, tc.topics.raw.partitions,
		    tc.topics.tagged.name, tc.topics.tagged.partitions,
		    tc.topics.dlq.name, tc.topics.dlq.partitions);
	rd_kafka_destroy(rk);
	yl_conf_release(topics_conf_spec, &tc);
	yl_errs_clear(&errs);
	return rc;
}
