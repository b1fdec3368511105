/*
 * yalu-classify - tags the reports of reports.raw onto reports.tagged
 * (dead letters onto reports.dlq) and publishes them on a live feed.
 * Run as many as reports.raw has partitions: they share one group.
 */
#include <stdio.h>
#include <stdlib.h>

#include "yalu/daemon.h"
#include "yalu/log.h"

#include "classifyd.h"

#ifndef YALU_SYSCONFDIR
#define YALU_SYSCONFDIR "/etc/yalu"
#endif

int
main(int argc, char **argv)
{
	static char err[65536];
	struct yl_daemon_opts o;
	struct cls_conf conf = { 0 };
	struct yl_errs errs = { 0 };
	struct cls_daemon *d;
	struct yl_tax *tax;
	int rc;

	/* Options and config: every problem listed, then exit 78. */
	if (yl_daemon_getopt(argc, argv, "yalu-classify",
	    YALU_SYSCONFDIR "/yalu-classify.yaml", &o) == -1)
		return YL_EX_USAGE;
	yl_log_init("yalu-classify", o.verbose);
	if (cls_conf_load(o.config, &conf, &errs) == -1) {
		fprintf(stderr, "%s", errs.buf ? errs.buf : "invalid config\n");
		yl_errs_clear(&errs);
		cls_conf_release(&conf);
		return YL_EX_CONFIG;
	}
	if ((tax = yl_tax_load(cls_conf_taxonomy(&conf), err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "taxonomy %s rejected:\n%s\n",
		    cls_conf_taxonomy(&conf), err);
		cls_conf_release(&conf);
		return YL_EX_CONFIG;
	}
	if (o.check_only) {
		yl_log_info("taxonomy: ruleset %s", yl_tax_ruleset(tax));
		printf("configuration OK\n");
		yl_tax_free(&tax);
		cls_conf_release(&conf);
		return 0;
	}

	/* Handles: producer, consumer, live feed; then the topics. */
	if (yl_daemon_detach(&o) == -1) {
		yl_log_err("daemon");
		return 1;
	}
	yl_daemon_signals();
	if ((d = cls_daemon_new(o.config, &conf, &tax, err, sizeof(err))) ==
	    NULL) {
		yl_log_errx("%s", err);
		yl_tax_free(&tax);
		cls_conf_release(&conf);
		return 1;
	}
	if (cls_daemon_start(d) == -1) {
		rc = yl_sig_term ? 0 : 1;
		cls_daemon_free(&d);
		return rc;
	}
	yl_notify_ready("consuming");

	/* The loop: signal handlers only set flags, acted on here. */
	while (!yl_sig_term && !d->fatal) {
		if (yl_sig_hup)
			cls_daemon_reload(d);
		cls_daemon_step(d, 100);
	}

	/* The drain: in-flight produces, offsets, group. */
	yl_notify_stopping();
	rc = cls_daemon_drain(d);
	cls_daemon_free(&d);
	return rc;
}
