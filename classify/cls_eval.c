/* placeholder until yalu eval lands */
#include <stdio.h>

#include "cls_cli.h"

int
cls_cmd_eval(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "yalu: eval: not built yet\n");
	return 1;
}
