extension Directory {
    /// Writes `content` to a new file in `temporaryFolder` (created with O_EXCL, never through
    /// a symlink), fsyncs it, and renames it to `name` in this folder, so a reader sees the
    /// whole file or nothing. With `replacing: false` an existing `name` is an EEXIST error.
    /// With `synchronize: false` the caller makes it durable later (many files, one syncfs).
    public func writeAtomically(_ content: Bytes, to name: Bytes, through temporaryFolder: Directory,
                                temporaryName: Bytes = Directory.uniqueTemporaryName(),
                                mode: UInt32 = 0o600, replacing: Bool = true, synchronize: Bool = true) throws {
        let fd = try temporaryFolder.open(temporaryName, [.writeOnly, .create, .exclusive], mode: mode)
        do {
            defer { fd.close() }
            try fd.writeAll(content)
            if synchronize { try fd.synchronize() }
            try temporaryFolder.rename(temporaryName, to: self, as: name, replacing: replacing)
        } catch {
            try? temporaryFolder.removeIfPresent(temporaryName)
            throw error
        }
    }

    /// A name no other writer picks: pid, time and a random number.
    public static func uniqueTemporaryName(prefix: String = "") -> Bytes {
        "\(prefix)\(SystemInfo.processID)-\(WallClock.milliseconds())-\(UInt32.random(in: 0...UInt32.max))".bytes
    }
}
