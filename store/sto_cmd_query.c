/*
 * sto_cmd_query.c - `yalu query`: searches the archive, read-only.
 *
 * The archive is opened SQLITE_OPEN_READONLY; thanks to WAL it can be read
 * while yalu-store writes, and a query sees the batches committed when it
 * started.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sto_int.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: yalu query [--db PATH] [FILTERS] [--limit N] [--format FMT] [--count]\n"
"\n"
"Prints the archived reports that pass every filter (filters combine with\n"
"AND), newest first: by published_at, or received_at when a report has no\n"
"publication date.\n"
"\n"
"  --db PATH          the archive (default $YALU_DB, else %s)\n"
"  --commodity C      tagged with commodity category C (seafood, coal, ...)\n"
"  --direction D      import, export or unknown; with --commodity, the\n"
"                     direction of that commodity, else of any commodity\n"
"  --crossing X       tagged with crossing X (dandong-sinuiju, ...)\n"
"  --country CC       tagged with country CC (cn, ru, ...)\n"
"  --entity E         tagged with entity E (office-39, ...)\n"
"  --method M         smuggling or ship-to-ship\n"
"  --mode M           road, rail, sea or air\n"
"  --provision P      citing provision P (UNSCR-2371-OP9, ...)\n"
"  --relevance R      relevance AT LEAST R, in the order\n"
"                     none < low < medium < high (--relevance medium gives\n"
"                     medium and high)\n"
"  --since T          dated T or later; T is an ISO 8601 date or time\n"
"                     (2026-11-01, 2026-11-01T08:00:00+09:00); times are\n"
"                     compared in UTC\n"
"  --until T          dated T or earlier, T included: --until 2026-11-30\n"
"                     takes the whole day, --until 2026-11 the whole month\n"
"                     (with --since or --until, a report with no ISO date\n"
"                     in published_at or received_at is left out)\n"
"  --text WORDS       title or body contains every word (full-text search;\n"
"                     case and accents do not matter; word* is a prefix)\n"
"  --limit N          at most N reports\n"
"  --format FMT       table (default), jsonl (every field and the tags) or\n"
"                     csv (RFC 4180, with a header row)\n"
"  --count            print only the number of matching reports\n"
"\n"
"Exit status: 0 on success, 1 if the archive cannot be read, 2 on bad\n"
"usage.\n", STO_DEFAULT_DB);
}

static int
bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "yalu: query: %s '%s': %s\n", opt, val, why);
	return 2;
}

/* Each query row goes straight to the output. */
static int
emit(const struct sto_rec *r, void *arg)
{
	return sto_out_row(arg, r) == -1 ? 1 : 0;
}

int
sto_cmd_query(int argc, char **argv)
{
	enum {
		O_DB = 256, O_COMMODITY, O_DIRECTION, O_CROSSING, O_COUNTRY,
		O_ENTITY, O_METHOD, O_MODE, O_PROVISION, O_RELEVANCE, O_SINCE,
		O_UNTIL, O_TEXT, O_LIMIT, O_FORMAT, O_COUNT, O_HELP
	};
	static const struct option opts[] = {
		{ "db", required_argument, NULL, O_DB },
		{ "commodity", required_argument, NULL, O_COMMODITY },
		{ "direction", required_argument, NULL, O_DIRECTION },
		{ "crossing", required_argument, NULL, O_CROSSING },
		{ "country", required_argument, NULL, O_COUNTRY },
		{ "entity", required_argument, NULL, O_ENTITY },
		{ "method", required_argument, NULL, O_METHOD },
		{ "mode", required_argument, NULL, O_MODE },
		{ "provision", required_argument, NULL, O_PROVISION },
		{ "relevance", required_argument, NULL, O_RELEVANCE },
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "text", required_argument, NULL, O_TEXT },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "count", no_argument, NULL, O_COUNT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct sto_filter f;
	enum sto_format fmt = STO_FMT_TABLE;
	const char *path = getenv("YALU_DB");
	struct sto_db *db;
	struct sto_out *out;
	char err[1024], *end;
	int ch, count = 0, rc = 0;

	memset(&f, 0, sizeof(f));
	f.min_relevance = -1;
	if (path == NULL || *path == '\0')
		path = STO_DEFAULT_DB;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_DB:
			path = optarg;
			break;
		case O_COMMODITY:
			f.commodity = optarg;
			break;
		case O_DIRECTION:
			if (strcmp(optarg, "import") != 0 &&
			    strcmp(optarg, "export") != 0 &&
			    strcmp(optarg, "unknown") != 0)
				return bad("--direction", optarg,
				    "expected import, export or unknown");
			f.direction = optarg;
			break;
		case O_CROSSING:
			f.crossing = optarg;
			break;
		case O_COUNTRY:
			f.country = optarg;
			break;
		case O_ENTITY:
			f.entity = optarg;
			break;
		case O_METHOD:
			f.method = optarg;
			break;
		case O_MODE:
			f.mode = optarg;
			break;
		case O_PROVISION:
			f.provision = optarg;
			break;
		case O_RELEVANCE:
			if ((f.min_relevance = sto_relevance_rank(optarg)) ==
			    -1)
				return bad("--relevance", optarg,
				    "expected none, low, medium or high");
			break;
		case O_SINCE:
			if (sto_iso_norm(optarg, f.since, sizeof(f.since)) ==
			    -1)
				return bad("--since", optarg, "not an ISO 8601 "
				    "date (YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM])");
			break;
		case O_UNTIL:
			if (sto_iso_norm(optarg, f.until, sizeof(f.until)) ==
			    -1)
				return bad("--until", optarg, "not an ISO 8601 "
				    "date (YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM])");
			break;
		case O_TEXT:
			f.text = optarg;
			break;
		case O_LIMIT:
			errno = 0;
			f.limit = strtoll(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    f.limit < 1)
				return bad("--limit", optarg,
				    "expected a positive integer");
			break;
		case O_FORMAT:
			if (strcmp(optarg, "table") == 0)
				fmt = STO_FMT_TABLE;
			else if (strcmp(optarg, "jsonl") == 0)
				fmt = STO_FMT_JSONL;
			else if (strcmp(optarg, "csv") == 0)
				fmt = STO_FMT_CSV;
			else
				return bad("--format", optarg,
				    "expected table, jsonl or csv");
			break;
		case O_COUNT:
			count = 1;
			break;
		case 'h':
		case O_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "yalu: query: unexpected argument '%s' (words "
		    "to search go after --text, quoted)\n", argv[optind]);
		return 2;
	}
	if (f.text != NULL && (end = sto_fts_query(f.text)) == NULL)
		return bad("--text", f.text, "no word to search for");
	if (f.text != NULL)
		free(end);
	if ((db = sto_db_open(path, STO_DB_RDONLY, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "yalu: query: %s\n", err);
		return 1;
	}
	if (count) {
		long long n;

		if (sto_db_count(db, &f, &n, err, sizeof(err)) == -1) {
			fprintf(stderr, "yalu: query: %s\n", err);
			rc = 1;
		} else
			printf("%lld\n", n);
	} else if ((out = sto_out_new(fmt, stdout)) == NULL) {
		fprintf(stderr, "yalu: query: out of memory\n");
		rc = 1;
	} else {
		if (sto_db_query(db, &f, emit, out, err, sizeof(err)) == -1) {
			fprintf(stderr, "yalu: query: %s\n", err);
			rc = 1;
		}
		if (sto_out_end(&out) == -1 && rc == 0) {
			fprintf(stderr, "yalu: query: writing: %s\n",
			    strerror(errno));
			rc = 1;
		}
	}
	sto_db_free(&db);
	return rc;
}
