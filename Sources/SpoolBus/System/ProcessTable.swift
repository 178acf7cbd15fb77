import Glibc

/// What /proc says about a process: enough to tell it from a later one that got its number.
struct ProcessFacts: Equatable {
    /// `R`, `S`, `Z` (a zombie, ended but not reaped), …
    let state: UInt8
    let processGroup: Int32
    /// When it started, in clock ticks since boot: with the pid, a process's identity.
    let startTicks: UInt64

    var hasEnded: Bool { state == UInt8(ascii: "Z") || state == UInt8(ascii: "X") }
}

/// Other processes, as /proc shows them.
enum ProcessTable {
    /// The facts of `pid`, or nil when there is no such process (or /proc cannot be read).
    static func facts(of pid: Int32) -> ProcessFacts? {
        guard let fd = try? FileDescriptor.open("/proc/\(pid)/stat".bytes, .readOnly) else { return nil }
        defer { fd.close() }
        // The file is one line of a few hundred bytes, given whole by the first read: a read
        // that does not fill the buffer needs no second one to find the end.
        let size = 1024
        var count: Int?
        let first = Bytes(unsafeUninitializedCapacity: size) { buffer, initialized in
            count = try? fd.read(into: UnsafeMutableRawBufferPointer(buffer))
            initialized = count ?? 0
        }
        guard let count else { return nil }
        guard count == size else { return parse(first) }
        guard let rest = try? fd.readAll(limit: 4096) else { return nil }
        return parse(first + rest)
    }

    /// Parses `/proc/PID/stat`: after the command name in parentheses (which may hold anything,
    /// so the last `)` ends it) come state, ppid, pgrp, …, and the start time as the 20th.
    static func parse(_ text: Bytes) -> ProcessFacts? {
        guard let close = text.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = text[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 19, let state = fields[0].first,
              let group = Int32(String(decoding: fields[2], as: UTF8.self)),
              let start = UInt64(String(decoding: fields[19], as: UTF8.self)) else { return nil }
        return ProcessFacts(state: state, processGroup: group, startTicks: start)
    }

    /// Whether any live process is in process group `group`.
    static func hasLiveMember(ofGroup group: Int32) -> Bool {
        guard let proc = try? DirectoryStream("/proc".bytes) else { return false }
        while let entry = proc.next() {
            guard let pid = Int32(String(decoding: entry.name, as: UTF8.self)),
                  let facts = facts(of: pid) else { continue }
            if facts.processGroup == group && !facts.hasEnded { return true }
        }
        return false
    }

    /// This boot's random id: /proc start times count from boot, so they only compare within one.
    static var bootID: Bytes? {
        guard let fd = try? FileDescriptor.open("/proc/sys/kernel/random/boot_id".bytes, .readOnly) else { return nil }
        defer { fd.close() }
        return (try? fd.readAll(limit: 64)).map { Bytes($0.prefix { $0 != UInt8(ascii: "\n") }) }
    }

    static let ticksPerSecond = Int64(max(1, sysconf(Int32(_SC_CLK_TCK))))

    /// Time since boot in clock ticks, rounded down as /proc rounds a process's start time.
    static func ticksSinceBoot() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_BOOTTIME, &now)
        let perSecond = UInt64(ticksPerSecond)
        return UInt64(now.tv_sec) * perSecond + UInt64(now.tv_nsec) / (1_000_000_000 / perSecond)
    }

    /// Time since boot, suspend included: the clock /proc start times count on.
    static func sinceBoot() -> Duration {
        var now = timespec()
        clock_gettime(CLOCK_BOOTTIME, &now)
        return .seconds(Int64(now.tv_sec)) + .nanoseconds(Int64(now.tv_nsec))
    }
}

extension ProcessSignal {
    /// Sends `signal` to every process of process group `group`.
    static func sendToGroup(_ group: Int32, _ signal: Int32) {
        _ = Glibc.kill(-group, signal)
    }
}
