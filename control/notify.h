/* The service manager's readiness protocol (sd_notify(3)), spoken without
 * libsystemd: systemd starts a Type=notify service with $NOTIFY_SOCKET naming
 * a unix datagram socket, and the service sends it newline-separated
 * "KEY=VALUE" assignments, READY=1 once it is ready to serve, STOPPING=1
 * when it begins to stop. */
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

namespace fp6 {

/* Sends state ("READY=1\nSTATUS=...") in one datagram to the socket named by
 * socket_name: a path ("/run/systemd/notify") or, with a leading "@", a name
 * in the abstract namespace. OK without sending anything when socket_name is
 * empty or neither a path nor "@..." (not started by a service manager that
 * wants notifications); InvalidArgument when the name does not fit a
 * sockaddr_un; Unavailable when the datagram cannot be sent (nobody listens).
 * Never blocks: the socket is a datagram socket and sendto fails rather than
 * wait. Safe from any thread. */
absl::Status notify_socket_send(std::string_view socket_name, std::string_view state);

/* notify_socket_send to $NOTIFY_SOCKET; a failure is logged, not returned
 * (the service runs on; systemd times the start out if READY never came). */
void notify_service_manager(const std::string& state);

/* Socket activation (sd_listen_fds(3)), without libsystemd: a service
 * manager that opened the service's sockets starts it with them from fd 3
 * up, $LISTEN_FDS saying how many and $LISTEN_PID naming the process they
 * are for. Returns those descriptors, marked close-on-exec, when $LISTEN_PID
 * is this process, and an empty vector when it is unset or another process
 * (the variables were inherited, not meant for us). Unsets LISTEN_PID,
 * LISTEN_FDS and LISTEN_FDNAMES either way, so no child inherits them.
 * InvalidArgument when LISTEN_FDS or LISTEN_PID is not a number, or a
 * descriptor it names is not open. Call it once, before anything opens
 * files (fd 3 onwards must still be the manager's). */
absl::StatusOr<std::vector<int>> listen_fds_from_service_manager();

}  // namespace fp6
