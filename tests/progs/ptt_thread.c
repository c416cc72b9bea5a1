/* Calls getppid() once in the main thread, then starts N threads (default
 * 2) one after another, each calling getppid() once: N + 1
 * sys_enter_getppid events, one with pid == tid and N with pid != tid, all
 * with the same pid and comm "ptt_thread". */
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *run(void *arg)
{
	(void)arg;
	syscall(SYS_getppid);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2;
	syscall(SYS_getppid);
	for (long i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, 0, run, 0) != 0)
			return 1;
		pthread_join(t, 0);
	}
	return 0;
}
