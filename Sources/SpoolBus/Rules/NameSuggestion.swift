/// The known name closest to a mistyped one, for "did you mean …?": the first among the closest
/// at an edit distance of at most 2 (insertions, deletions, substitutions and swaps of two
/// neighbours count 1 each) and below the typed name's length (so `ab` suggests nothing), or
/// `nil` if none is that close.
func closestName(to typed: String, among known: [String]) -> String? {
    var best: (name: String, distance: Int)? = nil
    for name in known {
        let distance = editDistance(Array(typed.utf8), Array(name.utf8))
        if distance <= 2, distance < typed.utf8.count, distance < (best?.distance ?? Int.max) {
            best = (name, distance)
        }
    }
    return best?.name
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
