/* Sends its parent (ptrace, when run with -c) one signal per argument, by
 * number, 100 ms apart so that none merges with the one before. */
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, 0);
		if (kill(getppid(), atoi(argv[i])) < 0)
			return 2;
	}
	return 0;
}
