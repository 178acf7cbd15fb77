import Foundation
import Glibc
import Testing

// End-to-end tests drive the real `spoolbus` binary on a temporary spool. Every test gets a
// sandbox folder of its own:
//
//   ROOT/spoolbus.rules    the rules file (0644: the daemon, run as root, refuses others-writable)
//   ROOT/h/record.sh       the standard handler: records argv, environment, stdin, cwd
//   ROOT/spool/            the spool
//   ROOT/dispatch.log      the dispatch log (`--log`)
//   ROOT/out/              what handlers record ($OUT in their environment)
//
// Waiting is always for a condition with a generous deadline, never a bare sleep.

// MARK: - The binary under test

/// The `spoolbus` executable: beside the test bundle in the build products folder (`swift test`
/// builds every product first). `SPOOLBUS_BINARY` overrides.
let spoolbusBinary: String = {
    if let override = ProcessInfo.processInfo.environment["SPOOLBUS_BINARY"] { return override }
    var folders: [String] = []
    if let exe = Files.readLink("/proc/self/exe") { folders.append((exe as NSString).deletingLastPathComponent) }
    if let first = CommandLine.arguments.first, let resolved = Files.realPath(first) {
        folders.append((resolved as NSString).deletingLastPathComponent)
    }
    for folder in folders {
        var candidate = folder
        // The bundle may be a folder (`….xctest/…`) below the products folder: walk up a little.
        for _ in 0..<4 {
            let path = candidate + "/spoolbus"
            if Files.kind(Bytes(text: path)) == .file { return path }
            candidate = (candidate as NSString).deletingLastPathComponent
        }
    }
    return (folders.first ?? ".") + "/spoolbus"
}()

// MARK: - Waiting

/// A deadline passed before the awaited condition held.
struct TimedOut: Error, CustomStringConvertible {
    let what: String
    let details: String
    var description: String { "timed out waiting for \(what)\n\(details)" }
}

/// Polls `condition` every 20 ms until it holds, or throws `TimedOut` after `timeout`.
func waitFor(
    _ what: String, timeout: Duration = .seconds(60), details: () -> String = { "" },
    _ condition: () throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while true {
        if try condition() { return }
        if clock.now >= deadline { throw TimedOut(what: what, details: details()) }
        try await Task.sleep(for: .milliseconds(20))
    }
}

// MARK: - Sandboxes

/// Bounds how many sandboxes (daemons, handler floods) are alive at once: Swift Testing starts
/// every test at the same time, the machine has 2 cores and root has 128 inotify instances.
actor SandboxSlots {
    static let shared = SandboxSlots(
        limit: Int(ProcessInfo.processInfo.environment["SPOOLBUS_E2E_PARALLEL"] ?? "") ?? 6)

    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { free = max(1, limit) }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}

/// Runs `body` with a fresh sandbox, and always tears it down: every process it started is
/// killed with SIGKILL, handlers left behind too, and the folder removed (kept when the
/// environment sets SPOOLBUS_E2E_KEEP, for a post-mortem).
/// True when the tests run as root; otherwise records an issue saying `what` needs root, so a
/// root-only test fails where it cannot run instead of passing silently (CI runs as root).
func requireRoot(_ what: String) -> Bool {
    if geteuid() == 0 { return true }
    Issue.record("\(what) needs root (the tests run as root in CI)")
    return false
}

func withSandbox(_ body: (Sandbox) async throws -> Void) async throws {
    await SandboxSlots.shared.acquire()
    let sandbox: Sandbox
    do {
        sandbox = try Sandbox()
    } catch {
        await SandboxSlots.shared.release()
        throw error
    }
    do {
        try await body(sandbox)
    } catch {
        sandbox.tearDown()
        await SandboxSlots.shared.release()
        throw error
    }
    sandbox.tearDown()
    await SandboxSlots.shared.release()
}

/// What one run of `h/record.sh` saw.
struct HandlerRun: CustomStringConvertible {
    /// The arguments after the program name.
    let argv: [Bytes]
    /// The SPOOL_* variables that were set.
    let environment: [String: Bytes]
    let stdin: Bytes
    let workingDirectory: String
    /// The content of SPOOL_PATH, read while the handler ran.
    let pathContent: Bytes?

    /// The first argument: the tests use it as a tag naming the rule.
    var tag: String { argv.first?.lossy ?? "" }
    var name: Bytes? { environment["SPOOL_NAME"] }
    func variable(_ name: String) -> String? { environment[name]?.lossy }

    var description: String {
        "run(argv: \(argv.map { $0.lossy }), name: \(name?.lossy ?? "-"), stdin: \(stdin.count) bytes)"
    }
}

/// The result of a `spoolbus` command that runs to completion.
struct CommandResult: CustomStringConvertible {
    let status: ExitStatus
    let stdout: Bytes
    let stderr: Bytes
    var out: String { stdout.lossy }
    var err: String { stderr.lossy }
    var description: String { "\(status)\n--- stdout\n\(out)--- stderr\n\(err)" }
}

/// A running (or finished) `spoolbus run`.
final class Daemon {
    let child: Child
    let stderrPath: String
    let log: DispatchLog

    init(child: Child, stderrPath: String, log: DispatchLog) {
        self.child = child
        self.stderrPath = stderrPath
        self.log = log
    }

    var pid: pid_t { child.pid }
    var isRunning: Bool { child.isRunning }
    var stderr: String { Files.readText(stderrPath) ?? "" }

    func signal(_ number: Int32) { child.signal(number) }

    /// Waits for the process to end and returns how it ended.
    @discardableResult
    func waitForExit(timeout: Duration = .seconds(60)) async throws -> ExitStatus {
        try await waitFor("spoolbus (pid \(pid)) to exit", timeout: timeout, details: { self.log.tail(30) }) {
            !child.isRunning
        }
        return child.poll()!
    }

    /// SIGTERM, then waits for the exit.
    @discardableResult
    func stop() async throws -> ExitStatus {
        signal(SIGTERM)
        return try await waitForExit()
    }
}

/// One test's private world: a folder with a rules file, handlers, a spool and a log.
final class Sandbox {
    let root: String
    let rulesPath: String
    let spool: String
    let logPath: String
    let out: String
    let handlers: String
    let log: DispatchLog
    private var children: [Child] = []
    private var daemons: [Daemon] = []
    private var counter = 0

    init() throws {
        var template = Array("/tmp/spoolbus-e2e-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemCallFailed("mkdtemp") }
        root = Files.realPath(String(cString: made)) ?? String(cString: made)
        rulesPath = root + "/spoolbus.rules"
        spool = root + "/spool"
        logPath = root + "/dispatch.log"
        out = root + "/out"
        handlers = root + "/h"
        log = DispatchLog(path: logPath)
        try Files.makeDirectories(spool)
        try Files.makeDirectories(out)
        try Files.makeDirectories(handlers)
        try writeHandler("record.sh", Sandbox.recorderScript)
    }

    // MARK: Files

    /// `SPOOL/.spoolbus/<sub>`.
    func state(_ sub: String) -> String { spool + "/.spoolbus/" + sub }

    /// Writes the rules file in place (0644).
    func writeRules(_ text: String) throws {
        try Files.write(rulesPath, text)
    }

    /// Replaces the rules file the way editors do: a new file renamed over the old one.
    func replaceRules(_ text: String) throws {
        let temporary = root + "/.spoolbus.rules.new"
        try Files.write(temporary, text)
        try Files.rename(temporary, rulesPath)
    }

    /// Writes `h/<name>` as an executable script (0755: never writable by others).
    func writeHandler(_ name: String, _ script: String) throws {
        try Files.write(handlers + "/" + name, script, mode: 0o755)
    }

    /// Writes a message straight into the spool: created, written in one go, closed.
    func drop(_ name: Bytes, _ body: Bytes) throws {
        let path = Bytes(text: spool + "/") + name
        if let slash = path.lastIndex(of: 47) { try Files.makeDirectories(Array(path[..<slash])) }
        try Files.write(path, body)
    }

    func drop(_ name: String, _ body: String) throws { try drop(Bytes(text: name), Bytes(text: body)) }

    /// Writes a message outside the spool, then renames it in.
    func moveIn(_ name: Bytes, _ body: Bytes) throws {
        let staging = root + "/staging-\(next())"
        try Files.write(Bytes(text: staging), body)
        let path = Bytes(text: spool + "/") + name
        if let slash = path.lastIndex(of: 47) { try Files.makeDirectories(Array(path[..<slash])) }
        try Files.rename(Bytes(text: staging), path)
    }

    func spoolPath(_ name: String) -> String { spool + "/" + name }

    func existsInSpool(_ name: Bytes) -> Bool { Files.exists(Bytes(text: spool + "/") + name) }
    func existsInSpool(_ name: String) -> Bool { existsInSpool(Bytes(text: name)) }

    /// Names (recursive) in `.spoolbus/work/`.
    var claimed: [Bytes] { Files.walk(state("work")) }

    private func next() -> Int {
        counter += 1
        return counter
    }

    // MARK: Handler records

    /// Every completed run of `h/record.sh`, in no particular order.
    var runs: [HandlerRun] {
        Files.list(out).filter { $0.hasPrefix(Bytes(text: "run.")) }.compactMap { name in
            let folder = out + "/" + name.lossy
            guard let argv = Files.read(folder + "/argv") else { return nil }
            var environment: [String: Bytes] = [:]
            for file in Files.list(folder) where file.hasPrefix(Bytes(text: "env.")) {
                environment[String(file.lossy.dropFirst(4))] = Files.read(folder + "/" + file.lossy)
            }
            return HandlerRun(
                argv: argv.pieces(separatedBy: 0),
                environment: environment,
                stdin: Files.read(folder + "/stdin") ?? [],
                workingDirectory: (Files.readText(folder + "/cwd") ?? "").trimmingCharacters(in: .newlines),
                pathContent: Files.read(folder + "/path-content"))
        }
    }

    func runs(tagged tag: String) -> [HandlerRun] { runs.filter { $0.tag == tag } }

    func runs(named name: Bytes) -> [HandlerRun] { runs.filter { $0.name == name } }
    func runs(named name: String) -> [HandlerRun] { runs(named: Bytes(text: name)) }

    /// Waits until at least `count` recorded runs satisfy `matching`, and returns them all.
    @discardableResult
    func waitForRuns(
        _ count: Int, timeout: Duration = .seconds(60), _ what: String = "handler runs",
        matching: @escaping (HandlerRun) -> Bool = { _ in true }
    ) async throws -> [HandlerRun] {
        var found: [HandlerRun] = []
        try await waitFor("\(count) \(what)", timeout: timeout) {
            found = runs.filter(matching)
            return found.count >= count
        }
        return found
    }

    /// Waits for a recorded run satisfying `matching` and returns it.
    func waitForRun(
        _ what: String = "a handler run", timeout: Duration = .seconds(60),
        matching: @escaping (HandlerRun) -> Bool = { _ in true }
    ) async throws -> HandlerRun {
        var found: HandlerRun?
        try await waitFor(what, timeout: timeout) {
            found = runs.first(where: matching)
            return found != nil
        }
        return found!
    }

    /// Waits for a log line satisfying `matching` and returns the first one.
    @discardableResult
    func waitForLine(
        _ what: String, timeout: Duration = .seconds(60), matching: @escaping (LogLine) -> Bool
    ) async throws -> LogLine {
        var found: LogLine?
        try await waitFor("log line: \(what)", timeout: timeout) {
            found = log.lines.first(where: matching)
            return found != nil
        }
        return found!
    }

    /// Waits until the message named `name` has been received, and returns its first id.
    func waitForID(of name: Bytes, timeout: Duration = .seconds(60)) async throws -> String {
        let line = try await waitForLine("recv name=\(name.lossy)", timeout: timeout) {
            $0.verb == "recv" && $0.bytes("name") == name
        }
        return try #require(line["id"], "recv line without id=: \(line)")
    }

    func waitForID(of name: String, timeout: Duration = .seconds(60)) async throws -> String {
        try await waitForID(of: Bytes(text: name), timeout: timeout)
    }

    /// `waitFor` with this sandbox's log, daemon stderr and records attached on a timeout.
    func waitFor(_ what: String, timeout: Duration = .seconds(60), _ condition: () throws -> Bool) async throws {
        try await EndToEndTests.waitFor(what, timeout: timeout, details: { self.diagnostics() }, condition)
    }

    /// The state of the sandbox, for failure messages.
    func diagnostics() -> String {
        var text = "sandbox: \(root)\n--- dispatch log (last 40 lines)\n\(log.tail(40))\n"
        for daemon in daemons {
            text += "--- daemon pid \(daemon.pid) (\(daemon.child.poll().map { "\($0)" } ?? "running")) stderr\n"
            text += String(daemon.stderr.suffix(3000)) + "\n"
        }
        text += "--- out/: \(Files.list(out).map { $0.lossy }.sorted().prefix(40))\n"
        text += "--- spool files: \(Files.walk(spool).map { $0.lossy }.sorted().prefix(40))\n"
        return text
    }

    // MARK: Processes

    /// The environment handlers and commands get: ours (without a SPOOLBUS_SPOOL that would
    /// move a test's default spool), plus OUT.
    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SPOOL_") && $0.key != "SPOOLBUS_SPOOL" }
        environment["OUT"] = out
        return environment
    }

    /// Starts `spoolbus run RULES --spool SPOOL --log LOG` (or `arguments` when given, plus
    /// `extra`) in `directory` (default ROOT) with the sandbox's environment plus `variables`,
    /// and waits for a new `start` line in `log`. `launcher` comes first when given (a program
    /// that sets something up and execs the rest).
    @discardableResult
    func startDaemon(
        _ extra: [String] = [], arguments: [String]? = nil, directory: String? = nil, log: DispatchLog? = nil,
        variables: [String: String] = [:], launcher: [String] = []
    ) async throws -> Daemon {
        let log = log ?? self.log
        let before = log.lines("start").count
        let number = next()
        let stderrPath = root + "/daemon-\(number).stderr"
        // Handlers get only a few of the daemon's variables; the recorder needs OUT.
        let argv = launcher + [spoolbusBinary] + (arguments ?? ["run", rulesPath, "--spool", spool, "--log", logPath]) + ["--env", "OUT"] + extra
        let child = try Spawner.spawn(
            argv.map { Bytes(text: $0) }, environment: environment.merging(variables) { $1 }, directory: directory ?? root,
            stdin: "/dev/null", stdout: root + "/daemon-\(number).stdout", stderr: stderrPath,
            label: "spoolbus run #\(number)")
        children.append(child)
        let daemon = Daemon(child: child, stderrPath: stderrPath, log: log)
        daemons.append(daemon)
        try await EndToEndTests.waitFor("a start line from spoolbus pid \(child.pid)", details: { self.diagnostics() }) {
            if let status = child.poll() {
                throw TimedOut(what: "start line: the daemon exited with \(status)", details: self.diagnostics())
            }
            return log.lines("start").count > before
        }
        return daemon
    }

    /// Runs `spoolbus ARGS…` to completion (stdin from `stdin` or /dev/null), in `directory`
    /// (default ROOT), with `variables` added to the environment.
    func spoolbus(
        _ arguments: [String], stdin: Bytes? = nil, directory: String? = nil, variables: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> CommandResult {
        try await spoolbus(bytes: arguments.map { Bytes(text: $0) }, stdin: stdin, directory: directory, variables: variables, timeout: timeout)
    }

    func spoolbus(
        bytes arguments: [Bytes], stdin: Bytes? = nil, directory: String? = nil, variables: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> CommandResult {
        let number = next()
        let base = root + "/command-\(number)"
        var input = "/dev/null"
        if let stdin {
            input = base + ".stdin"
            try Files.write(Bytes(text: input), stdin)
        }
        let child = try Spawner.spawn(
            [Bytes(text: spoolbusBinary)] + arguments, environment: environment.merging(variables) { $1 }, directory: directory ?? root,
            stdin: input, stdout: base + ".stdout", stderr: base + ".stderr",
            label: "spoolbus " + arguments.map { $0.lossy }.joined(separator: " "))
        children.append(child)
        try await waitFor("`\(child.label)` to finish", timeout: timeout) { !child.isRunning }
        return CommandResult(
            status: child.poll()!, stdout: Files.read(base + ".stdout") ?? [], stderr: Files.read(base + ".stderr") ?? [])
    }

    /// Starts `spoolbus ARGS…` without waiting for it (`watch`), in `directory` (default ROOT)
    /// with `variables` added to the environment: its stdout goes to the file returned; the
    /// sandbox's tear-down kills it.
    func startSpoolbus(_ arguments: [String], directory: String? = nil, variables: [String: String] = [:]) throws -> (child: Child, stdout: String) {
        let base = root + "/command-\(next())"
        let child = try Spawner.spawn(
            ([spoolbusBinary] + arguments).map { Bytes(text: $0) }, environment: environment.merging(variables) { $1 },
            directory: directory ?? root,
            stdin: "/dev/null", stdout: base + ".stdout", stderr: base + ".stderr",
            label: "spoolbus " + arguments.joined(separator: " "))
        children.append(child)
        return (child, base + ".stdout")
    }

    /// Kills everything this sandbox started (and what that left behind) and removes the folder.
    func tearDown() {
        for child in children { child.killAndReap() }
        // Up to 5 s: on a loaded machine a killed process can take well over the 0.5 s this was.
        for _ in 0..<500 {
            let left = Leftovers.processes(of: root).filter { !Leftovers.isGone($0) }
            if left.isEmpty { break }
            for pid in left { kill(pid, SIGKILL) }
            usleep(10_000)  // tear-down only: give the kernel a moment to take the processes down
        }
        if ProcessInfo.processInfo.environment["SPOOLBUS_E2E_KEEP"] == nil {
            Spawner.runToCompletion(["/bin/rm", "-rf", root])
        }
    }

    // MARK: Handler scripts

    /// Records what one run saw into `$OUT/run.XXXXXX/`, made atomically visible by a rename:
    /// `argv` (NUL-separated, byte-exact), `env.VAR` for each SPOOL_* variable that is set,
    /// `stdin`, `cwd`, and `path-content` (the file at SPOOL_PATH, when it is one).
    static let recorderScript = #"""
        #!/bin/sh
        # Records what this handler run saw, byte for byte, for the end-to-end tests.
        t=$(mktemp -d "$OUT/.run.XXXXXX") || exit 99
        printf '%s\0' "$@" > "$t/argv"
        for v in SPOOL_DIR SPOOL_NAME SPOOL_PATH SPOOL_EVENT SPOOL_TYPE SPOOL_ID SPOOL_RULE \
                 SPOOL_ATTEMPT SPOOL_MESSAGE SPOOL_PEER_PID SPOOL_PEER_UID SPOOL_PEER_GID \
                 SPOOL_FD_TYPE SPOOL_PRIORITY SPOOL_SIGNAL_VALUE \
                 SPOOL_ORIGIN_HOST SPOOL_ORIGIN_ID SPOOL_ORIGIN_NAME SPOOL_MQTT_TOPIC SPOOL_MQTT_BROKER; do
            eval "if [ -n \"\${$v+set}\" ]; then printf '%s' \"\$$v\" > \"\$t/env.$v\"; fi"
        done
        pwd -P > "$t/cwd"
        cat > "$t/stdin" 2>/dev/null
        if [ -n "${SPOOL_PATH-}" ] && [ -f "$SPOOL_PATH" ]; then cat "$SPOOL_PATH" > "$t/path-content"; fi
        mv "$t" "$OUT/run.${t##*/.run.}"
        """#
}

// MARK: - Small helpers

extension String {
    /// The lines of a command's output, without empty ones.
    var nonEmptyLines: [String] { split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty } }
}

/// Whether `text` holds valid UTF-8.
func isValidUTF8(_ bytes: Bytes) -> Bool { String(validating: bytes, as: UTF8.self) != nil }
