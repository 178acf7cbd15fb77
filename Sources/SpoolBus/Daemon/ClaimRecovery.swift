/// Recovery at start: messages a previous daemon claimed (in `work/`) and did not settle are
/// dispatched again, oldest first, so a crash or a stop past the grace loses nothing.
struct ClaimRecovery {
    let claims: ClaimStore
    let rules: CurrentRules
    let admission: FileAdmission
    /// Lines of `durable` channels go back to their channel.
    let lines: LineSubmission
    let settlement: Settlement
    let dispatcher: Dispatcher
    /// Handler runs a killed daemon left: their messages wait for them.
    let leftovers: LeftoverRuns
    let log: DispatchLog

    func recoverClaimedMessages() {
        let orphans = claims.removeOrphanSidecars()
        if orphans > 0 {
            log.record("error", [("err", "removed \(orphans) sidecar file(s) in work/ without their message: "
                                   + "a daemon was killed between writing the two; no message was kept there")])
        }
        let files: [ClaimedFile]
        do {
            files = try claims.claimedMessages()
        } catch {
            log.record("error", [("err", "\(error)")])
            return
        }
        for file in files {
            if let origin = claims.lineOrigin(of: file) {
                // A durable line's leftover run is waited for as a file's is.
                leftovers.afterLeftovers(of: file.id) { [lines] in lines.recover(file, from: origin) }
                continue
            }
            // Delivered to whatever file rules match it now; if none does any more, it becomes
            // a dead letter rather than being dropped.
            let matching = rules.rules.rules(for: file.name, event: .file)
            if matching.isEmpty {
                dispatcher.countNoMatch()
                log.record("nomatch", name: file.name, [("id", file.id), ("name", file.name), ("event", "file")])
                settlement.bury(file, reason: "no rule matches \(text(file.name)) any more\n".bytes)
                continue
            }
            // A run of it that a killed daemon left may still be going: never two at once.
            leftovers.afterLeftovers(of: file.id) { [admission] in admission.deliver(file, to: matching, recovered: true) }
        }
    }
}
