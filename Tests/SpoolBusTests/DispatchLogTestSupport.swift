@testable import SpoolBus

/// The lines `log` has written to the file at `path`, once flushed.
func loggedLines(_ log: DispatchLog, at path: [UInt8]) throws -> [String] {
    log.flush()
    let file = try FileDescriptor.open(path, .readOnly)
    defer { file.close() }
    return String(decoding: try file.readAll(limit: 1 << 20), as: UTF8.self).split(separator: "\n").map(String.init)
}
