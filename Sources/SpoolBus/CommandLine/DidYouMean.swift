/// "did you mean …?" for a mistyped option, command or value.
enum DidYouMean {
    /// The known word closest to `typed`: within an edit distance of 1 for a word of up to 4
    /// bytes and 2 for a longer one (so `ls` does not suggest `on`); failing that, the one known
    /// word sharing its first 4 bytes. Nil when none is close.
    static func closest(to typed: String, among known: [String]) -> String? {
        let limit = typed.utf8.count <= 4 ? 1 : 2
        var best: (word: String, distance: Int)?
        for word in known {
            let distance = editDistance(Array(typed.utf8), Array(word.utf8))
            if distance <= limit && distance < (best?.distance ?? .max) { best = (word, distance) }
        }
        if let best { return best.word }
        let stem = typed.utf8.prefix(4)
        guard stem.count == 4 else { return nil }
        let sharing = known.filter { $0.utf8.starts(with: stem) }
        return sharing.count == 1 ? sharing[0] : nil
    }

    /// Levenshtein distance with swaps of two neighbours counting 1 (`--nmae` is 1 from `--name`).
    static func editDistance(_ a: Bytes, _ b: Bytes) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var distance = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    distance = min(distance, table[i - 2][j - 2] + 1)
                }
                table[i][j] = distance
            }
        }
        return table[a.count][b.count]
    }
}
