/* placeholder until yalu query lands */
#include <stdio.h>

#include "store.h"

int
sto_cmd_query(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "yalu: query: not built yet\n");
	return 1;
}
