/*
 * main.c - yalu-ingest: options, config, sockets and handles, READY=1, the
 * loop, the drain. The logic lives in ing_*.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include "yalu/daemon.h"
#include "yalu/log.h"

#include "ingest.h"

int
main(int argc, char **argv)
{
	struct yl_daemon_opts opts;
	struct yl_errs errs = { 0 };
	struct ing_conf *conf;
	struct ing_server *srv;
	char err[1024], *path = NULL;
	int rc = 0;

	if (yl_daemon_getopt(argc, argv, "yalu-ingest",
	    YALU_SYSCONFDIR "/yalu-ingest.yaml", &opts) == -1)
		return YL_EX_USAGE;
	yl_log_init("yalu-ingest", opts.verbose);

	if ((conf = ing_conf_load(opts.config, &errs)) == NULL) {
		fprintf(stderr, "%s", errs.buf ? errs.buf : "");
		yl_errs_clear(&errs);
		return YL_EX_CONFIG;
	}
	if (opts.check_only) {
		printf("configuration OK\n");
		ing_conf_free(&conf);
		return 0;
	}
	/* SIGHUP rereads it after the detach has moved us to /. */
	if ((path = realpath(opts.config, NULL)) != NULL)
		opts.config = path;
	if (yl_daemon_detach(&opts) == -1) {
		yl_log_err("daemon");
		ing_conf_free(&conf);
		free(path);
		return 1;
	}
	yl_daemon_signals();

	/* Producer, topics, ROUTER, spool; waits for Kafka if need be. */
	if ((srv = ing_server_new(&conf, err, sizeof(err))) == NULL) {
		free(path);
		if (yl_sig_term)
			return 0;
		yl_log_errx("%s", err);
		return 1;
	}
	yl_notify_ready("accepting reports");

	while (!yl_sig_term) {
		if (ing_server_step(srv, 100) == -1) {
			rc = 1;
			break;
		}
		if (yl_sig_hup) {
			yl_sig_hup = 0;
			ing_server_reload(srv, opts.config);
		}
	}

	yl_notify_stopping();
	ing_server_drain(srv);
	ing_server_free(&srv);
	free(path);
	yl_log_info("stopped");
	return rc;
}
