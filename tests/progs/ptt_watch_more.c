/* Watchpoints beyond ptt_watch's writes in the main thread, at 0x10000000:
 *   ptt_watch_more exec N    maps an executable page there holding `nop; ret`
 *                            and calls it N times (an x watchpoint fires N times)
 *   ptt_watch_more thread N  starts a thread (after any watchpoint is attached:
 *                            -c starts the command then) that writes the 8 bytes
 *                            there N times; the main thread only waits for it
 *   ptt_watch_more func N    N times: calls ptt_bump(0, p), which adds 1 to the
 *                            int at p (a malloc'ed one, always the same), then
 *                            adds 1 to it itself: 2N writes of the int at arg1
 *   ptt_watch_more unwatch   calls ptt_bump(0, p) (1 write), ptt_unwatch(p),
 *                            sleeps 0.5 s, writes the int 3 times, then calls
 *                            ptt_bump(0, p) again (1 write) */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ADDRESS ((void *)0x10000000)

static int count;

__attribute__((noinline)) void ptt_unwatch(volatile int *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

__attribute__((noinline)) void ptt_bump(int unused, volatile int *p)
{
	(void)unused;
	(*p)++;
}

static void *writer(void *slot)
{
	for (int i = 1; i <= count; i++)
		*(volatile uint64_t *)slot = i;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "unwatch") == 0) {
		volatile int *p = malloc(sizeof(int));
		*p = 0;
		ptt_bump(0, p);
		ptt_unwatch(p);
		usleep(500000);
		for (int i = 0; i < 3; i++)
			(*p)++;
		ptt_bump(0, p);
		return *p != 5;
	}
	if (argc < 3)
		return 2;
	count = atoi(argv[2]);
	if (strcmp(argv[1], "func") == 0) {
		volatile int *p = malloc(sizeof(int));
		*p = 0;
		for (int i = 0; i < count; i++) {
			ptt_bump(0, p);
			(*p)++;
		}
		return *p != 2 * count;
	}
	int exec = strcmp(argv[1], "exec") == 0;
	void *page = mmap(ADDRESS, 4096, PROT_READ | PROT_WRITE | (exec ? PROT_EXEC : 0),
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (page != ADDRESS)
		return 2;
	if (exec) {
		static const uint8_t code[] = {0x90, 0xc3}; /* nop; ret */
		memcpy(page, code, sizeof(code));
		for (int i = 0; i < count; i++)
			((void (*)(void))page)();
		return 0;
	}
	pthread_t thread;
	if (pthread_create(&thread, NULL, writer, page) != 0)
		return 1;
	return pthread_join(thread, NULL) != 0;
}
