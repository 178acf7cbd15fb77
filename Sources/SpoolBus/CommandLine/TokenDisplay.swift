/// How the command line shows a user's own words back to them, in errors and notes.
enum TokenDisplay {
    /// `'--nme'`: the token in single quotes, printable UTF-8 as typed, anything else (control
    /// bytes, invalid UTF-8) as `\xNN`, so an error stays one readable line.
    static func quoted(_ token: Bytes) -> String {
        "'" + escaped(token) + "'"
    }

    static func quoted(_ token: String) -> String { quoted(Bytes(token.utf8)) }

    /// Text that may hold a name's bytes (an error naming a path), control bytes as `\xNN`.
    static func escaped(_ text: String) -> String { escaped(Bytes(text.utf8)) }

    /// The token with unprintable bytes as `\xNN`, no quotes.
    static func escaped(_ token: Bytes) -> String {
        var text = ""
        var index = 0
        while index < token.count {
            if let (scalar, length) = ShellQuoting.printableScalar(in: token, at: index) {
                text.unicodeScalars.append(scalar)
                index += length
            } else {
                text += ShellQuoting.hexEscape(token[index])
                index += 1
            }
        }
        return text
    }
}
