import Foundation
import Testing

/// Every code snippet in README.md comes from a file CI builds or a test runs, so none can rot.
@Suite struct ReadmeSnippetTests {
    @Test func everyShellAndSwiftSnippetIsMarkedWithWhereItComesFrom() {
        let code = Readme.blocks.filter { ["sh", "swift"].contains($0.language) }
        #expect(code.count >= 7)
        for block in code {
            let marker = block.marker ?? ""
            #expect(marker.hasPrefix("run: ") || marker.hasPrefix("from: "), "unmarked snippet: \(block.lines.prefix(2))")
        }
    }

    @Test func snippetsTakenFromFilesAreExactlyPartsOfThem() throws {
        let taken = Readme.blocks.filter { $0.marker?.hasPrefix("from: ") == true }
        #expect(taken.contains { $0.language == "swift" }, "the 'Your own daemon' snippet")
        for block in taken {
            let path = String(block.marker!.dropFirst(6))
            let file = try String(contentsOfFile: Readme.repository + "/" + path, encoding: .utf8).components(separatedBy: "\n")
            let count = block.lines.count
            let found = count > 0 && (0...(file.count - count)).contains { Array(file[$0..<($0 + count)]) == block.lines }
            #expect(found, "README's snippet is not a part of \(path): \(block.lines.prefix(3))")
        }
    }

    @Test func theSuitesNamedByRunMarkersExist() {
        let suites = Set(Readme.blocks.compactMap { $0.marker?.hasPrefix("run: ") == true ? String($0.marker!.dropFirst(5)) : nil })
        #expect(suites == ["TourTests", "InstallTests"], "each marked suite reads its blocks through Readme.blocks(runBy:)")
    }
}
