/* Calls getppid() once and expects a SIGUSR1 sent in return (by a probe's
 * signal()): exits 0 if it arrived within a second, 3 if not. */
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void handler(int sig)
{
	(void)sig;
	got = 1;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = handler };
	sigaction(SIGUSR1, &sa, 0);
	syscall(SYS_getppid);
	for (int i = 0; i < 100 && !got; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, 0);
	}
	return got ? 0 : 3;
}
