/* placeholder until yalu watch lands */
#include <stdio.h>

#include "cls_cli.h"

int
cls_cmd_watch(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "yalu: watch: not built yet\n");
	return 1;
}
