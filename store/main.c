/*
 * yalu-store: archives the tagged reports of Kafka in SQLite.
 *
 * Options, config, the archive and Kafka, READY=1, the loop, the drain;
 * the logic is in store_*.c.
 */
#include <stdio.h>
#include <string.h>

#include "yalu/daemon.h"
#include "yalu/log.h"

#include "sto_int.h"

#ifndef YALU_SYSCONFDIR
#define YALU_SYSCONFDIR "/etc/yalu"
#endif

int
main(int argc, char **argv)
{
	struct yl_daemon_opts o;
	struct yl_errs errs = { 0 };
	struct sto_conf conf;
	struct sto *s;
	char err[1024];
	int rc;

	if (yl_daemon_getopt(argc, argv, "yalu-store",
	    YALU_SYSCONFDIR "/yalu-store.yaml", &o) == -1)
		return YL_EX_USAGE;
	yl_log_init("yalu-store", o.verbose);

	memset(&conf, 0, sizeof(conf));
	if (sto_conf_load(o.config, &conf, &errs) == -1) {
		/* Every problem, one per line, then refuse. */
		fputs(errs.buf != NULL ? errs.buf : "", stderr);
		yl_errs_clear(&errs);
		sto_conf_release(&conf);
		return YL_EX_CONFIG;
	}
	if (o.check_only) {
		printf("configuration OK\n");
		sto_conf_release(&conf);
		return 0;
	}
	if (yl_daemon_detach(&o) == -1) {
		yl_log_err("daemon");
		sto_conf_release(&conf);
		return 1;
	}
	yl_daemon_signals();

	if ((s = sto_new(&conf, err, sizeof(err))) == NULL) {
		yl_log(YL_LOG_ERR, "%s", err);
		sto_conf_release(&conf);
		return 1;
	}
	yl_notify_ready("archiving");
	yl_log_info("ready: archiving %s into %s", conf.topics.tagged.name,
	    conf.db);

	rc = sto_run(s, o.config);

	yl_notify_stopping();
	if (sto_drain(s) == -1)
		rc = -1;
	sto_free(&s);
	sto_conf_release(&conf);
	return rc == 0 ? 0 : 1;
}
