/// A spool on a small tmpfs with `rules`, whose handler `./h/gate.sh` waits for `$OUT/go` and
/// then fails: a test fills the disk, writes `go`, and sees the failure settled without space.
/// Needs root (the tmpfs mount); the caller checks with `requireRoot`.
func withFullDiskGate(rules: String, _ body: (Sandbox) async throws -> Void) async throws {
    try await withSandbox { sb in
        try await withTmpfs(at: sb.spool, kilobytes: 256) {
            try sb.writeHandler("gate.sh", """
                #!/bin/sh
                # Fails, once the test has filled the disk.
                while [ ! -e "$OUT/go" ]; do sleep 0.02; done
                exit 1
                """)
            try sb.writeRules(rules)
            try await body(sb)
        }
    }
}
