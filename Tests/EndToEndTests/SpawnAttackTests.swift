import Foundation
import Glibc
import Testing

/// Attacks on how the root daemon starts a handler as another user (`user=`): between its
/// setuid and its exec the child is already that user's to signal.
@Suite struct SpawnAttackTests {
    /// The user whose handlers the attacker stops: one no other test runs as, since the
    /// attacker stops every process of its user (`kill(-1, SIGSTOP)`).
    static let handlerUser = "games"

    /// `stopper SECONDS ENOUGH`: sends SIGSTOP to every process of its user, over and over,
    /// and now and then lets go (SIGCONT) of those that are no longer the daemon (have exec'd
    /// their handler), until ENOUGH exists or SECONDS have passed; then lets go of all.
    static let stopper = #"""
        #include <dirent.h>
        #include <signal.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <time.h>
        #include <unistd.h>

        int main(int argc, char **argv) {
            if (argc != 3) return 2;
            time_t end = time(NULL) + atoi(argv[1]);
            long round = 0;
            while (time(NULL) < end) {
                kill(-1, SIGSTOP);
                if (++round % 200) continue;
                if (access(argv[2], F_OK) == 0) break;
                DIR *proc = opendir("/proc");
                struct dirent *entry;
                while (proc && (entry = readdir(proc))) {
                    int pid = atoi(entry->d_name);
                    if (pid <= 0 || pid == getpid()) continue;
                    char path[64], comm[64] = {0};
                    snprintf(path, sizeof path, "/proc/%d/comm", pid);
                    FILE *file = fopen(path, "r");
                    if (!file) continue;
                    if (fgets(comm, sizeof comm, file) && strncmp(comm, "spoolbus", 8) != 0) kill(pid, SIGCONT);
                    fclose(file);
                }
                if (proc) closedir(proc);
            }
            kill(-1, SIGCONT);
            return 0;
        }
        """#

    /// A `user=` handler is started by a fork that drops to the user and execs, while the
    /// daemon waits for word of the exec. That user may signal the child from its setuid on:
    /// a SIGSTOP before the exec held the daemon in that wait for good (seen: the whole root
    /// daemon blocked in a pipe read, every message after it unserved, `status` unanswered).
    /// A spawn whose child stops before its exec now fails (and its message is retried).
    @Test func aHandlersUserStoppingItBeforeItsExecDoesNotHangTheDaemon() async throws {
        guard Attacker.available() else { return }
        guard let account = getpwnam(Self.handlerUser) else {
            Issue.record("this test needs the user '\(Self.handlerUser)'")
            return
        }
        let uid = account.pointee.pw_uid, gid = account.pointee.pw_gid
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            let source = sb.root + "/stopper.c"
            let stopper = sb.handlers + "/stopper"
            try Files.write(source, Self.stopper)
            let built = try await sb.runProgram(["/usr/bin/gcc", "-O2", "-o", stopper, source])
            guard built.status == .exited(0) else { throw TimedOut(what: "gcc stopper.c", details: "\(built)") }
            try sb.writeRules("*  file  user=\(Self.handlerUser)  /bin/true\n")
            try await sb.startDaemon()
            let enough = sb.handlers + "/enough"
            async let attack = sb.runProgram(
                ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--", stopper, "90", enough],
                timeout: .seconds(120))
            let count = 300
            do {
                for index in 1...count { try sb.drop("m\(index)", "x") }
                try await sb.waitFor("\(count) messages settled while their handlers' user stops them (ok \(sb.log.lines("ok").count))",
                                     timeout: .seconds(60)) {
                    sb.log.lines("ok").count + sb.log.lines("dead").count == count
                }
            } catch {
                try Files.write(enough, "")
                _ = try await attack
                throw error
            }
            try Files.write(enough, "")
            _ = try await attack
            #expect(sb.log.lines("dead").isEmpty, "a stopped spawn fails and is retried: \(sb.log.tail(10))")
            let status = try await sb.spoolbus(["status", "--spool", sb.spool, "--raw"])
            #expect(status.status == .exited(0), "the daemon still answers: \(status)")
        }
    }
}
