import Foundation
import Testing

/// README's Install and uninstall commands, run as written into a temporary PREFIX (with the
/// built binary for `.build/release/spoolbus`; the build itself is what `swift test` did).
@Suite struct InstallTests {
    private func script(_ block: Readme.Block, prefix: String) -> String {
        block.lines.filter { !$0.hasPrefix("swift build") }.joined(separator: "\n")
            .replacingOccurrences(of: "PREFIX=/usr/local", with: "PREFIX='\(prefix)'")
            .replacingOccurrences(of: ".build/release/spoolbus", with: "'\(spoolbusBinary)'")
    }

    @Test func installPutsBinaryManPagesAndCompletionsInPlaceAndUninstallRemovesThem() async throws {
        try await withSandbox { sb in
            let blocks = Readme.blocks(runBy: "InstallTests")
            try #require(blocks.count == 2)
            #expect(blocks[0].lines.first == "swift build -c release")
            let prefix = sb.root + "/prefix"
            let install = try await sb.runProgram(["/bin/bash", "-euc", script(blocks[0], prefix: prefix)])
            #expect(install.status == .exited(0), "\(install)")
            let installed = ["bin/spoolbus", "share/man/man1/spoolbus.1", "share/man/man5/spoolbus.rules.5",
                             "share/bash-completion/completions/spoolbus", "share/zsh/site-functions/_spoolbus"]
            for file in installed { #expect((Files.size(prefix + "/" + file) ?? 0) > 0, "\(file) installed") }
            let version = try await sb.runProgram([prefix + "/bin/spoolbus", "--version"])
            #expect(version.out.hasPrefix("spoolbus "))
            let man = try await sb.runProgram(["/usr/bin/groff", "-man", "-Tascii", "-P", "-cbou", prefix + "/share/man/man5/spoolbus.rules.5"])
            #expect(man.out.contains("timeout=DURATION"), "\(man)")

            let uninstall = try await sb.runProgram(["/bin/bash", "-euc", script(blocks[1], prefix: prefix)])
            #expect(uninstall.status == .exited(0), "\(uninstall)")
            let left = Files.walk(prefix).map(\.lossy).filter { Files.kind(Bytes(text: prefix + "/" + $0)) != .directory }
            #expect(left.isEmpty, "uninstall leaves nothing of what install put: \(left)")
        }
    }
}
