/*
 * cls_watch.c - `yalu watch`: prints yalu-classify's live feed, one line
 * per tagged report, until SIGINT or SIGTERM.
 *
 *   yalu watch [--endpoint E] [--min-relevance none|low|medium|high]
 *              [--format text|json]
 *
 * The feed is ZeroMQ PUB [topic, tagged-json] with topic
 * "<relevance>.<first commodity or none>"; a minimum relevance is one
 * SUBSCRIBE per relevance prefix at or above it, so the filtering happens
 * at the publisher. Lines go to stdout, flushed one by one for pipes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zmq.h>

#include "yalu/daemon.h"

#include "cls_cli.h"
#include "classifyd.h"

/* From the highest down: --min-relevance X subscribes to X and above. */
static const char *const relevances[] = { "high", "medium", "low", "none",
    NULL };

static void
watch_usage(FILE *fp)
{
	fprintf(fp, "usage: yalu watch [--endpoint E] [--min-relevance "
	    "none|low|medium|high] [--format text|json]\n"
	    "  --endpoint E        the feed (default $YALU_FEED or %s)\n",
	    CLS_DEFAULT_PUBLISH);
}

/* Writes s with control characters (newlines in titles) as spaces. */
static void
put_flat(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, fp);
}

/* "a,b,c" of a facet's IDs (commodities with their direction), or "-". */
static void
put_ids(FILE *fp, json_t *arr, int with_dir)
{
	json_t *t, *dir;
	size_t i;

	if (json_array_size(arr) == 0) {
		fputc('-', fp);
		return;
	}
	json_array_foreach(arr, i, t) {
		if (i > 0)
			fputc(',', fp);
		put_flat(fp, json_is_string(json_object_get(t, "id")) ?
		    json_string_value(json_object_get(t, "id")) : "?");
		dir = json_object_get(t, "direction");
		if (with_dir && json_is_string(dir))
			fprintf(fp, "/%s", json_string_value(dir));
	}
}

/*
 * "<relevance> <id> <commodities> <crossings> <title>", e.g.
 * "high r-5f0c seafood/export dandong-sinuiju Crab trucks at Dandong".
 */
static int
print_text(FILE *fp, const char *buf, size_t len)
{
	json_error_t jerr;
	json_t *o, *tags, *rel, *id, *title;

	if ((o = json_loadb(buf, len, 0, &jerr)) == NULL)
		return -1;
	tags = json_object_get(o, "tags");
	rel = json_object_get(json_object_get(tags, "sanctions"), "relevance");
	id = json_object_get(o, "id");
	title = json_object_get(o, "title");
	put_flat(fp, json_is_string(rel) ? json_string_value(rel) : "?");
	fputc(' ', fp);
	put_flat(fp, json_is_string(id) ? json_string_value(id) : "-");
	fputc(' ', fp);
	put_ids(fp, json_object_get(tags, "commodities"), 1);
	fputc(' ', fp);
	put_ids(fp, json_object_get(tags, "crossings"), 0);
	fputc(' ', fp);
	put_flat(fp, json_is_string(title) && json_string_length(title) > 0 ?
	    json_string_value(title) : "-");
	fputc('\n', fp);
	json_decref(o);
	return 0;
}

/* Receives one frame into msg. -1 on error or EINTR (errno tells). */
static int
recv_frame(void *sock, zmq_msg_t *msg, int *more)
{
	if (zmq_msg_recv(msg, sock, 0) == -1)
		return -1;
	*more = zmq_msg_more(msg);
	return 0;
}

int
cls_cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "min-relevance", required_argument, NULL, 'm' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *endpoint = getenv("YALU_FEED"), *min = "none";
	void *ctx, *sock;
	int ch, json = 0, i, last = -1, rc = 0, more, zero = 0;
	unsigned long long bad = 0;

	if (endpoint == NULL || *endpoint == '\0')
		endpoint = CLS_DEFAULT_PUBLISH;
	while ((ch = getopt_long(argc, argv, "e:m:F:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			endpoint = optarg;
			break;
		case 'm':
			min = optarg;
			break;
		case 'F':
			if (strcmp(optarg, "json") == 0)
				json = 1;
			else if (strcmp(optarg, "text") != 0) {
				fprintf(stderr, "yalu: watch: --format: text "
				    "or json\n");
				return 2;
			}
			break;
		case 'h':
			watch_usage(stdout);
			return 0;
		default:
			watch_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		watch_usage(stderr);
		return 2;
	}
	for (i = 0; relevances[i] != NULL; i++)
		if (strcmp(relevances[i], min) == 0)
			last = i;
	if (last < 0) {
		fprintf(stderr, "yalu: watch: --min-relevance: none, low, medium "
		    "or high, not '%s'\n", min);
		return 2;
	}

	ctx = zmq_ctx_new();
	sock = zmq_socket(ctx, ZMQ_SUB);
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	for (i = 0; i <= last; i++) {
		char prefix[16];

		snprintf(prefix, sizeof(prefix), "%s.", relevances[i]);
		zmq_setsockopt(sock, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
	}
	if (zmq_connect(sock, endpoint) == -1) {
		fprintf(stderr, "yalu: watch: %s: %s\n", endpoint,
		    zmq_strerror(errno));
		zmq_close(sock);
		zmq_ctx_term(ctx);
		return 1;
	}
	/* The handlers only set yl_sig_term; recv returns EINTR. */
	yl_daemon_signals();
	while (!yl_sig_term) {
		zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
		zmq_msg_t topic, body;

		if (zmq_poll(&it, 1, 500) <= 0)
			continue;
		zmq_msg_init(&topic);
		zmq_msg_init(&body);
		if (recv_frame(sock, &topic, &more) == -1) {
			zmq_msg_close(&topic);
			zmq_msg_close(&body);
			if (errno == EINTR)
				continue;
			fprintf(stderr, "yalu: watch: %s\n",
			    zmq_strerror(errno));
			rc = 1;
			break;
		}
		if (!more || recv_frame(sock, &body, &more) == -1 || more) {
			/* Not [topic, json]: skip the rest of it. */
			while (more && zmq_msg_recv(&body, sock, 0) != -1)
				more = zmq_msg_more(&body);
			if (bad++ == 0)
				fprintf(stderr, "yalu: watch: ignoring a message "
				    "that is not [topic, report]\n");
		} else if (json) {
			fwrite(zmq_msg_data(&body), 1, zmq_msg_size(&body),
			    stdout);
			fputc('\n', stdout);
		} else if (print_text(stdout, zmq_msg_data(&body),
		    zmq_msg_size(&body)) == -1 && bad++ == 0)
			fprintf(stderr, "yalu: watch: ignoring a report that is "
			    "not JSON\n");
		zmq_msg_close(&topic);
		zmq_msg_close(&body);
		/* A reader that went away (| head) ends the watch quietly. */
		if (fflush(stdout) == EOF || ferror(stdout)) {
			rc = errno == EPIPE ? 0 : 1;
			if (rc)
				fprintf(stderr, "yalu: watch: stdout: %s\n",
				    strerror(errno));
			break;
		}
	}
	zmq_close(sock);
	zmq_ctx_term(ctx);
	return rc;
}
