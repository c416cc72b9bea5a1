/* Sends argv[2] (default "ptt") as a UDP datagram to 127.0.0.1, argv[1] times
 * (default 1), to a socket of its own that receives each one: every datagram
 * goes through the loopback device (a net:net_dev_queue event in this process,
 * comm ptt_dgram, its skb's data starting with the 14-byte Ethernet header). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int count = argc > 1 ? atoi(argv[1]) : 1;
	const char *payload = argc > 2 ? argv[2] : "ptt";
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t len = sizeof(addr);
	char buffer[2048];
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int receiver = socket(AF_INET, SOCK_DGRAM, 0);
	int sender = socket(AF_INET, SOCK_DGRAM, 0);
	if (receiver < 0 || sender < 0 || bind(receiver, (struct sockaddr *)&addr, sizeof(addr)) < 0
	    || getsockname(receiver, (struct sockaddr *)&addr, &len) < 0)
		return 1;
	for (int i = 0; i < count; i++) {
		if (sendto(sender, payload, strlen(payload), 0, (struct sockaddr *)&addr,
			   sizeof(addr)) < 0 || recv(receiver, buffer, sizeof(buffer), 0) < 0)
			return 1;
	}
	return 0;
}
