import Foundation
import Testing

/// `status --json` and `watch --json` print JSON that a real parser reads.
@Suite struct JSONOutputTests {
    @Test func statusJSONIsOneObjectWithNumbersAndABoolean() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            let daemon = try await sb.startDaemon()
            try sb.drop("inbox/a", "x\n")
            _ = try await sb.waitForStatus("one message ok") { $0["ok"] == "1" }
            let result = try await sb.spoolbus(["status", "--json", "--spool", sb.spool])
            #expect(result.status == .exited(0), "\(result)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any], "\(result)")
            #expect(object["pid"] as? Int == Int(daemon.pid))
            #expect(object["received"] as? Int == 1)
            #expect(object["ok"] as? Int == 1)
            #expect(object["spool"] as? String == sb.spool)
            #expect(object["rules"] as? String == sb.rulesPath)
            #expect(object["paused"] as? Bool == false)
            #expect(object["uptime_seconds"] is Int)
            #expect(result.out.filter { $0 == "\n" }.count == 1, "one document on one line")
        }
    }

    @Test func watchJSONPrintsOneObjectPerLine() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            try await sb.startDaemon()
            let watch = try sb.startSpoolbus(["watch", "--json", "--spool", sb.spool])
            _ = try await sb.waitForStatus("the watcher to subscribe") { $0["watchers"] == "1" }
            let odd = Bytes(text: "inbox/caf") + [0xE9] + Bytes(text: " \"x\".msg")
            try sb.drop(odd, Bytes(text: "x\n"))
            try sb.drop("inbox/plain", "y\n")
            var objects: [[String: Any]] = []
            try await sb.waitFor("ok lines of both messages in watch --json") {
                // Complete lines only: the watcher may be writing the last one as it is read.
                var output = Files.read(watch.stdout) ?? []
                while let last = output.last, last != 10 { output.removeLast() }
                let lines = output.pieces(separatedBy: 10).filter { !$0.isEmpty }
                objects = try lines.map { line in
                    guard let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                        throw TimedOut(what: "a JSON object", details: line.lossy)
                    }
                    return object
                }
                return objects.filter { $0["verb"] as? String == "ok" }.count == 2
            }
            let plain = try #require(objects.first { $0["verb"] as? String == "recv" && $0["name"] as? String == "inbox/plain" })
            #expect(plain["id"] is String)
            #expect(plain["size"] as? String == "2")
            #expect((plain["time"] as? String)?.hasSuffix("Z") == true)
            #expect(plain["name_base64"] == nil)
            let recv = try #require(objects.first { $0["verb"] as? String == "recv" && $0["name_base64"] != nil })
            #expect(Data(base64Encoded: recv["name_base64"] as? String ?? "").map { Bytes($0) } == odd, "the exact name, quotes and all")
        }
    }
}
