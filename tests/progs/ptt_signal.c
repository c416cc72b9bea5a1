/* Sends itself one signal per argument, each handled by an empty handler
 * installed with SA_RESTART just before: "kN" kill(getpid(), N) (code
 * SI_USER = 0, group 1), "qN" sigqueue(getpid(), N, 7) (code SI_QUEUE = -1,
 * group 1), "tN" tgkill(getpid(), gettid(), N) (code SI_TKILL = -6, group 0).
 * One signal:signal_generate and one signal:signal_deliver event each, in
 * order, with errno 0 and result 0. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void handler(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		int sig = atoi(argv[i] + 1);
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = handler;
		sa.sa_flags = SA_RESTART;
		if (sigaction(sig, &sa, 0) < 0)
			return 2;
		union sigval val = { .sival_int = 7 };
		switch (argv[i][0]) {
		case 'k':
			kill(getpid(), sig);
			break;
		case 'q':
			sigqueue(getpid(), sig, val);
			break;
		case 't':
			syscall(SYS_tgkill, getpid(), gettid(), sig);
			break;
		default:
			return 2;
		}
	}
	return 0;
}
