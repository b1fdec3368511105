/* placeholder until yalu submit lands */
#include <stdio.h>

#include "ingest.h"

int
ing_cmd_submit(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "yalu: submit: not built yet\n");
	return 1;
}
