import Foundation
import Glibc
import Testing

/// Producers no one here wrote, each used the way its users use it, against one running daemon.
/// `.ci/run` installs the ones a fresh machine lacks (rsync, socat, netcat-openbsd); a missing
/// tool fails the test, it is never skipped.
@Suite struct ProducerTests {
    /// Runs `argv` (looked up in PATH) in `directory`, with `input` on its stdin; its exit status.
    @discardableResult
    private static func tool(_ argv: [String], in directory: String, input: String? = nil) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        return process.terminationStatus
    }

    private static func require(_ tools: [String]) -> Bool {
        let missing = tools.filter { name in
            !["/usr/bin/", "/bin/", "/usr/local/bin/"].contains { access($0 + name, X_OK) == 0 }
        }
        if !missing.isEmpty { Issue.record("missing producer tools \(missing): .ci/run installs them with apt-get") }
        return missing.isEmpty
    }

    /// Writes a file the way tools that publish atomically without a temporary name do:
    /// `open(O_TMPFILE)` in the target folder, write, `linkat` to its name, close.
    private static let tmpfileProducer = """
        import ctypes, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        folder, name, body = sys.argv[1], sys.argv[2], sys.argv[3].encode()
        fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o644)
        os.write(fd, body)
        AT_FDCWD, AT_SYMLINK_FOLLOW = -100, 0x400
        if libc.linkat(AT_FDCWD, f"/proc/self/fd/{fd}".encode(), AT_FDCWD, os.path.join(folder, name).encode(), AT_SYMLINK_FOLLOW) != 0:
            sys.exit(f"linkat: errno {ctypes.get_errno()}")
        os.close(fd)
        """

    @Test func realProducersAreAllDispatched() async throws {
        guard Self.require(["cp", "rsync", "tar", "curl", "python3", "socat", "nc", "logger"]) else { return }
        try await withSandbox { sb in
            try sb.writeRules("""
                mkfifo  fifo
                listen  lines.sock
                listen  log.sock  type=dgram
                in/*       file    ./h/record.sh file
                fifo       fifo    ./h/record.sh fifo
                lines.sock socket  ./h/record.sh sock
                log.sock   socket  ./h/record.sh log
                """)
            try Files.makeDirectories(sb.spool + "/in")
            try await sb.startDaemon()
            let source = sb.root + "/source.txt"
            try Files.write(source, "payload\n")
            try Files.write(sb.root + "/tmpfile.py", Self.tmpfileProducer)
            let tree = sb.root + "/tree"
            try Files.makeDirectories(tree + "/in")
            try Files.write(tree + "/in/tar-1.msg", "payload\n")
            try Files.write(tree + "/in/tar-2.msg", "payload\n")
            #expect(try Self.tool(["tar", "-c", "-f", sb.root + "/in.tar", "-C", tree, "in"], in: sb.root) == 0)

            let spool = sb.spool
            let producers: [(String, [String], String?)] = [
                ("cp", ["cp", source, spool + "/in/cp.msg"], nil),
                ("rsync", ["rsync", source, spool + "/in/rsync.msg"], nil),
                ("rsync --inplace", ["rsync", "--inplace", source, spool + "/in/inplace.msg"], nil),
                ("tar -x", ["tar", "-x", "-f", sb.root + "/in.tar", "-C", spool], nil),
                ("O_TMPFILE+linkat", ["python3", sb.root + "/tmpfile.py", spool + "/in", "tmpfile.msg", "payload\n"], nil),
                ("curl -o", ["curl", "-s", "-o", spool + "/in/curl.msg", "file://" + source], nil),
                ("socat", ["socat", "-", "UNIX-CONNECT:" + spool + "/lines.sock"], "from socat\n"),
                ("nc -U", ["nc", "-N", "-U", spool + "/lines.sock"], "from nc\n"),
                ("socat into the FIFO", ["socat", "-u", "-", "PIPE:" + spool + "/fifo"], "into the fifo\n"),
                ("logger -u", ["logger", "-u", spool + "/log.sock", "from logger"], nil),
            ]
            for (label, argv, input) in producers {
                let status = try Self.tool(argv, in: sb.root, input: input)
                // `rsync --inplace` sets the file's times by name after closing it; the daemon may
                // have claimed it by then (it is complete at its close), and rsync says exit 23.
                // What matters, that the message arrives once and whole, is checked below.
                #expect(status == 0 || (label == "rsync --inplace" && status == 23), "\(label) failed: \(status)")
            }

            let files = ["cp", "rsync", "inplace", "tar-1", "tar-2", "tmpfile", "curl"].map { "in/\($0).msg" }
            try await sb.waitForRuns(files.count + 4, "runs of every producer's message")
            for name in files {
                let runs = sb.runs(named: name)
                #expect(runs.count == 1, "\(name): \(runs.count) runs")
                #expect(runs.first?.stdin == Bytes(text: "payload\n"), "\(name): \(runs.first?.stdin.lossy ?? "no run")")
            }
            let lines = Set(sb.runs(tagged: "sock").map(\.stdin.lossy))
            #expect(lines == ["from socat", "from nc"], "\(lines)")
            #expect(sb.runs(tagged: "fifo").map(\.stdin.lossy) == ["into the fifo"])
            #expect(sb.runs(tagged: "log").first?.stdin.lossy.contains("from logger") == true)
            #expect(sb.log.lines("nomatch").isEmpty, "\(sb.log.lines("nomatch"))")
            #expect(Files.list(sb.spool + "/in").isEmpty, "left in the spool: \(Files.list(sb.spool + "/in").map(\.lossy))")
        }
    }
}
