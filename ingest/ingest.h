/*
 * ingest.h - yalu-ingest: the front door (ZeroMQ ROUTER and a spool
 * directory) that hands reports to Kafka and acknowledges them only once
 * Kafka has them.
 */
#ifndef YALU_INGEST_H
#define YALU_INGEST_H

/* `yalu submit [--endpoint E] FILE...` */
int	ing_cmd_submit(int argc, char **argv);

#endif
