import Foundation
import Glibc

/// Real clients of the Unix IPC channels: Python's `socket.send_fds`, a C program for POSIX
/// message queues (built by the test with gcc), util-linux `kill`.
extension Sandbox {
    /// How many descriptors the process `pid` holds open now.
    func descriptorCount(of pid: pid_t) -> Int {
        Files.list("/proc/\(pid)/fd").count
    }

    /// Waits until the daemon holds at most `count` descriptors again (start-up may still hold
    /// one or two of its own when the count before was taken, never more later).
    func waitForDescriptorCount(_ count: Int, of pid: pid_t) async throws {
        try await waitFor("the daemon to hold at most \(count) descriptors (holds \(descriptorCount(of: pid)))") {
            descriptorCount(of: pid) <= count
        }
    }

    /// Whether the process `pid` has `path` open.
    func holdsOpen(_ path: String, pid: pid_t) -> Bool {
        Files.list("/proc/\(pid)/fd").contains { Files.readLink("/proc/\(pid)/fd/" + $0.lossy) == path }
    }

    /// Runs a Python 3 script written to ROOT with `arguments`.
    func python(_ script: String, _ arguments: [String]) async throws -> CommandResult {
        let path = root + "/client-\(UUID().uuidString).py"
        try Files.write(path, script)
        return try await runProgram(["/usr/bin/python3", path] + arguments)
    }

    /// Builds `IPCClients.messageQueueClient` with gcc into ROOT; returns its path.
    func buildQueueClient() async throws -> String {
        let source = root + "/mqclient.c"
        let binary = root + "/mqclient"
        try Files.write(source, IPCClients.messageQueueClient)
        let built = try await runProgram(["/usr/bin/gcc", "-O1", "-o", binary, source])
        guard built.status == .exited(0) else { throw TimedOut(what: "gcc mqclient.c", details: "\(built)") }
        return binary
    }

    /// A queue name no other test uses.
    func queueName() -> String { "/spoolbus-test-" + String(root.split(separator: "-").last ?? "x") + "-\(UUID().uuidString.prefix(8))" }
}

enum IPCClients {
    /// `mqclient send /Q PRIO TEXT` (blocking), `mqclient fill /Q SECONDS` (sends until a send
    /// has waited SECONDS on a full queue, prints how many went), `mqclient mode /Q` (prints its
    /// mode in octal), `mqclient unlink /Q`.
    static let messageQueueClient = #"""
        #include <errno.h>
        #include <fcntl.h>
        #include <mqueue.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/stat.h>
        #include <time.h>

        int main(int argc, char **argv) {
            if (argc >= 3 && strcmp(argv[1], "unlink") == 0) return mq_unlink(argv[2]) == 0 ? 0 : 1;
            if (argc >= 3 && strcmp(argv[1], "mode") == 0) {
                struct stat st;
                mqd_t r = mq_open(argv[2], O_RDONLY);
                if (r == (mqd_t)-1 || fstat(r, &st) != 0) { perror("mode"); return 2; }
                printf("%o\n", st.st_mode & 0777);
                return 0;
            }
            mqd_t q = mq_open(argv[2], O_WRONLY);
            if (q == (mqd_t)-1) { perror("mq_open"); return 2; }
            if (strcmp(argv[1], "send") == 0 && argc == 5) {
                if (mq_send(q, argv[4], strlen(argv[4]), (unsigned)atoi(argv[3])) != 0) { perror("mq_send"); return 3; }
                return 0;
            }
            if (strcmp(argv[1], "fill") == 0 && argc == 4) {
                for (int n = 0; n < 100000; n++) {
                    char msg[32];
                    snprintf(msg, sizeof msg, "m%d", n);
                    struct timespec until;
                    clock_gettime(CLOCK_REALTIME, &until);
                    until.tv_sec += atoi(argv[3]);
                    if (mq_timedsend(q, msg, strlen(msg), 0, &until) != 0) {
                        if (errno == ETIMEDOUT) { printf("%d\n", n); return 0; }
                        perror("mq_timedsend");
                        return 3;
                    }
                }
                return 4;
            }
            fprintf(stderr, "usage: mqclient send /Q PRIO TEXT | fill /Q SECONDS | unlink /Q\n");
            return 64;
        }
        """#

    /// `client.py SOCKET stream|seqpacket FILE`: sends, on one connection, a line with FILE's
    /// descriptor, one with a pipe's, one with two descriptors, one with forty (more than the
    /// daemon's control buffer holds), one with a write-only descriptor, and a plain line;
    /// prints the daemon's answer to each, one per line.
    static let descriptorClient = #"""
        import os, socket, sys
        path, kind, file = sys.argv[1], sys.argv[2], sys.argv[3]
        stream = kind == "stream"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM if stream else socket.SOCK_SEQPACKET)
        s.connect(path)
        answers = s.makefile("rb") if stream else None
        def answer():
            data = answers.readline() if stream else s.recv(65536)
            return data.decode().strip()
        end = b"\n" if stream else b""
        f = open(file, "rb")
        r, w = os.pipe()
        os.write(w, b"through a pipe\n")
        os.close(w)
        wo = os.open(file, os.O_WRONLY)
        socket.send_fds(s, [b"file-line" + end], [f.fileno()]); print(answer())
        socket.send_fds(s, [b"pipe-line" + end], [r]); print(answer())
        socket.send_fds(s, [b"two" + end], [f.fileno(), r]); print(answer())
        socket.send_fds(s, [b"forty" + end], [f.fileno()] * 40); print(answer())
        socket.send_fds(s, [b"write-only" + end], [wo]); print(answer())
        s.sendall(b"plain" + end); print(answer())
        """#
}
