/* For each pair "CPU COUNT": moves to that CPU and calls getppid() COUNT
 * times there. Per-CPU map slots then hold known, different counts. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(atoi(argv[i]), &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0)
			return 2;
		for (long n = atol(argv[i + 1]); n > 0; n--)
			syscall(SYS_getppid);
	}
	return 0;
}
