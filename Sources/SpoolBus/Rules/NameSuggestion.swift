/// The known name closest to a mistyped one, for "did you mean …?": the first among the closest
/// at an edit distance (insertions, deletions, substitutions and swaps of two neighbours count 1
/// each) of at most 1 for a name of up to 4 bytes and at most 2 for a longer one, or `nil` if
/// none is that close (so `bad` does not suggest `id`). Failing that, the one known name that
/// shares its first 4 bytes with the typed one (`retry` suggests `retries`).
func closestName(to typed: String, among known: [String]) -> String? {
    let limit = typed.utf8.count <= 4 ? 1 : 2
    var best: (name: String, distance: Int)? = nil
    for name in known {
        let distance = editDistance(Array(typed.utf8), Array(name.utf8))
        if distance <= limit, distance < (best?.distance ?? Int.max) {
            best = (name, distance)
        }
    }
    if let best { return best.name }
    let stem = typed.utf8.prefix(4)
    guard stem.count == 4 else { return nil }
    let sharingStem = known.filter { $0.utf8.starts(with: stem) }
    return sharingStem.count == 1 ? sharingStem[0] : nil
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { table[i][0] = i }
    for j in 0...b.count { table[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            var distance = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                distance = min(distance, table[i - 2][j - 2] + 1)
            }
            table[i][j] = distance
        }
    }
    return table[a.count][b.count]
}
