/* Listens on 127.0.0.1 (on a port the kernel picks), then connects to it and
 * accepts the connection, as many times as argv[1] says (default 1). Each
 * connect() is a sock:inet_sock_set_state event from TCP_CLOSE (7) to
 * TCP_SYN_SENT (2) in this process (comm ptt_tcp), with saddr and daddr
 * 127.0.0.1 and dport the listening port. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int count = argc > 1 ? atoi(argv[1]) : 1;
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t len = sizeof(addr);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int server = socket(AF_INET, SOCK_STREAM, 0);
	if (server < 0 || bind(server, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(server, count) < 0 || getsockname(server, (struct sockaddr *)&addr, &len) < 0)
		return 1;
	for (int i = 0; i < count; i++) {
		int client = socket(AF_INET, SOCK_STREAM, 0);
		if (client < 0 || connect(client, (struct sockaddr *)&addr, sizeof(addr)) < 0)
			return 1;
		int accepted = accept(server, NULL, NULL);
		if (accepted < 0)
			return 1;
		close(accepted);
		close(client);
	}
	close(server);
	return 0;
}
