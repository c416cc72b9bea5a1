/* Triggers for the tools in tools/ (tests/runtime/cases/tools.case). Does one
 * action per argument, in order, each with raw syscalls where the tool traces
 * a syscall (so exactly one event of that name):
 *   open:PATH                     open(PATH) (openat), closed if it worked
 *   exec:PATH[ ARG...]            a child runs PATH with argv PATH ARG... (the
 *                                 words of the value, split at spaces); waited for
 *   forks:N                       N children, one after another, each _exit(0)
 *   threads:N                     N threads, one after another, each joined
 *   getppid:N                     getppid() N times
 *   spin:CPU:MS                   moves to CPU and spins there for MS ms
 *   kill:SIG, tgkill:SIG, tkill:SIG
 *                                 sends itself SIG (handled by an empty
 *                                 handler) with kill(pid) / tgkill(pid, tid) /
 *                                 tkill(tid)
 *   killbad                       kill(0x7ffffff0, 0): no such process (-3)
 *   setuid, setreuid, setresuid   setuid(euid) / setreuid(-1, euid) /
 *                                 setresuid(-1, -1, -1): results 0, ids unchanged
 *   stat:PATH, lstat:PATH         newstat / newlstat of PATH
 *   fstatat:PATH, statx:PATH      newfstatat / statx of PATH (relative to cwd)
 *   statfs:PATH                   statfs of PATH
 *   dirty                         writes one page of "ptt_tool_file" in the
 *                                 current directory, left dirty in the page cache
 *   sync                          sync()
 *   syncfs, fsync, fdatasync      on the file "ptt_tool_file" in the current
 *                                 directory (written first, one page): fd 3
 *   bio                           writes one page of "ptt_tool_file" with
 *                                 O_DIRECT and fdatasync()s it: block I/O
 *   nanosleep:MS, clock_nanosleep:MS
 *                                 sleeps MS milliseconds (relative)
 *   clock_nanosleep_abs:MS        sleeps until MS milliseconds from now
 *                                 (TIMER_ABSTIME on CLOCK_MONOTONIC)
 *   refused                       a TCP connect to a port of 127.0.0.1 bound
 *                                 but not listening: the SYN is dropped
 *                                 (skb:kfree_skb reason NO_SOCKET), ECONNREFUSED
 *   refused6                      the same on ::1 (IPv6)
 *   spawn:PARENT:PROG             a child renamed PARENT runs PROG -c 'exit 0'
 *                                 in a grandchild and waits for it
 *   bash:LINE                     runs /bin/bash --norc -i with LINE then
 *                                 "exit" on its stdin (readline returns each),
 *                                 no history file, output to /dev/null
 * Exits 2 on an unknown argument, 1 if an action could not be set up. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

static void handler(int sig)
{
	(void)sig;
}

static void *thread(void *arg)
{
	return arg;
}

static int children(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0 || waitpid(pid, 0, 0) < 0)
			return -1;
	}
	return 0;
}

static int threads(long n)
{
	for (long i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, 0, thread, 0) != 0 || pthread_join(t, 0) != 0)
			return -1;
	}
	return 0;
}

static int run(char *words)
{
	char *argv[16];
	int n = 0;
	for (char *w = strtok(words, " "); w && n < 15; w = strtok(0, " "))
		argv[n++] = w;
	argv[n] = 0;
	if (n == 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	return pid < 0 || waitpid(pid, 0, 0) < 0 ? -1 : 0;
}

static int spin(const char *spec)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(atoi(spec), &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		return -1;
	const char *ms = strchr(spec, ':');
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do
		clock_gettime(CLOCK_MONOTONIC, &now);
	while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 <
	       (ms ? atol(ms + 1) : 0));
	return 0;
}

static int send_self(const char *how, int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	if (sigaction(sig, &sa, 0) < 0)
		return -1;
	if (!strcmp(how, "kill"))
		return (int)syscall(SYS_kill, getpid(), sig);
	if (!strcmp(how, "tgkill"))
		return (int)syscall(SYS_tgkill, getpid(), gettid(), sig);
	return (int)syscall(SYS_tkill, gettid(), sig);
}

static int page_file(void)
{
	static char buf[PAGE];
	int fd = open("ptt_tool_file", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, PAGE) != PAGE)
		return -1;
	return fd;
}

static int bio(void)
{
	void *buf;
	if (posix_memalign(&buf, PAGE, PAGE) != 0)
		return -1;
	memset(buf, 'x', PAGE);
	int fd = open("ptt_tool_file", O_WRONLY | O_CREAT | O_DIRECT, 0644);
	if (fd < 0) /* no O_DIRECT here: written back by fdatasync instead */
		fd = open("ptt_tool_file", O_WRONLY | O_CREAT, 0644);
	if (fd < 0 || pwrite(fd, buf, PAGE, 0) != PAGE || fdatasync(fd) != 0)
		return -1;
	close(fd);
	free(buf);
	return 0;
}

static void sleep_ms(long nr, long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	if (nr == SYS_nanosleep)
		syscall(SYS_nanosleep, &ts, 0);
	else
		syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, 0);
}

static void sleep_until_ms(long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (ms % 1000) * 1000000L;
	ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, 0);
}

static int refused(int family)
{
	struct sockaddr_in6 addr6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in addr4 = { .sin_family = AF_INET };
	addr4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct sockaddr *addr = family == AF_INET6 ? (struct sockaddr *)&addr6 :
						     (struct sockaddr *)&addr4;
	socklen_t len = family == AF_INET6 ? sizeof(addr6) : sizeof(addr4);
	int bound = socket(family, SOCK_STREAM, 0);
	int client = socket(family, SOCK_STREAM, 0);
	if (bound < 0 || client < 0 || bind(bound, addr, len) != 0 ||
	    getsockname(bound, addr, &len) != 0)
		return -1;
	if (connect(client, addr, len) == 0)
		return -1;
	close(client);
	close(bound);
	return 0;
}

static int spawn(char *spec)
{
	char *prog = strchr(spec, ':');
	if (!prog)
		return -1;
	*prog++ = 0;
	pid_t child = fork();
	if (child == 0) {
		prctl(PR_SET_NAME, spec, 0, 0, 0);
		pid_t shell = fork();
		if (shell == 0) {
			execl(prog, prog, "-c", "exit 0", (char *)0);
			_exit(127);
		}
		waitpid(shell, 0, 0);
		_exit(0);
	}
	return child < 0 ? -1 : (waitpid(child, 0, 0) < 0 ? -1 : 0);
}

static int bash(const char *line)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t child = fork();
	if (child == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(fds[0], 0);
		dup2(null, 1);
		dup2(null, 2);
		close(fds[1]);
		setenv("HISTFILE", "", 1);
		execl("/bin/bash", "bash", "--norc", "--noprofile", "-i", (char *)0);
		_exit(127);
	}
	close(fds[0]);
	size_t n = strlen(line);
	if (write(fds[1], line, n) != (ssize_t)n || write(fds[1], "\nexit\n", 6) != 6)
		return -1;
	close(fds[1]);
	return child < 0 ? -1 : (waitpid(child, 0, 0) < 0 ? -1 : 0);
}

int main(int argc, char **argv)
{
	signal(SIGTTOU, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		char *value = strchr(a, ':');
		value = value ? value + 1 : "";
		struct stat st;
		int fd, ok = 0;
		if (!strncmp(a, "open:", 5)) {
			if ((fd = open(value, O_RDONLY)) >= 0)
				close(fd);
		} else if (!strncmp(a, "exec:", 5))
			ok = run(value);
		else if (!strncmp(a, "forks:", 6))
			ok = children(atol(value));
		else if (!strncmp(a, "threads:", 8))
			ok = threads(atol(value));
		else if (!strncmp(a, "getppid:", 8))
			for (long n = atol(value); n > 0; n--)
				syscall(SYS_getppid);
		else if (!strncmp(a, "spin:", 5))
			ok = spin(value);
		else if (!strncmp(a, "kill:", 5) || !strncmp(a, "tgkill:", 7) ||
			 !strncmp(a, "tkill:", 6)) {
			value[-1] = 0;
			ok = send_self(a, atoi(value));
		} else if (!strcmp(a, "setuid"))
			syscall(SYS_setuid, geteuid());
		else if (!strcmp(a, "setreuid"))
			syscall(SYS_setreuid, -1, geteuid());
		else if (!strcmp(a, "setresuid"))
			syscall(SYS_setresuid, -1, -1, -1);
		else if (!strncmp(a, "stat:", 5))
			syscall(SYS_stat, value, &st);
		else if (!strncmp(a, "lstat:", 6))
			syscall(SYS_lstat, value, &st);
		else if (!strncmp(a, "fstatat:", 8))
			syscall(SYS_newfstatat, AT_FDCWD, value, &st, 0);
		else if (!strncmp(a, "statx:", 6)) {
			char buf[256];
			syscall(SYS_statx, AT_FDCWD, value, 0, 0x7ff, buf);
		} else if (!strncmp(a, "statfs:", 7)) {
			char buf[256];
			syscall(SYS_statfs, value, buf);
		} else if (!strcmp(a, "dirty")) {
			if ((fd = page_file()) < 0)
				return 1;
			close(fd);
		} else if (!strcmp(a, "sync"))
			syscall(SYS_sync);
		else if (!strcmp(a, "syncfs") || !strcmp(a, "fsync") || !strcmp(a, "fdatasync")) {
			if ((fd = page_file()) < 0)
				return 1;
			syscall(!strcmp(a, "syncfs") ? SYS_syncfs :
				!strcmp(a, "fsync") ? SYS_fsync : SYS_fdatasync, fd);
			close(fd);
		} else if (!strcmp(a, "bio"))
			ok = bio();
		else if (!strncmp(a, "nanosleep:", 10))
			sleep_ms(SYS_nanosleep, atol(value));
		else if (!strncmp(a, "clock_nanosleep:", 16))
			sleep_ms(SYS_clock_nanosleep, atol(value));
		else if (!strncmp(a, "clock_nanosleep_abs:", 20))
			sleep_until_ms(atol(value));
		else if (!strcmp(a, "killbad"))
			syscall(SYS_kill, 0x7ffffff0, 0);
		else if (!strcmp(a, "refused"))
			ok = refused(AF_INET);
		else if (!strcmp(a, "refused6"))
			ok = refused(AF_INET6);
		else if (!strncmp(a, "spawn:", 6))
			ok = spawn(value);
		else if (!strncmp(a, "bash:", 5))
			ok = bash(value);
		else
			return 2;
		if (ok != 0)
			return 1;
	}
	return 0;
}
