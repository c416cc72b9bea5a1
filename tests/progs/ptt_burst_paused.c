/* Stops its parent (the tracer that started it with -c), calls getppid() N
 * times, then lets the parent go on: nothing reads the tracer's buffer during
 * the burst, so a small buffer overflows whatever the machine's speed. The
 * parent's pid comes from /proc/self/stat, not from getppid(), so the burst is
 * the only getppid() the program makes. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1;
	int parent = 0;
	FILE *stat = fopen("/proc/self/stat", "r");
	if (!stat || fscanf(stat, "%*d (%*[^)]) %*c %d", &parent) != 1 || parent <= 1)
		return 2;
	fclose(stat);
	if (kill(parent, SIGSTOP) != 0)
		return 3;
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	if (kill(parent, SIGCONT) != 0)
		return 4;
	return 0;
}
