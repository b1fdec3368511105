/*
 * store.h - yalu-store: archives tagged reports in SQLite.
 */
#ifndef YALU_STORE_H
#define YALU_STORE_H

/* `yalu query [--db PATH] [filters] [--format table|jsonl|csv]` */
int	sto_cmd_query(int argc, char **argv);

#endif
