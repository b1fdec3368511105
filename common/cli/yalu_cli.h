/*
 * yalu_cli.h - subcommands of `yalu` that belong to no single daemon.
 */
#ifndef YALU_CLI_H
#define YALU_CLI_H

int	cli_cmd_topics(int argc, char **argv);
/* `yalu status`: pipeline health on one screen (cmd_status.c). */
int	cli_cmd_status(int argc, char **argv);

#endif
