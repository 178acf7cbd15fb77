/// What the words after a subcommand said, checked against its `CommandSpec`.
struct ParsedArguments: Equatable {
    /// Positional words, in order, as bytes (a NAME need not be UTF-8).
    var positionals: [Bytes] = []
    /// Option values by long name; the last one given wins.
    var values: [String: Bytes] = [:]
    /// Every value of each option, in order, for options that may be repeated (`--env`).
    var repeatedValues: [String: [Bytes]] = [:]
    /// Flags given, by long name.
    var flags: Set<String> = []
    /// `-h` or `--help` appeared before `--`.
    var wantsHelp = false

    func value(_ option: String) -> Bytes? { values[option] }
    func allValues(_ option: String) -> [Bytes] { repeatedValues[option] ?? [] }
    func has(_ flag: String) -> Bool { flags.contains(flag) }

    /// Parses `words` against `spec`:
    /// - `--opt value` and `--opt=value`; a value that starts with `-` (other than `-` alone)
    ///   must be written `--opt=value`, so `--spool --jobs 3` reports the missing value;
    /// - `--` ends the options: every later word is positional;
    /// - `-h` / `--help` anywhere before `--` asks for help, whatever else is wrong;
    /// - `-` alone is positional (send's "read stdin").
    static func parse(_ words: [Bytes], as spec: CommandSpec) throws -> ParsedArguments {
        var result = ParsedArguments()
        let endOfOptions = words.firstIndex(of: dashDash) ?? words.count
        if words[..<endOfOptions].contains(where: { $0 == Bytes("--help".utf8) || $0 == Bytes("-h".utf8) }) {
            result.wantsHelp = true
            return result
        }
        var index = 0
        while index < words.count {
            let word = words[index]
            index += 1
            if index - 1 == endOfOptions { continue }
            if index - 1 > endOfOptions || word.first != dash || word == [dash] {
                result.positionals.append(word)
                continue
            }
            let option: OptionSpec
            var inlineValue: Bytes?
            if word.starts(with: dashDash) {
                let body = word.dropFirst(2)
                let nameBytes: Bytes
                if let equals = body.firstIndex(of: UInt8(ascii: "=")) {
                    nameBytes = Bytes(body[..<equals])
                    inlineValue = Bytes(body[(equals + 1)...])
                } else {
                    nameBytes = Bytes(body)
                }
                guard let found = spec.options.first(where: { Bytes($0.name.utf8) == nameBytes }) else {
                    throw UsageError.unknownOption(inlineValue == nil ? word : dashDash + nameBytes, among: spec)
                }
                option = found
            } else {
                guard word.count == 2, let found = spec.options.first(where: { $0.short.map { Bytes(String($0).utf8) } == [word[1]] }) else {
                    throw UsageError.unknownOption(word, among: spec)
                }
                option = found
            }
            if option.isFlag {
                if inlineValue != nil { throw UsageError.takesNoValue(option) }
                result.flags.insert(option.name)
                continue
            }
            var value: Bytes
            if let inlineValue {
                value = inlineValue
            } else {
                guard index < endOfOptions, words[index].first != dash || words[index] == [dash] else {
                    throw UsageError.needsValue(option)
                }
                value = words[index]
                index += 1
            }
            if value.isEmpty { throw UsageError.needsValue(option) }
            result.values[option.name] = value
            result.repeatedValues[option.name, default: []].append(value)
        }
        try result.checkPositionals(against: spec)
        return result
    }

    private func checkPositionals(against spec: CommandSpec) throws {
        let required = spec.arguments.filter { !$0.isOptional }
        if positionals.count < required.count {
            throw UsageError.missingArgument(required[positionals.count])
        }
        let takesAny = spec.arguments.contains { $0.isRepeating }
        if !takesAny && positionals.count > spec.arguments.count {
            throw UsageError.unexpectedArgument(positionals[spec.arguments.count])
        }
    }

    private static let dash = UInt8(ascii: "-")
    private static let dashDash: Bytes = [dash, dash]
}
