/*
 * cls_cli.c - `yalu classify`: tag report files or stdin, print JSON lines
 * (the TAGS.md object per report, in input order) or a human summary.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "yalu/buf.h"
#include "yalu/report.h"

#include "cls_cli.h"

#ifndef YALU_SYSCONFDIR
#define YALU_SYSCONFDIR "/etc/yalu"
#endif
#ifndef YALU_SRC_CONFIGS
#define YALU_SRC_CONFIGS "configs"
#endif

static int
is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *
cls_taxonomy_dir(const char *given)
{
	const char *e;

	if (given != NULL)
		return given;
	if ((e = getenv("YALU_TAXONOMY")) != NULL && *e != '\0')
		return e;
	if (is_dir("configs/taxonomy"))
		return "configs/taxonomy";
	if (is_dir(YALU_SYSCONFDIR "/taxonomy"))
		return YALU_SYSCONFDIR "/taxonomy";
	return YALU_SRC_CONFIGS "/taxonomy";
}

struct yl_tax *
cls_taxonomy_open(const char *given)
{
	static char err[65536];
	const char *dir = cls_taxonomy_dir(given);
	struct yl_tax *t;

	if ((t = yl_tax_load(dir, err, sizeof(err))) == NULL)
		fprintf(stderr, "yalu: taxonomy %s rejected:\n%s\n", dir, err);
	return t;
}

static int
has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* One report per line. Returns the number of bad lines. */
static int
each_line(FILE *fp, const char *name, size_t max_body, cls_input_fn fn,
    void *arg)
{
	char *line = NULL, where[512];
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int bad = 0;

	while ((n = getline(&line, &cap, fp)) != -1) {
		struct cls_input in = { 0 };
		json_error_t jerr;
		json_t *obj, *body, *id;

		lineno++;
		snprintf(where, sizeof(where), "%s:%zu", name, lineno);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (strspn(line, " \t") == (size_t)n)
			continue;
		if ((size_t)n > max_body * 6 + 4096) {
			fprintf(stderr, "yalu: %s: line of %zd bytes is over the "
			    "body limit\n", where, n);
			bad++;
			continue;
		}
		obj = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
		if (obj == NULL) {
			fprintf(stderr, "yalu: %s: invalid JSON at column %d: "
			    "%s\n", where, jerr.column, jerr.text);
			bad++;
			continue;
		}
		body = json_object_get(obj, "body");
		if (!json_is_object(obj) || !json_is_string(body)) {
			fprintf(stderr, "yalu: %s: %s\n", where,
			    !json_is_object(obj) ? "not a JSON object" :
			    body == NULL ? "body: missing" :
			    "body: not a string");
			json_decref(obj);
			bad++;
			continue;
		}
		id = json_object_get(obj, "id");
		in.id = json_is_string(id) ? json_string_value(id) : NULL;
		in.body = json_string_value(body);
		in.len = json_string_length(body);
		in.where = where;
		in.file = name;
		in.obj = obj;
		if (fn(&in, arg) != 0)
			bad++;
		json_decref(obj);
	}
	free(line);
	return bad;
}

static char *
slurp(FILE *fp, size_t limit, size_t *len, int *toolarge)
{
	char *buf = NULL, *p;
	size_t cap = 0, n;
	struct stat st;

	/* A regular file: one read of its size (and one more to see EOF). */
	if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size <= limit)
		cap = (size_t)st.st_size + 1;
	if (cap > 0 && (buf = malloc(cap + 1)) == NULL)
		return NULL;

	*len = 0;
	*toolarge = 0;
	for (;;) {
		if (*len >= cap) {
			cap = cap ? cap * 2 : 131072;
			if ((p = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = p;
		}
		n = fread(buf + *len, 1, cap - *len, fp);
		*len += n;
		if (*len > limit) {
			*toolarge = 1;
			break;
		}
		if (n == 0)
			break;
	}
	buf[*len] = '\0';
	return buf;
}

/*
 * Reads fd to EOF into *buf (grown as needed and kept from file to file:
 * a directory of reports costs no allocation per report), NUL-terminated.
 * Returns 0, or -1 with errno set; *toolarge when it passed limit.
 */
static int
read_fd(int fd, size_t limit, char **buf, size_t *cap, size_t *len,
    int *toolarge)
{
	ssize_t n;
	char *p;

	*len = 0;
	*toolarge = 0;
	for (;;) {
		if (*cap < *len + 4096 + 1) {
			size_t nc = *cap ? *cap * 2 : 65536;

			while (nc < *len + 4096 + 1)
				nc *= 2;
			if ((p = realloc(*buf, nc)) == NULL)
				return -1;
			*buf = p;
			*cap = nc;
		}
		n = read(fd, *buf + *len, *cap - 1 - *len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
		if (*len > limit) {
			*toolarge = 1;
			break;
		}
	}
	(*buf)[*len] = '\0';
	return 0;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * One report file: name, relative to the directory dirfd (AT_FDCWD for
 * one named on the command line, so that the kernel resolves one path
 * component per report, not the whole path), f its path for messages.
 * The body is read into the reused *buf; no fstat(): a directory fails
 * the read with EISDIR, and only a body over the limit is measured, for
 * the message. Returns 1 if the report is bad.
 */
static int
each_txt(int dirfd, const char *name, const char *f, size_t max_body,
    cls_input_fn fn, void *arg, char **buf, size_t *cap)
{
	struct cls_input in = { 0 };
	struct stat st;
	const char *base;
	char id[256];
	size_t len, n;
	int fd, big, bad = 0;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "yalu: %s: %s\n", f, strerror(errno));
		return 1;
	}
	if (read_fd(fd, max_body, buf, cap, &len, &big) == -1) {
		if (errno == EISDIR)
			fprintf(stderr, "yalu: %s: is a directory\n", f);
		else
			fprintf(stderr, "yalu: %s: %s\n", f, errno == ENOMEM ?
			    "out of memory" : strerror(errno));
		close(fd);
		return 1;
	}
	if (big) {
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			fprintf(stderr, "yalu: %s: body is %lld bytes, over the "
			    "limit of %zu (max_body_bytes)\n", f,
			    (long long)st.st_size, max_body);
		else
			fprintf(stderr, "yalu: %s: body is over the limit "
			    "(max_body_bytes)\n", f);
		close(fd);
		return 1;
	}
	close(fd);
	/*
	 * The id is the file name without ".txt" (at most 255 bytes). f
	 * names a file that could be read, so it has no trailing '/'.
	 */
	base = (base = strrchr(f, '/')) != NULL ? base + 1 : f;
	if ((n = strlen(base)) > sizeof(id) - 1)
		n = sizeof(id) - 1;
	memcpy(id, base, n);
	id[n] = '\0';
	if (n >= 4 && memcmp(id + n - 4, ".txt", 4) == 0)
		id[n - 4] = '\0';
	in.id = id;
	in.body = *buf;
	in.len = len;
	in.where = f;
	in.file = base;
	if (fn(&in, arg) != 0)
		bad++;
	return bad;
}

/*
 * One input file (or "-"); returns the number of bad reports. *buf and
 * *cap: the body buffer kept from one .txt file to the next.
 */
static int
each_file(int dirfd, const char *name, const char *f, size_t max_body,
    cls_input_fn fn, void *arg, char **buf, size_t *cap)
{
	FILE *fp;
	struct stat st;
	int bad = 0;

	if (strcmp(f, "-") != 0 && !has_suffix(f, ".jsonl") &&
	    !has_suffix(f, ".json"))
		return each_txt(dirfd, name, f, max_body, fn, arg, buf, cap);
	if (strcmp(f, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(f, "rb")) == NULL) {
		fprintf(stderr, "yalu: %s: %s\n", f, strerror(errno));
		return 1;
	}
	if (fp != stdin && fstat(fileno(fp), &st) == 0 &&
	    S_ISDIR(st.st_mode)) {
		fprintf(stderr, "yalu: %s: is a directory\n", f);
		fclose(fp);
		bad++;
		return bad;
	}
	if (has_suffix(f, ".jsonl") || has_suffix(f, ".json"))
		bad += each_line(fp, f, max_body, fn, arg);
	else {
		struct cls_input in = { 0 };
		char *buf, *copy, *base, id[256];
		size_t len;
		int big;

		if (fp != stdin && fstat(fileno(fp), &st) == 0 &&
		    (size_t)st.st_size > max_body) {
			fprintf(stderr, "yalu: %s: body is %lld bytes, "
			    "over the limit of %zu (max_body_bytes)\n",
			    f, (long long)st.st_size, max_body);
			fclose(fp);
			bad++;
			return bad;
		}
		buf = slurp(fp, max_body, &len, &big);
		if (buf == NULL || big) {
			fprintf(stderr, "yalu: %s: %s\n", f, buf ?
			    "body is over the limit (max_body_bytes)" :
			    "out of memory");
			free(buf);
			if (fp != stdin)
				fclose(fp);
			bad++;
			return bad;
		}
		copy = strdup(f);
		base = basename(copy);
		snprintf(id, sizeof(id), "%s", base);
		if (has_suffix(id, ".txt"))
			id[strlen(id) - 4] = '\0';
		in.id = strcmp(f, "-") == 0 ? NULL : id;
		in.body = buf;
		in.len = len;
		in.where = strcmp(f, "-") == 0 ? "stdin" : f;
		in.file = base;
		if (fn(&in, arg) != 0)
			bad++;
		free(copy);
		free(buf);
	}
	if (fp != stdin)
		fclose(fp);
	return bad;
}

int
cls_for_each_input(char **files, int nfiles, size_t max_body,
    cls_input_fn fn, void *arg)
{
	int i, bad = 0;
	char *buf = NULL;
	size_t cap = 0;

	if (nfiles == 0) {
		int c;

		/* stdin: JSON lines if it starts with '{', else one report. */
		while ((c = getc(stdin)) == ' ' || c == '\n' || c == '\t' ||
		    c == '\r')
			;
		if (c == EOF) {
			fprintf(stderr, "yalu: stdin: no input\n");
			return 1;
		}
		ungetc(c, stdin);
		if (c == '{')
			return each_line(stdin, "stdin", max_body, fn, arg);
		bad = each_file(AT_FDCWD, "-", "-", max_body, fn, arg, &buf,
		    &cap);
		free(buf);
		return bad;
	}
	for (i = 0; i < nfiles; i++) {
		DIR *d;
		struct dirent *de;
		struct stat st;
		char **names = NULL, path[4096];
		size_t n = 0, nalloc = 0, k;

		if (strcmp(files[i], "-") == 0 || !is_dir(files[i])) {
			bad += each_file(AT_FDCWD, files[i], files[i],
			    max_body, fn, arg, &buf, &cap);
			continue;
		}
		/* A directory: its *.txt and *.jsonl files, in name order. */
		if ((d = opendir(files[i])) == NULL) {
			fprintf(stderr, "yalu: %s: %s\n", files[i],
			    strerror(errno));
			bad++;
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			char **p;

			if (de->d_name[0] == '.' || (!has_suffix(de->d_name,
			    ".txt") && !has_suffix(de->d_name, ".jsonl")))
				continue;
			/* A FIFO or socket would block the whole run. */
			if (fstatat(dirfd(d), de->d_name, &st, 0) == 0 &&
			    !S_ISREG(st.st_mode)) {
				fprintf(stderr, "yalu: %s/%s: not a regular "
				    "file\n", files[i], de->d_name);
				bad++;
				continue;
			}
			if (n == nalloc) {
				nalloc = nalloc ? nalloc * 2 : 256;
				if ((p = realloc(names, nalloc * sizeof(*p))) ==
				    NULL)
					break;
				names = p;
			}
			if ((names[n] = strdup(de->d_name)) == NULL)
				break;
			n++;
		}
		qsort(names, n, sizeof(*names), cmp_name);
		for (k = 0; k < n; k++) {
			snprintf(path, sizeof(path), "%s/%s", files[i],
			    names[k]);
			bad += each_file(dirfd(d), names[k], path, max_body,
			    fn, arg, &buf, &cap);
			free(names[k]);
		}
		closedir(d);
		free(names);
	}
	free(buf);
	return bad;
}

static void
print_ev_list(FILE *fp, json_t *tag)
{
	json_t *ev = json_object_get(tag, "evidence"), *e;
	size_t i;

	json_array_foreach(ev, i, e) {
		if (i >= 3) {
			fprintf(fp, " (+%zu more)", json_array_size(ev) - 3);
			break;
		}
		fprintf(fp, "%s\"%s\"@%lld", i ? ", " : " ",
		    json_string_value(json_object_get(e, "text")),
		    (long long)json_integer_value(json_object_get(e, "start")));
	}
}

void
cls_print_text(FILE *fp, const char *id, const char *body, json_t *result,
    int explain)
{
	static const char *const facets[] = { "commodities", "countries",
	    "crossings", "modes", "methods", "entities", NULL };
	json_t *tags = json_object_get(result, "tags");
	json_t *sanc = json_object_get(tags, "sanctions"), *p, *t;
	size_t i, j;

	(void)body;
	fprintf(fp, "%s  relevance: %s", id ? id : "-",
	    json_string_value(json_object_get(sanc, "relevance")));
	json_array_foreach(json_object_get(sanc, "provisions"), i, p) {
		fprintf(fp, "%s%s", i ? ", " : "  provisions: ",
		    json_string_value(json_object_get(p, "id")));
	}
	fputc('\n', fp);
	for (i = 0; facets[i] != NULL; i++) {
		json_t *arr = json_object_get(tags, facets[i]);

		json_array_foreach(arr, j, t) {
			json_t *d = json_object_get(t, "direction");

			fprintf(fp, "  %-12s %s%s%s ", j ? "" : facets[i],
			    json_string_value(json_object_get(t, "id")),
			    d ? "/" : "", d ? json_string_value(d) : "");
			print_ev_list(fp, t);
			fputc('\n', fp);
			if (explain) {
				json_t *x;
				size_t k;

				json_array_foreach(json_object_get(t,
				    "explain"), k, x) {
					json_t *cue = json_object_get(x, "cue");
					json_t *how = json_object_get(x,
					    "direction_from");

					fprintf(fp, "  %-12s   term '%s'", "",
					    json_string_value(json_object_get(x,
					    "term")));
					if (how)
						fprintf(fp, ", direction from %s",
						    json_string_value(how));
					if (cue)
						fprintf(fp, " \"%s\"@%lld",
						    json_string_value(
						    json_object_get(cue, "text")),
						    (long long)json_integer_value(
						    json_object_get(cue,
						    "start")));
					fputc('\n', fp);
				}
			}
		}
	}
	json_array_foreach(json_object_get(sanc, "provisions"), i, p) {
		json_t *b;

		fprintf(fp, "  %-12s %s because", i ? "" : "provisions",
		    json_string_value(json_object_get(p, "id")));
		json_array_foreach(json_object_get(p, "because"), j, b)
			fprintf(fp, " %s", json_string_value(b));
		fputc('\n', fp);
	}
	if (explain) {
		json_array_foreach(json_object_get(result, "dropped"), i, t) {
			json_t *cue = json_object_get(t, "cue");

			fprintf(fp, "  %-12s '%s'@%lld: %s", i ? "" : "dropped",
			    json_string_value(json_object_get(t, "term")),
			    (long long)json_integer_value(json_object_get(
			    json_object_get(t, "evidence"), "start")),
			    json_string_value(json_object_get(t, "why")));
			if (cue)
				fprintf(fp, " by \"%s\"", json_string_value(
				    json_object_get(cue, "text")));
			fputc('\n', fp);
		}
	}
}

struct classify_ctx {
	struct yl_cls	*cls;
	int		 text, explain, flags;
	struct yl_buf	 line;
};

static int
classify_one(const struct cls_input *in, void *arg)
{
	struct classify_ctx *cx = arg;
	char err[512];
	const char *s;
	size_t n;

	if (yl_cls_run_text(cx->cls, in->body, in->len, cx->flags |
	    (cx->explain ? YL_CLS_EXPLAIN : 0), &s, &n, err, sizeof(err)) ==
	    -1) {
		if (in->id != NULL && in->obj != NULL)
			fprintf(stderr, "yalu: %s: report %s: %s\n", in->where,
			    in->id, err);
		else
			fprintf(stderr, "yalu: %s: %s\n", in->where, err);
		return 1;
	}
	if (cx->text) {
		json_t *res = json_loadb(s, n, 0, NULL);

		cls_print_text(stdout, in->id ? in->id : in->where, in->body,
		    res, cx->explain);
		json_decref(res);
		return 0;
	}
	/* {"id": ..., then the classifier's object without its '{'. */
	yl_buf_reset(&cx->line);
	yl_buf_str(&cx->line, "{\"id\":");
	if (in->id != NULL)
		yl_buf_json(&cx->line, in->id, strlen(in->id));
	else
		yl_buf_str(&cx->line, "null");
	yl_buf_add(&cx->line, ",", 1);
	yl_buf_add(&cx->line, s + 1, n - 1);
	yl_buf_add(&cx->line, "\n", 1);
	fwrite(cx->line.p, 1, cx->line.len, stdout);
	return 0;
}

static void
classify_usage(void)
{
	fprintf(stderr, "usage: yalu classify [--format json|text] [--explain] "
	    "[--rules-only] [--taxonomy DIR] [FILE...]\n");
}

int
cls_cmd_classify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'F' },
		{ "explain", no_argument, NULL, 'e' },
		{ "rules-only", no_argument, NULL, 'r' },
		{ "taxonomy", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct classify_ctx cx = { 0 };
	const char *taxdir = NULL;
	struct yl_tax *tax;
	char err[512];
	int ch, bad;
	static char outbuf[1 << 16];

	while ((ch = getopt_long(argc, argv, "F:ert:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			cx.flags |= YL_CLS_RULES_ONLY;
			break;
		case 'F':
			if (strcmp(optarg, "text") == 0)
				cx.text = 1;
			else if (strcmp(optarg, "json") != 0) {
				fprintf(stderr, "yalu: --format: json or text\n");
				return 2;
			}
			break;
		case 'e':
			cx.explain = 1;
			break;
		case 't':
			taxdir = optarg;
			break;
		default:
			classify_usage();
			return ch == 'h' ? 0 : 2;
		}
	}
	if ((tax = cls_taxonomy_open(taxdir)) == NULL)
		return 78;
	if ((cx.cls = yl_cls_new(tax, err, sizeof(err))) == NULL) {
		fprintf(stderr, "yalu: %s\n", err);
		yl_tax_free(&tax);
		return 1;
	}
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	bad = cls_for_each_input(argv + optind, argc - optind,
	    yl_tax_max_body(tax), classify_one, &cx);
	fflush(stdout);
	yl_buf_free(&cx.line);
	yl_cls_free(&cx.cls);
	yl_tax_free(&tax);
	return bad != 0 ? 1 : 0;
}
