import Foundation
@testable import SpoolBus

/// What one command line run wrote and returned.
struct CommandLineOutcome {
    var status: Int32
    var output: [UInt8]
    var error: [UInt8]
    var outputText: String { String(decoding: output, as: UTF8.self) }
    var errorText: String { String(decoding: error, as: UTF8.self) }
}

/// Runs the command line in-process on `words` (each word's UTF-8, or raw bytes), with `input`
/// as stdin and buffers as stdout and stderr.
func runCommandLine(_ words: [String], input: [UInt8] = []) -> CommandLineOutcome {
    runCommandLine(bytes: words.map { Array($0.utf8) }, input: input)
}

func runCommandLine(bytes words: [[UInt8]], input: [UInt8] = []) -> CommandLineOutcome {
    final class Buffers { var output: [UInt8] = []; var error: [UInt8] = [] }
    let buffers = Buffers()
    let context = CommandContext(
        output: { buffers.output += $0 },
        errorOutput: { buffers.error += $0 },
        readInput: { input },
        handlers: .builtIn)
    let status = SpoolBusCommandLine.main(arguments: words, context: context)
    return CommandLineOutcome(status: status, output: buffers.output, error: buffers.error)
}

/// A fresh empty folder under the system's temporary folder, removed by `cleanUp`.
struct CommandLineTestFolder {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "spoolbus-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
    func join(_ relative: String) -> String { path + "/" + relative }

    func write(_ relative: String, _ content: String) throws {
        let full = join(relative)
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(content.utf8).write(to: URL(fileURLWithPath: full))
    }

    func read(_ relative: String) throws -> String {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: join(relative))), as: UTF8.self)
    }

    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: join(relative)) }

    func contents(_ relative: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: join(relative))) ?? []).sorted()
    }
}
