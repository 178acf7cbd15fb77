import Glibc
import SpoolBus

// The stock handlers (swift:log, swift:forward, swift:discard, swift:broadcast) plus our own.
var handlers = HandlerRegistry.builtIn

// swift:summary OUTFILE — reads a body of `key=value` lines and appends one summary line
// ("NAME: 3 keys: a=1, b=2, c=3") to OUTFILE, relative to the rules file's folder.
handlers.register("summary") { message in
    guard let out = message.arguments.first else { throw SummaryError.missingFile }
    var pairs: [(String, String)] = []
    for line in try message.bodyText.split(separator: "\n") where !line.hasPrefix("#") {
        guard let equals = line.firstIndex(of: "=") else { throw SummaryError.notKeyValue(String(line)) }
        pairs.append((String(line[..<equals]), String(line[line.index(after: equals)...])))
    }
    let summary = "\(message.nameText): \(pairs.count) keys: "
        + pairs.map { "\($0.0)=\($0.1)" }.joined(separator: ", ") + "\n"
    let path = out.first == UInt8(ascii: "/") ? out : message.rulesDirectory + [UInt8(ascii: "/")] + out
    try append(summary, to: String(decoding: path, as: UTF8.self))
}

// swift:wait-a-bit — an async handler: it awaits instead of blocking a thread, so timeout=
// cancels it right where it waits.
handlers.register("wait-a-bit") { message in
    try await Task.sleep(for: .milliseconds(Int(try message.bodyText.filter(\.isNumber)) ?? 10))
}

enum SummaryError: Error, CustomStringConvertible {
    case missingFile
    case notKeyValue(String)
    case cannotWrite(String)

    var description: String {
        switch self {
        case .missingFile: return "swift:summary needs an output file"
        case .notKeyValue(let line): return "not a key=value line: \(line)"
        case .cannotWrite(let path): return "cannot append to \(path)"
        }
    }
}

func append(_ text: String, to path: String) throws {
    guard let file = fopen(path, "a") else { throw SummaryError.cannotWrite(path) }
    defer { fclose(file) }
    guard fputs(text, file) >= 0 else { throw SummaryError.cannotWrite(path) }
}

exit(SpoolBusCommandLine.main(handlers: handlers))
