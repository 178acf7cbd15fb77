import Foundation
import Glibc
import Testing

/// What connecting to a broker must not do to the rest of the bus.
@Suite struct BrokerConnectTests {
    /// A broker named by a host name whose DNS does not answer, as in the network outage a spool
    /// is there to ride out: the lookup waits off the event loop, so files are handled and
    /// `status` answers meanwhile. The daemon runs in a mount namespace whose /etc/resolv.conf
    /// names a server that takes the query and never answers.
    @Test func aHostNameLookupThatHangsDoesNotStallTheBus() async throws {
        guard requireRoot("a mount namespace with a resolv.conf of its own") else { return }
        try await withSandbox { sandbox in
            let address = "127.83.\(Int.random(in: 1...250)).\(Int.random(in: 1...250))"
            // A name server that takes the query and never answers: nobody reads this socket.
            let silent = try boundLoopbackSocket(Int32(SOCK_DGRAM.rawValue), address: address, port: 53)
            defer { close(silent.fd) }
            let resolvConf = sandbox.root + "/resolv.conf"
            try Files.write(resolvConf, "nameserver \(address)\noptions timeout:15 attempts:1\n")
            try sandbox.writeRules("""
                broker hub mqtt://broker.example:1883 client-id=t-dns
                inbox/** file \(sandbox.handlers)/record.sh
                """)
            let launcher = ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                            "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"", resolvConf]
            try await sandbox.startDaemon(launcher: launcher)
            let facts = try await sandbox.statusFacts()
            #expect(facts["broker.hub"]?.contains("resolving broker.example:1883") == true, "status during the lookup: \(facts)")
            try sandbox.drop("inbox/a", "a\n")
            try await sandbox.waitForLine("the file handled while the lookup waits") { $0.verb == "ok" }
            #expect(sandbox.log.lines("disconnect").isEmpty, "the lookup (15 s) was still waiting")
            let failed = try await sandbox.waitForLine("the lookup's failure", timeout: .seconds(90)) {
                $0.verb == "disconnect" && $0["broker"] == "hub"
            }
            #expect(failed["err"]?.contains("cannot resolve 'broker.example'") == true, "\(failed)")
        }
    }

    /// `password-file=` naming a FIFO: read only if it is a regular file, so the connect fails
    /// with a reason instead of the bus hanging in open(2) until someone writes the FIFO.
    @Test func aFIFOAsThePasswordFileIsRefusedWithoutHanging() async throws {
        try await withSandbox { sandbox in
            // The kernel completes the TCP handshake for a listening socket: the connect gets as
            // far as the password.
            let listener = try boundLoopbackSocket(Int32(SOCK_STREAM.rawValue))
            defer { close(listener.fd) }
            try #require(listen(listener.fd, 8) == 0)
            try #require(mkfifo(sandbox.root + "/pw", 0o600) == 0)
            try sandbox.writeRules("""
                broker hub mqtt://127.0.0.1:\(listener.port) client-id=t-fifo username=u password-file=pw
                inbox/** file \(sandbox.handlers)/record.sh
                """)
            try await sandbox.startDaemon()
            let failed = try await sandbox.waitForLine("the refused password file") { $0.verb == "disconnect" && $0["broker"] == "hub" }
            #expect(failed["err"]?.contains("is not a regular file") == true, "\(failed)")
            try sandbox.drop("inbox/a", "a\n")
            try await sandbox.waitForLine("the bus going on") { $0.verb == "ok" }
        }
    }
}
