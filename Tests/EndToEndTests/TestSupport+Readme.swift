import Foundation

/// README.md's fenced code blocks, by the marker line before them: `<!-- run: Suite -->` (a test
/// of that suite runs the block) or `<!-- from: PATH -->` (the block is part of PATH).
enum Readme {
    /// The repository this test was built from.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static var text: String { (try? String(contentsOfFile: repository + "/README.md", encoding: .utf8)) ?? "" }

    /// One fenced block: the marker before it (nil when none), its language and its lines.
    struct Block {
        let marker: String?
        let language: String
        let lines: [String]
    }

    static var blocks: [Block] {
        var blocks: [Block] = []
        var previous: String?
        var open: (marker: String?, language: String, lines: [String])?
        for line in text.components(separatedBy: "\n") {
            if var current = open {
                if line == "```" {
                    blocks.append(Block(marker: current.marker, language: current.language, lines: current.lines))
                    open = nil
                } else {
                    current.lines.append(line)
                    open = current
                }
                continue
            }
            if line.hasPrefix("```") {
                let marker = previous.flatMap { $0.hasPrefix("<!-- ") && $0.hasSuffix(" -->") ? String($0.dropFirst(5).dropLast(4)) : nil }
                open = (marker, String(line.dropFirst(3)), [])
            }
            previous = line
        }
        return blocks
    }

    /// The blocks a test of `suite` runs, in README's order.
    static func blocks(runBy suite: String) -> [Block] { blocks.filter { $0.marker == "run: " + suite } }
}
