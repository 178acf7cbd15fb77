/// The environment a handler program starts from: a few variables passed on from the daemon's
/// own, never the rest of it. A daemon's environment holds what its supervisor gave it
/// (`NOTIFY_SOCKET`, `LISTEN_FDS`, credentials, `LD_PRELOAD`), which a handler, perhaps run as
/// another user, must not see; what a handler needs is named here or asked for with `--env`.
struct HandlerEnvironment {
    /// Used when the daemon has no `PATH`: systemd's default for services.
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".bytes

    /// Passed on from the daemon's environment when set: how to find programs, the locale,
    /// the time zone and where temporary files go.
    static func isPassedOn(_ name: Bytes) -> Bool {
        ["PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR"].contains { $0.bytes == name } || name.starts(with: "LC_".bytes)
    }

    /// `NAME=value` entries, in order; a later entry of the same name replaces an earlier one.
    private(set) var entries: [Bytes] = []

    /// The passed-on variables of `daemon`, then `extra` (`--env NAME` takes NAME's value from
    /// `daemon`, `--env NAME=VALUE` sets it). The daemon's user's HOME, USER and LOGNAME come in
    /// `forUser`.
    init(daemon: [Bytes], extra: [Bytes]) {
        var path: Bytes?
        for entry in daemon {
            let name = Self.name(of: entry)
            guard Self.isPassedOn(name) else { continue }
            if name == "PATH".bytes { path = entry }
            set(entry)
        }
        if path == nil { set("PATH=".bytes + Self.defaultPath) }
        for item in extra {
            if item.contains(UInt8(ascii: "=")) {
                set(item)
            } else if let entry = daemon.last(where: { Self.name(of: $0) == item }) {
                set(entry)
            }
        }
        daemonIdentity = Credentials.current(environment: daemon)
        daemonUserEntries = forUser(nil, identity: daemonIdentity).entries
    }

    /// Who the daemon runs as, for handlers without `user=`.
    private var daemonIdentity: (user: Bytes, home: Bytes)?
    /// `forUser(nil)`, made once: it is the start of nearly every run's environment.
    private var daemonUserEntries: [Bytes] = []

    /// The environment for a run as `credentials` (nil: as the daemon's own user), before the
    /// `SPOOL_*` variables. `--env` values win over HOME, USER and LOGNAME.
    func forUser(_ credentials: Credentials?) -> HandlerEnvironment {
        guard let credentials else { return HandlerEnvironment(entries: daemonUserEntries) }
        return forUser(credentials, identity: (credentials.user.bytes, credentials.home))
    }

    private func forUser(_ credentials: Credentials?, identity: (user: Bytes, home: Bytes)?) -> HandlerEnvironment {
        var result = HandlerEnvironment()
        if let (user, home) = identity {
            result.set("HOME=".bytes + home)
            result.set("USER=".bytes + user)
            result.set("LOGNAME=".bytes + user)
        }
        for entry in entries { result.set(entry) }
        return result
    }

    private init() {}

    private init(entries: [Bytes]) { self.entries = entries }

    /// Sets `name` to `value`, replacing an earlier value.
    mutating func set(_ name: String, _ value: Bytes) { set(name.bytes + [UInt8(ascii: "=")] + value) }

    private mutating func set(_ entry: Bytes) {
        let length = Self.nameLength(of: entry)
        // Compared in place: a run sets a dozen variables, each against every entry.
        entries.removeAll { $0.count >= length && Self.nameLength(of: $0) == length && $0[..<length].elementsEqual(entry[..<length]) }
        entries.append(entry)
    }

    private static func nameLength(of entry: Bytes) -> Int {
        entry.firstIndex(of: UInt8(ascii: "=")) ?? entry.count
    }

    private static func name(of entry: Bytes) -> Bytes {
        Bytes(entry.prefix { $0 != UInt8(ascii: "=") })
    }
}
