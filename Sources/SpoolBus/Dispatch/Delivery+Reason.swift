extension Delivery {
    /// What a dead letter's `reason` sidecar says: the message, then each rule that gave up, how
    /// its last run ended and the last lines it wrote to stderr.
    var deadLetterReason: Bytes {
        var reason = "name: ".bytes
        LogEscaping.append(message.name, to: &reason)
        reason += "\nid: ".bytes + message.id + "\n".bytes
        for (rule, outcome, attempts) in failures {
            reason += "rule \(rule.line): \(outcome.cause) (\(attempts) attempt\(attempts == 1 ? "" : "s"))\n".bytes
            if !outcome.lastErrorLines.isEmpty {
                reason += "  last stderr lines:\n".bytes
                for line in outcome.lastErrorLines { reason += "    ".bytes + line + "\n".bytes }
            }
        }
        return reason
    }
}
