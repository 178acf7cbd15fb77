/// Text made safe for roff (the man macros): what would be a request, an escape or a warning
/// under `groff -man -ww` is written as the character it stands for.
enum Roff {
    /// One input line of running text: `\` as `\e`, `-` as `\-` (a minus, as options need to
    /// be copied), characters beyond ASCII as `\[uXXXX]`, backtick code in bold, and `\&` before
    /// a leading `.` or `'`, which would make the line a request.
    static func text(_ text: String) -> String {
        var result = ""
        var inCode = false
        for scalar in text.unicodeScalars {
            switch scalar {
            case "`":
                result += inCode ? "\\fR" : "\\fB"
                inCode.toggle()
            case "\\": result += "\\e"
            case "-": result += "\\-"
            case "\n", "\t": result += " "
            default:
                if scalar.isASCII && scalar.value >= 0x20 && scalar.value != 0x7F {
                    result.unicodeScalars.append(scalar)
                } else {
                    result += "\\[u" + hex(scalar.value) + "]"
                }
            }
        }
        if inCode { result += "\\fR" }
        if let first = result.first, first == "." || first == "'" { result = "\\&" + result }
        return result
    }

    /// `text` in bold, escaped.
    static func bold(_ text: String) -> String { "\\fB" + Roff.text(text) + "\\fR" }

    /// `groff` names a character by four or more upper-case hex digits.
    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
