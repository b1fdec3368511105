/*
 * cmd_status.c - `yalu status`: one screen of pipeline health.
 *
 *   yalu status [--config-dir DIR] [--ingest F] [--classify F] [--store F]
 *               [--db PATH] [--format text|json]
 *
 * Everything is read from the daemons' own configs (DIR/yalu-ingest.yaml,
 * yalu-classify.yaml, yalu-store.yaml; DIR is ./configs when it exists,
 * else /etc/yalu) and from the outside, as an operator would look:
 *
 *   daemons up    yalu-ingest: its ZeroMQ endpoint accepts a connection;
 *                 yalu-classify and yalu-store: members of their consumer
 *                 group (DescribeConsumerGroups), so every instance counts,
 *                 wherever it runs; and GET /health on a daemon's metrics
 *                 port when its config enables one (a 503 is a problem)
 *   lag           per group, the high watermarks minus the committed
 *                 offsets (a consumer handle with the group's id that never
 *                 subscribes, so the group is not disturbed)
 *   last minute   per topic, messages written in the last 60 s: the high
 *                 watermark minus the offset of the first message at or
 *                 after now - 60 s (offsets_for_times)
 *   DLQ           messages on reports.dlq
 *   rulesets      reports per ruleset in the archive, and how many were
 *                 tagged by an older ruleset than the one yalu-classify's
 *                 taxonomy has now (yalu-store's ordering of rulesets)
 *
 * The one HTTP request is "GET /health HTTP/1.0" over a socket and a look at
 * the status line: a client library (libcurl) would be a new dependency
 * for one line. The exit status is 0 when every daemon is up and healthy
 * and Kafka and the archive answer, 1 otherwise, so scripts can use it.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "yalu/conf.h"
#include "yalu/daemon.h"
#include "yalu/kafka.h"
#include "yalu/metrics.h"
#include "yalu/yaml.h"

#include "classifyd.h"
#include "ingest.h"
#include "sto_int.h"
#include "store.h"
#include "yalu_cli.h"

#ifndef YALU_SYSCONFDIR
#define YALU_SYSCONFDIR "/etc/yalu"
#endif

#define ST_KAFKA_MS	5000	/* metadata, offsets, group descriptions */
#define ST_NET_MS	1000	/* a connect() or a /health request */
#define ST_MINUTE_MS	60000

struct status {
	json_t		*out;		/* what is printed */
	json_t		*problems;	/* array of strings */
	rd_kafka_t	*rk;		/* metadata, watermarks, admin */
	int		 kafka_ok;
};

static void
problem(struct status *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
problem(struct status *s, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(s->problems, json_string(buf));
}

/* ------------------------------------------------------------- network */

/*
 * Connects to host:port (or a unix socket path), waiting at most
 * ST_NET_MS. Returns the socket, or -1 with the reason in err.
 */
static int
net_connect(const char *host, const char *port, const char *path, char *err,
    size_t errsz)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_un sun;
	struct pollfd pfd;
	socklen_t elen;
	int fd = -1, e = ECONNREFUSED, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (path != NULL) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(path) >= sizeof(sun.sun_path)) {
			snprintf(err, errsz, "%s: path too long", path);
			return -1;
		}
		strcpy(sun.sun_path, path);
	} else if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errsz, "%s:%s: %s", host, port, gai_strerror(rc));
		return -1;
	}
	for (ai = res; path != NULL || ai != NULL; ai = ai ? ai->ai_next :
	    NULL) {
		fd = socket(path ? AF_UNIX : ai->ai_family, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			e = errno;
			if (path != NULL)
				break;
			continue;
		}
		rc = path ? connect(fd, (struct sockaddr *)&sun, sizeof(sun)) :
		    connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (rc == -1 && errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			elen = sizeof(e);
			if (poll(&pfd, 1, ST_NET_MS) == 1 && getsockopt(fd,
			    SOL_SOCKET, SO_ERROR, &e, &elen) == 0 && e == 0)
				rc = 0;
			else if (e == 0 || e == EINPROGRESS)
				e = ETIMEDOUT;
		} else if (rc == -1)
			e = errno;
		if (rc == 0)
			break;
		close(fd);
		fd = -1;
		if (path != NULL)
			break;
	}
	if (res != NULL)
		freeaddrinfo(res);
	if (fd == -1)
		snprintf(err, errsz, "%s", strerror(e));
	return fd;
}

/*
 * GET /health on a daemon's metrics endpoint. Returns the HTTP status
 * (200 healthy, 503 not) with the first line of the body in reason, or
 * -1 with why in reason when nothing answered.
 */
static int
get_health(const char *addr, long long port, char *reason, size_t rsz)
{
	static const char req[] = "GET /health HTTP/1.0\r\n\r\n";
	char buf[1024], ps[24], *body, *nl;
	struct pollfd pfd;
	size_t len = 0;
	ssize_t n;
	int fd, code = -1;

	snprintf(ps, sizeof(ps), "%lld", port);
	if ((fd = net_connect(addr, ps, NULL, reason, rsz)) == -1)
		return -1;
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		snprintf(reason, rsz, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	/* HTTP/1.0: the server closes after the reply. */
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (len < sizeof(buf) - 1 && poll(&pfd, 1, ST_NET_MS) == 1) {
		if ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/%*d.%*d %d", &code) != 1) {
		snprintf(reason, rsz, "no HTTP reply");
		return -1;
	}
	body = strstr(buf, "\r\n\r\n");
	body = body != NULL ? body + 4 : buf + len;
	if ((nl = strchr(body, '\n')) != NULL)
		*nl = '\0';
	snprintf(reason, rsz, "%s", body);
	return code;
}

/* Is a ZeroMQ tcp:// or ipc:// endpoint accepting connections? */
static int
endpoint_up(const char *ep, char *err, size_t errsz)
{
	char host[256];
	const char *hp, *colon;
	int fd;

	if (strncmp(ep, "ipc://", 6) == 0)
		fd = net_connect(NULL, NULL, ep + 6, err, errsz);
	else if (strncmp(ep, "tcp://", 6) == 0 &&
	    (colon = strrchr(ep + 6, ':')) != NULL &&
	    (size_t)(colon - ep - 6) < sizeof(host)) {
		hp = ep + 6;
		memcpy(host, hp, (size_t)(colon - hp));
		host[colon - hp] = '\0';
		/* A bound wildcard is reached on loopback. */
		if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
			snprintf(host, sizeof(host), "127.0.0.1");
		fd = net_connect(host, colon + 1, NULL, err, errsz);
	} else {
		snprintf(err, errsz, "cannot check this kind of endpoint");
		return -1;
	}
	if (fd == -1)
		return 0;
	close(fd);
	return 1;
}

/* ------------------------------------------------------------- configs */

/*
 * The metrics: section of a config, read on its own (port 0 when the
 * config has none: no endpoint to ask).
 */
static void
read_metrics(const char *path, struct yl_metrics_conf *mc)
{
	struct yl_errs errs = { 0 };
	struct yl_ydoc *doc;
	const struct yl_ynode *m;
	char err[512];

	memset(mc, 0, sizeof(*mc));
	yl_conf_defaults(yl_metrics_spec, mc);
	if ((doc = yl_ydoc_load(path, err, sizeof(err))) == NULL)
		return;
	if (doc->root != NULL && (m = yl_ymap_get(doc->root, "metrics")) !=
	    NULL && yl_conf_apply(doc, m, yl_metrics_spec, mc, &errs) == -1)
		mc->port = 0;
	yl_errs_clear(&errs);
	yl_ydoc_free(&doc);
}

/* Adds "health" to d from the metrics endpoint; 0 if healthy or none. */
static int
check_health(struct status *s, json_t *d, const char *name,
    const char *path)
{
	struct yl_metrics_conf mc;
	char reason[512];
	int code;

	read_metrics(path, &mc);
	if (mc.port <= 0) {
		yl_conf_release(yl_metrics_spec, &mc);
		return 0;
	}
	code = get_health(mc.address ? mc.address : "127.0.0.1", mc.port,
	    reason, sizeof(reason));
	json_object_set_new(d, "health", json_pack("{s:s, s:I, s:i, s:s}",
	    "address", mc.address ? mc.address : "127.0.0.1",
	    "port", (json_int_t)mc.port, "code", code, "reason", reason));
	yl_conf_release(yl_metrics_spec, &mc);
	if (code == 200)
		return 0;
	if (code > 0)
		problem(s, "%s: unhealthy: %s", name, reason);
	return code > 0 ? -1 : 1;
}

/* -------------------------------------------------------------- kafka */

static rd_kafka_t *
kafka_handle(const struct yl_kv *kv, const char *group, char *err,
    size_t errsz)
{
	/* A handle that only reads: no commits, nothing joined. */
	struct yl_kafka_set set[] = {
		YL_KAFKA_FORCE("enable.auto.commit", "false"),
		YL_KAFKA_DEFAULT("client.id", "yalu-status"),
		YL_KAFKA_FORCE("group.id", group),	/* only with one */
		YL_KAFKA_END
	};
	rd_kafka_conf_t *conf;

	if (group == NULL)
		set[2].key = NULL;
	if ((conf = yl_kafka_conf_with(kv, set, "status", err, errsz)) ==
	    NULL)
		return NULL;
	return yl_kafka_new(RD_KAFKA_CONSUMER, conf, "status", err, errsz);
}

/* The partition count of topic, or -1 with the reason in err. */
static int
partitions(rd_kafka_t *rk, const char *topic, char *err, size_t errsz)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t e;
	int n = -1;

	e = rd_kafka_metadata(rk, 0, t, &md, ST_KAFKA_MS);
	rd_kafka_topic_destroy(t);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
		e = md->topics[0].err;
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		n = md->topics[0].partition_cnt;
	else
		snprintf(err, errsz, "%s", rd_kafka_err2str(e));
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	return n;
}

/*
 * The partitions of topic with their high watermarks in ->offset, and in
 * *total the messages they hold (high - low watermark). NULL with the
 * reason in err.
 */
static rd_kafka_topic_partition_list_t *
watermarks(rd_kafka_t *rk, const char *topic, long long *total, char *err,
    size_t errsz)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t e;
	int64_t lo, hi;
	int n, p;

	if ((n = partitions(rk, topic, err, errsz)) < 0)
		return NULL;
	l = rd_kafka_topic_partition_list_new(n);
	*total = 0;
	for (p = 0; p < n; p++) {
		e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi,
		    ST_KAFKA_MS);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(err, errsz, "[%d]: %s", p, rd_kafka_err2str(e));
			rd_kafka_topic_partition_list_destroy(l);
			return NULL;
		}
		rd_kafka_topic_partition_list_add(l, topic, p)->offset = hi;
		*total += hi - lo;
	}
	return l;
}

/* Messages written to topic in the last minute. -1 on failure. */
static long long
last_minute(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *hw)
{
	rd_kafka_topic_partition_list_t *l;
	long long n = 0, since = yl_now_ms() - ST_MINUTE_MS;
	int i;

	l = rd_kafka_topic_partition_list_copy(hw);
	for (i = 0; i < l->cnt; i++)
		l->elems[i].offset = since;
	if (rd_kafka_offsets_for_times(rk, l, ST_KAFKA_MS) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_topic_partition_list_destroy(l);
		return -1;
	}
	/* -1: nothing that recent in the partition. */
	for (i = 0; i < l->cnt; i++)
		if (l->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
		    l->elems[i].offset >= 0)
			n += hw->elems[i].offset - l->elems[i].offset;
	rd_kafka_topic_partition_list_destroy(l);
	return n;
}

/* Sum over partitions of high watermark - committed offset of group. */
static long long
group_lag(const struct yl_kv *kv, const char *group,
    const rd_kafka_topic_partition_list_t *hw, char *err, size_t errsz)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t e;
	rd_kafka_t *rk;
	long long lag = 0;
	int64_t lo, hi;
	int i;

	if ((rk = kafka_handle(kv, group, err, errsz)) == NULL)
		return -1;
	l = rd_kafka_topic_partition_list_copy(hw);
	e = rd_kafka_committed(rk, l, ST_KAFKA_MS);
	for (i = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && i < l->cnt; i++) {
		if (l->elems[i].offset >= 0) {
			lag += hw->elems[i].offset - l->elems[i].offset;
			continue;
		}
		/* Nothing committed: the group starts at the beginning. */
		if (rd_kafka_query_watermark_offsets(rk, l->elems[i].topic,
		    l->elems[i].partition, &lo, &hi,
		    ST_KAFKA_MS) == RD_KAFKA_RESP_ERR_NO_ERROR)
			lag += hw->elems[i].offset - lo;
	}
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errsz, "%s", rd_kafka_err2str(e));
		lag = -1;
	}
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
	return lag;
}

/* Members of a consumer group, or -1 with the reason in err. */
static int
group_members(rd_kafka_t *rk, const char *group, char *err, size_t errsz)
{
	const rd_kafka_ConsumerGroupDescription_t **g;
	const rd_kafka_error_t *ge;
	rd_kafka_AdminOptions_t *o;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	const char *groups[1] = { group };
	size_t n;
	int members = -1;
	char e[256];

	o = rd_kafka_AdminOptions_new(rk,
	    RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
	rd_kafka_AdminOptions_set_request_timeout(o, ST_KAFKA_MS, e, sizeof(e));
	q = rd_kafka_queue_new(rk);
	rd_kafka_DescribeConsumerGroups(rk, groups, 1, o, q);
	if ((ev = rd_kafka_queue_poll(q, ST_KAFKA_MS + 1000)) == NULL)
		snprintf(err, errsz, "timed out");
	else if (rd_kafka_event_error(ev))
		snprintf(err, errsz, "%s", rd_kafka_event_error_string(ev));
	else {
		g = rd_kafka_DescribeConsumerGroups_result_groups(
		    rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
		if (n != 1)
			snprintf(err, errsz, "no description");
		else if ((ge = rd_kafka_ConsumerGroupDescription_error(g[0])) !=
		    NULL)
			snprintf(err, errsz, "%s", rd_kafka_error_string(ge));
		else
			members = (int)rd_kafka_ConsumerGroupDescription_member_count(
			    g[0]);
	}
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(o);
	return members;
}

/* ------------------------------------------------------------ sections */

struct paths {
	char	ingest[1024], classify[1024], store[1024];
};

static void
daemon_ingest(struct status *s, const char *path)
{
	struct yl_errs errs = { 0 };
	struct ing_conf *c;
	json_t *d;
	char err[512];
	int up, h;

	d = json_pack("{s:s, s:s}", "name", "yalu-ingest", "config", path);
	json_array_append_new(json_object_get(s->out, "daemons"), d);
	if ((c = ing_conf_load(path, &errs)) == NULL) {
		json_object_set_new(d, "up", json_false());
		json_object_set_new(d, "error", json_string(errs.buf ?
		    errs.buf : "invalid config"));
		problem(s, "yalu-ingest: %s: config not readable", path);
		yl_errs_clear(&errs);
		return;
	}
	up = endpoint_up(c->listen, err, sizeof(err));
	json_object_set_new(d, "listen", json_string(c->listen));
	h = check_health(s, d, "yalu-ingest", path);
	json_object_set_new(d, "up", json_boolean(up == 1 || (h <= 0 &&
	    json_object_get(d, "health") != NULL)));
	if (up != 1 && !json_is_true(json_object_get(d, "up")))
		problem(s, "yalu-ingest: down (%s: %s)", c->listen, up == 0 ?
		    err : "not checked");
	ing_conf_free(&c);
}

/* yalu-classify or yalu-store: group members, /health. */
static void
daemon_group(struct status *s, const char *name, const char *path,
    const char *group)
{
	json_t *d;
	char err[512] = "";
	int members = -1, h;

	d = json_pack("{s:s, s:s, s:s}", "name", name, "config", path,
	    "group", group);
	json_array_append_new(json_object_get(s->out, "daemons"), d);
	if (s->kafka_ok && (members = group_members(s->rk, group, err,
	    sizeof(err))) < 0)
		json_object_set_new(d, "group_error", json_string(err));
	json_object_set_new(d, "members", json_integer(members));
	h = check_health(s, d, name, path);
	json_object_set_new(d, "up", json_boolean(members > 0 ||
	    (h <= 0 && json_object_get(d, "health") != NULL)));
	if (json_is_true(json_object_get(d, "up")))
		return;
	if (members == 0)
		problem(s, "%s: down (no member in group %s)", name, group);
	else
		problem(s, "%s: not seen (group %s unknown: %s)", name, group,
		    s->kafka_ok ? err : "Kafka unreachable");
}

/* One topic: size, last minute, and the lag of the group reading it. */
static void
topic_row(struct status *s, const struct yl_kv *kv, const char *topic,
    const char *group, const char *who)
{
	rd_kafka_topic_partition_list_t *hw;
	json_t *t;
	long long total, lag;
	char err[512];

	t = json_pack("{s:s}", "name", topic);
	json_array_append_new(json_object_get(s->out, "topics"), t);
	if ((hw = watermarks(s->rk, topic, &total, err, sizeof(err))) ==
	    NULL) {
		json_object_set_new(t, "error", json_string(err));
		problem(s, "kafka: %s: %s", topic, err);
		return;
	}
	json_object_set_new(t, "messages", json_integer(total));
	json_object_set_new(t, "last_minute", json_integer(last_minute(s->rk,
	    hw)));
	if (group != NULL) {
		lag = group_lag(kv, group, hw, err, sizeof(err));
		json_array_append_new(json_object_get(s->out, "lag"),
		    json_pack("{s:s, s:s, s:s, s:I}", "daemon", who, "group",
		    group, "topic", topic, "lag", (json_int_t)lag));
	}
	rd_kafka_topic_partition_list_destroy(hw);
}

struct rs_arg {
	json_t		*arr;
	const char	*current;
	long long	 total, older;
};

static int
ruleset_row(const char *rs, long long n, void *arg)
{
	struct rs_arg *a = arg;
	int older = sto_ruleset_older(rs, a->current);
	int current = a->current != NULL && rs != NULL &&
	    strcmp(rs, a->current) == 0;

	json_array_append_new(a->arr, json_pack("{s:s, s:I, s:b, s:b, s:b}",
	    "ruleset", rs ? rs : "", "reports", (json_int_t)n, "current",
	    current, "older", older, "newer", a->current != NULL && !current &&
	    !older));
	a->total += n;
	if (older)
		a->older += n;
	return 0;
}

static void
archive_section(struct status *s, const char *db, const char *current)
{
	struct rs_arg a = { json_array(), current, 0, 0 };
	json_t *ar;
	char err[1024];

	ar = json_pack("{s:s, s:s?}", "db", db, "current", current);
	json_object_set_new(s->out, "archive", ar);
	if (sto_archive_rulesets(db, ruleset_row, &a, err, sizeof(err)) ==
	    -1) {
		json_object_set_new(ar, "error", json_string(err));
		problem(s, "archive: %s", err);
		json_decref(a.arr);
		return;
	}
	json_object_set_new(ar, "reports", json_integer(a.total));
	json_object_set_new(ar, "older", json_integer(current ? a.older : -1));
	json_object_set_new(ar, "rulesets", a.arr);
}

/* --------------------------------------------------------------- text */

static long long
jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static const char *
jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v != NULL ? v : "";
}

static void
print_text(json_t *o)
{
	json_t *d, *t, *h, *ar, *r;
	size_t i, n, w = 14;

	n = json_array_size(json_object_get(o, "problems"));
	printf("yalu status: %s\n", n == 0 ? "OK" : "PROBLEMS");
	printf("kafka      %s: %s\n", json_object_get(o, "bootstrap") ?
	    jstr(o, "bootstrap") : "(no config)", json_is_true(
	    json_object_get(o, "kafka")) ? "reachable" : "UNREACHABLE");
	printf("daemons\n");
	json_array_foreach(json_object_get(o, "daemons"), i, d) {
		printf("  %-14s %-5s", jstr(d, "name"),
		    json_is_true(json_object_get(d, "up")) ? "up" : "DOWN");
		if (json_object_get(d, "listen"))
			printf(" %s", jstr(d, "listen"));
		if (json_object_get(d, "group") && jint(d, "members") >= 0)
			printf(" %lld in group %s", jint(d, "members"),
			    jstr(d, "group"));
		else if (json_object_get(d, "group"))
			printf(" group %s unknown", jstr(d, "group"));
		if ((h = json_object_get(d, "health")) != NULL)
			printf(", /health %s", jint(h, "code") == 200 ? "ok" :
			    jstr(h, "reason"));
		printf("\n");
	}
	if (!json_is_true(json_object_get(o, "kafka")))
		goto archive;
	json_array_foreach(json_object_get(o, "topics"), i, t)
		if (strlen(jstr(t, "name")) > w)
			w = strlen(jstr(t, "name"));
	printf("%-*s %12s %12s\n", (int)w + 2, "topics", "messages",
	    "last minute");
	json_array_foreach(json_object_get(o, "topics"), i, t) {
		if (json_object_get(t, "error"))
			printf("  %-*s %s\n", (int)w, jstr(t, "name"), jstr(t,
			    "error"));
		else
			printf("  %-*s %12lld %12lld\n", (int)w, jstr(t, "name"),
			    jint(t, "messages"), jint(t, "last_minute"));
	}
	printf("dead letters %lld\n", jint(o, "dlq"));
	printf("%-*s %12s\n", (int)w + 17, "consumer lag", "messages");
	json_array_foreach(json_object_get(o, "lag"), i, t)
		printf("  %-14s %-*s %12lld\n", jstr(t, "daemon"), (int)w,
		    jstr(t, "topic"), jint(t, "lag"));
archive:
	if ((ar = json_object_get(o, "archive")) != NULL) {
		printf("archive    %s: ", jstr(ar, "db"));
		if (json_object_get(ar, "error"))
			printf("%s\n", jstr(ar, "error"));
		else {
			printf("%lld reports\n", jint(ar, "reports"));
			json_array_foreach(json_object_get(ar, "rulesets"), i,
			    r)
				printf("  %-32s %10lld%s\n", jstr(r, "ruleset"),
				    jint(r, "reports"), json_is_true(
				    json_object_get(r, "current")) ?
				    "  current" : json_is_true(json_object_get(r,
				    "older")) ? "  older" : json_is_true(
				    json_object_get(r, "newer")) ?
				    "  newer than the current" : "");
			if (json_object_get(ar, "current") != NULL)
				printf("  %lld reports tagged by an older "
				    "ruleset than the current %s\n",
				    jint(ar, "older"), jstr(ar, "current"));
		}
	}
	json_array_foreach(json_object_get(o, "problems"), i, t)
		printf("problem: %s\n", json_string_value(t));
}

/* ---------------------------------------------------------------- main */

static void
status_usage(FILE *fp)
{
	fprintf(fp,
"usage: yalu status [--config-dir DIR] [--ingest F] [--classify F] [--store F]\n"
"                   [--db PATH] [--format text|json]\n"
"\n"
"One screen of pipeline health: each daemon up or down, Kafka, messages per\n"
"topic and in the last minute, consumer lag, dead letters, and the rulesets\n"
"in the archive with how many reports an older ruleset than the current\n"
"one tagged.\n"
"\n"
"  --config-dir DIR   the daemons' configs (default ./configs if it exists,\n"
"                     else %s)\n"
"  --ingest F, --classify F, --store F   one config file instead\n"
"  --db PATH          the archive (default: yalu-store's db:)\n"
"  --format FMT       text (default) or json\n"
"\n"
"Exit status: 0 when every daemon is up and healthy and Kafka and the\n"
"archive answer, 1 otherwise, 2 on bad usage.\n", YALU_SYSCONFDIR);
}

int
cli_cmd_status(int argc, char **argv)
{
	enum { O_DIR = 256, O_INGEST, O_CLASSIFY, O_STORE, O_DB, O_FORMAT,
	    O_HELP };
	static const struct option opts[] = {
		{ "config-dir", required_argument, NULL, O_DIR },
		{ "ingest", required_argument, NULL, O_INGEST },
		{ "classify", required_argument, NULL, O_CLASSIFY },
		{ "store", required_argument, NULL, O_STORE },
		{ "db", required_argument, NULL, O_DB },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *fi = NULL, *fc = NULL, *fs = NULL, *db = NULL;
	struct status s;
	struct cls_conf cc;
	struct sto_conf sc;
	struct yl_errs errs = { 0 };
	struct yl_tax *tax = NULL;
	const struct yl_kv *kv = NULL;
	struct paths p;
	char err[1024], bs[512];
	size_t bslen = sizeof(bs);
	int ch, json = 0, have_cls = 0, have_sto = 0, rc;
	long long dlq;
	rd_kafka_topic_partition_list_t *hw;
	rd_kafka_conf_t *kc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_DIR: dir = optarg; break;
		case O_INGEST: fi = optarg; break;
		case O_CLASSIFY: fc = optarg; break;
		case O_STORE: fs = optarg; break;
		case O_DB: db = optarg; break;
		case O_FORMAT:
			if (strcmp(optarg, "json") == 0)
				json = 1;
			else if (strcmp(optarg, "text") != 0) {
				fprintf(stderr, "yalu: status: --format '%s': "
				    "expected text or json\n", optarg);
				return 2;
			}
			break;
		case 'h':
		case O_HELP:
			status_usage(stdout);
			return 0;
		default:
			status_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		status_usage(stderr);
		return 2;
	}
	if (dir == NULL)
		dir = access("configs", F_OK) == 0 ? "configs" :
		    YALU_SYSCONFDIR;
	snprintf(p.ingest, sizeof(p.ingest), "%s/yalu-ingest.yaml", dir);
	snprintf(p.classify, sizeof(p.classify), "%s/yalu-classify.yaml", dir);
	snprintf(p.store, sizeof(p.store), "%s/yalu-store.yaml", dir);
	if (fi != NULL)
		snprintf(p.ingest, sizeof(p.ingest), "%s", fi);
	if (fc != NULL)
		snprintf(p.classify, sizeof(p.classify), "%s", fc);
	if (fs != NULL)
		snprintf(p.store, sizeof(p.store), "%s", fs);

	memset(&s, 0, sizeof(s));
	s.out = json_pack("{s:[], s:[], s:[]}", "daemons", "topics", "lag");
	s.problems = json_array();
	memset(&cc, 0, sizeof(cc));
	memset(&sc, 0, sizeof(sc));
	if (cls_conf_load(p.classify, &cc, &errs) == 0) {
		have_cls = 1;
		kv = &cc.kafka;
	} else
		problem(&s, "yalu-classify: %s: config not readable",
		    p.classify);
	yl_errs_clear(&errs);
	if (sto_conf_load(p.store, &sc, &errs) == 0) {
		have_sto = 1;
		if (kv == NULL)
			kv = &sc.kafka;
	} else
		problem(&s, "yalu-store: %s: config not readable", p.store);
	yl_errs_clear(&errs);

	/* Kafka, through the classifier's (else the store's) kafka: map. */
	if (kv != NULL && (s.rk = kafka_handle(kv, NULL, err,
	    sizeof(err))) != NULL) {
		kc = yl_kafka_conf(kv, err, sizeof(err));
		if (kc != NULL && rd_kafka_conf_get(kc, "bootstrap.servers", bs,
		    &bslen) == RD_KAFKA_CONF_OK)
			json_object_set_new(s.out, "bootstrap", json_string(bs));
		if (kc != NULL)
			rd_kafka_conf_destroy(kc);
		s.kafka_ok = partitions(s.rk, have_cls ? cc.topics.raw.name :
		    sc.topics.raw.name, err, sizeof(err)) > 0;
		if (!s.kafka_ok)
			problem(&s, "kafka: unreachable: %s", err);
	} else if (kv != NULL)
		problem(&s, "%s", err);
	json_object_set_new(s.out, "kafka", json_boolean(s.kafka_ok));

	daemon_ingest(&s, p.ingest);
	if (have_cls)
		daemon_group(&s, "yalu-classify", p.classify, cc.group);
	if (have_sto)
		daemon_group(&s, "yalu-store", p.store, sc.group);
	if (s.kafka_ok) {
		const struct yl_topics *tp = have_cls ? &cc.topics :
		    &sc.topics;

		topic_row(&s, kv, tp->raw.name, have_cls ? cc.group : NULL,
		    "yalu-classify");
		topic_row(&s, kv, tp->tagged.name, have_sto ? sc.group : NULL,
		    "yalu-store");
		topic_row(&s, kv, tp->dlq.name, NULL, NULL);
		if ((hw = watermarks(s.rk, tp->dlq.name, &dlq, err,
		    sizeof(err))) != NULL) {
			json_object_set_new(s.out, "dlq", json_integer(dlq));
			rd_kafka_topic_partition_list_destroy(hw);
		}
	}
	/* The current ruleset: what yalu-classify's taxonomy is now. */
	if (have_cls && (tax = yl_tax_load(cls_conf_taxonomy(&cc), err,
	    sizeof(err))) == NULL)
		problem(&s, "yalu-classify: taxonomy %s: not loadable",
		    cls_conf_taxonomy(&cc));
	if (db == NULL && have_sto)
		db = sc.db;
	if (db != NULL)
		archive_section(&s, db, tax ? yl_tax_ruleset(tax) : NULL);

	rc = json_array_size(s.problems) == 0 ? 0 : 1;
	json_object_set_new(s.out, "ok", json_boolean(rc == 0));
	json_object_set(s.out, "problems", s.problems);
	if (json) {
		json_dumpf(s.out, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
	} else
		print_text(s.out);
	fflush(stdout);
	yl_tax_free(&tax);
	if (s.rk != NULL)
		rd_kafka_destroy(s.rk);
	json_decref(s.problems);
	json_decref(s.out);
	cls_conf_release(&cc);
	sto_conf_release(&sc);
	return rc;
}
