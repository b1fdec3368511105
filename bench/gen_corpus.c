/*
 * gen_corpus.c - writes a synthetic corpus of border-trade reports as JSON
 * lines for bench/classify: about 2 KB per report, from a fixed seed, so
 * that every run measures the same bytes.
 *
 *   yalu-gen-corpus MEGABYTES [SEED] > corpus.jsonl
 *   yalu-gen-corpus MEGABYTES SEED DIR     one .txt file per report in DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static uint64_t rng;

static uint64_t
next(void)
{
	/* xorshift64*: small, fast, and the same on every machine. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

#define PICK(a) (a[next() % (sizeof(a) / sizeof(a[0]))])

static const char *const who[] = {
	"A trader in Hyesan", "A source in North Pyongan Province",
	"A customs official in Sinuiju", "A Chinese wholesaler in Dandong",
	"A resident of Rason", "Two merchants in Hoeryong",
	"An official at a state trading company", "A driver on the Tumen road",
	"A source close to the provincial party committee",
	"A broker in Yanji", "A fisherman from Chongjin",
};
static const char *const verb[] = {
	"said that", "told us that", "reported that", "claimed that",
	"confirmed on Tuesday that", "explained that",
};
static const char *const goods[] = {
	"coal", "anthracite", "iron ore", "diesel", "crude oil", "rice",
	"wheat flour", "soybean oil", "cooking oil", "cement", "timber",
	"squid", "salted pollack", "crab meat", "pine mushrooms", "ginseng",
	"garments", "excavators", "solar panels", "mobile phones", "trucks",
	"fishing boats", "Mercedes-Benz sedans", "watches", "cognac",
	"face masks", "medicines", "gold", "magnesite", "copper concentrate",
	"lead ore", "zinc ingots", "rebar", "statues", "logs", "fertilizer",
	"sugar", "cigarettes", "textiles", "machine tools",
};
static const char *const move[] = {
	"were smuggled in from", "were exported to buyers in",
	"were brought in through", "left for", "were sold to traders in",
	"arrived by truck from", "were loaded onto a ship bound for",
	"were imported from", "were carried across the river to",
	"were seized at customs on the way to",
};
static const char *const place[] = {
	"Dandong", "Hunchun", "Changbai", "Ji'an", "Tumen", "Vladivostok",
	"Nampo", "Rajin", "Nakhodka", "Linjiang", "Shenyang", "Dalian",
	"Yanji", "Longkou", "Helong", "Sanhe", "the Chinese side",
};
static const char *const filler[] = {
	"Prices at the market rose sharply over the past two weeks.",
	"Officials have tightened inspections since the start of the month.",
	"The exchange rate of the yuan has been unstable in recent days.",
	"Local residents say the crackdown has made ordinary work harder.",
	"Many households now depend on money earned through private trade.",
	"The provincial authorities held a meeting on the matter last week.",
	"Drivers complain about bribes demanded at every checkpoint.",
	"It is not clear how long the current arrangement will last.",
	"The quarantine rules for goods were relaxed in the spring.",
	"Some traders have stopped working altogether because of the risk.",
	"The source asked not to be named for security reasons.",
	"State companies were told to meet their foreign currency quotas.",
};

int
main(int argc, char **argv)
{
	double mb;
	size_t target, written = 0, n = 0;
	const char *dir;

	if (argc < 2 || (mb = atof(argv[1])) <= 0) {
		fprintf(stderr, "usage: yalu-gen-corpus MEGABYTES [SEED]\n");
		return 2;
	}
	rng = argc > 2 ? strtoull(argv[2], NULL, 10) : 20261124;
	if (rng == 0)
		rng = 1;
	target = (size_t)(mb * 1024 * 1024);
	dir = argc > 3 ? argv[3] : NULL;
	while (written < target) {
		char body[4096], id[32];
		size_t len = 0;
		json_t *o;
		char *line;

		while (len < 1900) {
			/* One sentence in seven names goods: about the tag
			 * density of the hand-written development set. */
			int k = (int)(next() % 7);
			int w;

			if (k == 0)
				w = snprintf(body + len, sizeof(body) - len,
				    "%s %s %s and %s %s %s. ", PICK(who),
				    PICK(verb), PICK(goods), PICK(goods),
				    PICK(move), PICK(place));
			else
				w = snprintf(body + len, sizeof(body) - len,
				    "%s ", PICK(filler));
			if (w < 0 || (size_t)w >= sizeof(body) - len)
				break;
			len += (size_t)w;
			if (next() % 5 == 0 && len + 2 < sizeof(body)) {
				body[len - 1] = '\n';
				body[len++] = '\n';
			}
		}
		snprintf(id, sizeof(id), "bench-%07zu", n++);
		if (dir != NULL) {
			char path[4096];
			FILE *fp;

			snprintf(path, sizeof(path), "%s/%s.txt", dir, id);
			if ((fp = fopen(path, "w")) == NULL) {
				perror(path);
				return 1;
			}
			fwrite(body, 1, len, fp);
			fclose(fp);
			written += len;
			continue;
		}
		o = json_pack("{s:s, s:s%}", "id", id, "body", body, len);
		line = json_dumps(o, JSON_COMPACT);
		written += strlen(line) + 1;
		puts(line);
		free(line);
		json_decref(o);
	}
	fprintf(stderr, "%zu reports, %zu bytes\n", n, written);
	return 0;
}
