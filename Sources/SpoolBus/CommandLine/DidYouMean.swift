/// "did you mean …?" for a mistyped option, command or value: the same matching as the rules
/// file's diagnostics (`closestName` in Rules/NameSuggestion.swift).
enum DidYouMean {
    static func closest(to typed: String, among known: [String]) -> String? {
        closestName(to: typed, among: known)
    }
}
