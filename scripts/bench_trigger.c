/*
 * bench_trigger: workload for the per-event overhead benchmark (scripts/bench).
 *
 * Usage: bench_trigger N [call]
 *
 * Calls syscall(SYS_getppid) N times in a tight loop (or, with "call", the
 * function bench_target, for uprobes) and prints the elapsed wall time of
 * the loop in nanoseconds (CLOCK_MONOTONIC) on stdout.
 *
 * The benchmark counts events per comm, so the binary must keep the name
 * "bench_trigger" (a comm is at most 15 characters).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		perror("clock_gettime");
		exit(1);
	}
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

__attribute__((noinline)) long bench_target(long i)
{
	__asm__ volatile("" ::: "memory");
	return i + 1;
}

int main(int argc, char **argv)
{
	unsigned long long start, end;
	char *endp;
	long n, i;

	int call = argc == 3 && argv[2][0] == 'c';

	if (argc != 2 && !call) {
		fprintf(stderr, "usage: %s N [call]\n", argv[0]);
		return 2;
	}
	errno = 0;
	n = strtol(argv[1], &endp, 10);
	if (errno != 0 || *endp != '\0' || n <= 0) {
		fprintf(stderr, "%s: invalid count: %s\n", argv[0], argv[1]);
		return 2;
	}

	start = now_ns();
	if (call) {
		volatile long sink = 0;
		for (i = 0; i < n; i++)
			sink += bench_target(i);
	} else {
		for (i = 0; i < n; i++)
			syscall(SYS_getppid);
	}
	end = now_ns();

	printf("%llu\n", end - start);
	return 0;
}
