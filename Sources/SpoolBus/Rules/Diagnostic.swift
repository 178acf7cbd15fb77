/// One problem in a rules file, printed compiler-style: `FILE:LINE:COL: error: MESSAGE`.
///
/// LINE and COL are 1-based; COL counts bytes of the physical line, so it points at the right
/// place even on a continuation line or after non-ASCII text.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(file):\(line):\(column): error: \(message)" }

    /// `diagnostics` in file order; those at one place keep the order they were found in.
    static func inFileOrder(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        diagnostics.enumerated().sorted {
            ($0.element.line, $0.element.column, $0.offset) < ($1.element.line, $1.element.column, $1.offset)
        }.map(\.element)
    }
}

/// Every problem found in a rules file, in file order. A file with any error is not loaded.
public struct RulesError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics
    }

    /// One diagnostic per line, no trailing newline.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Turns byte offsets into the text into 1-based physical line and byte column.
struct SourceLocator {
    private let lineStarts: [Int]

    init(_ text: [UInt8]) {
        var starts = [0]
        for (offset, byte) in text.enumerated() where byte == UInt8(ascii: "\n") {
            starts.append(offset + 1)
        }
        lineStarts = starts
    }

    func location(of offset: Int) -> (line: Int, column: Int) {
        // The last line start at or before `offset`.
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return (low + 1, offset - lineStarts[low] + 1)
    }
}
