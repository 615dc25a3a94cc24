/* main.c - mte-relay start-up: configuration, listeners, store, workers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("mte-relay %s\n", MTE_RELAY_VERSION);
		return 0;
	}
	log_init(0);
	log_msg(LOG_ERROR, "not yet wired");
	return 1;
}
