/*
 * check_metrics.c - the Prometheus registry: exact exposition text for
 * counters, gauges and histograms, label and name checking, the loopback
 * rule, and the HTTP endpoint over a real loopback socket (GET /metrics,
 * /health, 404, 405, HEAD), including scrapes racing updates; series
 * removal and the consumer lag gauges read from librdkafka statistics;
 * the metric sets of yalu-ingest and yalu-store.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "yalu/kafka.h"
#include "yalu/metrics.h"

#include "ingest.h"
#include "sto_int.h"

/* ---------------------------------------------------------- helpers */

static char *
render(struct yl_metrics *m)
{
	char *text = NULL;
	size_t len = 0;

	ck_assert_int_eq(yl_metrics_render(m, &text, &len), 0);
	ck_assert_uint_eq(strlen(text), len);
	return text;
}

struct http_reply {
	int	 status;
	char	 head[2048];	/* status line and headers */
	char	*body;		/* malloc'ed, NUL-terminated */
	size_t	 bodylen;
};

/*
 * One HTTP/1.1 request over a plain TCP socket to family/port (loopback),
 * read to EOF (Connection: close). Returns 0, or -1 if the exchange failed.
 */
static int
http(int family, int port, const char *method, const char *path,
    struct http_reply *r)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct timeval tv = { 5, 0 };
	char req[512], *buf = NULL, *sep;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd;

	memset(r, 0, sizeof(*r));
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	}
	if ((fd = socket(family, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, sl) == -1)
		goto fail;
	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\n"
	    "Connection: close\r\n\r\n", method, path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		goto fail;
	for (;;) {
		if (cap - len < 4096) {
			char *p = realloc(buf, cap = cap * 2 + 4096);

			if (p == NULL)
				goto fail;
			buf = p;
		}
		if ((n = read(fd, buf + len, cap - len - 1)) < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if ((sep = strstr(buf, "\r\n\r\n")) == NULL ||
	    sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1 ||
	    (size_t)(sep - buf) >= sizeof(r->head)) {
		free(buf);
		return -1;
	}
	memcpy(r->head, buf, (size_t)(sep - buf));
	r->head[sep - buf] = '\0';
	r->bodylen = len - (size_t)(sep + 4 - buf);
	if ((r->body = malloc(r->bodylen + 1)) == NULL) {
		free(buf);
		return -1;
	}
	memcpy(r->body, sep + 4, r->bodylen + 1);
	free(buf);
	return 0;
fail:
	close(fd);
	free(buf);
	return -1;
}

static struct yl_metrics *
new_server(void)
{
	struct yl_metrics_conf conf = { NULL, YL_METRICS_PORT_ANY, 0 };
	struct yl_metrics *m;
	char err[256] = "";

	m = yl_metrics_new(&conf, err, sizeof(err));
	ck_assert_msg(m != NULL, "yl_metrics_new: %s", err);
	ck_assert_int_gt(yl_metrics_port(m), 0);
	return m;
}

/* Does text hold exactly this line? */
static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p++;
	}
	return 0;
}

#define ASSERT_LINE(text, line) \
	ck_assert_msg(has_line(text, line), "no line '%s' in:\n%s", line, text)
#define ASSERT_NO(text, sub) \
	ck_assert_msg(strstr(text, sub) == NULL, "'%s' in:\n%s", sub, text)

/* ------------------------------------------------------------ tests */

START_TEST(test_render_counters_and_gauges_exact_lines)
{
	struct yl_metrics *m = yl_metrics_new(NULL, NULL, 0);
	struct yl_metric *recv, *inflight;
	char *text;

	ck_assert_ptr_nonnull(m);
	recv = yl_metrics_counter(m, "yalu_reports_received_total",
	    "Reports received.", NULL);
	ck_assert_ptr_nonnull(recv);
	ck_assert_int_eq(yl_metrics_declare(m, YL_METRIC_COUNTER,
	    "yalu_reports_refused_total", "Reports refused, by reason.", NULL,
	    0), 0);
	inflight = yl_metrics_gauge(m, "yalu_kafka_inflight",
	    "Messages awaiting a delivery report.", NULL);
	yl_metric_inc(recv);
	yl_metric_inc(recv);
	yl_metric_add(recv, 3);
	ck_assert_int_eq(yl_metrics_counter_add(m, "yalu_reports_refused_total",
	    "reason=\"invalid_utf8\"", 1), 0);
	ck_assert_int_eq(yl_metrics_counter_add(m, "yalu_reports_refused_total",
	    "reason=\"too_big\"", 2), 0);
	ck_assert_int_eq(yl_metrics_counter_add(m, "yalu_reports_refused_total",
	    "reason=\"invalid_utf8\"", 1), 0);
	yl_metric_set(inflight, 7);
	yl_metric_add(inflight, -2.5);

	text = render(m);
	ck_assert_str_eq(text,
	    "# HELP yalu_reports_received_total Reports received.\n"
	    "# TYPE yalu_reports_received_total counter\n"
	    "yalu_reports_received_total 5\n"
	    "# HELP yalu_reports_refused_total Reports refused, by reason.\n"
	    "# TYPE yalu_reports_refused_total counter\n"
	    "yalu_reports_refused_total{reason=\"invalid_utf8\"} 2\n"
	    "yalu_reports_refused_total{reason=\"too_big\"} 2\n"
	    "# HELP yalu_kafka_inflight Messages awaiting a delivery report.\n"
	    "# TYPE yalu_kafka_inflight gauge\n"
	    "yalu_kafka_inflight 4.5\n");
	free(text);
	yl_metrics_free(&m);
	ck_assert_ptr_null(m);
	yl_metrics_free(&m);	/* NULL is fine */
}
END_TEST

START_TEST(test_histogram_buckets_are_cumulative_with_sum_and_count)
{
	static const double b[] = { 0.001, 0.01, 0.1 };
	struct yl_metrics *m = yl_metrics_new(NULL, NULL, 0);
	struct yl_metric *h;
	char *text;

	h = yl_metrics_histogram(m, "yalu_classify_seconds",
	    "Time to classify one report.", NULL, b, 3);
	ck_assert_ptr_nonnull(h);
	yl_metric_observe(h, 0.0005);
	yl_metric_observe(h, 0.001);	/* on a bound: le is inclusive */
	yl_metric_observe(h, 0.05);
	yl_metric_observe(h, 2);	/* only +Inf */
	yl_metric_observe(h, NAN);	/* ignored */
	ck_assert_int_eq(yl_metrics_observe(m, "yalu_classify_seconds",
	    "stage=\"scan\"", 0.02), 0);
	text = render(m);
	ck_assert_str_eq(text,
	    "# HELP yalu_classify_seconds Time to classify one report.\n"
	    "# TYPE yalu_classify_seconds histogram\n"
	    "yalu_classify_seconds_bucket{le=\"0.001\"} 2\n"
	    "yalu_classify_seconds_bucket{le=\"0.01\"} 2\n"
	    "yalu_classify_seconds_bucket{le=\"0.1\"} 3\n"
	    "yalu_classify_seconds_bucket{le=\"+Inf\"} 4\n"
	    "yalu_classify_seconds_sum 2.0515\n"
	    "yalu_classify_seconds_count 4\n"
	    "yalu_classify_seconds_bucket{stage=\"scan\",le=\"0.001\"} 0\n"
	    "yalu_classify_seconds_bucket{stage=\"scan\",le=\"0.01\"} 0\n"
	    "yalu_classify_seconds_bucket{stage=\"scan\",le=\"0.1\"} 1\n"
	    "yalu_classify_seconds_bucket{stage=\"scan\",le=\"+Inf\"} 1\n"
	    "yalu_classify_seconds_sum{stage=\"scan\"} 0.02\n"
	    "yalu_classify_seconds_count{stage=\"scan\"} 1\n");
	free(text);
	yl_metrics_free(&m);
}
END_TEST

START_TEST(test_latency_buckets_increase_and_declare_again)
{
	struct yl_metrics *m = yl_metrics_new(NULL, NULL, 0);
	static const double other[] = { 1, 2 };
	static const double unsorted[] = { 2, 1 };
	size_t i;

	ck_assert_uint_gt(yl_metrics_latency_nbuckets, 10);
	for (i = 1; i < yl_metrics_latency_nbuckets; i++)
		ck_assert(yl_metrics_latency_buckets[i] >
		    yl_metrics_latency_buckets[i - 1]);
	ck_assert_int_eq(yl_metrics_declare(m, YL_METRIC_HISTOGRAM, "lat",
	    NULL, yl_metrics_latency_buckets, yl_metrics_latency_nbuckets), 0);
	/* Same again is fine and fills in the HELP; anything else is not. */
	ck_assert_int_eq(yl_metrics_declare(m, YL_METRIC_HISTOGRAM, "lat",
	    "Latency.", yl_metrics_latency_buckets,
	    yl_metrics_latency_nbuckets), 0);
	ck_assert_int_eq(yl_metrics_declare(m, YL_METRIC_HISTOGRAM, "lat",
	    NULL, other, 2), -1);
	ck_assert_int_eq(yl_metrics_declare(m, YL_METRIC_GAUGE, "lat", NULL,
	    NULL, 0), -1);
	ck_assert_int_eq(yl_metrics_declare(m, YL_METRIC_HISTOGRAM, "h2",
	    NULL, unsorted, 2), -1);
	ck_assert_int_eq(yl_metrics_declare(m, YL_METRIC_HISTOGRAM, "h3",
	    NULL, NULL, 0), -1);
	ck_assert_int_eq(yl_metrics_declare(m, YL_METRIC_COUNTER, "c", NULL,
	    other, 2), -1);
	yl_metrics_free(&m);
}
END_TEST

START_TEST(test_by_name_updates_declare_and_refuse_misuse)
{
	struct yl_metrics *m = yl_metrics_new(NULL, NULL, 0);
	char *text;

	/* An undeclared counter is declared on the spot, without HELP. */
	ck_assert_int_eq(yl_metrics_counter_add(m, "yalu_dlq_total",
	    "stage=\"store\"", 1), 0);
	ck_assert_int_eq(yl_metrics_gauge_set(m, "yalu_lag", NULL, 12), 0);
	/* Wrong type, negative increment, undeclared histogram. */
	ck_assert_int_eq(yl_metrics_gauge_set(m, "yalu_dlq_total",
	    "stage=\"store\"", 1), -1);
	ck_assert_int_eq(yl_metrics_gauge_set(m, "yalu_dlq_total", NULL, 1),
	    -1);
	ck_assert_int_eq(yl_metrics_counter_add(m, "yalu_dlq_total",
	    "stage=\"store\"", -1), -1);
	ck_assert_int_eq(yl_metrics_counter_add(m, "yalu_lag", NULL, 1), -1);
	ck_assert_int_eq(yl_metrics_observe(m, "yalu_nope_seconds", NULL, 1),
	    -1);
	/* Handles that do not fit are ignored, NULL handles too. */
	yl_metric_set(yl_metrics_get(m, "yalu_dlq_total", "stage=\"store\""),
	    99);
	yl_metric_observe(yl_metrics_get(m, "yalu_lag", NULL), 1);
	yl_metric_inc(NULL);
	yl_metric_set(NULL, 1);
	yl_metric_observe(NULL, 1);
	ck_assert_ptr_null(yl_metrics_get(m, "undeclared", NULL));

	text = render(m);
	ck_assert_str_eq(text,
	    "# TYPE yalu_dlq_total counter\n"
	    "yalu_dlq_total{stage=\"store\"} 1\n"
	    "# TYPE yalu_lag gauge\n"
	    "yalu_lag 12\n");
	free(text);
	yl_metrics_free(&m);
}
END_TEST

START_TEST(test_names_and_labels_are_checked)
{
	static const double b[] = { 1 };
	struct yl_metrics *m = yl_metrics_new(NULL, NULL, 0);
	char q[64];

	ck_assert_ptr_null(yl_metrics_counter(m, "9lives", NULL, NULL));
	ck_assert_ptr_null(yl_metrics_counter(m, "a-b", NULL, NULL));
	ck_assert_ptr_null(yl_metrics_counter(m, "", NULL, NULL));
	ck_assert_ptr_nonnull(yl_metrics_counter(m, "ns:ok_total", NULL,
	    NULL));
	ck_assert_ptr_nonnull(yl_metrics_counter(m, "c", NULL,
	    "a=\"x\",b=\"q\\\"uo\\\\te\\n\""));
	ck_assert_ptr_null(yl_metrics_counter(m, "c", NULL, "a=x"));
	ck_assert_ptr_null(yl_metrics_counter(m, "c", NULL, "a=\"x\","));
	ck_assert_ptr_null(yl_metrics_counter(m, "c", NULL, "a=\"x"));
	ck_assert_ptr_null(yl_metrics_counter(m, "c", NULL, "a=\"x\",a=\"y\""));
	ck_assert_ptr_null(yl_metrics_counter(m, "c", NULL, "__a=\"x\""));
	ck_assert_ptr_null(yl_metrics_counter(m, "c", NULL, "a=\"\\t\""));
	ck_assert_ptr_null(yl_metrics_counter(m, "c", NULL, "a=\"x\ny\""));
	ck_assert_ptr_null(yl_metrics_counter(m, "c", NULL, "1a=\"x\""));
	ck_assert_ptr_null(yl_metrics_counter(m, "c", NULL, " a=\"x\""));
	ck_assert_ptr_null(yl_metrics_histogram(m, "h", NULL, "le=\"1\"", b,
	    1));
	ck_assert_ptr_nonnull(yl_metrics_counter(m, "c2", NULL, "le=\"1\""));

	ck_assert_int_eq(yl_metrics_label_escape("a\"b\\c\nd", q, sizeof(q)),
	    0);
	ck_assert_str_eq(q, "\"a\\\"b\\\\c\\nd\"");
	ck_assert_int_eq(yl_metrics_label_escape("abcdef", q, 8), -1);
	ck_assert_int_eq(yl_metrics_label_escape("abcdef", q, 9), 0);
	ck_assert_str_eq(q, "\"abcdef\"");
	yl_metrics_free(&m);
}
END_TEST

START_TEST(test_values_and_help_are_formatted_for_prometheus)
{
	struct yl_metrics *m = yl_metrics_new(NULL, NULL, 0);
	char *text;

	yl_metric_set(yl_metrics_gauge(m, "g_tenth", "a\\b\nc", NULL), 0.1);
	yl_metric_set(yl_metrics_gauge(m, "g_big", NULL, NULL), 1e20);
	yl_metric_set(yl_metrics_gauge(m, "g_neg", NULL, NULL), -3);
	yl_metric_set(yl_metrics_gauge(m, "g_third", NULL, NULL), 1.0 / 3);
	yl_metric_set(yl_metrics_gauge(m, "g_nan", NULL, NULL), NAN);
	yl_metric_set(yl_metrics_gauge(m, "g_inf", NULL, NULL), -INFINITY);
	yl_metric_add(yl_metrics_counter(m, "c_huge", NULL, NULL),
	    9007199254740992.0);
	text = render(m);
	ck_assert_str_eq(text,
	    "# HELP g_tenth a\\\\b\\nc\n"
	    "# TYPE g_tenth gauge\n"
	    "g_tenth 0.1\n"
	    "# TYPE g_big gauge\n"
	    "g_big 1e+20\n"
	    "# TYPE g_neg gauge\n"
	    "g_neg -3\n"
	    "# TYPE g_third gauge\n"
	    "g_third 0.3333333333333333\n"
	    "# TYPE g_nan gauge\n"
	    "g_nan NaN\n"
	    "# TYPE g_inf gauge\n"
	    "g_inf -Inf\n"
	    "# TYPE c_huge counter\n"
	    "c_huge 9007199254740992\n");
	free(text);
	yl_metrics_free(&m);
}
END_TEST

START_TEST(test_check_refuses_non_loopback_unless_allowed)
{
	struct yl_metrics_conf c = { NULL, 9464, 0 };
	struct yl_metrics *m;
	char err[256];

	ck_assert_int_eq(yl_metrics_check(&c, err, sizeof(err)), 0);
	c.address = "127.0.0.53";
	ck_assert_int_eq(yl_metrics_check(&c, err, sizeof(err)), 0);
	c.address = "::1";
	ck_assert_int_eq(yl_metrics_check(&c, err, sizeof(err)), 0);
	c.address = "localhost";
	ck_assert_int_eq(yl_metrics_check(&c, err, sizeof(err)), 0);
	c.address = "0.0.0.0";
	ck_assert_int_eq(yl_metrics_check(&c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "metrics: address '0.0.0.0' is not loopback "
	    "(set allow_remote: true to serve metrics beyond this host)");
	c.address = "::";
	ck_assert_int_eq(yl_metrics_check(&c, err, sizeof(err)), -1);
	c.address = "10.1.2.3";
	ck_assert_int_eq(yl_metrics_check(&c, err, sizeof(err)), -1);
	c.allow_remote = 1;
	ck_assert_int_eq(yl_metrics_check(&c, err, sizeof(err)), 0);
	c.address = "metrics.example.org";
	ck_assert_int_eq(yl_metrics_check(&c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "metrics: address 'metrics.example.org': not a "
	    "numeric IPv4 or IPv6 address");
	c.address = NULL;
	c.port = 70000;
	ck_assert_int_eq(yl_metrics_check(&c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "metrics: port 70000 out of range 0..65535");

	/* yl_metrics_new refuses the same, before binding anything. */
	c.address = "0.0.0.0";
	c.port = YL_METRICS_PORT_ANY;
	c.allow_remote = 0;
	m = yl_metrics_new(&c, err, sizeof(err));
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(err, "is not loopback"));
}
END_TEST

START_TEST(test_port_zero_counts_without_a_server)
{
	struct yl_metrics_conf c = { NULL, 0, 0 };
	struct yl_metrics *m;
	char err[256], *text;

	m = yl_metrics_new(&c, err, sizeof(err));
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(yl_metrics_port(m), 0);
	ck_assert_int_eq(yl_metrics_counter_add(m, "x_total", NULL, 1), 0);
	text = render(m);
	ck_assert_str_eq(text, "# TYPE x_total counter\nx_total 1\n");
	free(text);
	yl_metrics_free(&m);
}
END_TEST

START_TEST(test_http_serves_metrics_and_health_on_loopback)
{
	struct yl_metrics *m = new_server();
	struct http_reply r;
	char *text;
	int port = yl_metrics_port(m);

	yl_metric_add(yl_metrics_counter(m, "yalu_reports_received_total",
	    "Reports received.", NULL), 42);
	yl_metrics_counter_add(m, "yalu_reports_refused_total",
	    "reason=\"invalid_utf8\"", 3);

	ck_assert_int_eq(http(AF_INET, port, "GET", "/metrics", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nContent-Type: text/plain; "
	    "version=0.0.4; charset=utf-8"));
	text = render(m);
	ck_assert_str_eq(r.body, text);
	ck_assert_ptr_nonnull(strstr(r.body,
	    "\nyalu_reports_received_total 42\n"));
	ck_assert_ptr_nonnull(strstr(r.body,
	    "\nyalu_reports_refused_total{reason=\"invalid_utf8\"} 3\n"));
	free(text);
	free(r.body);

	/* Unhealthy until the daemon says otherwise. */
	ck_assert_int_eq(http(AF_INET, port, "GET", "/health", &r), 0);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body, "starting\n");
	free(r.body);
	yl_metrics_set_health(m, 1, NULL);
	ck_assert_int_eq(http(AF_INET, port, "GET", "/health", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ok\n");
	free(r.body);
	yl_metrics_set_health(m, 0, "kafka: no broker reachable\nfor 30 s");
	ck_assert_int_eq(http(AF_INET, port, "GET", "/health", &r), 0);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body, "kafka: no broker reachable for 30 s\n");
	free(r.body);

	ck_assert_int_eq(http(AF_INET, port, "GET", "/", &r), 0);
	ck_assert_int_eq(r.status, 404);
	free(r.body);
	ck_assert_int_eq(http(AF_INET, port, "POST", "/metrics", &r), 0);
	ck_assert_int_eq(r.status, 405);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nAllow: GET, HEAD"));
	free(r.body);
	ck_assert_int_eq(http(AF_INET, port, "HEAD", "/metrics", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.bodylen, 0);
	free(r.body);

	yl_metrics_free(&m);
	/* The port is closed once yl_metrics_free returns. */
	ck_assert_int_eq(http(AF_INET, port, "GET", "/health", &r), -1);
}
END_TEST

START_TEST(test_http_port_in_use_is_reported)
{
	struct yl_metrics *a = new_server(), *b;
	struct yl_metrics_conf c = { "127.0.0.1", 0, 0 };
	char err[256] = "", want[64];

	c.port = yl_metrics_port(a);
	b = yl_metrics_new(&c, err, sizeof(err));
	ck_assert_ptr_null(b);
	snprintf(want, sizeof(want), "metrics: 127.0.0.1:%lld: ", c.port);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "err: %s", err);
	ck_assert_msg(strstr(err, "in use") != NULL, "err: %s", err);
	yl_metrics_free(&a);
}
END_TEST

START_TEST(test_http_on_ipv6_loopback)
{
	struct yl_metrics_conf c = { "::1", YL_METRICS_PORT_ANY, 0 };
	struct sockaddr_in6 probe;
	struct yl_metrics *m;
	struct http_reply r;
	char err[256] = "";
	int fd;

	/* Containers without IPv6 cannot bind ::1; nothing to test there. */
	memset(&probe, 0, sizeof(probe));
	probe.sin6_family = AF_INET6;
	probe.sin6_addr = in6addr_loopback;
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&probe,
	    sizeof(probe)) == -1) {
		if (fd != -1)
			close(fd);
		fprintf(stderr, "SKIP test_http_on_ipv6_loopback: no ::1\n");
		return;
	}
	close(fd);
	m = yl_metrics_new(&c, err, sizeof(err));
	ck_assert_msg(m != NULL, "yl_metrics_new: %s", err);
	yl_metrics_set_health(m, 1, NULL);
	ck_assert_int_eq(http(AF_INET6, yl_metrics_port(m), "GET", "/health",
	    &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ok\n");
	free(r.body);
	yl_metrics_free(&m);
}
END_TEST

struct scraper {
	int		port;
	_Atomic int	scrapes;
	_Atomic int	failures;
	_Atomic int	stop;
};

static void *
scrape_loop(void *arg)
{
	struct scraper *s = arg;
	struct http_reply r;

	while (!s->stop) {
		if (http(AF_INET, s->port, "GET", "/metrics", &r) == -1 ||
		    r.status != 200)
			s->failures++;
		free(r.body);
		s->scrapes++;
	}
	return NULL;
}

START_TEST(test_scrapes_race_updates_from_the_main_thread)
{
	struct yl_metrics *m = new_server();
	struct scraper s = { 0, 0, 0, 0 };
	struct yl_metric *c, *h;
	pthread_t t;
	char *text;
	int i;

	c = yl_metrics_counter(m, "n_total", NULL, NULL);
	h = yl_metrics_histogram(m, "lat_seconds", NULL, NULL,
	    yl_metrics_latency_buckets, yl_metrics_latency_nbuckets);
	s.port = yl_metrics_port(m);
	ck_assert_int_eq(pthread_create(&t, NULL, scrape_loop, &s), 0);
	for (i = 0; i < 200000; i++) {
		yl_metric_inc(c);
		yl_metric_observe(h, (i % 100) * 0.001);
		if (i % 1000 == 0)
			yl_metrics_counter_add(m, "by_name_total",
			    "k=\"v\"", 1);
	}
	/* Let at least a few scrapes overlap, however fast the loop was. */
	while (s.scrapes < 5)
		usleep(1000);
	s.stop = 1;
	pthread_join(t, NULL);
	ck_assert_int_eq(s.failures, 0);
	text = render(m);
	ck_assert_ptr_nonnull(strstr(text, "\nn_total 200000\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "\nlat_seconds_bucket{le=\"+Inf\"} 200000\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nby_name_total{k=\"v\"} 200\n"));
	free(text);
	yl_metrics_free(&m);
}
END_TEST

START_TEST(test_remove_drops_one_series_and_keeps_the_order)
{
	struct yl_metrics *m = yl_metrics_new(NULL, NULL, 0);
	char *text;

	yl_metrics_gauge_set(m, "lag", "p=\"0\"", 1);
	yl_metrics_gauge_set(m, "lag", "p=\"1\"", 2);
	yl_metrics_gauge_set(m, "lag", "p=\"2\"", 3);
	ck_assert_int_eq(yl_metrics_remove(m, "lag", "p=\"1\""), 0);
	ck_assert_int_eq(yl_metrics_remove(m, "lag", "p=\"1\""), -1);
	ck_assert_int_eq(yl_metrics_remove(m, "nosuch", NULL), -1);
	/* The last one goes, then a new one must follow the first. */
	ck_assert_int_eq(yl_metrics_remove(m, "lag", "p=\"2\""), 0);
	yl_metrics_gauge_set(m, "lag", "p=\"3\"", 4);
	/* Back again: a new series, from zero. */
	yl_metrics_gauge_set(m, "lag", "p=\"1\"", 5);
	text = render(m);
	ck_assert_str_eq(text,
	    "# TYPE lag gauge\n"
	    "lag{p=\"0\"} 1\n"
	    "lag{p=\"3\"} 4\n"
	    "lag{p=\"1\"} 5\n");
	free(text);
	/* The only series of a family: the family stays, empty. */
	yl_metrics_counter_add(m, "c_total", NULL, 1);
	ck_assert_int_eq(yl_metrics_remove(m, "c_total", NULL), 0);
	yl_metrics_counter_add(m, "c_total", NULL, 2);
	text = render(m);
	ASSERT_LINE(text, "c_total 2");
	free(text);
	yl_metrics_free(&m);
}
END_TEST

/*
 * The part of a librdkafka statistics document the lag comes from, as
 * librdkafka 2.0 writes it: the "-1" pseudo-partition, owned partitions
 * ("desired") with and without a stored offset, one no longer owned, one
 * owned whose offsets are not known yet, one owned where the group has
 * finished nothing (all it holds is lag).
 */
static const char stats1[] =
    "{\"name\":\"rdkafka#consumer-1\",\"type\":\"consumer\",\"topics\":{"
    "\"reports.raw\":{\"topic\":\"reports.raw\",\"partitions\":{"
    "\"-1\":{\"partition\":-1,\"desired\":false,\"consumer_lag\":-1,"
    "\"consumer_lag_stored\":-1},"
    "\"0\":{\"partition\":0,\"desired\":true,\"consumer_lag\":9,"
    "\"consumer_lag_stored\":5},"
    "\"1\":{\"partition\":1,\"desired\":true,\"consumer_lag\":3,"
    "\"consumer_lag_stored\":-1},"
    "\"2\":{\"partition\":2,\"desired\":false,\"consumer_lag\":7,"
    "\"consumer_lag_stored\":7},"
    "\"3\":{\"partition\":3,\"desired\":true,\"consumer_lag\":-1,"
    "\"consumer_lag_stored\":-1,\"lo_offset\":-1001,\"hi_offset\":-1001},"
    "\"4\":{\"partition\":4,\"desired\":true,\"consumer_lag\":-1,"
    "\"consumer_lag_stored\":-1,\"lo_offset\":10,\"hi_offset\":12,"
    "\"ls_offset\":12}}}}}";
/* Later: partition 0 revoked, partition 1 caught up. */
static const char stats2[] =
    "{\"topics\":{\"reports.raw\":{\"partitions\":{"
    "\"0\":{\"partition\":0,\"desired\":false,\"consumer_lag\":4,"
    "\"consumer_lag_stored\":4},"
    "\"1\":{\"partition\":1,\"desired\":true,\"consumer_lag\":0,"
    "\"consumer_lag_stored\":0}}}}}";

START_TEST(test_lag_gauges_follow_the_partitions_owned)
{
	struct yl_metrics *m = yl_metrics_new(NULL, NULL, 0);
	struct yl_kafka_lag *l;
	char *text;

	l = yl_kafka_lag_new(m, "yalu_t_consumer_lag", "Lag.");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(yl_kafka_lag_update(l, stats1, strlen(stats1)), 3);
	text = render(m);
	ck_assert_str_eq(text,
	    "# HELP yalu_t_consumer_lag Lag.\n"
	    "# TYPE yalu_t_consumer_lag gauge\n"
	    "yalu_t_consumer_lag{topic=\"reports.raw\",partition=\"0\"} 5\n"
	    "yalu_t_consumer_lag{topic=\"reports.raw\",partition=\"1\"} 3\n"
	    "yalu_t_consumer_lag{topic=\"reports.raw\",partition=\"4\"} 2\n");
	free(text);

	/* Not statistics: nothing changes. */
	ck_assert_int_eq(yl_kafka_lag_update(l, "{\"x\":1}", 7), -1);
	ck_assert_int_eq(yl_kafka_lag_update(l, "not json", 8), -1);
	ck_assert_int_eq(yl_kafka_lag_update(l, stats2, strlen(stats2)), 1);
	text = render(m);
	ASSERT_LINE(text,
	    "yalu_t_consumer_lag{topic=\"reports.raw\",partition=\"1\"} 0");
	ASSERT_NO(text, "partition=\"0\"");
	ASSERT_NO(text, "partition=\"4\"");
	free(text);

	yl_kafka_lag_clear(l);
	text = render(m);
	ASSERT_NO(text, "partition=");
	free(text);
	yl_kafka_lag_free(&l);
	ck_assert_ptr_null(l);
	yl_metrics_free(&m);
}
END_TEST

START_TEST(test_ingest_metrics_show_every_refusal_reason_from_the_start)
{
	static const char *const reasons[] = { "no_envelope", "frames",
	    "too_large", "invalid_utf8", "not_json", "bad_field", "empty",
	    "kafka", "shutting_down", "file_type", "internal" };
	struct ing_metrics *im;
	char err[256], line[128], *text;
	size_t i;

	im = ing_metrics_new(NULL, err, sizeof(err));
	ck_assert_msg(im != NULL, "%s", err);
	text = render(ing_metrics_registry(im));
	ck_assert_uint_eq(sizeof(reasons) / sizeof(reasons[0]),
	    ING_R_MAX - 1);
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		snprintf(line, sizeof(line),
		    "yalu_ingest_refused_total{reason=\"%s\"} 0", reasons[i]);
		ASSERT_LINE(text, line);
	}
	free(text);

	ing_metrics_received(im, ING_SRC_ZMQ);
	ing_metrics_received(im, ING_SRC_ZMQ);
	ing_metrics_received(im, ING_SRC_SPOOL);
	ing_metrics_refused(im, ING_R_SIZE);
	ing_metrics_refused(im, ING_OK);	/* not a refusal: ignored */
	ing_metrics_delivered(im, ING_SRC_ZMQ, 1, 0.003);
	ing_metrics_delivered(im, ING_SRC_SPOOL, 0, 0.5);
	ing_metrics_spool(im, ING_SPOOL_RETRY);
	ing_metrics_inflight(im, 3);
	text = render(ing_metrics_registry(im));
	ASSERT_LINE(text, "yalu_ingest_received_total{source=\"zmq\"} 2");
	ASSERT_LINE(text, "yalu_ingest_received_total{source=\"spool\"} 1");
	ASSERT_LINE(text, "yalu_ingest_refused_total{reason=\"too_large\"} 1");
	ASSERT_LINE(text, "yalu_ingest_acknowledged_total{source=\"zmq\"} 1");
	ASSERT_LINE(text,
	    "yalu_ingest_delivery_failures_total{source=\"spool\"} 1");
	ASSERT_LINE(text, "yalu_ingest_spool_files_total{outcome=\"retry\"} 1");
	ASSERT_LINE(text, "yalu_ingest_inflight 3");
	ASSERT_LINE(text, "yalu_ingest_ack_seconds_bucket{le=\"0.005\"} 1");
	ASSERT_LINE(text, "yalu_ingest_ack_seconds_count 1");
	free(text);
	ing_metrics_free(&im);
	ck_assert_ptr_null(im);
}
END_TEST

START_TEST(test_store_archive_size_counts_the_wal_too)
{
	struct sto_metrics *sm;
	char err[256], dir[] = "/tmp/check_metrics.XXXXXX", db[128], wal[140];
	char *text;
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/a.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	sm = sto_metrics_new(NULL, err, sizeof(err));
	ck_assert_msg(sm != NULL, "%s", err);

	/* No file yet: 0, not an error. */
	sto_metrics_archive(sm, db, 0, 1);
	text = render(sto_metrics_registry(sm));
	ASSERT_LINE(text, "yalu_store_archive_bytes 0");
	ASSERT_LINE(text, "yalu_store_dead_letters_total{reason=\"rejected\"} 0");
	free(text);

	ck_assert_ptr_nonnull(fp = fopen(db, "w"));
	fprintf(fp, "%4096s", "");
	fclose(fp);
	ck_assert_ptr_nonnull(fp = fopen(wal, "w"));
	fprintf(fp, "%1000s", "");
	fclose(fp);
	sto_metrics_archive(sm, db, 42, 1);
	sto_metrics_batch(sm, 3, 1, 0, 5, 0.002);
	sto_metrics_dead(sm, STO_DEAD_UNDECODABLE);
	text = render(sto_metrics_registry(sm));
	ASSERT_LINE(text, "yalu_store_archive_bytes 5096");
	ASSERT_LINE(text, "yalu_store_archive_reports 42");
	ASSERT_LINE(text,
	    "yalu_store_reports_written_total{outcome=\"inserted\"} 3");
	ASSERT_LINE(text,
	    "yalu_store_reports_written_total{outcome=\"updated\"} 1");
	ASSERT_LINE(text, "yalu_store_batches_total 1");
	ASSERT_LINE(text, "yalu_store_batch_messages_bucket{le=\"5\"} 1");
	ASSERT_LINE(text,
	    "yalu_store_dead_letters_total{reason=\"undecodable\"} 1");
	free(text);
	sto_metrics_free(&sm);
	unlink(wal);
	unlink(db);
	rmdir(dir);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc;

#define ADD(fn) do { tc = tcase_create(#fn); tcase_add_test(tc, fn); \
	suite_add_tcase(s, tc); } while (0)
	ADD(test_render_counters_and_gauges_exact_lines);
	ADD(test_histogram_buckets_are_cumulative_with_sum_and_count);
	ADD(test_latency_buckets_increase_and_declare_again);
	ADD(test_by_name_updates_declare_and_refuse_misuse);
	ADD(test_names_and_labels_are_checked);
	ADD(test_values_and_help_are_formatted_for_prometheus);
	ADD(test_check_refuses_non_loopback_unless_allowed);
	ADD(test_port_zero_counts_without_a_server);
	ADD(test_http_serves_metrics_and_health_on_loopback);
	ADD(test_http_port_in_use_is_reported);
	ADD(test_http_on_ipv6_loopback);
	ADD(test_scrapes_race_updates_from_the_main_thread);
	ADD(test_remove_drops_one_series_and_keeps_the_order);
	ADD(test_lag_gauges_follow_the_partitions_owned);
	ADD(test_ingest_metrics_show_every_refusal_reason_from_the_start);
	ADD(test_store_archive_size_counts_the_wal_too);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
